"""The whole study, stage by stage, resumable in one output directory.

Stages (each writes its files into ``out`` and is skipped when rerun with the
same parameters):

1. ``sample``: an initial C7eq -> C7ax path, then transition path sampling
   (OpenPathSampling two-way shooting) -> ``tps.nc`` and ``paths.npz``.
2. ``committor``: rounds of committor shooting. Round 1 takes configurations
   spread along the accepted paths; each later round takes path frames whose
   predicted p_B (model retrained on all data so far) lies in
   ``committor.window`` -> ``committor_round{k}.npz`` and ``dataset.npz``.
3. ``train``: dihedral features of every shooting point
   (:class:`~mda_rcxai.features.DihedralFeatures` on
   ``CommittorDataset.to_universe()``) and the committor model trained on
   them -> ``features.npz``, ``model.pt``, held-out fit.
4. ``explain``: SHAP and LIME, globally and at the transition state, single
   features and grouped by rotatable bond -> ``importance.csv``,
   ``explained.pdb``, figures.
5. ``report``: ``report.html`` (self-contained).

Examples
--------
Run the whole study with the defaults (about 10 minutes on 2 cores)::

    from mda_rcxai.pipeline import run_study
    from mda_rcxai.config import StudyConfig
    result = run_study("demo_out", StudyConfig(seed=0))
    print(result["top_groups"])
"""

import json
import os
import platform
import time
from contextlib import contextmanager

import numpy as np

from .config import StudyConfig
from .exceptions import InputError

__all__ = ["run_study", "Study", "STAGES"]

STAGES = ("sample", "committor", "train", "explain", "report")

# which config sections each stage depends on (a change invalidates it and those after)
_DEPENDS = {
    "sample": ("seed", "system", "tps"),
    "committor": ("seed", "system", "tps", "committor", "features", "model"),
    "train": ("seed", "system", "tps", "committor", "features", "model"),
    "explain": ("seed", "system", "tps", "committor", "features", "model", "explain"),
    "report": ("seed", "system", "tps", "committor", "features", "model", "explain"),
}


def _log(msg, verbose):
    if verbose:
        print(msg, flush=True)


class Study:
    """A study directory: its config, which stages are done, and their files.

    Parameters
    ----------
    out : str or os.PathLike
        Output directory (created). A directory that already holds a study
        with other parameters is refused (``InputError``) unless
        ``overwrite=True`` (then stale stages rerun).
    config : StudyConfig, optional
        Parameters; default :class:`~mda_rcxai.config.StudyConfig()`.
    verbose : bool
        Progress bars and a one-line summary per stage.

    Examples
    --------
    >>> import tempfile
    >>> s = Study(tempfile.mkdtemp(), StudyConfig(seed=1), verbose=False)
    >>> s.done("sample")
    False
    """

    def __init__(self, out, config=None, verbose=True, overwrite=False):
        self.out = os.fspath(out)
        self.config = (config or StudyConfig()).validate()
        self.verbose = verbose
        os.makedirs(self.out, exist_ok=True)
        self._state_path = self.path("state.json")
        self.state = {}
        if os.path.exists(self._state_path):
            with open(self._state_path, encoding="utf-8") as fh:
                self.state = json.load(fh)
        cfg_path = self.path("config.toml")
        if os.path.exists(cfg_path) and not overwrite:
            old = StudyConfig.load(cfg_path)
            # workers changes the speed, not the results
            changed = [s for s in ("seed", "system", "tps", "committor", "features",
                                   "model", "explain")
                       if getattr(old, s) != getattr(self.config, s)]
            if changed and any(self.done(st) for st in STAGES):
                raise InputError(
                    f"out={self.out!r} holds a study run with different parameters "
                    f"({', '.join(changed)}); use another --out, or pass --overwrite "
                    "to redo the stages those parameters affect")
        with open(cfg_path, "w", encoding="utf-8") as fh:
            fh.write(self.config.to_toml())

    def path(self, *parts):
        """Path of a file in the study directory."""
        return os.path.join(self.out, *parts)

    def _digest(self, stage):
        return self.config.digest(*_DEPENDS[stage])

    def done(self, stage):
        """Whether ``stage`` finished with the current parameters."""
        rec = self.state.get(stage)
        return bool(rec) and rec.get("digest") == self._digest(stage)

    def record(self, stage, seconds, summary, **extra):
        """Mark a stage done (written atomically)."""
        self.state[stage] = {"digest": self._digest(stage), "seconds": seconds,
                             "summary": summary, **extra}
        tmp = self._state_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.state, fh, indent=1, default=_json_default)
        os.replace(tmp, self._state_path)

    @contextmanager
    def stage(self, name):
        """Time a stage and print its header."""
        _log(f"== {name} ==", self.verbose)
        t0 = time.perf_counter()
        box = {}
        yield box
        box["seconds"] = time.perf_counter() - t0


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


# -----------------------------------------------------------------------------
# stage implementations
# -----------------------------------------------------------------------------
def _system(cfg):
    from .systems import alanine_dipeptide
    return alanine_dipeptide()


def stage_sample(study):
    """Initial path and TPS; writes ``paths.npz`` (positions in Angstrom)."""
    from .sampling import initial_path, run_tps

    cfg = study.config
    if study.done("sample"):
        _log("   sample: done before, reusing " + study.path("paths.npz"), study.verbose)
        return _load_paths(study)
    with study.stage("sample") as st:
        system = _system(cfg)
        md = _md_kwargs(cfg)
        path = initial_path(system, state_A=cfg.system.state_A, state_B=cfg.system.state_B,
                            temperature=cfg.system.temperature,
                            high_temperature=cfg.tps.initial_temperature,
                            seed=cfg.seed, verbose=study.verbose, **md)
        # positions now: once OPS storage has saved the path its snapshots can
        # become lazy proxies of a file that is closed after TPS
        initial = _positions_angstrom(path)
        storage = study.path("tps.nc")
        if os.path.exists(storage):
            os.remove(storage)  # a TPS run that did not finish is redone from the start
        res = run_tps(system, path, n_steps=cfg.tps.n_steps, storage=storage,
                      temperature=cfg.system.temperature, seed=cfg.seed,
                      state_A=cfg.system.state_A, state_B=cfg.system.state_B,
                      verbose=study.verbose, **md)
        # interior frames only: the first frame lies in A and the last in B
        # the relaxed initial path is a path of the ensemble too (and the only one
        # when no move was accepted)
        paths = [initial[1:-1]] + [_positions_angstrom(p)[1:-1] for p in res.accepted_paths]
        paths = [p for p in paths if len(p)]
        np.savez_compressed(study.path("paths.npz"),
                            positions=np.concatenate(paths),
                            lengths=np.array([len(p) for p in paths]))
    lengths = np.array([len(p) for p in paths])
    summary = (f"{len(paths) - 1} accepted paths in {cfg.tps.n_steps} moves "
               f"(acceptance {res.acceptance:.2f}), length {lengths.mean():.0f} +- "
               f"{lengths.std():.0f} frames, {st['seconds']:.0f} s")
    study.record("sample", st["seconds"], summary, acceptance=float(res.acceptance),
                 n_paths=len(paths), mean_length=float(lengths.mean()))
    _log("   " + summary, study.verbose)
    return paths


def _md_kwargs(cfg):
    s = cfg.system
    return {"timestep_fs": s.timestep * 1000.0, "steps_per_frame": s.steps_per_frame,
            "friction_per_ps": s.friction, "n_frames_max": cfg.tps.max_path_frames}


def _positions_angstrom(p):
    """Positions (n_frames, n_atoms, 3) in Angstrom from an OPS trajectory or array."""
    if isinstance(p, np.ndarray):
        return p
    from .sampling.tps import trajectory_positions
    return trajectory_positions(p, angstrom=True)


def _load_paths(study):
    d = np.load(study.path("paths.npz"))
    return np.split(d["positions"], np.cumsum(d["lengths"])[:-1])


def _features_universe(positions):
    """An alanine dipeptide Universe (bonds from the bundled PDB) holding ``positions`` (A)."""
    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader
    from .data import ALANINE_DIPEPTIDE_PDB

    u = mda.Universe(ALANINE_DIPEPTIDE_PDB)
    u.load_new(np.asarray(positions, dtype=np.float32), format=MemoryReader)
    return u


def _featurize(cfg, universe):
    from .features import DihedralFeatures

    f = DihedralFeatures(universe.atoms, dihedrals=cfg.features.dihedrals,
                         sincos=cfg.features.sincos).run()
    return f.results


def _make_model(cfg, seed):
    from .model import CommittorModel

    m = cfg.model
    return CommittorModel(hidden_layers=tuple(m.hidden_layers), activation=m.activation,
                          weight_decay=m.weight_decay, learning_rate=m.learning_rate,
                          max_epochs=m.max_epochs, batch_size=m.batch_size,
                          validation_fraction=m.validation_fraction,
                          early_stopping=m.early_stopping, seed=seed)


def stage_committor(study, paths):
    """Rounds of committor shooting; returns the merged CommittorDataset."""
    from .sampling import CommittorDataset, harvest, run_committor

    cfg = study.config
    c = cfg.committor
    final = study.path("dataset.npz")
    if study.done("committor"):
        _log("   committor: done before, reusing " + final, study.verbose)
        return CommittorDataset.load(final)
    system = _system(cfg)
    datasets, seconds, lines = [], 0.0, []
    for k in range(1, c.rounds + 1):
        with study.stage(f"committor round {k}/{c.rounds}") as st:
            if k == 1:
                configs = harvest(paths, c.first_round, seed=cfg.seed + 1000 * k,
                                  system=system)
            else:
                merged = CommittorDataset.concatenate(datasets)
                model = _train(cfg, merged, seed=cfg.seed + k)[0]

                def predict_pB(positions, model=model):
                    res = _featurize(cfg, _features_universe(positions))
                    return model.predict_proba(res.features)

                configs = harvest(paths, c.later_rounds, seed=cfg.seed + 1000 * k,
                                  predict_pB=predict_pB, window=tuple(c.window),
                                  system=system)
            ds = run_committor(system, configs, c.shots,
                               out=study.path(f"committor_round{k}.npz"),
                               seed=cfg.seed + 1000 * k, n_workers=cfg.workers,
                               temperature=cfg.system.temperature,
                               state_A=cfg.system.state_A, state_B=cfg.system.state_B,
                               max_frames=c.max_frames, verbose=study.verbose,
                               timestep_fs=cfg.system.timestep * 1000.0,
                               steps_per_frame=cfg.system.steps_per_frame,
                               friction_per_ps=cfg.system.friction,
                               method=c.engine, n_replicas=c.n_replicas)
            datasets.append(ds)
        seconds += st["seconds"]
        pb = np.asarray(ds.p_B)
        line = (f"round {k}: {len(ds)} configurations x {c.shots} shots, p_B<0.1: "
                f"{int((pb < 0.1).sum())}, 0.1-0.9: {int(((pb >= 0.1) & (pb <= 0.9)).sum())}, "
                f">0.9: {int((pb > 0.9).sum())}, {st['seconds']:.0f} s")
        lines.append(line)
        _log("   " + line, study.verbose)
    merged = CommittorDataset.concatenate(datasets)
    merged.save(final)
    study.record("committor", seconds, "; ".join(lines), rounds=lines,
                 n_configurations=len(merged))
    return merged


def _train(cfg, dataset, seed, holdout=0.0):
    """Features of a dataset and a model fitted on them (optionally on a split)."""
    res = _featurize(cfg, dataset.to_universe())
    X = res.features
    n_A, n_B = np.asarray(dataset.n_A), np.asarray(dataset.n_B)
    keep = (n_A + n_B) > 0
    X, n_A, n_B = X[keep], n_A[keep], n_B[keep]
    if holdout:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(X))
        n_test = max(1, int(round(holdout * len(X))))
        test, train = order[:n_test], order[n_test:]
        model = _make_model(cfg, seed).fit(X[train], n_A[train], n_B[train],
                                           feature_names=list(res.names))
        return model, res, X, n_A, n_B, (train, test)
    model = _make_model(cfg, seed).fit(X, n_A, n_B, feature_names=list(res.names))
    return model, res, X, n_A, n_B


def stage_train(study, dataset):
    """Features + committor model; writes ``features.npz``, ``model.pt``, ``fit.json``."""
    from .model import CommittorModel

    cfg = study.config
    if study.done("train"):
        _log("   train: done before, reusing " + study.path("model.pt"), study.verbose)
        model = CommittorModel.load(study.path("model.pt"))
        d = np.load(study.path("features.npz"), allow_pickle=False)
        return model, d
    with study.stage("train") as st:
        # held-out quality: a model trained on 80 % of the configurations, tested on 20 %
        m80, res, X, n_A, n_B, (train, test) = _train(cfg, dataset, cfg.seed, holdout=0.2)
        pb_true = n_B / (n_A + n_B)
        pb_pred = m80.predict_proba(X[test])
        rmse = float(np.sqrt(np.mean((pb_pred - pb_true[test]) ** 2)))
        ll = float(m80.score(X[test], n_A[test], n_B[test]))
        # the model used from here on: all configurations
        model = _make_model(cfg, cfg.seed).fit(X, n_A, n_B, feature_names=list(res.names))
        model.save(study.path("model.pt"))
        np.savez_compressed(study.path("features.npz"), X=X, n_A=n_A, n_B=n_B,
                            names=np.array(res.names), labels=np.array(res.labels),
                            atom_indices=res.atom_indices, groups=res.groups,
                            test=test, q=model.predict_q(X),
                            q_test_model80=m80.predict_q(X[test]))
        fit = {"rmse_pB_heldout": rmse, "loglik_heldout": ll, "n_train": int(len(train)),
               "n_test": int(len(test)), "epochs": len(model.history_.get("train_loss", []))}
        with open(study.path("fit.json"), "w") as fh:
            json.dump(fit, fh, indent=1)
    summary = (f"{X.shape[1]} features, {len(X)} configurations; held-out (20 %) p_B RMSE "
               f"{rmse:.3f}, mean log-likelihood {ll:.3f}; {st['seconds']:.0f} s")
    study.record("train", st["seconds"], summary, **fit)
    _log("   " + summary, study.verbose)
    return model, np.load(study.path("features.npz"), allow_pickle=False)


def stage_explain(study, model, feats, dataset, force=False):
    """SHAP and LIME, global and transition state; writes importance.csv, explained.pdb.

    ``force=True`` recomputes even when done (the report needs the objects).
    """
    import pandas as pd
    from .explain import compare, explain

    cfg = study.config
    e = cfg.explain
    out_json = study.path("explanations.json")
    if study.done("explain") and not force:
        _log("   explain: done before, reusing " + out_json, study.verbose)
        with open(out_json) as fh:
            return json.load(fh)
    X = feats["X"]
    names = [str(n) for n in feats["names"]]
    atom_indices = feats["atom_indices"]
    u = _features_universe(np.zeros((1, 22, 3)))
    atom_names = list(u.atoms.names)
    results, tables = {}, []
    explanations = {}
    with study.stage("explain") as st:
        for method in e.methods:
            for selection in ("global", "transition_state"):
                try:
                    ex = explain(model, X, feature_names=names, atom_indices=atom_indices,
                                 method=method, selection=selection,
                                 window=tuple(e.ts_window), max_samples=e.max_samples,
                                 background_size=e.background_size, seed=cfg.seed,
                                 atom_names=atom_names, groups=feats["groups"])
                except InputError as err:  # e.g. an empty transition-state window
                    results[f"{method}/{selection}"] = {"error": str(err)}
                    _log(f"   {method} {selection}: {err}", study.verbose)
                    continue
                explanations[(method, selection)] = ex
                g = ex.grouped(by="bond")
                results[f"{method}/{selection}"] = {
                    "n_explained": int(ex.values.shape[0]),
                    "ranking": list(ex.ranking[:10]),
                    "importance": {n: float(v) for n, v in zip(ex.feature_names, ex.importance)},
                    "grouped_ranking": list(g.ranking[:8]),
                    "grouped_importance": {n: float(v) for n, v in zip(g.feature_names, g.importance)},
                }
                df = ex.to_dataframe()
                df.insert(0, "selection", selection)
                df.insert(0, "method", method)
                tables.append(df)
                _log(f"   {method:4s} {selection:16s} n={ex.values.shape[0]:4d} top: "
                     f"{', '.join(ex.ranking[:3])} | by bond: {', '.join(g.ranking[:2])}",
                     study.verbose)
        agreement = {}
        for selection in ("global", "transition_state"):
            a, b = explanations.get(("shap", selection)), explanations.get(("lime", selection))
            if a is not None and b is not None:
                agreement[selection] = _jsonable(compare(a, b))
        results["agreement"] = agreement
        if tables:
            pd.concat(tables).to_csv(study.path("importance.csv"), index=False)
        best = explanations.get(("shap", "global")) or next(iter(explanations.values()), None)
        if best is not None:
            ag = best.to_atomgroup(_features_universe(_representative_ts(model, X, dataset)),
                                   scale="max")
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PDB writer notes on absent attributes
                ag.write(study.path("explained.pdb"))
        with open(out_json, "w") as fh:
            json.dump(results, fh, indent=1, default=_json_default)
    study._explanations = explanations
    top = {k: v.get("grouped_ranking", [])[:2] for k, v in results.items() if k != "agreement"}
    summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in top.items())
    study.record("explain", st["seconds"], summary)
    return results


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def _representative_ts(model, X, dataset):
    """Positions of the configuration whose predicted p_B is closest to 1/2.

    ``X`` holds the configurations of ``dataset`` that have decided shots
    (as ``_train`` keeps them).
    """
    n = np.asarray(dataset.n_A) + np.asarray(dataset.n_B)
    pos = np.asarray(dataset.positions)[n > 0]
    k = int(np.argmin(np.abs(model.predict_proba(X) - 0.5)))
    return pos[k:k + 1]


def run_study(out, config=None, verbose=True, until=None, overwrite=False):
    """Run (or resume) the study in ``out``.

    Parameters
    ----------
    out : str
        Output directory.
    config : StudyConfig, optional
        Parameters (default: the defaults).
    verbose : bool
        Progress bars and per-stage summaries.
    until : str, optional
        Stop after this stage (one of :data:`STAGES`).
    overwrite : bool
        Allow parameters different from an earlier run in ``out``.

    Returns
    -------
    dict
        ``{"out", "report", "top_groups", "stages"}``.

    Examples
    --------
    ::

        run_study("demo_out")            # everything
        run_study("demo_out", until="sample")
    """
    if until is not None and until not in STAGES:
        raise InputError(f"until={until!r} is not a stage; use one of {STAGES}")
    _one_thread()
    study = Study(out, config, verbose=verbose, overwrite=overwrite)
    t0 = time.perf_counter()
    paths = stage_sample(study)
    import gc
    gc.collect()  # free OPS storage objects now: at interpreter exit netCDF4 complains
    if until == "sample":
        return _result(study)
    dataset = stage_committor(study, paths)
    if until == "committor":
        return _result(study)
    model, feats = stage_train(study, dataset)
    if until == "train":
        return _result(study)
    need_report = not study.done("report") or not os.path.exists(study.path("report.html"))
    stage_explain(study, model, feats, dataset, force=need_report)
    if until == "explain":
        return _result(study)
    if need_report:
        from .study_report import write_report
        t_rep = time.perf_counter()
        write_report(study, model, feats, dataset)
        study.record("report", time.perf_counter() - t_rep, study.path("report.html"))
    else:
        _log("   report: done before, " + study.path("report.html"), verbose)
    res = _result(study)
    _log(f"== done in {time.perf_counter() - t0:.0f} s; outputs in {os.path.abspath(study.out)}",
         verbose)
    for name in ("report.html", "importance.csv", "explained.pdb", "model.pt", "dataset.npz"):
        if os.path.exists(study.path(name)):
            _log(f"   {study.path(name)}", verbose)
    return res


def _result(study):
    top = {}
    p = study.path("explanations.json")
    if os.path.exists(p):
        with open(p) as fh:
            ex = json.load(fh)
        top = {k: v.get("grouped_ranking", [])[:2] for k, v in ex.items() if k != "agreement"}
    return {"out": study.out, "report": study.path("report.html"), "top_groups": top,
            "stages": study.state}


def _one_thread():
    """One thread per process (measured faster on small systems; see DESIGN.md)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def versions():
    """Versions of the packages a study depends on."""
    import importlib.metadata as md
    out = {"python": platform.python_version()}
    for pkg in ("mda-rcxai", "MDAnalysis", "openpathsampling", "openmm", "torch", "shap",
                "lime", "numpy", "dask"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out

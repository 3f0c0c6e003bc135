"""The whole study, stage by stage, resumable in one output directory.

Stages (each writes its files into ``out`` atomically and is skipped when
rerun with the same parameters); each returns a small typed result that the
next stages and the report take as arguments:

1. ``sample`` -> :class:`SampleResult`: a first A -> B path (hot MD, or a
   trajectory / OPS storage file of the user), then transition path
   sampling (OpenPathSampling two-way shooting) -> ``paths.npz``.
2. ``committor`` -> :class:`CommittorResult`: rounds of committor shooting.
   Round 1 takes configurations spread along the accepted paths; each later
   round takes path frames where the model (retrained on all data so far)
   is unsure -> ``committor_round{k}.npz`` and ``dataset.npz``.
3. ``train`` -> :class:`TrainResult`: features of every shooting point and
   of every path frame, model selection by cross-validation, a held-out
   fit, and the final model (an ensemble when ``[model] ensemble > 1``)
   -> ``features.npz``, ``model.pt``, ``fit.json``.
4. ``explain`` -> :class:`ExplainResult`: SHAP and LIME, globally and at the
   transition state, single features and grouped (by bond for dihedrals, by
   the descriptors' own group otherwise), with error bars from the ensemble
   -> ``importance.csv``, ``explanations.json``, ``explained.pdb``.
5. ``validate`` -> :class:`ValidationResult`: the committor test (fresh shots
   from unseen transition-state configurations) and baselines (held-out
   log-likelihood of models restricted to the top groups and to named
   feature sets) -> ``validation.json``, ``committor_test.npz``.
6. ``report``: ``report.html`` (self-contained), a view of the results above.

A study directory holds one set of parameters (``config.toml``): a rerun
with the same parameters resumes (TPS and committor shooting from their last
finished move / configuration), one with other parameters is refused before
anything is touched, naming what differs; ``overwrite=True`` moves every
file of the stages those parameters affect into ``.previous/`` and reruns
them.

Examples
--------
Run the whole study with the defaults (a few minutes on 2 cores)::

    from mda_rcxai.pipeline import run_study
    from mda_rcxai.config import StudyConfig
    result = run_study("demo_out", StudyConfig(seed=0))
    print(result["top_groups"])
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass, field

import numpy as np

from .config import StudyConfig
from .exceptions import InputError
from .fileio import atomic_write
from .fileio import to_jsonable as _jsonable

__all__ = ["run_study", "Study", "STAGES", "SampleResult", "CommittorResult", "TrainResult",
           "ExplainResult", "ValidationResult", "derived_seed", "atomic_write"]

from .study_dir import (STAGES, Study, derived_seed, load_npz, log, read_json, savez,
                        write_json)


@dataclass(frozen=True)
class SampleResult:
    """What the sample stage hands on.

    Attributes
    ----------
    paths : list of numpy.ndarray
        Interior frames of each transition path, ``(n_frames, n_atoms, 3)`` in
        Angstrom; the first is the (relaxed) initial path.
    acceptance : float
        Accepted / attempted TPS moves.
    n_moves : int
    seconds : float
    """

    paths: list
    acceptance: float
    n_moves: int
    seconds: float = 0.0

    @property
    def frames(self) -> np.ndarray:
        """All path frames stacked, ``(n, n_atoms, 3)`` Angstrom."""
        return np.concatenate(self.paths)


@dataclass(frozen=True)
class CommittorResult:
    """Committor shooting: the merged dataset and a summary line per round.

    Attributes
    ----------
    dataset : CommittorDataset
    rounds : list of str
    method : str
        Shooting engine used ("batched", "lean", ...).
    method_reason : str
        Why ``"auto"`` chose it.
    """

    dataset: object
    rounds: list
    method: str = ""
    method_reason: str = ""


@dataclass(frozen=True)
class TrainResult:
    """Features, the model and how well it fits.

    Attributes
    ----------
    model : CommittorModel
        The final model (all configurations; the cross-validated choice).
    X, n_A, n_B : numpy.ndarray
        Features ``(n, d)`` and shot counts of the configurations with
        decided shots.
    names : list of str
        Column names.
    groups : list of int
        Group index of each column (sin/cos pairs share one).
    atom_indices : list
        Atom indices of each column.
    columns : list of dict
        Structured metadata per column.
    positions : numpy.ndarray
        ``(n, n_atoms, 3)`` Angstrom, the configurations of ``X``.
    X_paths : numpy.ndarray
        Features of every TPS path frame (free-energy surface, committor test).
    path_is_training : numpy.ndarray of bool
        Whether a path frame is one of the shooting points.
    fit : dict
        Held-out metrics (RMSE of p_B, log-likelihood per shot, sizes).
    selection : dict
        Model selection: grid with CV scores and the choice (empty when off).
    ensemble : CommittorEnsemble or None
        Members (bootstrap resamples, other seeds) for q's error and the
        importances' error bars.
    cv : CommittorModelCV or None
        The fitted model selection (its folds are reused by the baselines).
    """

    model: object
    X: np.ndarray
    n_A: np.ndarray
    n_B: np.ndarray
    names: list
    groups: list
    atom_indices: list
    columns: list
    positions: np.ndarray
    X_paths: np.ndarray
    path_is_training: np.ndarray
    fit: dict
    selection: dict = field(default_factory=dict)
    ensemble: object = None
    cv: object = None


@dataclass(frozen=True)
class ExplainResult:
    """SHAP and LIME results.

    Attributes
    ----------
    summary : dict
        JSON-able rankings and importances per ``"method/selection"``, plus
        ``"agreement"``.
    explanations : dict
        ``{(method, selection): Explanation}`` (empty when read back from disk).
    errors : dict
        ``{"method/selection": DataFrame}`` of group importances with ensemble
        error bars (empty without an ensemble).
    """

    summary: dict
    explanations: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationResult:
    """The committor test and the baselines.

    Attributes
    ----------
    committor_test : dict or None
        Summary of :func:`mda_rcxai.sampling.committor_test` (verdict,
        criterion, p_B of each tested configuration, histogram).
    baselines : list of dict
        Held-out log-likelihood per shot of restricted models beside the full one.
    """

    committor_test: dict | None
    baselines: list


# -----------------------------------------------------------------------------
# stages
# -----------------------------------------------------------------------------
def _md_kwargs(cfg):
    s = cfg.system
    return {"timestep_fs": s.timestep, "steps_per_frame": s.steps_per_frame,
            "friction_per_ps": s.friction, "platform": s.platform}


def _angstrom(path):
    from .sampling import trajectory_positions
    return trajectory_positions(path, angstrom=True)


def _initial_path(study, system):
    from .inputs import state_names
    from .sampling import initial_path

    cfg = study.config
    a, b = state_names(cfg)
    ip = cfg.tps.initial_path
    if ip == "hot":
        return initial_path(system, state_A=a, state_B=b, temperature=cfg.system.temperature,
                            high_temperature=cfg.tps.initial_temperature,
                            seed=derived_seed(cfg.seed, "initial_path"), verbose=study.verbose,
                            **_md_kwargs(cfg))
    from .sampling import path_from_ops_storage, path_from_trajectory
    if ip == "pull":
        from .systems.nacl import nacl_initial_path
        md = _md_kwargs(cfg)
        if cfg.tps.pull_to:
            r_nm = cfg.tps.pull_to / 10.0
        else:  # midway between the two states' ranges on their one distance
            ra, rb = system.states[a].ranges[0], system.states[b].ranges[0]
            lo, hi = sorted([ra, rb])
            r_nm = 0.5 * (lo[1] + hi[0])
        frames_nm = nacl_initial_path(system, state_A=a, state_B=b,
                                      temperature=cfg.system.temperature,
                                      seed=derived_seed(cfg.seed, "initial_path"),
                                      max_frames=cfg.tps.max_path_frames,
                                      timestep_fs=md["timestep_fs"],
                                      steps_per_frame=md["steps_per_frame"],
                                      friction_per_ps=md["friction_per_ps"],
                                      r_shoot_nm=r_nm,
                                      platform="CPU" if md["platform"] == "auto"
                                      else md["platform"])
        return path_from_trajectory(system, _path_universe(system, np.asarray(frames_nm) * 10.0),
                                    a, b)
    if ip.endswith(".nc"):
        return path_from_ops_storage(ip, system)
    return path_from_trajectory(system, ip, a, b)


def stage_sample(study, system) -> SampleResult:
    """Initial path and TPS; writes ``paths.npz`` (positions in Angstrom)."""
    from .inputs import state_names
    from .sampling import run_tps

    cfg = study.config
    if study.done("sample"):
        log("   sample: done before, reusing " + study.path("paths.npz"), study.verbose)
        d = load_npz(study.path("paths.npz"), "TPS paths")
        rec = study.state["sample"]
        return SampleResult(np.split(d["positions"], np.cumsum(d["lengths"])[:-1]),
                            rec.get("acceptance", float("nan")), cfg.tps.n_steps,
                            rec.get("seconds", 0.0))
    a, b = state_names(cfg)
    with study.stage("sample") as st:
        path = _initial_path(study, system)
        # positions now: OPS storage can turn saved snapshots into lazy proxies
        initial = _angstrom(path)
        res = run_tps(system, path, n_steps=cfg.tps.n_steps,
                      checkpoint=study.path("tps_checkpoint.npz"),
                      temperature=cfg.system.temperature, seed=derived_seed(cfg.seed, "tps"),
                      state_A=a, state_B=b, n_frames_max=cfg.tps.max_path_frames,
                      n_chains=cfg.tps.chains, n_workers=min(cfg.workers, cfg.tps.chains),
                      verbose=study.verbose, **_md_kwargs(cfg))
        # interior frames only: the first frame lies in A and the last in B; the
        # relaxed initial path is a path of the ensemble too (the only one when no
        # move was accepted)
        paths = [initial[1:-1]] + [_angstrom(p)[1:-1] for p in res.accepted_paths]
        paths = [p for p in paths if len(p)]
        savez(study.path("paths.npz"), positions=np.concatenate(paths),
               lengths=np.array([len(p) for p in paths]))
    lengths = np.array([len(p) for p in paths])
    summary = (f"{len(paths) - 1} accepted paths in {cfg.tps.n_steps} moves "
               f"(acceptance {res.acceptance:.2f}), length {lengths.mean():.0f} +- "
               f"{lengths.std():.0f} frames, {st['seconds']:.0f} s")
    study.record("sample", st["seconds"], summary, acceptance=float(res.acceptance),
                 n_paths=len(paths), mean_length=float(lengths.mean()))
    log("   " + summary, study.verbose)
    return SampleResult(paths, float(res.acceptance), cfg.tps.n_steps, st["seconds"])


def _path_universe(system, positions):
    from .sampling import universe_from_system
    return universe_from_system(system, positions)


def stage_committor(study, system, sample: SampleResult) -> CommittorResult:
    """Rounds of committor shooting; returns the merged dataset."""
    from .inputs import state_names
    from .sampling import CommittorDataset, choose_method, harvest, run_committor

    cfg = study.config
    c = cfg.committor
    a, b = state_names(cfg)
    final = study.path("dataset.npz")
    method, reason = choose_method(system, c.engine)
    if study.done("committor"):
        log("   committor: done before, reusing " + final, study.verbose)
        rec = study.state["committor"]
        return CommittorResult(CommittorDataset.load(final), rec.get("rounds", []),
                               rec.get("method", method), rec.get("method_reason", reason))
    log(f"   committor engine: {method} ({reason})", study.verbose)
    datasets, seconds, lines = [], 0.0, []
    for k in range(1, c.rounds + 1):
        with study.stage(f"committor round {k}/{c.rounds}") as st:
            if k == 1:
                configs = harvest(_training_paths(cfg, sample), c.first_round,
                                  seed=derived_seed(cfg.seed, "harvest", k), system=system)
            else:
                configs = _next_round(cfg, system, sample, datasets, k)
            ds = run_committor(system, configs, c.shots,
                               out=study.path(f"committor_round{k}.npz"),
                               seed=derived_seed(cfg.seed, "committor", k),
                               n_workers=cfg.workers, scheduler=c.scheduler,
                               temperature=cfg.system.temperature, state_A=a, state_B=b,
                               max_frames=c.max_frames, verbose=study.verbose,
                               method=method, n_replicas=c.n_replicas, **_md_kwargs(cfg))
            datasets.append(ds)
        seconds += st["seconds"]
        pb = np.asarray(ds.p_B)
        line = (f"round {k}: {len(ds)} configurations x {c.shots} shots, p_B<0.1: "
                f"{int((pb < 0.1).sum())}, 0.1-0.9: {int(((pb >= 0.1) & (pb <= 0.9)).sum())}, "
                f">0.9: {int((pb > 0.9).sum())}, {st['seconds']:.0f} s")
        lines.append(line)
        log("   " + line, study.verbose)
    merged = CommittorDataset.concatenate(datasets)
    merged.save(final)
    study.record("committor", seconds, "; ".join(lines) + f"; engine {method}", rounds=lines,
                 n_configurations=len(merged), method=method, method_reason=reason)
    return CommittorResult(merged, lines, method, reason)


def _reserved(cfg, positions):
    """Boolean mask: path frames kept out of every committor round for the committor test.

    A frame is reserved when a hash of (study seed, its coordinates) falls in the
    ``[committor] reserve`` fraction: the same frame is reserved in every round and
    on resume, whatever order the frames come in.
    """
    frac = cfg.committor.reserve
    if frac <= 0 or len(positions) == 0:
        return np.zeros(len(positions), dtype=bool)
    salt = str(derived_seed(cfg.seed, "reserve")).encode()
    u = np.array([int.from_bytes(hashlib.sha256(salt + k).digest()[:8], "little") / 2.0 ** 64
                  for k in _rows_key(positions)])
    return u < frac


def _training_paths(cfg, sample):
    """The TPS paths without the frames reserved for the committor test."""
    return [p[~_reserved(cfg, p)] for p in sample.paths]


def _candidates(sample, system, shot_positions):
    """Unique path frames (Angstrom) in no state, and whether each was shot already."""
    frames = sample.frames
    first = {}
    for i, key in enumerate(_rows_key(frames)):
        first.setdefault(key, i)
    idx = np.array(sorted(first.values()), dtype=int)
    x_nm = frames[idx] / 10.0
    inside = np.zeros(len(idx), dtype=bool)
    for st in system.states.values():
        inside |= np.asarray(st.contains(x_nm, box=system.box_vectors), dtype=bool)
    idx = idx[~inside]
    seen = set(_rows_key(shot_positions))
    shot = np.array([k in seen for k in _rows_key(frames[idx])], dtype=bool)
    return frames[idx], shot


def _next_round(cfg, system, sample, datasets, k):
    """Configurations for round ``k``: where an ensemble retrained on all data so far is
    unsure or predicts p_B near 1/2 (:func:`mda_rcxai.model.select_for_shooting`).

    Frames not shot yet are preferred; when fewer than ``later_rounds`` are left,
    shot frames may be picked again (their new shots add to their counts' precision).
    """
    import warnings

    from .inputs import featurize
    from .model import select_for_shooting
    from .sampling import CommittorDataset

    merged = CommittorDataset.concatenate(datasets)
    X, n_A, n_B = _dataset_features(cfg, merged)[:3]
    model = _round_model(cfg, X, n_A, n_B, seed=derived_seed(cfg.seed, "round model", k))
    pool, shot = _candidates(sample, system, merged.positions)
    keep = ~_reserved(cfg, pool)
    pool, shot = pool[keep], shot[keep]
    n = min(cfg.committor.later_rounds, len(pool))
    if n == 0:
        raise InputError("every path frame lies in a state: no configuration for another "
                         "committor round; check the states or raise [tps] n_steps")
    exclude = np.flatnonzero(shot) if (~shot).sum() >= n else None
    if exclude is None and shot.any():
        warnings.warn(f"round {k}: only {(~shot).sum()} path frames not shot yet; frames shot "
                      "before may be picked again (raise [tps] n_steps for more)")
    Xc = featurize(cfg, _path_universe(system, pool)).features
    idx = select_for_shooting(model, Xc, n, window=tuple(cfg.committor.window),
                              seed=derived_seed(cfg.seed, "select", k), exclude=exclude)
    return pool[np.asarray(idx, dtype=int)]


def _dataset_features(cfg, dataset):
    """(X, n_A, n_B, results, positions) of the configurations with decided shots."""
    from .inputs import featurize

    res = featurize(cfg, dataset.to_universe())
    n_A, n_B = np.asarray(dataset.n_A), np.asarray(dataset.n_B)
    keep = (n_A + n_B) > 0
    pos = np.asarray(dataset.positions)[keep]
    return res.features[keep], n_A[keep], n_B[keep], res, pos


def _base_params(cfg):
    m = cfg.model
    return dict(hidden_layers=tuple(m.hidden_layers), activation=m.activation,
                weight_decay=m.weight_decay, learning_rate=m.learning_rate,
                max_epochs=m.max_epochs, batch_size=m.batch_size,
                validation_fraction=m.validation_fraction, early_stopping=m.early_stopping)


def _round_model(cfg, X, n_A, n_B, seed):
    """The model that picks the next round: an ensemble (its spread marks where it is unsure)
    of fast L-BFGS fits (:data:`~mda_rcxai.model.DEFAULT_ENSEMBLE_PARAMS`), or the config's
    network when ``[model] select = false``."""
    from .model import CommittorEnsemble, CommittorModel

    n = max(cfg.model.ensemble, 1)
    if cfg.model.select:
        return CommittorEnsemble(n_models=n, seed=seed).fit(X, n_A, n_B)
    if n > 1:
        return CommittorEnsemble(n_models=n, seed=seed, **_base_params(cfg)).fit(X, n_A, n_B)
    return CommittorModel(seed=seed, **_base_params(cfg)).fit(X, n_A, n_B)


def _records(table):
    if hasattr(table, "to_dict"):
        return table.to_dict("records")
    return list(table)


def _rows_key(positions):
    """Byte keys of configurations, to tell path frames that were shooting points."""
    p = np.round(np.asarray(positions, dtype=np.float64), 3).astype(np.float32)
    return [r.tobytes() for r in p.reshape(len(p), -1)]


def _fit_final(cfg, X, n_A, n_B, names, seed):
    """(model, ensemble or None, cv or None, held-out metrics, selection record)."""
    from .model import CommittorEnsemble, CommittorModel, CommittorModelCV
    from .model import constant_loglik, pb_rmse

    cv = None
    if cfg.model.select:
        # weight decay x architecture by k-fold CV (L-BFGS, group lasso on the input layer);
        # held-out metrics from the out-of-fold predictions, the choice refitted on all rows
        cv = CommittorModelCV(cv=cfg.model.cv, seed=seed).fit(X, n_A, n_B, feature_names=names)
        model = cv.best_estimator_
        m = cv.cv_metrics_
        fit = {"rmse_pB_heldout": float(m["rmse_p_B"]), "loglik_heldout": float(m["log_likelihood"]),
               "loglik_constant": float(m["log_likelihood_constant"]),
               "heldout": f"{cfg.model.cv}-fold out-of-fold predictions",
               "n_train": int(len(X) - len(X) // cfg.model.cv), "n_test": int(len(X))}
        selection = {"best_params": _jsonable(dict(cv.best_params_)),
                     "grid": [_jsonable(dict(r)) for r in _records(cv.results_table())],
                     "cv": cfg.model.cv, "at_grid_edge": list(cv.at_grid_edge_)}
        member = model
    else:
        # held-out quality: the config's network trained on 80 %, tested on 20 %
        rng = np.random.default_rng(derived_seed(cfg.seed, "holdout"))
        order = rng.permutation(len(X))
        n_test = max(1, int(round(0.2 * len(X))))
        test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
        m80 = CommittorModel(seed=seed, **_base_params(cfg)).fit(X[train], n_A[train], n_B[train])
        p0 = n_B[train].sum() / (n_A[train] + n_B[train]).sum()  # the training rows' constant
        fit = {"rmse_pB_heldout": pb_rmse(m80.predict_q(X[test]), n_A[test], n_B[test]),
               "loglik_heldout": float(m80.score(X[test], n_A[test], n_B[test])),
               "loglik_constant": constant_loglik(n_A[test], n_B[test], p=p0),
               "heldout": "20 % of the configurations", "n_train": int(len(train)),
               "n_test": int(len(test))}
        selection = {}
        model = CommittorModel(seed=seed, **_base_params(cfg)).fit(X, n_A, n_B,
                                                                   feature_names=names)
        member = model
    ensemble = None
    if cfg.model.ensemble > 1:
        ensemble = CommittorEnsemble(n_models=cfg.model.ensemble, seed=seed,
                                     base_estimator=member).fit(X, n_A, n_B, feature_names=names)
    fit.update(n_features=int(X.shape[1]), ensemble=int(cfg.model.ensemble),
               params=_jsonable(model.get_params()))
    return model, ensemble, cv, fit, selection


def stage_train(study, system, sample: SampleResult, committor: CommittorResult) -> TrainResult:
    """Features, model selection, held-out fit, the final model and its ensemble."""
    from .inputs import featurize

    cfg = study.config
    feats_path, model_path = study.path("features.npz"), study.path("model.pt")
    ens_path, cv_path = study.path("model_ensemble.pt"), study.path("model_cv.pt")
    if study.done("train"):
        from .model import CommittorEnsemble, CommittorModel, CommittorModelCV
        log("   train: done before, reusing " + model_path, study.verbose)
        d = load_npz(feats_path, "features")
        return TrainResult(
            model=CommittorModel.load(model_path), X=d["X"], n_A=d["n_A"], n_B=d["n_B"],
            names=[str(n) for n in d["names"]], groups=d["groups"].tolist(),
            atom_indices=json.loads(str(d["atom_indices_json"])),
            columns=json.loads(str(d["columns_json"])), positions=d["positions"],
            X_paths=d["X_paths"], path_is_training=d["path_is_training"],
            fit=read_json(study.path("fit.json"), "fit"),
            selection=study.state["train"].get("selection", {}),
            ensemble=CommittorEnsemble.load(ens_path) if os.path.exists(ens_path) else None,
            cv=CommittorModelCV.load(cv_path) if os.path.exists(cv_path) else None)
    with study.stage("train") as st:
        X, n_A, n_B, res, pos = _dataset_features(cfg, committor.dataset)
        if len(X) < 10:
            raise InputError(f"only {len(X)} configurations with decided shots; the model needs "
                             "at least 10: raise [committor] first_round or max_frames")
        names = list(res.names)
        seed = derived_seed(cfg.seed, "model")
        model, ensemble, cv, fit, selection = _fit_final(cfg, X, n_A, n_B, names, seed)
        frames = sample.frames
        X_paths = featurize(cfg, _path_universe(system, frames)).features
        seen = set(_rows_key(committor.dataset.positions))
        path_is_training = np.array([k in seen for k in _rows_key(frames)])
        columns = [_jsonable(_column_dict(c)) for c in getattr(res, "columns", [])]
        atom_idx = [list(map(int, a)) for a in res.atom_indices]
        for obj, path in ((model, model_path), (ensemble, ens_path), (cv, cv_path)):
            if obj is not None:
                atomic_write(path, obj.save)
        savez(feats_path, X=X, n_A=n_A, n_B=n_B, names=np.array(names),
               groups=np.asarray(res.groups),
               atom_indices_json=np.array(json.dumps(atom_idx)),
               columns_json=np.array(json.dumps(columns)), positions=pos.astype(np.float32),
               X_paths=X_paths, path_is_training=path_is_training)
        write_json(study.path("fit.json"), fit)
    summary = (f"{X.shape[1]} features, {len(X)} configurations; held-out ({fit['heldout']}) "
               f"p_B RMSE {fit['rmse_pB_heldout']:.3f}, log-likelihood per shot "
               f"{fit['loglik_heldout']:.3f} (constant p_B: {fit['loglik_constant']:.3f})"
               + (f"; chosen {selection['best_params']}" if selection else "")
               + f"; {st['seconds']:.0f} s")
    study.record("train", st["seconds"], summary, selection=selection, **fit)
    log("   " + summary, study.verbose)
    return TrainResult(model, X, n_A, n_B, names, np.asarray(res.groups).tolist(), atom_idx,
                       columns, pos, X_paths, path_is_training, fit, selection, ensemble, cv)


def _column_dict(c):
    if hasattr(c, "to_dict"):
        return c.to_dict()
    from dataclasses import asdict, is_dataclass
    return asdict(c) if is_dataclass(c) else dict(c)


def _by(train: TrainResult):
    """How explanations are grouped: by bond when every column is an angle, else by group."""
    kinds = {c.get("kind") for c in train.columns} if train.columns else {"dihedral"}
    return "bond" if kinds <= {"dihedral", "improper", "sin", "cos", "angle"} else "group"


def stage_explain(study, system, train: TrainResult, force=False) -> ExplainResult:
    """SHAP and LIME, global and transition state; importance.csv, explained.pdb.

    ``force=True`` recomputes even when done (the report needs the objects).
    """
    from .explain.run import explain_all

    cfg = study.config
    e = cfg.explain
    out_json = study.path("explanations.json")
    if study.done("explain") and not force:
        log("   explain: done before, reusing " + out_json, study.verbose)
        return ExplainResult(read_json(out_json, "explanations"))
    u = _path_universe(system, train.positions[:1])
    with study.stage("explain") as st:
        members = list(train.ensemble.models_) if train.ensemble is not None else []
        res = explain_all(train.model, train.X, feature_names=train.names,
                          atom_indices=train.atom_indices, groups=train.groups,
                          columns=train.columns or None,
                          methods=tuple(e.methods), window=tuple(e.ts_window),
                          max_samples=e.max_samples, background_size=e.background_size,
                          seed=derived_seed(cfg.seed, "explain"), universe=u, by=_by(train),
                          members=members, verbose=study.verbose)
        best = res.explanations.get(("shap", "global")) or next(
            iter(res.explanations.values()), None)
        if res.table is not None:
            atomic_write(study.path("importance.csv"),
                         lambda t: res.table.to_csv(t, index=False))
        if best is not None:
            k = int(np.argmin(np.abs(train.model.predict_proba(train.X) - 0.5)))
            ag = best.to_atomgroup(_path_universe(system, train.positions[k:k + 1]),
                                   scale="max")
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PDB writer notes on absent attributes
                atomic_write(study.path("explained.pdb"), ag.write)
        write_json(out_json, res.summary)
    top = {k: v.get("grouped_ranking", [])[:2] for k, v in res.summary.items()
           if k != "agreement"}
    summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in top.items())
    study.record("explain", st["seconds"], summary)
    return ExplainResult(res.summary, res.explanations, res.errors)


def _baseline_sets(cfg, system, train: TrainResult, explain: ExplainResult):
    """Named column sets: the top-1/2/3 groups, the system's own and the config's sets."""
    from .inputs import bundled_baselines

    sets = {}
    summ = explain.summary.get("shap/global") or next(
        (v for k, v in explain.summary.items() if k != "agreement" and "grouped_ranking" in v),
        None)
    col = {n: i for i, n in enumerate(train.names)}
    if summ:
        ranking, members = summ["grouped_ranking"], summ.get("grouped_members", {})
        for k in (1, 2, 3):
            if len(ranking) >= k:
                names = [m for g in ranking[:k] for m in members.get(g, [g])]
                sets[f"top {k}: " + " + ".join(ranking[:k])] = sorted(
                    {col[n] for n in names if n in col})
    labels = [c.get("group") for c in train.columns] if train.columns else [None] * len(col)
    named = dict(bundled_baselines(cfg))
    named.update(cfg.explain.baselines)
    for name, wanted in named.items():
        cols = []
        for m in wanted:
            hit = [i for i, n in enumerate(train.names)
                   if m == n or m == labels[i] or (train.columns and
                                                   m == train.columns[i].get("alias"))]
            if not hit:
                raise InputError(f"config: [explain] baselines.{name}: {m!r} is neither a feature "
                                 "name, an alias nor a group label of this study's features")
            cols += hit
        sets[name] = sorted(set(cols))
    return sets


def stage_validate(study, system, sample: SampleResult, train: TrainResult,
                   explain: ExplainResult) -> ValidationResult:
    """The committor test and the baselines; ``validation.json``."""
    from .inputs import state_names
    from .model import baseline_loglik

    cfg = study.config
    v = cfg.validation
    out_json = study.path("validation.json")
    if study.done("validate"):
        log("   validate: done before, reusing " + out_json, study.verbose)
        d = read_json(out_json, "validation")
        return ValidationResult(d.get("committor_test"), d.get("baselines", []))
    with study.stage("validate") as st:
        sets = _baseline_sets(cfg, system, train, explain)
        if train.cv is not None:  # the selection's folds, choice and full-model scores
            base = baseline_loglik(train.X, train.n_A, train.n_B, sets, cv=train.cv,
                                   feature_names=train.names)
        else:
            base = baseline_loglik(train.X, train.n_A, train.n_B, sets, cv=3,
                                   seed=derived_seed(cfg.seed, "baselines"),
                                   feature_names=train.names, **_base_params(cfg))
        baselines = [_jsonable(dict(r)) for r in _records(base)]
        ct = None
        if v.committor_test:
            from .sampling import committor_test
            a, b = state_names(cfg)
            # frames reserved from every round (never shot, never trained on)
            unseen = ~train.path_is_training & _reserved(cfg, sample.frames)
            frames = sample.frames[unseen]
            pred = train.model.predict_proba(train.X_paths[unseen])
            res = committor_test(system, frames, pred, window=tuple(v.window),
                                 n_configurations=v.configurations, n_shots=v.shots,
                                 seed=derived_seed(cfg.seed, "committor test"),
                                 out=study.path("committor_test.npz"), n_workers=cfg.workers,
                                 scheduler=cfg.committor.scheduler,
                                 temperature=cfg.system.temperature, state_A=a, state_B=b,
                                 max_frames=cfg.committor.max_frames, verbose=study.verbose,
                                 method=choose_engine(system, cfg), **_md_kwargs(cfg))
            ct = _jsonable(dict(res.to_dict(), summary=res.summary()))
        write_json(out_json, {"committor_test": ct, "baselines": baselines})
    verdict = f"committor test: {ct['verdict']}" if ct else "committor test off"
    best = max(baselines, key=lambda r: r.get("loglik", -np.inf)) if baselines else {}
    summary = f"{verdict}; {len(baselines)} baselines; {st['seconds']:.0f} s"
    study.record("validate", st["seconds"], summary, best_baseline=best.get("name"))
    log("   " + summary, study.verbose)
    return ValidationResult(ct, baselines)


def choose_engine(system, cfg):
    """The committor engine the study uses for ``system`` ("batched" or "lean", ...)."""
    from .sampling import choose_method
    return choose_method(system, cfg.committor.engine)[0]


def run_study(out, config=None, verbose=True, until=None, overwrite=False):
    """Run (or resume) the study in ``out``.

    Parameters
    ----------
    out : str
        Output directory.
    config : StudyConfig, optional
        Parameters (default: the defaults, i.e. the bundled alanine dipeptide).
    verbose : bool
        Progress bars and per-stage summaries.
    until : str, optional
        Stop after this stage (one of :data:`STAGES`).
    overwrite : bool
        Allow parameters different from an earlier run in ``out`` (the files
        of the stages they affect are moved to ``out/.previous/``).

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
    from .inputs import build_system, check_features, fes_axis

    if until is not None and until not in STAGES:
        raise InputError(f"until={until!r} is not a stage; use one of {STAGES}")
    config = config if config is not None else StudyConfig()
    if os.path.exists(os.fspath(out)) and not os.path.isdir(os.fspath(out)):
        raise InputError(f"--out {os.fspath(out)!r} is a file, not a directory; give a new or "
                         "study directory")
    _one_thread()
    t0 = time.perf_counter()
    # everything that can fail on bad input fails here, before any file is touched
    system = build_system(config)
    check_features(config, system)
    study = Study(out, config, verbose=verbose, overwrite=overwrite)
    sample = stage_sample(study, system)
    import gc
    gc.collect()  # free OPS storage objects now: at interpreter exit netCDF4 complains
    if until == "sample":
        return _result(study)
    committor = stage_committor(study, system, sample)
    if until == "committor":
        return _result(study)
    train = stage_train(study, system, sample, committor)
    if until == "train":
        return _result(study)
    need_report = not study.done("report") or not os.path.exists(study.path("report.html"))
    explain = stage_explain(study, system, train, force=need_report and until != "explain")
    if until == "explain":
        return _result(study)
    validation = stage_validate(study, system, sample, train, explain)
    if until == "validate":
        return _result(study)
    if need_report:
        from .study_report import write_report
        t_rep = time.perf_counter()
        write_report(study.path("report.html"), config=config, system=system,
                     stages=study.state, sample=sample, committor=committor, train=train,
                     explain=explain, validation=validation, versions=versions(),
                     fes_first=fes_axis(config))
        study.record("report", time.perf_counter() - t_rep, study.path("report.html"))
    else:
        log("   report: done before, " + study.path("report.html"), verbose)
    res = _result(study)
    log(f"== done in {time.perf_counter() - t0:.0f} s; outputs in {os.path.abspath(study.out)}",
         verbose)
    for name in ("report.html", "importance.csv", "explained.pdb", "model.pt", "dataset.npz"):
        if os.path.exists(study.path(name)):
            log(f"   {study.path(name)}", verbose)
    return res


def _result(study):
    top = {}
    p = study.path("explanations.json")
    if os.path.exists(p):
        ex = read_json(p, "explanations")
        top = {k: v.get("grouped_ranking", [])[:2] for k, v in ex.items()
               if k != "agreement" and isinstance(v, dict)}
    return {"out": study.out, "report": study.path("report.html"), "top_groups": top,
            "stages": study.state}


def _one_thread():
    """One thread per process (measured faster on small systems; see DESIGN.md).

    ``OPENMM_CPU_THREADS=1`` also makes CPU runs repeatable: OpenMM's CPU PME
    ignores the Context's ``Threads`` property and with more threads two runs
    of the same seed drift apart (1e-10 nm after one step). Set before any
    worker process starts, so Dask workers inherit it.
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "OPENMM_CPU_THREADS"):
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
                "lime", "numpy", "dask", "pydantic"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


__all__ += ["choose_engine", "versions", "stage_sample", "stage_committor", "stage_train",
            "stage_explain", "stage_validate"]

"""Stage 2, ``committor``: rounds of committor shooting.

Writes ``committor_round{k}.npz`` and ``dataset.npz``.

Round 1 takes configurations spread along the accepted paths; each later
round takes unshot path frames where the model (retrained on all data so
far) predicts p_B in the window or is unsure, and only those: a round with
too few shoots fewer and says so.
"""

from __future__ import annotations

import os

import numpy as np

from .common import (dataset_features, engine_settings, md_kwargs, path_universe,
                     reserved_mask, rows_key, training_paths)
from .files import derived_seed, log
from .inputs import featurize, state_names
from .results import CommittorResult, SampleResult

__all__ = ["stage_committor", "WRITES"]

#: Files this stage writes in the study directory (globs): each round's dataset (with
#: its ``.partial`` resume file, or OPS storages with ``engine = "ops"``: one ``.nc`` file
#: or a ``_ops/`` folder of them, one per chunk of configurations) and
#: the merged one. ``--overwrite`` retires them.
WRITES = ("committor_round*.npz*", "committor_round*.nc", "committor_round*_ops", "dataset.npz")


def stage_committor(study, system, sample: SampleResult) -> CommittorResult:
    """Rounds of committor shooting; returns the merged dataset."""
    from ..sampling import CommittorDataset, harvest, run_committor

    cfg = study.config
    c = cfg.committor
    a, b = state_names(cfg)
    final = study.path("dataset.npz")
    if study.done("committor"):
        log("   committor: done before, reusing " + final, study.verbose)
        rec = study.state["committor"]
        return CommittorResult(CommittorDataset.load(final), rec.get("rounds", []),
                               rec.get("method"), rec.get("method_reason", ""))
    method, reason = _route(study, system, c.engine, sample)
    log(f"   committor engine: {method} ({reason})", study.verbose)
    datasets, seconds, lines, picks = [], 0.0, [], []
    for k in range(1, c.rounds + 1):
        with study.stage(f"committor round {k}/{c.rounds}") as st:
            pick = None
            if k == 1:
                configs = harvest(training_paths(cfg, sample), c.first_round,
                                  seed=derived_seed(cfg.seed, "harvest", k), system=system)
            else:
                configs, pick = _next_round(cfg, system, sample, datasets, k)
                picks.append(dict(pick, round=k))
                if pick.get("note"):
                    log("   " + pick["note"], study.verbose)
            ds = None if len(configs) == 0 else run_committor(system, configs, c.shots,
                               out=study.path(f"committor_round{k}.npz"),
                               seed=derived_seed(cfg.seed, "committor", k),
                               n_workers=cfg.workers, scheduler=c.scheduler,
                               temperature=cfg.system.temperature, state_A=a, state_B=b,
                               n_frames_max=c.max_frames, verbose=study.verbose,
                               method=method, n_replicas=c.n_replicas, **md_kwargs(cfg))
            if ds is not None:
                datasets.append(ds)
        seconds += st["seconds"]
        if ds is None:
            lines.append(pick["note"])
            continue
        pb = np.asarray(ds.p_B)
        line = (f"round {k}: {len(ds)} configurations x {c.shots} shots, p_B<0.1: "
                f"{int((pb < 0.1).sum())}, 0.1-0.9: {int(((pb >= 0.1) & (pb <= 0.9)).sum())}, "
                f">0.9: {int((pb > 0.9).sum())}, {st['seconds']:.0f} s")
        lines.append(line)
        log("   " + line, study.verbose)
        if pick and pick.get("note"):
            lines.append(pick["note"])
    merged = CommittorDataset.concatenate(datasets)
    merged.save(final)
    engine = merged.metadata.get("engine", {}) if len(datasets) == 1 else \
        datasets[-1].metadata.get("engine", {})
    speeds = [d.metadata.get("md_steps_per_s_last_call") for d in datasets]
    study.record("committor", seconds, "; ".join(lines) + f"; engine {method}", rounds=lines,
                 n_configurations=len(merged), method=method, method_reason=reason,
                 round_picks=picks, platform_choice=engine.get("platform_choice"),
                 md_steps_per_s=[float(v) if v else None for v in speeds])
    return CommittorResult(merged, lines, method, reason)


def _route(study, system, engine, sample):
    """The committor route: the one a killed run started with, else chosen now.

    ``engine = "auto"`` is decided by measurement, which a loaded machine can
    tip from one run to the next; a resumed stage keeps the route its first
    round was shot with (read from that round's dataset), so its files stay
    valid.
    """
    from ..sampling import CommittorDataset, choose_method

    first = study.path("committor_round1.npz")
    if engine == "auto" and os.path.exists(first):
        try:
            m = CommittorDataset.load(first).metadata["method"]
            return m["name"], m["reason"] + " (chosen when the stage started)"
        except Exception:  # damaged: the stage-file checks deal with it
            pass
    return choose_method(system, engine, engine_settings(study.config),
                         frames_per_shot=sample.shot_frames)


def _candidates(sample, system, shot_positions):
    """Unique path frames (Angstrom) in no state, and whether each was shot already."""
    frames = sample.frames
    first = {}
    for i, key in enumerate(rows_key(frames)):
        first.setdefault(key, i)
    idx = np.array(sorted(first.values()), dtype=int)
    x_nm = frames[idx] / 10.0
    inside = np.zeros(len(idx), dtype=bool)
    for st in system.states.values():
        inside |= np.asarray(st.contains(x_nm, box=system.box_vectors), dtype=bool)
    idx = idx[~inside]
    seen = set(rows_key(shot_positions))
    shot = np.array([k in seen for k in rows_key(frames[idx])], dtype=bool)
    return frames[idx], shot


#: A candidate with an ensemble spread of p_B at least this large counts as one
#: the round model is unsure about (informative even outside the window).
UNSURE_SPREAD = 0.1


def _next_round(cfg, system, sample, datasets, k):
    """Configurations for round ``k`` and what the pick found.

    Only informative candidates are shot: path frames not shot yet, not
    reserved for the committor test, whose p_B predicted by an ensemble
    retrained on all data so far lies in ``[committor] window`` or whose
    members disagree by at least :data:`UNSURE_SPREAD`
    (:func:`mda_rcxai.model.select_for_shooting` draws among them, near
    p_B = 1/2 and disagreement first). When fewer than ``later_rounds`` are
    informative, the round shoots only those (none: the round is skipped)
    and says so: frames the model already places at p_B ~ 0 or 1 would
    spend shots on known answers (a demo once spent 6000 shots for one
    informative configuration).

    Returns
    -------
    positions : numpy.ndarray
        ``(m, n_atoms, 3)`` Angstrom, ``m <= later_rounds`` (may be 0).
    info : dict
        ``asked``, ``candidates`` (unshot, unreserved frames),
        ``informative``, ``shot`` and a one-line ``note``.
    """
    from ..model import select_for_shooting
    from ..sampling import CommittorDataset

    merged = CommittorDataset.concatenate(datasets)
    X, n_A, n_B = dataset_features(cfg, merged)[:3]
    model = _round_model(cfg, X, n_A, n_B, seed=derived_seed(cfg.seed, "round model", k))
    pool, shot = _candidates(sample, system, merged.positions)
    keep = ~reserved_mask(cfg, pool) & ~shot
    pool = pool[keep]
    asked = int(cfg.committor.later_rounds)
    info = {"asked": asked, "candidates": int(len(pool)), "informative": 0, "shot": 0}
    if len(pool) == 0:
        info["note"] = (f"round {k}: no path frame left that was not shot or reserved; "
                        "round skipped (raise [tps] n_steps for more paths)")
        return pool, info
    Xc = featurize(cfg, path_universe(system, pool)).features
    lo, hi = (float(w) for w in cfg.committor.window)
    p = np.asarray(model.predict_proba(Xc), dtype=float)
    spread = np.asarray(model.predict_proba_std(Xc), dtype=float)
    informative = ((p >= lo) & (p <= hi)) | (spread >= UNSURE_SPREAD)
    n_inf = int(informative.sum())
    n = min(asked, n_inf)
    info.update(informative=n_inf, shot=n)
    if n == 0:
        info["note"] = (f"round {k}: none of {len(pool)} unshot path frames is predicted in "
                        f"the window {lo:g}-{hi:g} or uncertain; round skipped (raise "
                        "[tps] n_steps for more paths)")
        return pool[:0], info
    idx = select_for_shooting(model, Xc, n, window=(lo, hi),
                              seed=derived_seed(cfg.seed, "select", k),
                              exclude=np.flatnonzero(~informative))
    if n < asked:
        info["note"] = (f"round {k}: only {n_inf} of {len(pool)} unshot path frames are "
                        f"predicted in the window {lo:g}-{hi:g} or uncertain; shooting "
                        f"those {n}, not {asked} (raise [tps] n_steps for more paths)")
    return pool[np.asarray(idx, dtype=int)], info


def _round_model(cfg, X, n_A, n_B, seed):
    """The model that picks the next round: an ensemble of ``[model] ensemble`` fast
    L-BFGS fits (:data:`~mda_rcxai.model.DEFAULT_FIT_PARAMS`; its spread marks where it is
    unsure). It depends on no other ``[model]`` key, so a change of the final model's
    keys never re-shoots the committor stage (``DEPENDS``)."""
    from ..model import CommittorEnsemble

    return CommittorEnsemble(n_models=max(cfg.model.ensemble, 1), seed=seed).fit(X, n_A, n_B)
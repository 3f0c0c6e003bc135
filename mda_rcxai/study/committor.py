"""Stage 2, ``committor``: rounds of committor shooting.

Writes ``committor_round{k}.npz`` and ``dataset.npz``.

Round 1 takes configurations spread along the accepted paths; each later
round takes path frames where the model (retrained on all data so far)
is unsure.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import InputError
from .common import (dataset_features, md_kwargs, path_universe, reserved_mask,
                     rows_key, training_paths)
from .files import derived_seed, log
from .inputs import featurize, state_names
from .results import CommittorResult, SampleResult

__all__ = ["stage_committor", "WRITES"]

#: Files this stage writes in the study directory (globs): each round's dataset (with
#: its ``.partial`` resume file, or an OPS ``.nc`` storage with ``engine = "ops"``) and
#: the merged one. ``--overwrite`` retires them.
WRITES = ("committor_round*.npz*", "committor_round*.nc", "dataset.npz")


def stage_committor(study, system, sample: SampleResult) -> CommittorResult:
    """Rounds of committor shooting; returns the merged dataset."""
    from ..sampling import CommittorDataset, choose_method, harvest, run_committor

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
                configs = harvest(training_paths(cfg, sample), c.first_round,
                                  seed=derived_seed(cfg.seed, "harvest", k), system=system)
            else:
                configs = _next_round(cfg, system, sample, datasets, k)
            ds = run_committor(system, configs, c.shots,
                               out=study.path(f"committor_round{k}.npz"),
                               seed=derived_seed(cfg.seed, "committor", k),
                               n_workers=cfg.workers, scheduler=c.scheduler,
                               temperature=cfg.system.temperature, state_A=a, state_B=b,
                               max_frames=c.max_frames, verbose=study.verbose,
                               method=method, n_replicas=c.n_replicas, **md_kwargs(cfg))
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


def _next_round(cfg, system, sample, datasets, k):
    """Configurations for round ``k``: where an ensemble retrained on all data so far is
    unsure or predicts p_B near 1/2 (:func:`mda_rcxai.model.select_for_shooting`).

    Frames not shot yet are preferred; when fewer than ``later_rounds`` are left,
    shot frames may be picked again (their new shots add to their counts' precision).
    """
    import warnings

    from ..model import select_for_shooting
    from ..sampling import CommittorDataset

    merged = CommittorDataset.concatenate(datasets)
    X, n_A, n_B = dataset_features(cfg, merged)[:3]
    model = _round_model(cfg, X, n_A, n_B, seed=derived_seed(cfg.seed, "round model", k))
    pool, shot = _candidates(sample, system, merged.positions)
    keep = ~reserved_mask(cfg, pool)
    pool, shot = pool[keep], shot[keep]
    n = min(cfg.committor.later_rounds, len(pool))
    if n == 0:
        raise InputError("every path frame lies in a state: no configuration for another "
                         "committor round; check the states or raise [tps] n_steps")
    exclude = np.flatnonzero(shot) if (~shot).sum() >= n else None
    if exclude is None and shot.any():
        warnings.warn(f"round {k}: only {(~shot).sum()} path frames not shot yet; frames shot "
                      "before may be picked again (raise [tps] n_steps for more)")
    Xc = featurize(cfg, path_universe(system, pool)).features
    idx = select_for_shooting(model, Xc, n, window=tuple(cfg.committor.window),
                              seed=derived_seed(cfg.seed, "select", k), exclude=exclude)
    return pool[np.asarray(idx, dtype=int)]


def _round_model(cfg, X, n_A, n_B, seed):
    """The model that picks the next round: an ensemble of ``[model] ensemble`` fast
    L-BFGS fits (:data:`~mda_rcxai.model.DEFAULT_FIT_PARAMS`; its spread marks where it is
    unsure). It depends on no other ``[model]`` key, so a change of the final model's
    keys never re-shoots the committor stage (``DEPENDS``)."""
    from ..model import CommittorEnsemble

    return CommittorEnsemble(n_models=max(cfg.model.ensemble, 1), seed=seed).fit(X, n_A, n_B)
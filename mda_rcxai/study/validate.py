"""Stage 5, ``validate``: the committor tests and the baselines.

The committor test of the learned coordinate and, beside it with the same
criterion, that of the naive coordinate (:func:`~.inputs.naive_coordinate`:
candidates at its own barrier top, from the same unseen path frames); the
baselines with the full model's advantage and its bootstrap interval.
Writes ``validation.json``, ``committor_test.npz`` and
``committor_test_naive.npz``.
"""

from __future__ import annotations

import numpy as np

from ..fileio import to_jsonable as _jsonable
from .common import base_params, engine_settings, md_kwargs, records, reserved_mask, rows_key
from .files import derived_seed, log, read_json, write_json
from .inputs import (_bundled_defaults, baseline_columns, bundled_baselines, bundled_comparisons,
                     naive_coordinate, state_names)
from .results import ExplainResult, SampleResult, TrainResult, ValidationResult

__all__ = ["stage_validate", "choose_engine", "top_solvent_column", "WRITES"]

#: Files this stage writes in the study directory (the committor test's shots, with
#: their resume file or OPS storage); ``--overwrite`` retires them.
WRITES = ("validation.json", "committor_test.npz*", "committor_test.nc", "committor_test_ops",
          "committor_test_naive.npz*", "committor_test_naive.nc", "committor_test_naive_ops")


def _baseline_sets(cfg, system, train: TrainResult, explain: ExplainResult):
    """Named column sets: the top-1/2/3 groups, the system's own and the config's sets."""
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
    named = dict(bundled_baselines(cfg))
    named.update(cfg.explain.baselines)
    for name, wanted in named.items():  # the config's sets were checked before any stage ran
        sets[name] = baseline_columns(name, wanted, train.names, train.columns)
    b = _bundled_defaults(cfg)
    base = b.plus_top_solvent if b else None
    top = top_solvent_column(explain.summary, train.columns) if base in sets else None
    if top is not None:  # e.g. phi + theta against phi + theta + the top solvent column
        sets[f"{base} + top solvent: {top}"] = sorted(set(sets[base]) | {col[top]})
    return sets


def top_solvent_column(summary, columns):
    """The best-ranked solvent column (SHAP at the transition state, else global), or None.

    Parameters
    ----------
    summary : dict
        :attr:`ExplainResult.summary` (``"shap/transition_state"`` ...
        with a per-column ``ranking``).
    columns : sequence of FeatureColumn or dict
        Column metadata of the explained features.

    Returns
    -------
    str or None
        The name of the first column of a solvent kind
        (:data:`mda_rcxai.features.columns.SOLVENT_KINDS`) in the ranking;
        None when no solvent column is ranked.

    Examples
    --------
    >>> cols = [{"name": "phi", "kind": "dihedral"},
    ...         {"name": "V[H18|water]", "kind": "solvent_potential"}]
    >>> top_solvent_column({"shap/global": {"ranking": ["phi", "V[H18|water]"]}}, cols)
    'V[H18|water]'
    """
    from ..features.columns import SOLVENT_KINDS

    def field(c, key):
        return c.get(key) if isinstance(c, dict) else getattr(c, key, None)

    solvent = {field(c, "name") for c in columns or ()
               if field(c, "kind") in SOLVENT_KINDS or field(c, "measure") in SOLVENT_KINDS}
    for key in ("shap/transition_state", "shap/global"):
        hit = next((n for n in (summary.get(key) or {}).get("ranking", []) if n in solvent),
                   None)
        if hit is not None:
            return hit
    return None


def _naive_set(cfg, train: TrainResult, sets):
    """(names, columns, baseline row name) of the naive coordinate, or None; adds its set to
    ``sets`` unless a set of the same columns is there already."""
    wanted = naive_coordinate(cfg)
    if not wanted:
        return None
    cols = baseline_columns("naive", wanted, train.names, train.columns, key="[validation] naive")
    row = next((k for k, c in sets.items() if list(c) == cols), None)
    if row is None:
        row = "naive: " + " + ".join(wanted)
        sets[row] = cols
    return {"names": list(wanted), "columns": cols, "baseline": row}


def _first_occurrence(frames):
    """Boolean mask: the first of each set of identical frames (to 1e-3 Angstrom)."""
    seen, keep = set(), np.zeros(len(frames), dtype=bool)
    for i, k in enumerate(rows_key(frames)):
        if k not in seen:
            seen.add(k)
            keep[i] = True
    return keep


def stage_validate(study, system, sample: SampleResult, train: TrainResult,
                   explain: ExplainResult) -> ValidationResult:
    """The committor test and the baselines; ``validation.json``."""
    from ..model import baseline_loglik, compare_baselines

    cfg = study.config
    v = cfg.validation
    out_json = study.path("validation.json")
    if study.done("validate"):
        log("   validate: done before, reusing " + out_json, study.verbose)
        d = read_json(out_json, "validation")
        return ValidationResult(d.get("committor_test"), d.get("baselines", []),
                                d.get("committor_test_naive"), d.get("naive"),
                                d.get("comparisons", []))
    with study.stage("validate") as st:
        sets = _baseline_sets(cfg, system, train, explain)
        naive = _naive_set(cfg, train, sets)
        if train.cv is not None:  # the selection's folds, choice and full-model scores
            base = baseline_loglik(train.X, train.n_A, train.n_B, sets, cv=train.cv,
                                   feature_names=train.names)
        else:
            base = baseline_loglik(train.X, train.n_A, train.n_B, sets, cv=3,
                                   seed=derived_seed(cfg.seed, "baselines"),
                                   feature_names=train.names, **base_params(cfg))
        baselines = [_jsonable(dict(r)) for r in records(base)]
        # head-to-head pairs (e.g. phi + theta against phi + psi), and the top-2 groups
        # against the naive coordinate, with paired-bootstrap intervals
        pairs = list(bundled_comparisons(cfg))
        pairs += [(k, k.split(" + top solvent: ")[0]) for k in sets if " + top solvent: " in k]
        top2 = next((k for k in sets if k.startswith("top 2: ")), None)
        if naive is not None and top2 is not None:
            pairs.append((top2, naive["baseline"]))
        names = {r["name"] for r in baselines}
        comparisons = [_jsonable(compare_baselines(baselines, x, y, train.n_A, train.n_B,
                                                   seed=derived_seed(cfg.seed, "comparisons")))
                       for x, y in pairs if x in names and y in names]
        ct = ct_naive = None
        if v.committor_test:
            from ..sampling import committor_test
            from ..sampling.validation import fit_naive_coordinate, naive_committor_test
            a, b = state_names(cfg)
            # frames reserved from every round (never shot, never trained on), each
            # configuration once (consecutive TPS paths share frames)
            unseen = (~train.path_is_training & reserved_mask(cfg, sample.frames)
                      & _first_occurrence(sample.frames))
            frames = sample.frames[unseen]
            shoot = dict(window=tuple(v.window), n_configurations=v.configurations,
                         n_shots=v.shots, n_workers=cfg.workers,
                         scheduler=cfg.committor.scheduler,
                         temperature=cfg.system.temperature, state_A=a, state_B=b,
                         n_frames_max=cfg.committor.max_frames, verbose=study.verbose,
                         method=choose_engine(system, cfg, sample), **md_kwargs(cfg))
            pred = train.model.predict_proba(train.X_paths[unseen])
            res = committor_test(system, frames, pred,
                                 seed=derived_seed(cfg.seed, "committor test"),
                                 out=study.path("committor_test.npz"),
                                 coordinate={"kind": "learned", "n_features": len(train.names)},
                                 **shoot)
            rows = np.flatnonzero(unseen)  # ``indices`` count in frames; these in path frames
            ct = _jsonable(dict(res.to_dict(), summary=res.summary(),
                                path_frames=rows[res.indices].tolist()))
            if naive is not None:
                # the naive coordinate's own barrier top: p_B of a fit on it alone, from the
                # training configurations' shots; the same unseen frames, window and criterion
                cols = naive["columns"]
                coord = fit_naive_coordinate(train.X[:, cols], train.n_A, train.n_B,
                                             [train.names[i] for i in cols])
                res_n = naive_committor_test(
                    system, frames, train.X_paths[unseen][:, cols], coord,
                    seed=derived_seed(cfg.seed, "naive committor test"),
                    out=study.path("committor_test_naive.npz"), **shoot)
                ct_naive = _jsonable(dict(res_n.to_dict(), summary=res_n.summary(),
                                          path_frames=rows[res_n.indices].tolist()))
        write_json(out_json, {"committor_test": ct, "committor_test_naive": ct_naive,
                              "naive": naive, "baselines": baselines,
                              "comparisons": comparisons})
    verdict = f"committor test: {ct['verdict']}" if ct else "committor test off"
    if ct_naive:
        verdict += f" (naive {' + '.join(naive['names'])}: {ct_naive['verdict']})"
    best = max(baselines, key=lambda r: r.get("loglik", -np.inf)) if baselines else {}
    summary = f"{verdict}; {len(baselines)} baselines; {st['seconds']:.0f} s"
    study.record("validate", st["seconds"], summary, best_baseline=best.get("name"))
    log("   " + summary, study.verbose)
    return ValidationResult(ct, baselines, ct_naive, naive, comparisons)


def choose_engine(system, cfg, sample=None):
    """The committor engine the study uses for ``system`` ("batched" or "lean", ...).

    Measured as the committor stage measures it (the same settings and typical
    shot length, cached in the process).
    """
    from ..sampling import choose_method
    frames = 20 if sample is None else sample.shot_frames
    return choose_method(system, cfg.committor.engine, engine_settings(cfg),
                         frames_per_shot=frames)[0]

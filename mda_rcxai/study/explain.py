"""Stage 4, ``explain``: SHAP and LIME, global and at the transition state.

Writes ``importance.csv``, ``explanations.json`` and ``explained.pdb``.
"""

from __future__ import annotations

import numpy as np

from ..fileio import atomic_write
from .common import path_universe
from .files import derived_seed, log, read_json, write_json
from .results import ExplainResult, TrainResult

__all__ = ["stage_explain", "WRITES"]

#: Files this stage writes in the study directory; ``--overwrite`` retires them.
WRITES = ("explanations.json", "importance.csv", "explained.pdb")


def _by(train: TrainResult):
    """How explanations are grouped: by bond when every column is an angle, else by group."""
    kinds = {c.get("kind") for c in train.columns} if train.columns else {"dihedral"}
    return "bond" if kinds <= {"dihedral", "improper", "sin", "cos", "angle"} else "group"


def stage_explain(study, system, train: TrainResult, force=False) -> ExplainResult:
    """SHAP and LIME, global and transition state; importance.csv, explained.pdb.

    ``force=True`` recomputes even when done (the report needs the objects).
    """
    from ..explain.run import explain_all

    cfg = study.config
    e = cfg.explain
    out_json = study.path("explanations.json")
    if study.done("explain") and not force:
        log("   explain: done before, reusing " + out_json, study.verbose)
        return ExplainResult(read_json(out_json, "explanations"))
    u = path_universe(system, train.positions[:1])
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
            ag = best.to_atomgroup(path_universe(system, train.positions[k:k + 1]),
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

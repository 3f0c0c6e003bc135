"""One function that runs every explanation of a model: the study and the CLI share it.

Examples
--------
>>> import numpy as np
>>> from mda_rcxai.explain.run import explain_all
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(80, 3))
>>> res = explain_all(lambda x: 2.0 * x[:, 1], X, feature_names=["a", "b", "c"],
...                   methods=("shap",), selections=("global",), max_samples=20,
...                   background_size=10, by=None)
>>> res.summary["shap/global"]["ranking"][0]
'b'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..exceptions import InputError
from ..fileio import to_jsonable as _jsonable

__all__ = ["explain_all", "ExplainAllResult"]


@dataclass(frozen=True)
class ExplainAllResult:
    """What :func:`explain_all` returns.

    Attributes
    ----------
    explanations : dict
        ``{(method, selection): Explanation}``.
    summary : dict
        JSON-able: per ``"method/selection"`` the number explained, the
        ranking and importances of single features and of groups (or the
        error message when a selection was empty); ``"agreement"`` between
        SHAP and LIME per selection.
    table : pandas.DataFrame or None
        Every feature's importance per method and selection (``importance.csv``),
        with ``importance_std`` across ensemble members when given.
    errors : dict
        ``{"method/selection": DataFrame}`` of group importances with
        ensemble error bars (:func:`~mda_rcxai.explain.importance_with_errors`:
        ``feature``, ``importance``, ``importance_std``, ranks); empty without
        ``members``.
    """

    explanations: dict
    summary: dict
    table: object = None
    errors: dict = field(default_factory=dict)


def explain_all(model, X, feature_names=None, atom_indices=None, groups=None, columns=None, *,
                methods=("shap", "lime"), selections=("global", "transition_state"),
                window=(0.4, 0.6), max_samples=200, background_size=50, seed=0,
                universe=None, by="bond", members=(), error_methods=("shap",),
                verbose=False) -> ExplainAllResult:
    """SHAP and/or LIME of ``model`` on ``X`` for each selection, grouped, compared.

    Parameters
    ----------
    model : CommittorModel, ensemble or callable
        What :func:`mda_rcxai.explain.explain` accepts.
    X : array_like, shape (n_configurations, n_features)
    feature_names, atom_indices, groups, columns : optional
        Column names, atom indices (0-based), group index per column and
        structured column metadata (``results.columns`` of the feature
        classes), see :func:`~mda_rcxai.explain.explain`.
    methods : sequence of {"shap", "lime"}
    selections : sequence of {"global", "transition_state"}
    window : (float, float)
        Predicted-p_B window of the transition-state selection.
    max_samples : int
        Most configurations explained per method and selection.
    background_size : int
        SHAP background size.
    seed : int
    universe : MDAnalysis.Universe, optional
        Gives atom names for group labels.
    by : {"bond", "group"} or None
        Grouping of columns: by central bond (dihedrals), by each column's
        group label (needs ``columns``: distances, angles, solvent
        descriptors), or None (single features).
    members : sequence of models, optional
        Ensemble members: importances are recomputed per member for error bars.
    error_methods : sequence of str
        Methods whose error bars are computed from the members (LIME fits one
        local model per configuration and member, about 20x SHAP's cost).
    verbose : bool
        One line per analysis.

    Returns
    -------
    ExplainAllResult
    """
    import pandas as pd

    from . import compare, explain

    X = np.asarray(X)
    if X.ndim != 2 or len(X) < 2:
        raise InputError(f"X must hold at least 2 configurations (rows) to explain, got shape "
                         f"{X.shape}; explanations compare configurations with a background")
    atom_names = list(universe.atoms.names) if universe is not None else None
    kw = dict(feature_names=feature_names, atom_indices=atom_indices, window=tuple(window),
              max_samples=max_samples, background_size=background_size, seed=seed,
              atom_names=atom_names, groups=groups, columns=columns)
    explanations, summary, tables, errors = {}, {}, [], {}
    for method in methods:
        for selection in selections:
            key = f"{method}/{selection}"
            try:
                ex = explain(model, X, method=method, selection=selection, **kw)
            except InputError as err:  # e.g. an empty transition-state window
                summary[key] = {"error": str(err)}
                if verbose:
                    print(f"   {method} {selection}: {err}", flush=True)
                continue
            explanations[(method, selection)] = ex
            g = _grouped(ex, by)
            summary[key] = {
                "n_explained": int(ex.values.shape[0]),
                "ranking": list(ex.ranking[:10]),
                "importance": {n: float(v) for n, v in zip(ex.feature_names, ex.importance)},
                "grouped_ranking": list(g.ranking[:8]),
                "grouped_importance": {n: float(v) for n, v in zip(g.feature_names,
                                                                   g.importance)},
                "grouped_by": by,
                "grouped_members": {str(k): list(v) for k, v in g.members.items()},
            }
            df = ex.to_dataframe()
            err_df = None
            if members and method in error_methods:
                try:
                    err_df = _member_errors(members, X, method, selection, by, kw)
                except InputError as err:  # e.g. a member's transition-state window is empty
                    summary[key]["errors_skipped"] = str(err)
            if err_df is not None:
                single, grouped = err_df
                errors[key] = grouped
                std = dict(zip(grouped["feature"], grouped["importance_std"]))
                summary[key]["grouped_std"] = {str(k): float(v) for k, v in std.items()}
                sstd = dict(zip(single["feature"], single["importance_std"]))
                df["importance_std"] = [sstd.get(n, np.nan) for n in df["feature"]]
            df.insert(0, "selection", selection)
            df.insert(0, "method", method)
            tables.append(df)
            if verbose:
                print(f"   {method:4s} {selection:16s} n={ex.values.shape[0]:4d} top: "
                      f"{', '.join(ex.ranking[:3])} | by {by}: {', '.join(g.ranking[:2])}",
                      flush=True)
    agreement = {}
    for selection in selections:
        a, b = explanations.get(("shap", selection)), explanations.get(("lime", selection))
        if a is not None and b is not None:
            agreement[selection] = _jsonable(compare(a, b, grouped=by))
    summary["agreement"] = agreement
    table = pd.concat(tables) if tables else None
    return ExplainAllResult(explanations, summary, table, errors)


def _grouped(ex, by):
    return ex if by is None else ex.grouped(by=by)


def _member_errors(members, X, method, selection, by, kw):
    """(single, grouped) DataFrames of ``feature``, ``importance``, ``importance_std`` over the
    ensemble members; each member is explained once and grouped from the same values."""
    import pandas as pd

    from .uncertainty import importance_with_errors

    single, exs = importance_with_errors(members, X, method=method, selection=selection,
                                         by=None, return_explanations=True, **kw)
    groups = [_grouped(ex, by) for ex in exs]
    imp = np.stack([np.asarray(g.importance, dtype=float) for g in groups])
    grouped = pd.DataFrame({"feature": list(groups[0].feature_names),
                            "importance": imp.mean(axis=0),
                            "importance_std": imp.std(axis=0, ddof=1) if len(imp) > 1
                            else np.zeros(imp.shape[1])})
    return single, grouped

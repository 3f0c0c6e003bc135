"""Agreement of two explanations (e.g. SHAP versus LIME): :func:`compare`."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from ..exceptions import InputError, InputTypeError
from ._explanation import Explanation

__all__ = ["compare"]


def _spearman(a, b):
    """Spearman's rank correlation (ties share their average rank); nan when either
    side is constant."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:  # spearmanr would warn and return nan
        return float("nan")
    return float(spearmanr(a, b).statistic)


def compare(explanation_a, explanation_b, top_k=5, grouped="bond"):
    """Rank agreement of two explanations (e.g. SHAP versus LIME).

    Parameters
    ----------
    explanation_a, explanation_b : Explanation
        Over the same features (order may differ).
    top_k : int, optional
        Size of the top sets compared.
    grouped : "bond", dict, sequence or None, optional
        Also compare the rankings of ``explanation.grouped(by=grouped)``;
        None skips it (it is skipped anyway when atom indices are missing).

    Returns
    -------
    dict
        ``spearman`` (rank correlation of the importances, -1..1),
        ``top_k``, ``top_k_overlap`` (fraction of the top-k features shared,
        0..1), ``top_k_shared`` (those features), ``top1_agree`` (bool),
        ``n_features``; and the same keys prefixed ``grouped_`` for the
        grouped rankings.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.explain import Explanation, compare
    >>> a = Explanation(np.array([[3.0, 2.0, 1.0, 0.1]]), ["w", "x", "y", "z"])
    >>> b = Explanation(np.array([[2.0, 3.0, 0.5, 0.2]]), ["w", "x", "y", "z"])
    >>> r = compare(a, b, top_k=2, grouped=None)
    >>> round(r["spearman"], 2), r["top_k_overlap"], r["top1_agree"]
    (0.8, 1.0, False)
    """
    for label, ex in (("explanation_a", explanation_a), ("explanation_b", explanation_b)):
        if not isinstance(ex, Explanation):
            raise InputTypeError(f"{label} must be an Explanation (from explain()), got "
                                 f"{type(ex).__name__}")
    if set(explanation_a.feature_names) != set(explanation_b.feature_names):
        only_a = sorted(set(explanation_a.feature_names) - set(explanation_b.feature_names))
        only_b = sorted(set(explanation_b.feature_names) - set(explanation_a.feature_names))
        raise InputError(f"compare(): the explanations cover different features (only in a: "
                         f"{only_a[:3]}, only in b: {only_b[:3]}); explain the same features")
    top_k = int(top_k)
    if top_k < 1:
        raise InputError(f"top_k must be >= 1, got {top_k}")

    def one(a, b, prefix):
        names = list(a.feature_names)
        ib = {f: i for i, f in enumerate(b.feature_names)}
        imp_a = np.asarray(a.importance)
        imp_b = np.asarray(b.importance)[[ib[f] for f in names]]
        k = min(top_k, len(names))
        shared = [f for f in a.ranking[:k] if f in set(b.ranking[:k])]
        return {f"{prefix}spearman": _spearman(imp_a, imp_b), f"{prefix}top_k": k,
                f"{prefix}top_k_overlap": len(shared) / k, f"{prefix}top_k_shared": shared,
                f"{prefix}top1_agree": a.ranking[0] == b.ranking[0],
                f"{prefix}n_features": len(names)}

    out = one(explanation_a, explanation_b, "")
    if grouped is not None and not (isinstance(grouped, str) and (
            explanation_a.atom_indices is None or explanation_b.atom_indices is None)):
        names_ = explanation_a.atom_names if explanation_a.atom_names is not None \
            else explanation_b.atom_names
        out.update(one(explanation_a.grouped(by=grouped, atom_names=names_),
                       explanation_b.grouped(by=grouped, atom_names=names_), "grouped_"))
    return out

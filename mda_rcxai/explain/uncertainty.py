"""Importances with error bars: explain every member of an ensemble.

A ranking from one fitted network says nothing about how much it would change
with another seed or another sample of configurations.
:func:`importance_with_errors` runs :func:`mda_rcxai.explain.explain` on each
member of a :class:`~mda_rcxai.model.CommittorEnsemble` (or any list of
fitted models) with the same data and settings, optionally groups the
features (:meth:`Explanation.grouped`), and reports per feature the mean and
standard deviation over members of the importance (mean absolute
attribution) and of the rank.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import InputError, InputTypeError
from .grouping import GROUP_FIELDS

__all__ = ["importance_with_errors"]


def _members(models):
    if hasattr(models, "models_"):
        if hasattr(models, "check_is_fitted"):
            models.check_is_fitted()
        return list(models.models_)
    if hasattr(models, "predict_q") or callable(models):
        raise InputTypeError("models must be an ensemble (with models_) or a list of fitted "
                             "models; for one model use explain() directly")
    try:
        out = list(models)
    except TypeError:
        raise InputTypeError("models must be a CommittorEnsemble or a list of fitted "
                             f"models, got {type(models).__name__}") from None
    if not out:
        raise InputError("models is empty; give at least one fitted model")
    return out


def importance_with_errors(models, X, *, method="shap", selection="global", by=None,
                           atom_names=None, return_explanations=False, **explain_kwargs):
    """Mean importance and its spread over the members of an ensemble.

    Parameters
    ----------
    models : CommittorEnsemble or sequence of fitted models
        Each member is explained separately (its ``models_`` for an
        ensemble).
    X : array_like, shape (n_configurations, n_features)
        Configurations, as for :func:`~mda_rcxai.explain.explain`.
    method : {"shap", "shap-partition", "lime"}
        As for :func:`~mda_rcxai.explain.explain`.
    selection : {"global", "transition_state"}
        All configurations, or each member's own transition-state
        selection (its predicted p_B in ``window``).
    by : "bond", dict or sequence, optional
        Group features with :meth:`Explanation.grouped` before ranking
        (e.g. ``"bond"``: rotations about one bond together).
    atom_names : sequence of str or Universe, optional
        Atom names for bond-group labels (passed to ``explain``).
    return_explanations : bool, default False
        Also return the members' :class:`Explanation` objects.
    **explain_kwargs
        Further arguments of :func:`~mda_rcxai.explain.explain`
        (``feature_names``, ``atom_indices``, ``groups``, ``seed``,
        ``max_samples``, ``window``, ``n_samples`` ...), the same for every
        member.

    Returns
    -------
    pandas.DataFrame
        One row per feature (or group), sorted by ``rank``: ``feature``,
        ``importance`` (mean over members of the mean absolute attribution,
        in units of the explained output), ``importance_std`` (standard
        deviation over members, ``ddof=1``; 0 for one member), ``rank`` (1 =
        largest mean importance), ``rank_mean``, ``rank_min``, ``rank_max``
        (of the members' own rankings), ``top1_fraction`` (share of members
        ranking it first), ``n_models``; ``members`` (the grouped features)
        when ``by`` is given. With ``return_explanations=True``, a tuple
        ``(table, list of the members' Explanation objects)``.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.model import CommittorEnsemble
    >>> from mda_rcxai.explain import importance_with_errors
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0] - X[:, 2])) / 2)
    >>> ens = CommittorEnsemble(n_models=3, hidden_layers=(8,), max_epochs=5)
    >>> ens = ens.fit(X, 10 - n_B, n_B, feature_names=["a", "b", "c"])
    >>> df = importance_with_errors(ens, X, max_samples=50, background_size=20)
    >>> df["feature"].tolist()[0], int(df["n_models"].iloc[0])
    ('a', 3)
    """
    import pandas as pd

    from ._core import explain

    members = _members(models)

    if by is not None and isinstance(by, str) and by != "bond" and by not in GROUP_FIELDS:
        raise InputError(f"by={by!r} is not known; use 'bond', one of {list(GROUP_FIELDS)} "
                         "(column metadata), a dict or a list of groups")
    explanations = []
    for model in members:
        ex = explain(model, X, method=method, selection=selection, atom_names=atom_names,
                     **explain_kwargs)
        if by is not None:
            ex = ex.grouped(by=by, atom_names=atom_names)
        explanations.append(ex)
    names = list(explanations[0].feature_names)
    for ex in explanations[1:]:
        if list(ex.feature_names) != names:
            raise InputError("the members' explanations have different features; give "
                             "models fitted on the same feature columns")
    imp = np.stack([np.asarray(ex.importance, dtype=float) for ex in explanations])
    # rank of each feature within each member (1 = most important)
    ranks = np.empty_like(imp)
    for i, ex in enumerate(explanations):
        order = {f: r + 1 for r, f in enumerate(ex.ranking)}
        ranks[i] = [order[f] for f in names]
    n = len(explanations)
    mean = imp.mean(axis=0)
    std = imp.std(axis=0, ddof=1) if n > 1 else np.zeros(len(names))
    df = pd.DataFrame({
        "feature": names,
        "importance": mean,
        "importance_std": std,
        "rank_mean": ranks.mean(axis=0),
        "rank_min": ranks.min(axis=0).astype(int),
        "rank_max": ranks.max(axis=0).astype(int),
        "top1_fraction": (ranks == 1).mean(axis=0),
        "n_models": n,
    })
    if by is not None:
        members_map = explanations[0].members or {}
        df["members"] = [" + ".join(members_map.get(f, (f,))) for f in names]
    df = df.sort_values(["importance", "rank_mean"], ascending=[False, True],
                        kind="mergesort").reset_index(drop=True)
    df.insert(3, "rank", np.arange(1, len(df) + 1))
    return (df, explanations) if return_explanations else df

"""Input checks for the model layer; every message names the argument and the fix."""

from __future__ import annotations

import numpy as np
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from .. import exceptions
from ..exceptions import InputError, InputTypeError

__all__ = ["check_X", "check_targets", "check_feature_names", "NotFittedError"]


class NotFittedError(exceptions.NotFittedError, _SklearnNotFittedError):
    """A model used before ``fit``: :class:`mda_rcxai.exceptions.NotFittedError` that is
    also scikit-learn's ``NotFittedError``, so scikit-learn code that asks whether an
    estimator is fitted understands it."""

    __module__ = "mda_rcxai.model"


def _first_bad(mask):
    idx = np.argwhere(mask)
    return tuple(int(i) for i in idx[0])


def check_X(X, name="X", n_features=None, feature_names=None):
    """Return ``(X as float64 (n, d) array, column names or None)``.

    Accepts NumPy arrays, lists, torch tensors and pandas DataFrames (whose
    column names are returned).
    """
    columns = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):
        columns = [str(c) for c in X.columns]
        X = X.to_numpy()
    elif hasattr(X, "detach") and hasattr(X, "cpu"):  # torch tensor
        X = X.detach().cpu().numpy()
    if X is None:
        raise InputTypeError(
            f"{name} is None; pass the feature matrix, shape (n_samples, n_features), "
            "e.g. DihedralFeatures(...).run().results.features"
        )
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputTypeError(
            f"{name} must be a numeric array of shape (n_samples, n_features); "
            f"converting it to float64 failed ({err}). Pass a NumPy array of numbers."
        ) from None
    if arr.ndim == 1:
        raise InputError(
            f"{name} must be 2-D, shape (n_samples, n_features), got shape {arr.shape}; "
            f"for one feature use {name}.reshape(-1, 1), for one configuration "
            f"{name}.reshape(1, -1)"
        )
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be 2-D, shape (n_samples, n_features), got shape {arr.shape}; "
            f"flatten the per-configuration features, e.g. {name}.reshape(len({name}), -1)"
        )
    if arr.shape[0] == 0:
        raise InputError(f"{name} has no rows (shape {arr.shape}); pass at least one configuration")
    if arr.shape[1] == 0:
        raise InputError(f"{name} has no columns (shape {arr.shape}); pass at least one feature")
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError(
            f"{name} has {arr.shape[1]} features per configuration but the model was "
            f"fitted with {n_features}; compute the same features, in the same order, "
            "as for training"
        )
    if columns is not None and feature_names is not None and columns != list(feature_names):
        diff = [i for i, (a, b) in enumerate(zip(columns, feature_names)) if a != b]
        i = diff[0] if diff else min(len(columns), len(feature_names))
        raise InputError(
            f"the columns of {name} do not match the model's feature_names_ (first "
            f"difference at column {i}: {columns[i] if i < len(columns) else None!r} vs "
            f"{feature_names[i] if i < len(feature_names) else None!r}); reorder the "
            "columns to model.feature_names_"
        )
    finite = np.isfinite(arr)
    if not finite.all():
        bad = ~finite
        r, c = _first_bad(bad)
        kind = "NaN" if np.isnan(arr[r, c]) else "inf"
        named = feature_names is not None and c < len(feature_names)
        label = f" ({feature_names[c]})" if named else ""
        raise InputError(
            f"{name} contains {int(bad.sum())} non-finite value(s) (NaN or inf); the first "
            f"is {kind} at row {r}, column {c}{label}. Drop those configurations, e.g. "
            f"keep = np.isfinite({name}).all(axis=1), or fix the feature calculation"
        )
    return arr, columns


def _check_1d(value, name, n):
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputTypeError(
            f"{name} must be a 1-D array of numbers, one per configuration; got "
            f"{type(value).__name__}"
        ) from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InputError(
            f"{name} must be 1-D with one value per configuration, got shape {arr.shape}"
        )
    if arr.shape[0] != n:
        raise InputError(
            f"{name} has {arr.shape[0]} values but X has {n} rows; pass one value per "
            "configuration (row of X), in the same order"
        )
    if not np.isfinite(arr).all():
        i = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise InputError(
            f"{name} contains NaN or inf (first at index {i}); drop those configurations "
            "or fix the values"
        )
    return arr


def check_targets(n, n_A=None, n_B=None, p_B=None, sample_weight=None):
    """Return ``(a, b, mode)``: effective counts of A and B per row (weights folded in).

    ``mode`` is ``"counts"`` or ``"p_B"``.
    """
    has_counts = n_A is not None or n_B is not None
    if p_B is not None and has_counts:
        raise InputError(
            "pass either the shot counts n_A and n_B, or p_B=..., not both"
        )
    if p_B is None:
        if n_A is None or n_B is None:
            missing = "n_A" if n_A is None else "n_B"
            raise InputError(
                f"{missing} is missing; pass both shot counts (n_A: shots ending in A, "
                "n_B: shots ending in B), or p_B=... if you only have committor values"
            )
        a = _check_1d(n_A, "n_A", n)
        b = _check_1d(n_B, "n_B", n)
        for arr, nm in ((a, "n_A"), (b, "n_B")):
            if (arr < 0).any():
                i = int(np.argwhere(arr < 0)[0, 0])
                raise InputError(
                    f"{nm} has {int((arr < 0).sum())} negative value(s) (first {arr[i]:g} at "
                    f"index {i}); shot counts must be >= 0"
                )
        total = a + b
        if (total <= 0).any():
            zero = np.flatnonzero(total <= 0)
            raise InputError(
                f"n_A + n_B is 0 for {zero.size} configuration(s) (first at index "
                f"{int(zero[0])}); a configuration without shots carries no information. "
                "Drop them, e.g. keep = (n_A + n_B) > 0, or shoot from them first"
            )
        mode = "counts"
    else:
        p = _check_1d(p_B, "p_B", n)
        if ((p < 0) | (p > 1)).any():
            i = int(np.argwhere((p < 0) | (p > 1))[0, 0])
            raise InputError(
                f"p_B must lie in [0, 1]; p_B[{i}] = {p[i]:g}. Pass committor "
                "probabilities, not q values (p_B = (1 + tanh q) / 2)"
            )
        a, b = 1.0 - p, p
        mode = "p_B"
    if sample_weight is not None:
        w = _check_1d(sample_weight, "sample_weight", n)
        if (w < 0).any():
            i = int(np.argwhere(w < 0)[0, 0])
            raise InputError(
                f"sample_weight must be >= 0; sample_weight[{i}] = {w[i]:g}"
            )
        if not (w > 0).any():
            raise InputError(
                "sample_weight is zero everywhere; give some configurations weight > 0"
            )
        a, b = a * w, b * w
    return a, b, mode


def check_feature_names(feature_names, n_features, name="feature_names"):
    """Return a list of str of length ``n_features`` (or None)."""
    if feature_names is None:
        return None
    if isinstance(feature_names, str):
        raise InputTypeError(
            f"{name} must be a sequence of strings, one per feature, not a single string"
        )
    try:
        names = [str(s) for s in feature_names]
    except TypeError:
        raise InputTypeError(
            f"{name} must be a sequence of strings, one per feature; got "
            f"{type(feature_names).__name__}"
        ) from None
    if len(names) != n_features:
        raise InputError(
            f"{name} has {len(names)} entries but X has {n_features} features; pass one "
            "name per column of X"
        )
    return names

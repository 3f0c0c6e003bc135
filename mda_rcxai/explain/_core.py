"""`explain`: SHAP (shap package) and LIME (lime package) attributions of q(x)."""

from __future__ import annotations

import contextlib
import warnings
import time

import numpy as np

from ..exceptions import InputError, InputTypeError, NotFittedError
from ._explanation import Explanation
from .grouping import atom_rows, column_meta, legacy_columns

__all__ = ["explain", "METHODS", "ALGORITHMS"]

#: Values of ``method=``.
METHODS = ("shap", "shap-partition", "lime")
#: Values of ``algorithm=`` for each method; the first is the default
#: (``"deep"`` only when the model is a torch model).
ALGORITHMS = {
    "shap": ("deep", "gradient", "kernel", "permutation", "partition"),
    "shap-partition": ("partition",),
    "lime": ("lime",),
}


@contextlib.contextmanager
def _quiet_state(seed):
    """One torch thread, seeded global NumPy RNG (shap uses it), both restored after."""
    state = np.random.get_state()
    np.random.seed(seed % (2 ** 32))
    torch = None
    old = None
    try:
        import torch  # noqa: F811
        old = torch.get_num_threads()
        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        yield
    finally:
        np.random.set_state(state)
        if torch is not None and old is not None and torch.get_num_threads() != old:
            torch.set_num_threads(old)


def _is_torch_module(obj):
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, torch.nn.Module)


def _q_function(model):
    """(f(X) -> q as float64 (n,), torch module or None, n_features or None, names or None)."""
    if hasattr(model, "check_is_fitted"):
        try:
            model.check_is_fitted()
        except NotFittedError as err:
            raise NotFittedError(
                f"explain(model=...): the model is not fitted ({err}); call "
                "model.fit(X, n_A, n_B) (or fit(X, p_B=...)) before explaining it") from None
    if hasattr(model, "predict_q"):
        n = getattr(model, "n_features_in_", None)
        names = getattr(model, "feature_names_", None)

        def f(X):
            return np.asarray(model.predict_q(X), dtype=np.float64).reshape(-1)
        return f, (model.to_torch if hasattr(model, "to_torch") else None), n, names
    if _is_torch_module(model):
        import torch

        def f(X):
            with torch.no_grad():
                out = model(torch.as_tensor(np.asarray(X), dtype=torch.float32))
            return out.double().numpy().reshape(-1)
        return f, (lambda: model), None, None
    if callable(model):
        def f(X):
            out = np.asarray(model(X), dtype=np.float64)
            if out.size != len(X):
                raise InputError(
                    f"model(X) must return one q per configuration, shape ({len(X)},), "
                    f"got shape {out.shape}")
            return out.reshape(-1)
        return f, None, None, None
    raise InputTypeError(
        "model must be a fitted CommittorModel, a torch.nn.Module mapping features to q, or "
        f"a callable f(X) -> q; got {type(model).__name__}")


def _check_X(X):
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputTypeError("X must be a numeric array of shape (n_configurations, "
                             "n_features)") from None
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"X must be 2-D (n_configurations, n_features) with at least one row "
                         f"and column, got shape {X.shape}")
    if not np.isfinite(X).all():
        r, c = np.argwhere(~np.isfinite(X))[0]
        raise InputError(f"X has a non-finite value at row {r}, column {c}; remove or fix "
                         "such configurations")
    return X


def _column_groups(names, groups, metas):
    """(group index per column, group names): columns of one group (``results.groups``)
    are summed into one feature; a sin/cos pair (by its metadata) is named
    after its angle (``base``), other groups join their column names with ``+``."""
    d = len(names)
    if groups is None:
        if metas is None:
            return np.arange(d), list(names)
        # sin and cos of one angle (same base and atoms) form one feature
        keys = [(m["base"], m["atoms"]) if m["kind"] in ("sin", "cos") else ("col", k)
                for k, m in enumerate(metas)]
        uniq = list(dict.fromkeys(keys))
        g = [uniq.index(k) for k in keys]
    else:
        g = np.asarray(groups).reshape(-1)
        if len(g) != d:
            raise InputError(f"groups has {len(g)} entries but X has {d} columns; pass "
                             "results.groups of the feature class (one int per column)")
        g = g.tolist()
    uniq = list(dict.fromkeys(g))
    lab = np.array([uniq.index(x) for x in g])
    metas = metas if metas is not None else legacy_columns(names)
    out = []
    for k in range(len(uniq)):
        cols = np.flatnonzero(lab == k)
        if len(cols) == 1:
            out.append(names[cols[0]])
            continue
        bases = {metas[c]["base"] for c in cols}
        if len(bases) == 1 and all(metas[c]["kind"] in ("sin", "cos") for c in cols):
            out.append(bases.pop())
        else:
            out.append("+".join(names[c] for c in cols))
    return lab, out


def _feature_meta(metas, lab, n_groups, feat_names):
    """Metadata per feature after summing column groups: a sin/cos pair becomes
    its angle (kind = measure, name = base)."""
    out = []
    for k in range(n_groups):
        cols = np.flatnonzero(lab == k)
        m = dict(metas[cols[0]])
        if len(cols) > 1:
            kinds = {metas[c]["kind"] for c in cols}
            m["kind"] = m["measure"] if kinds <= {"sin", "cos"} else "group"
            m["atoms"] = tuple(sorted({a for c in cols for a in metas[c]["atoms"]})) \
                if m["kind"] == "group" else m["atoms"]
        m["name"] = feat_names[k]
        out.append(m)
    return out


def _group_data(Xe, lab, metas, n_groups):
    data = np.full((len(Xe), n_groups), np.nan)
    for k in range(n_groups):
        cols = np.flatnonzero(lab == k)
        if len(cols) == 1:
            data[:, k] = Xe[:, cols[0]]
            continue
        kinds = {metas[c]["kind"]: c for c in cols}
        if len(cols) == 2 and set(kinds) == {"sin", "cos"}:
            data[:, k] = np.degrees(np.arctan2(Xe[:, kinds["sin"]], Xe[:, kinds["cos"]]))
    return data


def _background(X, size, kind, seed):
    if not isinstance(kind, str):
        bg = _check_X(kind)
        if bg.shape[1] != X.shape[1]:
            raise InputError(f"background has {bg.shape[1]} columns but X has {X.shape[1]}")
        return bg
    size = int(size)
    if size < 1:
        raise InputError(f"background_size must be >= 1, got {size}")
    if len(X) <= size:
        return X.copy()
    if kind == "sample":
        rng = np.random.default_rng(seed)
        return X[np.sort(rng.choice(len(X), size, replace=False))]
    if kind != "kmeans":
        raise InputError(f"background={kind!r} is not known; use 'kmeans', 'sample' or an array")
    from sklearn.cluster import KMeans
    km = KMeans(n_clusters=size, random_state=seed, n_init=3).fit(X)
    centers = km.cluster_centers_
    # like shap.kmeans(round_values=True): snap each coordinate to the nearest data value
    for j in range(X.shape[1]):
        col = np.unique(X[:, j])
        pos = np.clip(np.searchsorted(col, centers[:, j]), 1, max(len(col) - 1, 1))
        lo, hi = col[pos - 1], col[np.minimum(pos, len(col) - 1)]
        centers[:, j] = np.where(np.abs(centers[:, j] - lo) <= np.abs(hi - centers[:, j]), lo, hi)
    return centers


def _torch_output(net, output):
    import torch
    if output == "q":
        return net
    lin = torch.nn.Linear(1, 1)
    with torch.no_grad():
        lin.weight.fill_(0.5)
        lin.bias.fill_(0.5)
    if isinstance(net, torch.nn.Sequential):
        return torch.nn.Sequential(*net, torch.nn.Tanh(), lin).eval()
    return torch.nn.Sequential(net, torch.nn.Tanh(), lin).eval()


def _run_shap(algorithm, f, make_net, Xe, bg, X, output, seed, n_samples, verbose):
    """(values (n, d), base values (n,)) on the raw columns."""
    import shap
    n, d = Xe.shape
    if algorithm in ("deep", "gradient"):
        import torch
        net = _torch_output(make_net(), output)
        bgt = torch.as_tensor(bg, dtype=torch.float32)
        xt = torch.as_tensor(Xe, dtype=torch.float32)
        if algorithm == "deep":
            ex = shap.DeepExplainer(net, bgt)
            sv = ex.shap_values(xt, check_additivity=False)
            base = float(np.asarray(ex.expected_value).reshape(-1)[0])
        else:
            ex = shap.GradientExplainer(net, bgt)
            sv = ex.shap_values(xt, nsamples=int(n_samples or 200), rseed=seed)
            with torch.no_grad():
                base = float(net(bgt).double().mean())
        sv = np.asarray(sv, dtype=np.float64).reshape(n, d)
        return sv, np.full(n, base)
    if algorithm == "kernel":
        ex = shap.KernelExplainer(f, bg)
        sv = ex.shap_values(Xe, nsamples=int(n_samples or 2 * d + 2048), l1_reg=False,
                            silent=not verbose)
        sv = np.asarray(sv, dtype=np.float64).reshape(n, d)
        return sv, np.full(n, float(np.asarray(ex.expected_value).reshape(-1)[0]))
    if algorithm == "permutation":
        masker = shap.maskers.Independent(bg, max_samples=len(bg))
        ex = shap.PermutationExplainer(f, masker, seed=seed)
        r = ex(Xe, max_evals=int(n_samples or max(500, 2 * (2 * d + 1))), silent=not verbose)
        return np.asarray(r.values, dtype=np.float64).reshape(n, d), \
            np.asarray(r.base_values, dtype=np.float64).reshape(n)
    if algorithm == "partition":
        rows = X if len(X) <= 2000 else X[np.random.default_rng(seed).choice(len(X), 2000,
                                                                              replace=False)]
        std = rows.std(axis=0)
        if (std == 0).any():  # constant columns have no correlation; give them tiny noise
            rows = rows + np.random.default_rng(seed).normal(size=rows.shape) * (std == 0) * 1e-9
        clustering = shap.utils.hclust(rows, metric="correlation")
        masker = shap.maskers.Partition(bg, max_samples=len(bg), clustering=clustering)
        ex = shap.PartitionExplainer(f, masker)
        r = ex(Xe, max_evals=int(n_samples or max(500, 4 * d)), silent=not verbose)
        return np.asarray(r.values, dtype=np.float64).reshape(n, d), \
            np.asarray(r.base_values, dtype=np.float64).reshape(n)
    raise AssertionError(algorithm)  # pragma: no cover


def _run_lime(f, Xe, X, col_names, seed, n_samples, verbose):
    from lime.lime_tabular import LimeTabularExplainer
    n, d = Xe.shape
    ex = LimeTabularExplainer(X, mode="regression", feature_names=list(col_names),
                              discretize_continuous=True, random_state=seed,
                              feature_selection="none")
    values = np.zeros((n, d))
    base = np.zeros(n)
    it = range(n)
    if verbose:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="LIME", total=n)
    for i in it:
        e = ex.explain_instance(Xe[i], f, num_features=d, num_samples=int(n_samples or 1000))
        # regression mode: label 1 holds the weights (label 0 is their negative)
        for j, w in e.as_map()[1]:
            values[i, j] = w
        base[i] = float(e.intercept[1])
    return values, base


def explain(model, X, feature_names=None, atom_indices=None, method="shap", *,
            selection="global", window=(0.4, 0.6), max_samples=None, background_size=50,
            background="kmeans", output="q", algorithm=None, groups=None, atom_names=None,
            seed=0, n_samples=None, verbose=False, columns=None):
    """Explain the reaction coordinate ``q(x)`` (or ``p_B``) with SHAP or LIME.

    Parameters
    ----------
    model : CommittorModel, torch.nn.Module or callable
        A fitted :class:`mda_rcxai.model.CommittorModel` (uses
        ``predict_q`` and, for the gradient-based SHAP algorithms,
        ``to_torch()``), a torch module mapping raw features (n, d) to q
        (n, 1), or any callable ``f(X) -> q`` of shape (n,).
    X : array_like, shape (n_configurations, n_features)
        Configurations (feature columns as used for training: degrees, or
        sin/cos). All of them define the background and LIME's sampling
        distribution; ``selection`` picks which are explained.
    feature_names : sequence of str, optional
        One per column; default the model's ``feature_names_`` or
        ``x0, x1, ...``. Must match the model's names when it has some.
    atom_indices : array_like of int or list of int tuples, optional
        Universe atom indices (0-based) of each column, e.g.
        ``results.atom_indices`` (4 per dihedral, 2 per distance, 3 per
        angle). Needed for :meth:`Explanation.grouped` by bond and
        :meth:`Explanation.to_atomgroup`.
    method : {"shap", "shap-partition", "lime"}
        ``"shap"``: Shapley values with an independent (interventional)
        background; ``"shap-partition"``: Owen values with shap's Partition
        masker and a correlation clustering of the columns (hierarchical
        coalitions keep correlated features such as collinear dihedrals
        or sin/cos pairs together, so credit is not split over impossible
        mixtures; use it when features are strongly correlated and you
        rank single features, use ``"shap"`` and
        :meth:`Explanation.grouped` when you rank bonds);
        ``"lime"``: ``lime.lime_tabular.LimeTabularExplainer`` in
        regression mode, one local linear model per configuration (quartile
        discretisation; the attribution of a feature is the weight of "this
        feature lies in its quartile", i.e. the local change of the output).
    selection : {"global", "transition_state"}
        All configurations, or those whose predicted ``p_B`` lies in
        ``window`` (the transition-state ensemble).
    window : tuple of float
        ``(low, high)`` p_B bounds of the transition state, inclusive.
    max_samples : int, optional
        Explain at most this many configurations (a seeded random subset of
        the selection, kept in data order); None explains all.
    background_size : int
        SHAP background size: k-means centres of ``X`` (seeded, each
        coordinate snapped to the nearest data value as ``shap.kmeans``
        does), or ``X`` itself when smaller.
    background : {"kmeans", "sample"} or array_like
        How the background is chosen, or the background itself.
    output : {"q", "p_B"}
        Explain q (default; additive, unbounded) or ``p_B = (1+tanh q)/2``.
    algorithm : str, optional
        SHAP algorithm: ``"deep"`` (default for torch-backed models:
        DeepLIFT-based ``shap.DeepExplainer``, exact additivity, fastest),
        ``"gradient"`` (expected gradients, ``shap.GradientExplainer``;
        additive only on average), ``"kernel"`` (default for plain
        callables), ``"permutation"``, ``"partition"``.
    groups : array_like of int, optional
        Column -> feature map (``results.groups``); the attributions of
        columns of one group (sin and cos of one dihedral) are summed into
        one feature named after the angle (``"phi"``).
    atom_names : sequence of str or MDAnalysis Universe/AtomGroup, optional
        Atom names by atom index, to name bond groups (``"N-CA (phi)"``).
    seed : int
        Seeds k-means, subsampling, shap (global NumPy state, restored
        afterwards) and LIME's ``random_state``.
    n_samples : int, optional
        Model evaluations per configuration: LIME ``num_samples`` (default
        1000), Kernel ``nsamples`` (2d+2048), Permutation/Partition
        ``max_evals``, Gradient ``nsamples`` (200).
    verbose : bool
        Progress bars.
    columns : sequence of FeatureColumn or dict, optional
        Metadata of each column (``results.columns`` of the feature class
        or :func:`~mda_rcxai.features.build_features`): what each column is
        (sin/cos of which angle, improper, alias, solvent descriptor with
        centre and neighbour set, group label). With it, sin/cos pairs are
        summed into their angle even without ``groups``, atom indices
        default to the columns' atoms, and the explanation can be grouped
        by its metadata (``grouped(by="group")``) and mapped onto solvent
        atoms (``to_atomgroup(u, frame=...)``). Without it, the same facts
        are read from the names (:func:`~mda_rcxai.explain.grouping.legacy_columns`).

    Returns
    -------
    Explanation
        ``values`` (n_explained, n_features) per configuration and feature
        (after summing column groups), ``importance``, ``ranking``;
        ``info`` holds the raw column attributions (``column_values``),
        the number of configurations in and around the window, timings.

    Raises
    ------
    NotFittedError
        The model is not fitted.
    InputError
        Names or counts that do not match the model, an empty
        transition-state window, bad options, or a single configuration
        for SHAP or LIME (SHAP's background would be the explained point
        itself, giving all-zero values; LIME samples from the spread of
        ``X``, which one row does not have): pass more configurations, or
        for SHAP an explicit ``background=`` array of other ones.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.explain import explain
    >>> X = np.random.default_rng(0).normal(size=(200, 4))
    >>> ex = explain(lambda X: 2 * X[:, 0] - X[:, 2], X, method="shap", algorithm="kernel",
    ...              max_samples=10, background_size=20, seed=0)
    >>> ex.ranking[:2]
    ['x0', 'x2']
    >>> bool(np.allclose(ex.values.sum(1) + ex.base_values, ex.prediction))
    True
    """
    t0 = time.perf_counter()
    f_q, make_net, n_model, model_names = _q_function(model)
    X = _check_X(X)
    n, d = X.shape
    if n_model is not None and d != int(n_model):
        raise InputError(f"X has {d} feature columns but the model was fitted on {n_model}; "
                         "compute the same features (same order, same sincos setting) as "
                         "for training")
    if feature_names is None:
        feature_names = list(model_names) if model_names is not None else \
            [f"x{i}" for i in range(d)]
    if isinstance(feature_names, str):
        raise InputTypeError("feature_names must be a sequence of str, one per column, "
                             "not a single string")
    col_names = [str(x) for x in feature_names]
    if len(col_names) != d:
        raise InputError(f"feature_names has {len(col_names)} names but X has {d} columns; "
                         "pass one name per column (results.names of the feature class)")
    if model_names is not None and list(model_names) != col_names:
        k = next((i for i, (a, b) in enumerate(zip(model_names, col_names)) if a != b), None)
        raise InputError(
            f"feature_names do not match the model's feature_names_ (first difference at "
            f"column {k}: {col_names[k]!r} given, {list(model_names)[k]!r} in the model); pass "
            "the same features in the training order, or feature_names=None")
    if len(set(col_names)) != d:
        raise InputError("feature_names must be unique")
    if method not in METHODS:
        raise InputError(f"method={method!r} is not known; use one of {list(METHODS)}")
    if algorithm is None:
        algorithm = {"shap": "deep" if make_net is not None else "kernel",
                     "shap-partition": "partition", "lime": "lime"}[method]
    if algorithm not in ALGORITHMS[method]:
        raise InputError(f"algorithm={algorithm!r} does not go with method={method!r}; use one "
                         f"of {list(ALGORITHMS[method])}")
    if algorithm in ("deep", "gradient") and make_net is None:
        raise InputError(f"algorithm={algorithm!r} needs a torch model (a CommittorModel or "
                         "torch.nn.Module); for a plain callable use algorithm='kernel' or "
                         "'permutation'")
    if output not in ("q", "p_B"):
        raise InputError(f"output={output!r} is not known; use 'q' or 'p_B'")
    if selection not in ("global", "transition_state"):
        raise InputError(f"selection={selection!r} is not known; use 'global' or "
                         "'transition_state'")
    try:
        lo, hi = (float(w) for w in window)
    except (TypeError, ValueError):
        raise InputError(f"window must be (low, high) p_B bounds, got {window!r}") from None
    if not 0.0 <= lo < hi <= 1.0:
        raise InputError(f"window must satisfy 0 <= low < high <= 1, got {window!r}")
    if max_samples is not None and (isinstance(max_samples, bool) or int(max_samples) < 1):
        raise InputError(f"max_samples must be an int >= 1 or None, got {max_samples!r}")
    seed = 0 if seed is None else int(seed)
    metas = None
    if columns is not None:
        metas = [column_meta(c) for c in columns]
        if len(metas) != d:
            raise InputError(f"columns has {len(metas)} records but X has {d} columns; pass "
                             "results.columns of the feature class (one per column)")
        if [m["name"] for m in metas] != col_names:
            k = next(i for i, m in enumerate(metas) if m["name"] != col_names[i])
            raise InputError(f"columns[{k}] describes {metas[k]['name']!r} but column {k} is "
                             f"{col_names[k]!r}; pass results.names and results.columns of "
                             "the same features")
        if atom_indices is None:
            atom_indices = [m["atoms"] for m in metas]
    if n < 2 and method == "lime":
        raise InputError(
            "X has 1 configuration: LIME samples around the spread (quartiles) of X, which "
            "one row does not have, so every weight would be 0; pass the dataset (at least 2 "
            "configurations, better hundreds) and pick rows with max_samples/selection")
    if n < 2 and isinstance(background, str):
        raise InputError(
            "X has 1 configuration: SHAP would use it as its own background, so every "
            "attribution would be 0; pass the dataset (more configurations), or an explicit "
            "background= array of other configurations")
    rows = atom_rows(atom_indices, d)
    lab, feat_names = _column_groups(col_names, groups, metas)
    if len(set(feat_names)) != len(feat_names):
        raise InputError("feature names after summing column groups are not unique; check "
                         "groups= against feature_names=")

    with _quiet_state(seed):
        q_all = f_q(X)
    p_all = 0.5 * (1.0 + np.tanh(q_all))
    if selection == "global":
        sel = np.arange(n)
    else:
        sel = np.flatnonzero((p_all >= lo) & (p_all <= hi))
        if len(sel) == 0:
            below, above = int((p_all < lo).sum()), int((p_all > hi).sum())
            wider = (max(0.0, round(lo - 0.1, 2)), min(1.0, round(hi + 0.1, 2)))
            raise InputError(
                f"selection='transition_state': no configuration has predicted p_B in "
                f"window={(lo, hi)} ({below} of {n} below {lo}, {above} above {hi}; predicted "
                f"p_B ranges {p_all.min():.3g} to {p_all.max():.3g}); widen the window, e.g. "
                f"window={wider}, add configurations near the barrier, or use "
                "selection='global'")
    n_selected = len(sel)
    if max_samples is not None and len(sel) > int(max_samples):
        rng = np.random.default_rng(seed)
        sel = np.sort(rng.choice(sel, int(max_samples), replace=False))
    Xe = X[sel]

    if output == "q":
        f_out = f_q
    else:
        def f_out(Z):
            return 0.5 * (1.0 + np.tanh(f_q(Z)))
    bg = None
    t1 = time.perf_counter()
    with _quiet_state(seed):
        if algorithm == "lime":
            colv, base = _run_lime(f_out, Xe, X, col_names, seed, n_samples, verbose)
        else:
            bg = _background(X, background_size, background, seed)
            colv, base = _run_shap(algorithm, f_out, make_net, Xe, bg, X, output, seed,
                                   n_samples, verbose)
    t_explain = time.perf_counter() - t1
    pred = q_all[sel] if output == "q" else p_all[sel]
    n_groups = len(feat_names)
    values = np.zeros((len(sel), n_groups))
    for k in range(n_groups):
        values[:, k] = colv[:, lab == k].sum(axis=1)
    data = _group_data(Xe, lab, metas if metas is not None else legacy_columns(col_names),
                       n_groups)
    feat_rows = None
    if rows is not None:
        feat_rows = [rows[int(np.flatnonzero(lab == k)[0])] for k in range(n_groups)]
    members = {feat_names[k]: tuple(col_names[c] for c in np.flatnonzero(lab == k))
               for k in range(n_groups)}
    colv = np.asarray(colv)
    colv.setflags(write=False)
    info = {
        "seed": seed, "n_configurations": n, "n_selected": n_selected,
        "n_in_window": int(((p_all >= lo) & (p_all <= hi)).sum()),
        "background_size": None if bg is None else len(bg),
        "n_samples": n_samples, "column_names": tuple(col_names), "column_values": colv,
        "seconds": time.perf_counter() - t0, "seconds_explaining": t_explain,
        "seconds_per_configuration": t_explain / max(len(sel), 1),
    }
    if len(sel) and not np.any(values):
        warnings.warn(
            f"explain(method={method!r}): every attribution is exactly 0 (the model's output "
            "does not change over the background/samples, or X has no spread); check X and "
            "the model", UserWarning, stacklevel=2)
    feat_meta = None if metas is None else _feature_meta(metas, lab, n_groups, feat_names)
    return Explanation(values, feat_names, base_values=base, prediction=pred, data=data,
                       atom_indices=feat_rows, indices=sel, p_B=p_all[sel], method=method,
                       algorithm=algorithm, selection=selection, output=output,
                       window=(lo, hi) if selection == "transition_state" else None,
                       members=members, atom_names=atom_names, info=info, columns=feat_meta)

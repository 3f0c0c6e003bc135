"""Matplotlib figures of explanations and of the committor fit (no pyplot state kept)."""

from __future__ import annotations

import os

import numpy as np
from scipy.constants import R as _GAS_CONSTANT_J_MOL_K

from ..exceptions import InputError, InputTypeError
from ..fileio import atomic_write

__all__ = ["plot_importance", "plot_beeswarm", "plot_committor_fit", "plot_free_energy",
           "BOLTZMANN_KJ_MOL_K"]

#: Boltzmann constant in kJ/(mol K).
BOLTZMANN_KJ_MOL_K = _GAS_CONSTANT_J_MOL_K / 1000.0


def _figure(figsize):
    from matplotlib.figure import Figure
    return Figure(figsize=figsize, layout="constrained")


def _finish(fig, path, dpi=120):
    if path is not None:  # the format follows the extension, which the temporary name keeps
        atomic_write(os.fspath(path), lambda tmp: fig.savefig(tmp, dpi=dpi))
    return fig


def _check_explanation(ex, name="explanation"):
    # by its attributes: _explanation imports this module (Explanation.plot)
    if not all(hasattr(ex, a) for a in ("values", "importance", "feature_names", "selection")):
        raise InputTypeError(f"{name} must be an Explanation (from explain()), got "
                             f"{type(ex).__name__}")


def _label(ex):
    unit = "q" if ex.output == "q" else "p_B"
    sel = "transition state" if ex.selection == "transition_state" else "global"
    return unit, sel


def plot_importance(explanation, top=15, path=None, title=None, ax=None):
    """Ranked horizontal bar chart of mean ``|attribution|``.

    Parameters
    ----------
    explanation : Explanation
        Single features or a :meth:`~Explanation.grouped` explanation.
    top : int, optional
        Number of features shown (most important at the top).
    path : str or path-like, optional
        Save the figure there (format from the suffix, e.g. ``.png``).
    title : str, optional
    ax : matplotlib.axes.Axes, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.explain import Explanation, plot_importance
    >>> ex = Explanation(np.array([[0.5, -0.1], [-0.7, 0.2]]), ["phi", "psi"])
    >>> fig = plot_importance(ex)
    >>> fig.axes[0].get_xlabel()
    'mean |attribution| (q)'
    """
    _check_explanation(explanation)
    names = explanation.ranking[:int(top)]
    idx = [explanation.feature_names.index(n) for n in names]
    imp = explanation.importance[idx]
    sign = explanation.mean_values[idx]
    if ax is None:
        fig = _figure((6.0, 0.35 * len(names) + 1.2))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    y = np.arange(len(names))[::-1]
    colors = ["#c0392b" if s >= 0 else "#2e86c1" for s in sign]
    ax.barh(y, imp, color=colors)
    ax.set_yticks(y, names, fontsize=8)
    unit, sel = _label(explanation)
    ax.set_xlabel(f"mean |attribution| ({unit})")
    ax.set_title(title or f"{explanation.method.upper()} ({explanation.algorithm}), {sel}, "
                 f"n={explanation.n_explained}", fontsize=9)
    ax.text(0.99, 0.01, "red: mean towards B, blue: towards A", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=7, color="0.4")
    return _finish(fig, path)


def plot_beeswarm(explanation, top=10, path=None, title=None, ax=None, seed=0):
    """SHAP-style summary (beeswarm) plot: one dot per configuration and feature.

    Dots are spread vertically where they are dense (like
    ``shap.plots.beeswarm``) and coloured by the feature's value (low blue,
    high red, grey when a feature has no single value, e.g. a bond group).

    Parameters
    ----------
    explanation : Explanation
    top : int, optional
        Number of features (rows), most important at the top.
    path : str or path-like, optional
        Save the figure there.
    title : str, optional
    ax : matplotlib.axes.Axes, optional
    seed : int, optional
        Seed of the vertical jitter.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.explain import Explanation, plot_beeswarm
    >>> rng = np.random.default_rng(0)
    >>> ex = Explanation(rng.normal(size=(50, 3)), ["a", "b", "c"], data=rng.normal(size=(50, 3)))
    >>> len(plot_beeswarm(ex).axes[0].collections)
    3
    """
    _check_explanation(explanation)
    from matplotlib import colormaps
    names = explanation.ranking[:int(top)]
    rng = np.random.default_rng(seed)
    if ax is None:
        fig = _figure((6.5, 0.4 * len(names) + 1.4))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    cmap = colormaps["coolwarm"]
    sc = None
    for row, name in enumerate(names):
        j = explanation.feature_names.index(name)
        v = explanation.values[:, j]
        c = explanation.data[:, j]
        y0 = len(names) - 1 - row
        if len(v) > 1 and np.ptp(v) > 0:
            bins = np.linspace(v.min(), v.max(), 41)
            k = np.clip(np.digitize(v, bins), 0, 41)
            counts = np.bincount(k, minlength=42)
            spread = 0.4 * counts[k] / counts.max()
        else:
            spread = np.full(len(v), 0.1)
        y = y0 + rng.uniform(-1, 1, len(v)) * spread
        if np.isfinite(c).any():
            lo, hi = np.nanpercentile(c, [5, 95])
            cn = np.clip((c - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
            colors = [cmap(x) if np.isfinite(x) else (0.6, 0.6, 0.6, 1.0) for x in cn]
        else:
            colors = [(0.6, 0.6, 0.6, 1.0)] * len(v)
        sc = ax.scatter(v, y, s=8, c=colors, alpha=0.8, linewidths=0)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_yticks(np.arange(len(names))[::-1], names, fontsize=8)
    unit, sel = _label(explanation)
    ax.set_xlabel(f"attribution (effect on {unit}; > 0 towards B)")
    ax.set_title(title or f"{explanation.method.upper()} ({explanation.algorithm}), {sel}, "
                 f"n={explanation.n_explained}", fontsize=9)
    if sc is not None:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize
        cb = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, ticks=[0, 1],
                          fraction=0.04, pad=0.02)
        cb.ax.set_yticklabels(["low", "high"], fontsize=7)
        cb.set_label("feature value", fontsize=8)
    return _finish(fig, path)


def plot_committor_fit(q, p_B=None, n_A=None, n_B=None, path=None, title=None, ax=None,
                       bins=None, z=1.0):
    """Measured p_B versus predicted q with the curve ``p_B = (1 + tanh q)/2``.

    Kikutsuji et al. (2022), Fig. 1.

    Parameters
    ----------
    q : array_like, shape (n,)
        Predicted reaction coordinate of each configuration.
    p_B : array_like, shape (n,), optional
        Measured committor; or give the shot counts instead.
    n_A, n_B : array_like, shape (n,), optional
        Shots that ended in A and in B; give binomial error bars
        ``z * sqrt(p (1 - p) / (n_A + n_B))``.
    path : str or path-like, optional
    title : str, optional
    ax : matplotlib.axes.Axes, optional
    bins : int, optional
        Also draw the mean measured p_B in this many bins of q.
    z : float, optional
        Error bar width in standard errors.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.explain import plot_committor_fit
    >>> q = np.linspace(-3, 3, 40)
    >>> n_B = np.round(10 * (1 + np.tanh(q)) / 2)
    >>> fig = plot_committor_fit(q, n_A=10 - n_B, n_B=n_B)
    >>> fig.axes[0].get_ylabel()
    'measured $p_B$'
    """
    q = np.asarray(q, dtype=float).reshape(-1)
    err = None
    if n_A is not None or n_B is not None:
        if n_A is None or n_B is None:
            raise InputError("give both n_A and n_B (shot counts), or p_B")
        n_A = np.asarray(n_A, float).reshape(-1)
        n_B = np.asarray(n_B, float).reshape(-1)
        tot = n_A + n_B
        if (tot <= 0).any():
            raise InputError("n_A + n_B must be > 0 for every configuration")
        p = n_B / tot
        err = z * np.sqrt(p * (1 - p) / tot)
    elif p_B is not None:
        p = np.asarray(p_B, float).reshape(-1)
    else:
        raise InputError("plot_committor_fit needs the measured committor: p_B=... or "
                         "n_A=..., n_B=...")
    if len(p) != len(q):
        raise InputError(f"q has {len(q)} values but p_B/counts have {len(p)}; one per "
                         "configuration")
    if ax is None:
        fig = _figure((5.0, 3.8))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    if err is not None:
        ax.errorbar(q, p, yerr=err, fmt="o", ms=3, lw=0.6, alpha=0.6, color="#34495e",
                    label="measured (binomial error)")
    else:
        ax.plot(q, p, "o", ms=3, alpha=0.6, color="#34495e", label="measured")
    lim = max(3.0, float(np.nanmax(np.abs(q))) if len(q) else 3.0)
    grid = np.linspace(-lim, lim, 300)
    ax.plot(grid, 0.5 * (1 + np.tanh(grid)), color="#c0392b", lw=2,
            label=r"$(1 + \tanh q)/2$")
    if bins:
        edges = np.linspace(q.min(), q.max(), int(bins) + 1)
        k = np.clip(np.digitize(q, edges) - 1, 0, int(bins) - 1)
        mids = 0.5 * (edges[1:] + edges[:-1])
        mean = np.array([p[k == i].mean() if (k == i).any() else np.nan for i in range(int(bins))])
        ax.plot(mids, mean, "s-", color="#27ae60", ms=4, label="bin mean")
    ax.set_xlabel("predicted $q$")
    ax.set_ylabel("measured $p_B$")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title or "committor versus reaction coordinate", fontsize=9)
    return _finish(fig, path)




def _column(X, names, feature):
    """Values of one feature: a column by name/index, or the angle of a sin/cos pair."""
    if isinstance(feature, (int, np.integer)):
        return X[:, int(feature)], names[int(feature)]
    feature = str(feature)
    if feature in names:
        return X[:, names.index(feature)], feature
    s, c = f"sin({feature})", f"cos({feature})"
    if s in names and c in names:
        return np.degrees(np.arctan2(X[:, names.index(s)], X[:, names.index(c)])), \
            f"{feature} (deg)"
    raise InputError(f"features: {feature!r} is not a column of X (names start "
                     f"{names[:4]}...) nor an angle with sin/cos columns; pass a column name "
                     "or index")


def plot_free_energy(X_all, feature_names, features=None, explanation=None, ts=None,
                     temperature=300.0, bins=60, path=None, title=None, ax=None,
                     vmax=None):
    """Free-energy landscape ``F = -kT ln P`` over two features, TS marked.

    Parameters
    ----------
    X_all : array_like, shape (n, n_columns)
        Configurations that sample the landscape (e.g. TPS path frames).
    feature_names : sequence of str
        Column names of ``X_all``.
    features : pair of str or int, optional
        The two features (names, column indices, or an angle name whose
        ``sin(..)``/``cos(..)`` columns exist); default the two top-ranked
        features of ``explanation``.
    explanation : Explanation, optional
        Source of the default ``features``.
    ts : array_like, shape (m, n_columns), optional
        Transition-state configurations, drawn as markers.
    temperature : float, optional
        Kelvin; ``kT`` in kJ/mol.
    bins : int, optional
        Histogram bins per axis.
    path : str or path-like, optional
    title : str, optional
    ax : matplotlib.axes.Axes, optional
    vmax : float, optional
        Upper end of the colour scale (kJ/mol).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.explain import plot_free_energy
    >>> X = np.random.default_rng(0).normal(size=(2000, 3))
    >>> fig = plot_free_energy(X, ["a", "b", "c"], features=("a", "c"), ts=X[:5])
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('a', 'c')
    """
    X = np.asarray(X_all, dtype=float)
    if X.ndim != 2:
        raise InputError(f"X_all must be 2-D (n, n_columns), got shape {X.shape}")
    names = [str(x) for x in feature_names]
    if len(names) != X.shape[1]:
        raise InputError(f"feature_names has {len(names)} names but X_all has {X.shape[1]} "
                         "columns")
    if features is None:
        if explanation is None:
            raise InputError("plot_free_energy needs features=(a, b) or an explanation whose "
                             "top two features are used")
        _check_explanation(explanation)
        features = tuple(explanation.ranking[:2])
    if len(features) != 2:
        raise InputError(f"features must name two features, got {features!r}")
    x, xl = _column(X, names, features[0])
    y, yl = _column(X, names, features[1])
    kT = BOLTZMANN_KJ_MOL_K * float(temperature)
    H, xe, ye = np.histogram2d(x, y, bins=int(bins))
    with np.errstate(divide="ignore"):
        F = -kT * np.log(H / H.sum())
    F = F - F[np.isfinite(F)].min()
    F = np.ma.masked_invalid(F)
    if ax is None:
        fig = _figure((5.4, 4.2))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    mesh = ax.pcolormesh(xe, ye, F.T, cmap="viridis", vmax=vmax, shading="flat")
    fig.colorbar(mesh, ax=ax, label="free energy (kJ/mol)")
    if ts is not None:
        T = np.asarray(ts, dtype=float)
        if T.ndim != 2 or T.shape[1] != X.shape[1]:
            raise InputError(f"ts must have the columns of X_all ({X.shape[1]}), got shape "
                             f"{T.shape}")
        tx, _ = _column(T, names, features[0])
        ty, _ = _column(T, names, features[1])
        ax.scatter(tx, ty, s=14, marker="x", color="#e74c3c", lw=1.0,
                   label=f"transition state (n={len(T)})")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    ax.set_title(title or f"$-kT \\ln P$ at {float(temperature):g} K", fontsize=9)
    return _finish(fig, path)

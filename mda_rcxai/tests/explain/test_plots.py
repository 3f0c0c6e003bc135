"""Figures render to non-trivial PNG files."""

import numpy as np
import pytest

from mda_rcxai.exceptions import InputError, InputTypeError
from mda_rcxai.explain import (Explanation, explain, plot_beeswarm, plot_committor_fit,
                               plot_free_energy, plot_importance)

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path, min_bytes=8000):
    data = open(path, "rb").read()
    return data[:8] == PNG and len(data) > min_bytes


@pytest.fixture(scope="module")
def ex():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    return explain(lambda X: 2 * X[:, 0] - X[:, 3], X, max_samples=40, background_size=10,
                   seed=0, n_samples=200, atom_indices=[(0, 1, 2, 3)] * 6)


def test_importance_and_beeswarm(ex, tmp_path):
    p = tmp_path / "imp.png"
    fig = plot_importance(ex, top=5, path=p)
    assert _is_png(p) and len(fig.axes[0].patches) == 5
    p2 = tmp_path / "bees.png"
    fig = plot_beeswarm(ex, top=4, path=p2)
    assert _is_png(p2)
    ticks = {t.get_position()[1]: t.get_text() for t in fig.axes[0].get_yticklabels()}
    assert ticks[max(ticks)] == "x0" and len(ticks) == 4  # most important on the top row
    # grouped explanations (no single feature value -> grey) plot too
    g = ex.grouped(by=["a", "a", "b", "b", "c", "c"])
    g.plot("beeswarm", path=tmp_path / "g.png")
    g.plot("importance", path=tmp_path / "g2.png")
    assert _is_png(tmp_path / "g.png") and _is_png(tmp_path / "g2.png", 4000)
    with pytest.raises(InputError, match="kind"):
        ex.plot("violin")
    with pytest.raises(InputTypeError):
        plot_importance(np.zeros(3))


def test_committor_fit(tmp_path):
    rng = np.random.default_rng(1)
    q = rng.normal(scale=1.5, size=80)
    n_B = rng.binomial(10, (1 + np.tanh(q)) / 2)
    p = tmp_path / "fit.png"
    fig = plot_committor_fit(q, n_A=10 - n_B, n_B=n_B, bins=8, path=p)
    assert _is_png(p)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "predicted $q$"
    fig2 = plot_committor_fit(q, p_B=n_B / 10)
    assert len(fig2.axes[0].lines) >= 2
    with pytest.raises(InputError, match="n_A"):
        plot_committor_fit(q, n_B=n_B)
    with pytest.raises(InputError, match="measured committor"):
        plot_committor_fit(q)
    with pytest.raises(InputError, match="one per configuration"):
        plot_committor_fit(q[:5], p_B=n_B / 10)


def test_free_energy(ex, tmp_path):
    rng = np.random.default_rng(2)
    ang = np.concatenate([rng.normal(-80, 15, 3000), rng.normal(60, 15, 1500)])
    X = np.column_stack([np.sin(np.radians(ang)), np.cos(np.radians(ang)),
                         rng.normal(size=4500)])
    names = ["sin(phi)", "cos(phi)", "theta"]
    p = tmp_path / "fe.png"
    fig = plot_free_energy(X, names, features=("phi", "theta"), ts=X[:10], temperature=300,
                           path=p)
    assert _is_png(p)
    assert fig.axes[0].get_xlabel() == "phi (deg)"
    # default features: the two top-ranked of an explanation
    e = Explanation(np.array([[0.1, 1.0, 0.5]]), ["sin(phi)", "cos(phi)", "theta"])
    fig = plot_free_energy(X, names, explanation=e)
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("cos(phi)", "theta")
    with pytest.raises(InputError, match="'psi' is not a column"):
        plot_free_energy(X, names, features=("psi", "theta"))
    with pytest.raises(InputError, match="does not exist"):
        plot_importance(ex, path=tmp_path / "nope" / "x.png")

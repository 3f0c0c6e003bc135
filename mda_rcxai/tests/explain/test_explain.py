"""explain(): SHAP (all algorithms) and LIME on models with a known answer."""

import numpy as np
import pytest
import torch

from mda_rcxai.exceptions import InputError, InputTypeError, NotFittedError, RcxaiError
from mda_rcxai.explain import Explanation, compare, explain

from .conftest import NAMES, x12_q

WINDOW = (0.4, 0.6)


# --- a model whose q depends only on x1 and x2 (of 20 features) --------------------------
@pytest.mark.parametrize("method,algorithm", [("shap", "deep"), ("shap", "kernel"),
                                              ("lime", None)])
@pytest.mark.parametrize("selection", ["global", "transition_state"])
def test_x1_x2_on_top_real_model(x12_model, x12_data, method, algorithm, selection):
    X, _ = x12_data
    kw = {"n_samples": 500} if algorithm == "kernel" else {}
    ex = explain(x12_model, X, feature_names=NAMES, method=method, algorithm=algorithm,
                 selection=selection, window=WINDOW, max_samples=15, background_size=20,
                 seed=0, **kw)
    assert set(ex.ranking[:2]) == {"x1", "x2"}, ex.ranking[:5]
    if selection == "global":
        assert ex.ranking[0] == "x1"  # |1.5| > |-1|; at the TS 1.5 x1 ~ x2, so a tie
    # signs: q rises with x1 and falls with x2
    i1, i2 = NAMES.index("x1"), NAMES.index("x2")
    r = 0.7 if method == "lime" else 0.9  # LIME: weights of quartile indicators, steps
    assert np.corrcoef(ex.values[:, i1], X[ex.indices, i1])[0, 1] > r
    assert np.corrcoef(ex.values[:, i2], X[ex.indices, i2])[0, 1] < -r
    assert ex.values.shape == (15, 20) and ex.importance.shape == (20,)
    if selection == "transition_state":
        assert ((ex.p_B >= WINDOW[0]) & (ex.p_B <= WINDOW[1])).all()
        assert ex.window == WINDOW
        np.testing.assert_allclose(ex.p_B, x12_model.predict_proba(X[ex.indices]))


@pytest.mark.parametrize("algorithm", ["permutation", "partition"])
def test_x1_x2_on_top_callable(x12_data, algorithm):
    X, _ = x12_data
    method = "shap-partition" if algorithm == "partition" else "shap"
    ex = explain(x12_q, X, method=method, algorithm=algorithm, max_samples=6,
                 background_size=15, seed=1, n_samples=2 * (2 * 20 + 1))
    assert ex.ranking[:2] == ["x1", "x2"]
    assert ex.algorithm == algorithm


@pytest.mark.parametrize("algorithm,tol", [("deep", 1e-4), ("kernel", 1e-6),
                                           ("permutation", 1e-6), ("partition", 1e-6)])
def test_shap_additivity(x12_model, x12_data, algorithm, tol):
    """Shapley efficiency: sum of attributions = f(x) - E_background[f]."""
    X, _ = x12_data
    method = "shap-partition" if algorithm == "partition" else "shap"
    model = x12_model if algorithm == "deep" else x12_model.predict_q
    ex = explain(model, X, method=method, algorithm=algorithm, max_samples=6,
                 background_size=12, seed=0, n_samples=600 if algorithm == "kernel" else None)
    f = x12_model.predict_q(X[ex.indices])
    np.testing.assert_allclose(ex.prediction, f, atol=1e-5)
    np.testing.assert_allclose(ex.values.sum(1) + ex.base_values, f, atol=tol)
    if algorithm in ("deep", "kernel"):  # E[f] over the (k-means) background
        from mda_rcxai.explain._core import _background
        bg = _background(X, 12, "kmeans", 0)
        np.testing.assert_allclose(ex.base_values, x12_model.predict_q(bg).mean(), atol=1e-4)


def test_gradient_explainer_runs_and_is_additive_on_average(x12_model, x12_data):
    X, _ = x12_data
    ex = explain(x12_model, X, algorithm="gradient", max_samples=10, background_size=20,
                 seed=0, n_samples=400)
    assert ex.ranking[:2] == ["x1", "x2"]
    gap = ex.values.sum(1) + ex.base_values - ex.prediction
    assert np.abs(gap).mean() < 0.3


def test_output_p_B(x12_model, x12_data):
    X, _ = x12_data
    ex = explain(x12_model, X, output="p_B", max_samples=8, background_size=10, seed=0)
    assert ex.output == "p_B"
    np.testing.assert_allclose(ex.prediction, x12_model.predict_proba(X[ex.indices]), atol=1e-6)
    np.testing.assert_allclose(ex.values.sum(1) + ex.base_values, ex.prediction, atol=1e-4)
    exl = explain(x12_model, X, method="lime", output="p_B", max_samples=4, seed=0,
                  n_samples=300)
    assert exl.ranking[0] in ("x1", "x2")


def test_torch_module_and_callable_models(x12_data):
    X, _ = x12_data
    lin = torch.nn.Linear(20, 1)
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[0, 1] = 1.5
        lin.weight[0, 2] = -1.0
        lin.bias.zero_()
    ex = explain(lin, X, max_samples=5, background_size=10, seed=0)
    assert ex.algorithm == "deep"
    bg_mean = ex.base_values[0]
    expect = x12_q(X[ex.indices]) - bg_mean
    np.testing.assert_allclose(ex.values.sum(1), expect, atol=1e-4)
    ex2 = explain(x12_q, X, max_samples=5, background_size=10, seed=0, n_samples=300)
    assert ex2.algorithm == "kernel"
    # linear model, independent background: phi_j = w_j (x_j - E[x_j])
    np.testing.assert_allclose(ex.values, ex2.values, atol=1e-4)


def test_seeded_and_subsampled(x12_model, x12_data):
    X, _ = x12_data
    kw = dict(method="lime", max_samples=5, seed=7, n_samples=300)
    a, b = explain(x12_model, X, **kw), explain(x12_model, X, **kw)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.values, b.values)
    c = explain(x12_model, X, **{**kw, "seed": 8})
    assert not np.array_equal(a.indices, c.indices)
    assert np.all(np.diff(a.indices) > 0)  # kept in data order
    assert a.info["n_selected"] == len(X)
    # the global NumPy random state is left as it was
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    explain(x12_model, X, max_samples=3, background_size=5, seed=0)
    assert np.random.random() == before


def test_explanation_is_immutable(x12_model, x12_data):
    X, _ = x12_data
    ex = explain(x12_model, X, max_samples=3, background_size=5, seed=0)
    with pytest.raises(AttributeError):
        ex.values = None
    with pytest.raises(ValueError):
        ex.values[0, 0] = 1.0
    with pytest.raises(ValueError):
        ex.importance[0] = 1.0
    with pytest.raises(TypeError):
        ex.info["seed"] = 1
    with pytest.raises(TypeError):
        ex.members["x1"] = ("x2",)
    assert "deep" in repr(ex)


def test_sincos_columns_summed_per_dihedral():
    rng = np.random.default_rng(0)
    ang = rng.uniform(-np.pi, np.pi, size=(400, 2))
    X = np.column_stack([np.sin(ang[:, 0]), np.cos(ang[:, 0]), np.sin(ang[:, 1]),
                         np.cos(ang[:, 1])])
    names = ["sin(phi)", "cos(phi)", "sin(psi)", "cos(psi)"]

    def f(X):
        return 2 * X[:, 0] + X[:, 1] + 0.1 * X[:, 3]
    ex = explain(f, X, feature_names=names, groups=[0, 0, 1, 1], max_samples=6,
                 background_size=10, seed=0, n_samples=200,
                 atom_indices=[(4, 6, 8, 14)] * 2 + [(6, 8, 14, 16)] * 2)
    assert ex.feature_names == ("phi", "psi")
    assert ex.members["phi"] == ("sin(phi)", "cos(phi)")
    col = ex.info["column_values"]
    np.testing.assert_allclose(ex.values[:, 0], col[:, 0] + col[:, 1])
    np.testing.assert_allclose(ex.data[:, 0], np.degrees(ang[ex.indices, 0]), atol=1e-9)
    assert ex.atom_indices[0] == (4, 6, 8, 14)
    assert ex.ranking == ["phi", "psi"]


def test_compare_shap_lime(x12_model, x12_data):
    X, _ = x12_data
    a = explain(x12_model, X, max_samples=10, background_size=10, seed=0)
    b = explain(x12_model, X, method="lime", max_samples=10, seed=0, n_samples=400)
    r = compare(a, b, top_k=2, grouped=None)
    assert r["top_k_overlap"] == 1.0 and r["top1_agree"]
    assert -1.0 <= r["spearman"] <= 1.0
    same = compare(a, a, top_k=3, grouped=None)
    assert same["spearman"] == pytest.approx(1.0)
    grouped = {"x1": "x12", "x2": "x12"}
    rg = compare(a, b, top_k=1, grouped=grouped)
    assert rg["grouped_top_k_shared"] == ["x12"]


# --- errors -----------------------------------------------------------------------------
def test_error_unfitted_model(x12_data):
    from mda_rcxai.model import CommittorModel
    X, _ = x12_data
    with pytest.raises(NotFittedError, match="not fitted.*fit"):
        explain(CommittorModel(), X)


def test_error_feature_names_and_count(x12_model, x12_data):
    X, _ = x12_data
    with pytest.raises(InputError, match="fitted on 20"):
        explain(x12_model, X[:, :19])
    bad = list(NAMES)
    bad[3] = "phi"
    with pytest.raises(InputError, match="column 3: 'phi'"):
        explain(x12_model, X, feature_names=bad)
    with pytest.raises(InputError, match="feature_names has 19 names"):
        explain(x12_q, X, feature_names=NAMES[:19])
    with pytest.raises(InputError, match="atom_indices has 2 rows"):
        explain(x12_q, X, atom_indices=[(0, 1, 2, 3)] * 2)


def test_error_empty_transition_state_window(x12_data):
    X, _ = x12_data

    def far(X):
        return 5.0 + 0.1 * X[:, 0]  # all p_B close to 1
    with pytest.raises(InputError) as err:
        explain(far, X, selection="transition_state", window=(0.45, 0.55))
    msg = str(err.value)
    # the message counts where the configurations are and suggests a wider window
    assert "(0 of 800 below 0.45, 800 above 0.55;" in msg
    assert "window=(0.35, 0.65)" in msg
    assert f"{len(X)} above 0.55" in msg and "widen the window" in msg
    assert isinstance(err.value, RcxaiError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize("kw,match", [
    (dict(method="shapley"), "method='shapley'"),
    (dict(method="lime", algorithm="deep"), "does not go with"),
    (dict(algorithm="deep"), "needs a torch model"),
    (dict(selection="ts"), "selection='ts'"),
    (dict(window=(0.6, 0.4)), "window"),
    (dict(output="logit"), "output="),
    (dict(max_samples=0), "max_samples"),
    (dict(background_size=0), "background_size"),
])
def test_error_bad_options(x12_data, kw, match):
    X, _ = x12_data
    with pytest.raises(InputError, match=match):
        explain(x12_q, X[:50], **kw)


def test_error_bad_model_and_X():
    with pytest.raises(InputTypeError, match="model must be"):
        explain(42, np.zeros((3, 2)))
    with pytest.raises(InputError, match="2-D"):
        explain(x12_q, np.zeros(5))
    X = np.zeros((3, 3))
    X[1, 2] = np.nan
    with pytest.raises(InputError, match="row 1, column 2"):
        explain(x12_q, X)


def test_error_on_explanation_inputs():
    with pytest.raises(InputError, match="one name per column"):
        Explanation(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(InputTypeError):
        compare(Explanation(np.zeros((1, 1)), ["a"]), "b")
    with pytest.raises(InputError, match="different features"):
        compare(Explanation(np.zeros((1, 1)), ["a"]), Explanation(np.zeros((1, 1)), ["b"]))


@pytest.mark.parametrize("method", ["shap", "lime"])
def test_one_row_is_an_error_not_all_zero(x12_model, x12_data, method):
    X, _ = x12_data
    with pytest.raises(InputError, match="X has 1 configuration") as err:
        explain(x12_model, X[:1], method=method)
    assert "\n" not in str(err.value)
    if method == "shap":  # an explicit background of other configurations is fine
        ex = explain(x12_model, X[:1], method="shap", background=X[1:60])
        assert ex.n_explained == 1 and np.abs(ex.values).max() > 0


def test_all_zero_attributions_warn(x12_data):
    X, _ = x12_data
    with pytest.warns(UserWarning, match="every attribution is exactly 0"):
        explain(lambda X: np.zeros(len(X)), X[:100], method="shap", algorithm="kernel",
                max_samples=3, background_size=10, seed=0)

import json
import os
import pickle
import warnings

import numpy as np
import pytest
import torch

from mda_rcxai.exceptions import InputError, InputTypeError, NotFittedError, RcxaiError
from mda_rcxai.model import (
    CommittorModel,
    ModelFileError,
    ModelFileNotFoundError,
    binomial_nll,
)

from .conftest import FEATURE_NAMES, N_FEATURES, make_committor_data

TINY = dict(hidden_layers=(4,), max_epochs=3, seed=0)
#: Mini-batch Adam with early stopping on a 20 % split (the defaults before issue 21).
ADAM = dict(solver="adam", validation_fraction=0.2)


# ----------------------------------------------------------------------
# learning
# ----------------------------------------------------------------------
def test_recovers_synthetic_q_on_held_out_data(fitted, test_data):
    X, n_A, n_B, q_true = test_data
    q = fitted.predict_q(X)
    assert q.dtype == np.float64 and q.shape == (len(X),)
    corr = np.corrcoef(q, q_true)[0, 1]
    assert corr > 0.98, corr
    # better than a constant p_B, and close to the truth's own likelihood
    true_ll = -binomial_nll(q_true, n_A, n_B, reduction="mean")
    res = fitted.evaluate(X, n_A, n_B)
    assert res["log_likelihood"] > res["log_likelihood_constant"] + 0.1
    assert res["log_likelihood"] > true_ll - 0.03
    assert res["n_configurations"] == len(X) and res["n_shots"] == 10 * len(X)


def test_defaults_are_the_cross_validation_setting(fitted):
    """CommittorModel() is one fit of the setting CommittorModelCV chose most often (issue 21)."""
    from mda_rcxai.model import DEFAULT_FIT_PARAMS

    params = CommittorModel().get_params()
    assert {k: params[k] for k in DEFAULT_FIT_PARAMS} == DEFAULT_FIT_PARAMS
    assert params["solver"] == "lbfgs" and params["penalty"] == "group"
    assert params["weight_decay"] == 1e-2 and params["hidden_layers"] == (32,)
    assert fitted.fit_time_ < 20.0
    h = fitted.history_
    # all rows trained on: no validation split, 200 L-BFGS iterations at most
    assert h["val_loss"] == [] and len(h["train_loss"]) == fitted.n_epochs_ <= 10
    assert fitted.validation_indices_.size == 0 and fitted.validation_metrics_ is None


def test_adam_training_is_fast_and_recorded(train_data):
    X, n_A, n_B, _ = train_data
    m = CommittorModel(seed=0, max_epochs=500, hidden_layers=(16,), **ADAM).fit(
        X[:500], n_A[:500], n_B[:500])
    assert m.fit_time_ < 20.0
    h = m.history_
    assert len(h["train_loss"]) == len(h["val_loss"]) == m.n_epochs_
    # early stopping restored the best validation epoch
    assert m.best_epoch_ == int(np.argmin(h["val_loss"]))
    assert m.n_epochs_ < m.max_epochs
    assert m.validation_indices_.size == 100
    vm = m.validation_metrics_
    assert vm["n_configurations"] == 100
    assert vm["log_likelihood"] == pytest.approx(-h["val_loss"][m.best_epoch_], abs=1e-5)


def test_fitted_attributes(fitted, train_data):
    X = train_data[0]
    assert fitted.n_features_in_ == N_FEATURES
    assert fitted.feature_names_ == FEATURE_NAMES
    train = np.setdiff1d(np.arange(len(X)), fitted.validation_indices_)
    np.testing.assert_allclose(fitted.scaler_mean_, X[train].mean(axis=0))
    np.testing.assert_allclose(fitted.scaler_scale_, X[train].std(axis=0))
    assert isinstance(fitted.seed_, int)
    fitted.check_is_fitted()


def test_fit_on_p_B_values_with_weights(train_data, test_data):
    X, n_A, n_B, q = train_data
    p = (1 + np.tanh(q)) / 2
    w = np.ones(len(X))
    w[::7] = 0.0  # zero-weight rows are ignored
    m = CommittorModel(hidden_layers=(16,), max_epochs=150, learning_rate=3e-3, seed=0)
    m.fit(X[:500], p_B=p[:500], sample_weight=w[:500])
    Xt, _, _, qt = test_data
    assert np.corrcoef(m.predict_q(Xt), qt)[0, 1] > 0.97
    assert m.target_mode_ == "p_B"
    assert m.pb_rmse(Xt, p_B=(1 + np.tanh(qt)) / 2) < 0.08


def test_same_seed_same_model(train_data):
    X, n_A, n_B, _ = train_data
    kw = dict(hidden_layers=(8,), max_epochs=10, seed=5)
    m1 = CommittorModel(**kw).fit(X[:300], n_A[:300], n_B[:300])
    m2 = CommittorModel(**kw).fit(X[:300], n_A[:300], n_B[:300])
    for (k1, v1), (k2, v2) in zip(m1.net_.state_dict().items(), m2.net_.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    np.testing.assert_array_equal(m1.predict_q(X), m2.predict_q(X))
    np.testing.assert_array_equal(m1.validation_indices_, m2.validation_indices_)
    assert m1.history_ == m2.history_
    m3 = CommittorModel(**{**kw, "seed": 6}).fit(X[:300], n_A[:300], n_B[:300])
    assert not np.array_equal(m1.predict_q(X), m3.predict_q(X))


def test_fit_does_not_touch_global_torch_state(train_data):
    X, n_A, n_B, _ = train_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    CommittorModel(**TINY).fit(X[:50], n_A[:50], n_B[:50])
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_seed_none_is_recorded_and_reproducible(train_data):
    X, n_A, n_B, _ = train_data
    m = CommittorModel(hidden_layers=(4,), max_epochs=3).fit(X[:60], n_A[:60], n_B[:60])
    again = CommittorModel(hidden_layers=(4,), max_epochs=3, seed=m.seed_)
    again.fit(X[:60], n_A[:60], n_B[:60])
    np.testing.assert_array_equal(m.predict_q(X[:60]), again.predict_q(X[:60]))


def test_options(train_data):
    X, n_A, n_B, _ = train_data
    sub = X[:80], n_A[:80], n_B[:80]
    m = CommittorModel(hidden_layers=(), validation_fraction=0, max_epochs=4, seed=0,
                       batch_size=None, activation="relu", solver="adam").fit(*sub)
    assert m.history_["val_loss"] == [] and len(m.history_["train_loss"]) == 4
    assert m.validation_metrics_ is None and m.validation_indices_.size == 0
    assert len(m.net_) == 1  # linear q
    m = CommittorModel(early_stopping=False, max_epochs=5, hidden_layers=(4,), seed=0,
                       **ADAM).fit(*sub)
    assert m.n_epochs_ == 5 and m.best_epoch_ == 4
    # an int early_stopping is the patience
    m = CommittorModel(early_stopping=2, max_epochs=200, hidden_layers=(4,), seed=0,
                       learning_rate=0.1, **ADAM).fit(*sub)
    assert m.n_epochs_ < 200 and m.n_epochs_ - 1 - m.best_epoch_ == 2
    for act in ("tanh", "elu", "softplus", "gelu", "leaky_relu", "selu", "sigmoid"):
        CommittorModel(activation=act, **TINY).fit(*sub)


def test_float32_and_dataframe_inputs(train_data):
    import pandas as pd
    X, n_A, n_B, _ = train_data
    df = pd.DataFrame(X[:60], columns=FEATURE_NAMES)
    m = CommittorModel(**TINY).fit(df, n_A[:60], n_B[:60])
    assert m.feature_names_ == FEATURE_NAMES
    q32 = m.predict_q(X[:60].astype(np.float32))
    assert q32.dtype == np.float64
    # float32 rounds features of size ~120 by ~1e-5; the network's weights scale that up
    np.testing.assert_allclose(q32, m.predict_q(df), atol=1e-4)
    with pytest.raises(InputError, match="columns of X do not match"):
        m.predict_q(df[FEATURE_NAMES[::-1]])


def test_verbose_progress_bar(train_data, capsys):
    X, n_A, n_B, _ = train_data
    CommittorModel(verbose=True, **TINY).fit(X[:40], n_A[:40], n_B[:40])
    err = capsys.readouterr().err
    assert "CommittorModel.fit" in err and "epoch" in err


def test_params_api():
    m = CommittorModel(seed=3, hidden_layers=(8,))
    p = m.get_params()
    assert p["seed"] == 3 and p["hidden_layers"] == (8,)
    assert CommittorModel(**p).get_params() == p
    assert m.set_params(max_epochs=7) is m and m.max_epochs == 7
    assert "seed=3" in repr(m) and "max_epochs=7" in repr(m)
    with pytest.raises(InputError, match="not a parameter"):
        m.set_params(epochs=3)


# ----------------------------------------------------------------------
# scoring helpers
# ----------------------------------------------------------------------
def test_score_rmse_evaluate_agree(small_fitted, test_data):
    X, n_A, n_B, _ = test_data
    X, n_A, n_B = X[:300], n_A[:300], n_B[:300]
    q = small_fitted.predict_q(X)
    assert small_fitted.score(X, n_A, n_B) == pytest.approx(
        -binomial_nll(q, n_A, n_B) / (n_A + n_B).sum())
    p = small_fitted.predict_proba(X)
    np.testing.assert_allclose(p, (1 + np.tanh(q)) / 2)
    rmse = np.sqrt(np.mean((p - n_B / (n_A + n_B)) ** 2))
    assert small_fitted.pb_rmse(X, n_A, n_B) == pytest.approx(rmse)
    res = small_fitted.evaluate(X, n_A, n_B)
    assert res["log_likelihood"] == pytest.approx(small_fitted.score(X, n_A, n_B))
    assert res["rmse_p_B"] == pytest.approx(rmse)
    w = np.linspace(0.5, 2.0, len(X))
    assert small_fitted.score(X, n_A, n_B, sample_weight=w) == pytest.approx(
        -binomial_nll(q, n_A, n_B, weight=w) / (w * (n_A + n_B)).sum())
    assert small_fitted.evaluate(X, n_A, n_B, sample_weight=w)["rmse_p_B"] == pytest.approx(rmse)


# ----------------------------------------------------------------------
# torch modules
# ----------------------------------------------------------------------
def test_to_torch_matches_predict_q(small_fitted, test_data):
    X = test_data[0][:500]
    mod = small_fitted.to_torch()
    assert isinstance(mod, torch.nn.Module) and not mod.training
    assert all(p.dtype == torch.float32 for p in mod.parameters())
    x = torch.as_tensor(X, dtype=torch.float32)
    out = mod(x)
    assert out.shape == (len(X), 1)
    np.testing.assert_allclose(out[:, 0].detach().numpy(), small_fitted.predict_q(X),
                               rtol=1e-4, atol=2e-5)
    # differentiable in the raw features
    x.requires_grad_(True)
    mod(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # a fresh copy: changing it leaves the model alone
    before = small_fitted.predict_q(X)
    with torch.no_grad():
        mod[0].weight.zero_()
    np.testing.assert_array_equal(small_fitted.predict_q(X), before)
    assert small_fitted.to_torch() is not small_fitted.to_torch()


def test_torchscript_export(small_fitted, test_data, tmp_path):
    X = test_data[0][:200]
    path = small_fitted.export_torchscript(tmp_path / "q.pt")
    assert os.path.exists(path)
    extra = {"mda_rcxai.json": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(path, _extra_files=extra)
    meta = json.loads(extra["mda_rcxai.json"])
    assert meta["feature_names"] == FEATURE_NAMES and meta["n_features"] == N_FEATURES
    x = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        q_script = scripted(x)
        q_eager = small_fitted.to_torch()(x)
    assert q_script.shape == (len(X), 1)
    torch.testing.assert_close(q_script, q_eager, rtol=0, atol=0)
    with torch.no_grad():  # float64 input (e.g. from a simulation) is cast
        torch.testing.assert_close(scripted(x.double()), q_eager, rtol=0, atol=0)
    np.testing.assert_allclose(q_script[:, 0].numpy(), small_fitted.predict_q(X),
                               rtol=1e-4, atol=2e-5)
    assert [p.name for p in tmp_path.iterdir()] == ["q.pt"]  # no temporary left over


def test_shap_deep_explainer_additivity(small_fitted, test_data):
    import shap
    X = test_data[0]
    mod = small_fitted.to_torch()
    background = torch.as_tensor(X[:50], dtype=torch.float32)
    x = torch.as_tensor(X[100:110], dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. "unrecognized nn.Module"
        explainer = shap.DeepExplainer(mod, background)
        sv = np.asarray(explainer.shap_values(x, check_additivity=True))
    sv = sv.reshape(len(x), N_FEATURES)
    with torch.no_grad():
        f_x = mod(x)[:, 0].numpy()
        e_f = mod(background)[:, 0].mean().item()
    np.testing.assert_allclose(sv.sum(axis=1), f_x - e_f, atol=1e-4)
    np.testing.assert_allclose(np.ravel(explainer.expected_value)[0], e_f, atol=1e-5)
    # GradientExplainer (expected gradients) runs on the same module
    gsv = np.asarray(shap.GradientExplainer(mod, background).shap_values(x, nsamples=20, rseed=0))
    assert gsv.reshape(len(x), N_FEATURES).shape == (len(x), N_FEATURES)
    assert np.isfinite(gsv).all()


def test_pickle_round_trip(small_fitted, test_data):
    """Models travel to worker processes (dask, multiprocessing) by pickle."""
    X = test_data[0][:50]
    back = pickle.loads(pickle.dumps(small_fitted))
    np.testing.assert_array_equal(back.predict_q(X), small_fitted.predict_q(X))
    assert small_fitted.__sklearn_is_fitted__() and not CommittorModel().__sklearn_is_fitted__()


# ----------------------------------------------------------------------
# save / load
# ----------------------------------------------------------------------
def test_save_load_round_trip(fitted, test_data, tmp_path):
    X = test_data[0]
    path = fitted.save(tmp_path / "model.pt")
    loaded = CommittorModel.load(path, feature_names=FEATURE_NAMES, n_features=N_FEATURES)
    np.testing.assert_array_equal(loaded.predict_q(X), fitted.predict_q(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    assert loaded.get_params() == fitted.get_params()
    assert loaded.feature_names_ == fitted.feature_names_
    assert loaded.n_features_in_ == fitted.n_features_in_
    np.testing.assert_array_equal(loaded.scaler_mean_, fitted.scaler_mean_)
    np.testing.assert_array_equal(loaded.scaler_scale_, fitted.scaler_scale_)
    assert loaded.history_ == fitted.history_
    assert loaded.best_epoch_ == fitted.best_epoch_ and loaded.seed_ == fitted.seed_
    assert loaded.validation_metrics_ == fitted.validation_metrics_
    np.testing.assert_array_equal(loaded.validation_indices_, fitted.validation_indices_)
    # the file is loadable by torch's safe loader alone
    data = torch.load(path, weights_only=True)
    assert data["format"] == "mda_rcxai.CommittorModel"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_load_without_names_and_refit_without_names(small_fitted, train_data, tmp_path):
    X, n_A, n_B, _ = train_data
    m = CommittorModel(**TINY).fit(X[:40], n_A[:40], n_B[:40])
    assert m.feature_names_ is None
    path = m.save(str(tmp_path / "m.pt"))
    loaded = CommittorModel.load(path, feature_names=FEATURE_NAMES)  # only the count is checked
    assert loaded.feature_names_ is None
    with pytest.raises(ModelFileError, match="20 features but feature_names has 3"):
        CommittorModel.load(path, feature_names=["a", "b", "c"])


def test_load_refuses_mismatched_features(small_fitted, tmp_path):
    path = small_fitted.save(tmp_path / "model.pt")
    with pytest.raises(ModelFileError, match="feature_names has 19"):
        CommittorModel.load(path, feature_names=FEATURE_NAMES[:-1])
    renamed = FEATURE_NAMES[:5] + ["phi"] + FEATURE_NAMES[6:]
    with pytest.raises(ModelFileError, match=r"position 5 \('phi' vs saved 'f5'\)"):
        CommittorModel.load(path, feature_names=renamed)
    swapped = FEATURE_NAMES[1::-1] + FEATURE_NAMES[2:]
    with pytest.raises(ModelFileError, match="another order"):
        CommittorModel.load(path, feature_names=swapped)
    with pytest.raises(ModelFileError, match="n_features=45"):
        CommittorModel.load(path, n_features=45)
    assert isinstance(ModelFileError("x"), (RcxaiError, ValueError))


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch EVIL_RAN",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_load_refuses_foreign_and_unsafe_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelFileNotFoundError, match="no such file"):
        CommittorModel.load(tmp_path / "missing.pt")
    assert isinstance(ModelFileNotFoundError("x"), FileNotFoundError)
    evil = tmp_path / "evil.pt"
    torch.save({"format": "mda_rcxai.CommittorModel", "payload": _Evil()}, evil)
    with pytest.raises(ModelFileError, match="could not be read"):
        CommittorModel.load(evil)
    plain_pickle = tmp_path / "evil.pkl"
    plain_pickle.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ModelFileError):
        CommittorModel.load(plain_pickle)
    assert not (tmp_path / "EVIL_RAN").exists()
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ModelFileError, match="not a saved CommittorModel"):
        CommittorModel.load(other)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError):
        CommittorModel.load(garbage)


def test_save_into_missing_directory(small_fitted, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        small_fitted.save(tmp_path / "nope" / "m.pt")


# ----------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda m, X: m.predict_q(X),
    lambda m, X: m.predict_proba(X),
    lambda m, X: m.score(X, np.ones(len(X)), np.ones(len(X))),
    lambda m, X: m.pb_rmse(X, np.ones(len(X)), np.ones(len(X))),
    lambda m, X: m.evaluate(X, np.ones(len(X)), np.ones(len(X))),
    lambda m, X: m.to_torch(),
    lambda m, X: m.save("never.pt"),
    lambda m, X: m.export_torchscript("never.pt"),
    lambda m, X: m.check_is_fitted(),
])
def test_not_fitted(call):
    with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
        call(CommittorModel(), np.zeros((3, 2)))
    assert not os.path.exists("never.pt")


def _xy(n=30):
    X, n_A, n_B, _ = make_committor_data(n, seed=9)
    return X, n_A, n_B


@pytest.mark.parametrize("mutate,match", [
    (lambda X, a, b: (np.where(np.arange(X.size).reshape(X.shape) == 45, np.nan, X), a, b),
     r"non-finite.*NaN at row 2, column 5"),
    (lambda X, a, b: (np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X), a, b),
     r"inf at row 0, column 3"),
    (lambda X, a, b: (X[:, 0], a, b), r"X must be 2-D.*reshape\(-1, 1\)"),
    (lambda X, a, b: (X[None], a, b), "X must be 2-D"),
    (lambda X, a, b: (X[:0], a[:0], b[:0]), "no rows"),
    (lambda X, a, b: (X, a[:-1], b), "n_A has 29 values but X has 30 rows"),
    (lambda X, a, b: (X, a, b[:, None].repeat(2, axis=1)), "n_B must be 1-D"),
    (lambda X, a, b: (X, np.where(np.arange(len(a)) == 4, -1.0, a), b),
     r"n_A has 1 negative.*index 4.*>= 0"),
    (lambda X, a, b: (X, a * np.arange(len(a)).clip(0, 1), b * np.arange(len(b)).clip(0, 1)),
     r"n_A \+ n_B is 0 for 1 configuration.*index 0.*Drop them"),
    (lambda X, a, b: (X, np.where(np.arange(len(a)) == 2, np.nan, a), b), "n_A contains NaN"),
    (lambda X, a, b: (X, a, None), "n_B is missing"),
    (lambda X, a, b: (X[:1], a[:1], b[:1]), "only 1 configuration"),
])
def test_fit_input_errors(mutate, match):
    X, a, b = mutate(*_xy())
    with pytest.raises(InputError, match=match):
        CommittorModel(**TINY).fit(X, a, b)


def test_fit_target_errors():
    X, a, b = _xy()
    m = CommittorModel(**TINY)
    with pytest.raises(InputError, match="not both"):
        m.fit(X, a, b, p_B=b / 10)
    with pytest.raises(InputError, match=r"p_B must lie in \[0, 1\].*not q values"):
        m.fit(X, p_B=b / 10 - 0.5)
    with pytest.raises(InputError, match="sample_weight must be >= 0"):
        m.fit(X, a, b, sample_weight=-np.ones(len(X)))
    with pytest.raises(InputError, match="zero everywhere"):
        m.fit(X, a, b, sample_weight=np.zeros(len(X)))
    with pytest.raises(InputError, match="feature_names has 3 entries but X has 20"):
        m.fit(X, a, b, feature_names=["a", "b", "c"])
    with pytest.raises(InputTypeError, match="not a single string"):
        m.fit(X, a, b, feature_names="phi")
    with pytest.raises(InputTypeError, match="numeric array"):
        m.fit([["a", "b"], ["c", "d"]], [1, 1], [1, 1])
    with pytest.raises(InputTypeError, match="X is None"):
        m.fit(None, a, b)


def test_predict_errors(small_fitted):
    with pytest.raises(InputError, match="X has 3 features per configuration but the model was "
                                         "fitted with 20"):
        small_fitted.predict_q(np.zeros((4, 3)))
    X = np.zeros((4, N_FEATURES))
    X[1, 7] = np.nan
    with pytest.raises(InputError, match=r"NaN at row 1, column 7 \(f7\)"):
        small_fitted.predict_proba(X)
    with pytest.raises(InputError, match="n_B has 3 values but X has 4 rows"):
        small_fitted.score(np.zeros((4, N_FEATURES)), np.ones(4), np.ones(3))


@pytest.mark.parametrize("kwargs,match", [
    (dict(hidden_layers=(0,)), "hidden_layers"),
    (dict(hidden_layers=(8.5,)), "hidden_layers"),
    (dict(hidden_layers=5), "hidden_layers"),
    (dict(activation="silu"), "activation"),
    (dict(weight_decay=-1.0), "weight_decay"),
    (dict(learning_rate=0), "learning_rate"),
    (dict(max_epochs=0), "max_epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(early_stopping="yes"), "early_stopping"),
    (dict(seed=-1), "seed"),
    (dict(n_threads=0), "n_threads"),
    (dict(device="gpu0"), "device"),
])
def test_bad_hyperparameters(kwargs, match, train_data):
    X, n_A, n_B, _ = train_data
    model = CommittorModel(**kwargs)  # only stored (scikit-learn); fit checks
    with pytest.raises(RcxaiError, match=match):
        model.fit(X[:20], n_A[:20], n_B[:20])
    assert not hasattr(model, "net_")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_cuda_unavailable_is_explained(train_data):
    X, n_A, n_B, _ = train_data
    with pytest.raises(InputError, match="device='cpu'"):
        CommittorModel(device="cuda").fit(X[:20], n_A[:20], n_B[:20])


# ----------------------------------------------------------------------
# with the features layer
# ----------------------------------------------------------------------
def test_with_dihedral_features_end_to_end(tmp_path):
    """X and names from DihedralFeatures -> fit -> held-out quality -> save -> load."""
    import MDAnalysis as mda
    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.features import DihedralFeatures

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
        res = DihedralFeatures(u.atoms).run(backend="serial").results
    X, names = res.features, list(res.names)
    assert X.shape == (1000, 45)
    phi = np.deg2rad(X[:, names.index("phi")])
    rng = np.random.default_rng(0)
    q_true = 2.0 * (phi - np.median(phi)) / phi.std()  # p_B spread over (0, 1)
    n_B = rng.binomial(10, (1 + np.tanh(q_true)) / 2).astype(float)
    n_A = 10 - n_B
    order = rng.permutation(len(X))
    train, test = order[:700], order[700:]
    model = CommittorModel(hidden_layers=(16,), max_epochs=100, learning_rate=3e-3, seed=0)
    model.fit(X[train], n_A[train], n_B[train], feature_names=names)
    held_out = model.evaluate(X[test], n_A[test], n_B[test])
    assert held_out["log_likelihood"] > held_out["log_likelihood_constant"] + 0.1
    assert np.corrcoef(model.predict_q(X[test]), q_true[test])[0, 1] > 0.95
    path = model.save(tmp_path / "model.pt")
    back = CommittorModel.load(path, feature_names=names)
    np.testing.assert_array_equal(back.predict_q(X[test]), model.predict_q(X[test]))

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

N_FEATURES = 20
A_COEF, B_COEF = 1.5, -1.0
SHOTS = 10


def make_committor_data(n, seed, shots=SHOTS):
    """p_B = (1 + tanh(a x1 + b x2)) / 2 over 20 features with binomial counts.

    The features have different units and offsets (like dihedrals in degrees
    next to distances in Angstrom) so that the in-model scaler matters.
    """
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, N_FEATURES))
    q = A_COEF * Z[:, 0] + B_COEF * Z[:, 1]
    offsets = np.linspace(-120.0, 120.0, N_FEATURES)
    scales = np.geomspace(0.5, 60.0, N_FEATURES)
    X = Z * scales + offsets
    n_B = rng.binomial(shots, (1 + np.tanh(q)) / 2)
    return X, (shots - n_B).astype(float), n_B.astype(float), q


FEATURE_NAMES = [f"f{i}" for i in range(N_FEATURES)]


@pytest.fixture(scope="session")
def train_data():
    return make_committor_data(1000, seed=1)


@pytest.fixture(scope="session")
def test_data():
    return make_committor_data(2000, seed=2)


@pytest.fixture(scope="session")
def fitted(train_data):
    """A model with the default hyperparameters (L-BFGS, group lasso), fitted once per session."""
    from mda_rcxai.model import CommittorModel

    X, n_A, n_B, _ = train_data
    return CommittorModel(seed=0).fit(X, n_A, n_B, feature_names=FEATURE_NAMES)


@pytest.fixture(scope="session")
def small_fitted(train_data):
    """A quick small model for API tests (Adam, a 20 % validation split: small weights)."""
    from mda_rcxai.model import CommittorModel

    X, n_A, n_B, _ = train_data
    return CommittorModel(hidden_layers=(8, 8), max_epochs=15, seed=3, solver="adam",
                          validation_fraction=0.2).fit(
        X[:300], n_A[:300], n_B[:300], feature_names=FEATURE_NAMES
    )

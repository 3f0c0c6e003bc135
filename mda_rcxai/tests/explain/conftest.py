import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)

N_FEATURES = 20
NAMES = [f"x{i}" for i in range(N_FEATURES)]


def x12_q(X):
    """The exact reaction coordinate of the x1/x2 model: q depends on x1 and x2 only."""
    X = np.asarray(X, dtype=float)
    return 1.5 * X[:, 1] - 1.0 * X[:, 2]


@pytest.fixture(scope="session")
def x12_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(800, N_FEATURES))
    return X, x12_q(X)


@pytest.fixture(scope="session")
def x12_model(x12_data):
    """A real CommittorModel fitted to p_B = (1 + tanh(1.5 x1 - x2))/2 over 20 features."""
    from mda_rcxai.model import CommittorModel
    X, q = x12_data
    rng = np.random.default_rng(4)
    n_B = rng.binomial(20, (1 + np.tanh(q)) / 2).astype(float)
    # Adam with early stopping, L2 on all weights (CommittorModel's defaults before issue 21):
    # the explanation tests' thresholds were set on this fit
    model = CommittorModel(hidden_layers=(16,), max_epochs=80, seed=0, solver="adam",
                           validation_fraction=0.2, penalty="all")
    return model.fit(X, 20 - n_B, n_B, feature_names=NAMES)


@pytest.fixture(scope="session")
def ala_atoms():
    import MDAnalysis as mda
    from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    return mda.Universe(ALANINE_DIPEPTIDE_PDB)

"""Importances with error bars over the members of an ensemble."""

import numpy as np
import pytest

from mda_rcxai.exceptions import InputError, InputTypeError
from mda_rcxai.explain import explain, importance_with_errors
from mda_rcxai.model import CommittorEnsemble, CommittorModel

from .conftest import NAMES, N_FEATURES


@pytest.fixture(scope="module")
def ensemble(x12_data):
    X, q = x12_data
    rng = np.random.default_rng(5)
    n_B = rng.binomial(20, (1 + np.tanh(q)) / 2).astype(float)
    ens = CommittorEnsemble(n_models=3, hidden_layers=(16,), max_epochs=5, seed=0)
    return ens.fit(X[:400], 20 - n_B[:400], n_B[:400], feature_names=NAMES)


KW = dict(max_samples=60, background_size=20, seed=0)


def test_mean_and_std_over_members_match_single_explanations(ensemble, x12_data):
    X = x12_data[0][:400]
    df, explanations = importance_with_errors(ensemble, X, return_explanations=True, **KW)
    assert len(df) == N_FEATURES and df["n_models"].eq(3).all()
    # independent reference: explain each member with the public function
    imps = np.stack([explain(m, X, **KW).importance for m in ensemble.models_])
    by = df.set_index("feature")
    np.testing.assert_allclose(by.loc[NAMES, "importance"], imps.mean(0))
    np.testing.assert_allclose(by.loc[NAMES, "importance_std"], imps.std(0, ddof=1))
    assert df["rank"].tolist() == list(range(1, N_FEATURES + 1))
    assert df["importance"].is_monotonic_decreasing
    # the truth q = 1.5 x1 - x2: every member ranks x1 then x2 on top, noise far below
    assert df["feature"].tolist()[:2] == ["x1", "x2"]
    assert by.loc["x1", "top1_fraction"] == 1.0 and by.loc["x1", "rank_max"] == 1
    noise = by.drop(["x1", "x2"])["importance"]
    assert noise.max() < 0.2 * by.loc["x2", "importance"]
    # the error bar is a spread between members, not zero
    assert by.loc["x1", "importance_std"] > 0
    assert len(explanations) == 3
    np.testing.assert_array_equal(explanations[0].importance, imps[0])


def test_grouped_and_transition_state(ensemble, x12_data):
    X = x12_data[0][:400]
    groups = {"x1": "reaction", "x2": "reaction"}
    df = importance_with_errors(ensemble, X, by=groups, **KW)
    assert df["feature"].iloc[0] == "reaction" and df["members"].iloc[0] == "x1 + x2"
    assert len(df) == N_FEATURES - 1
    ref = []
    for m in ensemble.models_:
        g = explain(m, X, **KW).grouped(by=groups)
        ref.append(g.importance[list(g.feature_names).index("reaction")])
    assert df["importance"].iloc[0] == pytest.approx(np.mean(ref))
    ts = importance_with_errors(ensemble, X, selection="transition_state", window=(0.2, 0.8),
                                **KW)
    assert ts["feature"].iloc[0] == "x1"


def test_list_of_models_and_errors(x12_model, x12_data):
    X = x12_data[0][:200]
    df = importance_with_errors([x12_model], X, method="lime", n_samples=200, max_samples=10)
    assert df["importance_std"].eq(0).all() and df["feature"].iloc[0] == "x1"
    with pytest.raises(InputTypeError, match="list of fitted"):
        importance_with_errors(x12_model, X)
    with pytest.raises(InputError, match="empty"):
        importance_with_errors([], X)
    other = CommittorModel(hidden_layers=(2,), max_epochs=2, seed=0).fit(
        X[:, :3], p_B=np.full(len(X), 0.5))
    with pytest.raises(Exception):
        importance_with_errors([x12_model, other], X)


def test_bond_groups_on_alanine_dihedrals_with_error_bars(ala_atoms):
    """45 dihedrals of the bundled trajectory, a synthetic committor on phi and theta:
    the ensemble puts the N-CA (phi) and C-N (theta) bonds on top, with error bars."""
    import warnings

    import MDAnalysis as mda

    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.features import DihedralFeatures

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
        res = DihedralFeatures(u.atoms).run().results
    X, names = res.features, list(res.names)
    z = (X - X.mean(0)) / X.std(0)
    q = 1.5 * z[:, names.index("phi")] + 1.0 * z[:, names.index("theta")]
    rng = np.random.default_rng(0)
    n_B = rng.binomial(10, (1 + np.tanh(q)) / 2).astype(float)
    ens = CommittorEnsemble(n_models=3, seed=0).fit(X, 10 - n_B, n_B, feature_names=names)
    df = importance_with_errors(ens, X, by="bond", atom_indices=res.atom_indices,
                                atom_names=ala_atoms, max_samples=100, background_size=30)
    top = df["feature"].tolist()[:2]
    assert any("phi" in t for t in top) and any("theta" in t for t in top), top
    assert (df["importance_std"].iloc[:2] > 0).all()
    assert df["importance"].iloc[1] > 2 * df["importance"].iloc[2]

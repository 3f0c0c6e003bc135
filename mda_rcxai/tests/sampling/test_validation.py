"""The committor test: verdict logic on synthetic counts, and a tiny real run."""

import warnings

import numpy as np
import pytest

from mda_rcxai.exceptions import InputError, InputTypeError
from mda_rcxai.sampling import committor_test, committor_verdict, run_committor
from mda_rcxai.systems import PHI, PSI, StateDefinition


def counts(p, shots=20, seed=0):
    rng = np.random.default_rng(seed)
    n_B = rng.binomial(shots, np.asarray(p, float))
    return shots - n_B, n_B


# ----------------------------------------------------------------------
# verdict logic
# ----------------------------------------------------------------------
def test_old_pB_names_still_work_with_a_deprecation_warning():
    """The 0.x spellings (``mean_pB``, ``predicted_pB=``, ``predict_pB=``) give what the
    p_B names give, each with a DeprecationWarning naming the new one."""
    from mda_rcxai.sampling import harvest

    a, b = counts(np.full(12, 0.5))
    r = committor_verdict(a, b, np.full(12, 0.5))
    for old, new in (("predicted_pB", "predicted_p_B"), ("mean_pB", "mean_p_B"),
                     ("std_pB", "std_p_B"), ("expected_std_pB", "expected_std_p_B")):
        with pytest.warns(DeprecationWarning, match=f"use .{new}"):
            np.testing.assert_array_equal(getattr(r, old), getattr(r, new))
    d = r.to_dict()
    assert "mean_p_B" in d and "mean_pB" not in d
    with pytest.warns(DeprecationWarning, match="use predicted_p_B="):
        r2 = committor_verdict(a, b, predicted_pB=np.full(12, 0.5))
    assert r2.to_dict() == d
    with pytest.raises(TypeError, match="give predicted_p_B= only"):
        committor_verdict(a, b, predicted_p_B=np.full(12, 0.5), predicted_pB=np.full(12, 0.5))
    path = np.random.default_rng(0).normal(size=(30, 4, 3))

    def half(x):
        return np.full(len(x), 0.5)
    with pytest.warns(DeprecationWarning, match="use predict_p_B="):
        x_old = harvest([path], 5, seed=1, predict_pB=half)
    np.testing.assert_array_equal(x_old, harvest([path], 5, seed=1, predict_p_B=half))


@pytest.mark.parametrize("seed", range(5))
def test_binomial_at_one_half_passes(seed):
    a, b = counts(np.full(40, 0.5), seed=seed)
    r = committor_verdict(a, b, np.full(40, 0.5))
    assert r.verdict == "pass", r.reason
    assert r.n_configurations == 40 and r.ci95[0] < 0.6 and r.ci95[1] > 0.4
    # binomial spread at p = 1/2 with 20 shots: sd sqrt(0.25/20) = 0.11
    assert 0.07 < r.std_p_B < 0.15
    assert r.expected_histogram.sum() == pytest.approx(40)
    assert r.expected_histogram_window.sum() == pytest.approx(40)
    assert r.histogram.sum() == 40


def test_true_p_B_spread_over_the_window_passes():
    a, b = counts(np.random.default_rng(1).uniform(0.4, 0.6, 60), seed=2)
    assert committor_verdict(a, b, np.full(60, 0.5)).verdict == "pass"


@pytest.mark.parametrize("p", [0.1, 0.9])
def test_committed_side_fails(p):
    a, b = counts(np.full(30, p), seed=3)
    r = committor_verdict(a, b, np.full(30, 0.5))
    assert r.verdict == "fail"
    assert "outside the window" in r.reason


def test_bimodal_fails_although_the_mean_is_one_half():
    a, b = counts(np.r_[np.full(15, 0.1), np.full(15, 0.9)], seed=4)
    r = committor_verdict(a, b, np.full(30, 0.5))
    assert r.verdict == "fail" and abs(r.mean_p_B - 0.5) < 0.1
    assert r.n_committed > 3 and r.committed_p_value < 0.01


def test_too_wide_but_not_committed_fails_on_spread():
    a, b = counts(np.r_[np.full(50, 0.3), np.full(50, 0.7)], shots=40, seed=5)
    r = committor_verdict(a, b, np.full(100, 0.5))
    assert r.verdict == "fail" and "wider" in r.reason, r.reason
    assert r.chi2_p_value < 0.01 and r.chi2_dof == 99


def test_issue_14_measurements_pass():
    """Means and spreads seen on alanine dipeptide (issue 14) pass at 20 shots."""
    rng = np.random.default_rng(11)
    for n, mean in ((15, 0.57), (47, 0.44)):
        true = np.clip(rng.normal(mean, 0.05, n), 0, 1)
        a, b = counts(true, seed=n)
        r = committor_verdict(a, b, np.full(n, 0.5))
        assert r.verdict == "pass", r.summary()


def test_inconclusive_with_few_configurations_or_shots():
    a, b = counts(np.full(3, 0.5))
    assert committor_verdict(a, b, np.full(3, 0.5)).verdict == "inconclusive"
    # 6 configurations x 2 shots as p_B = 1/2 gives them (half of them
    # committed by shot noise alone, which the committed check allows): the
    # mean is too uncertain to tell
    a = np.array([1, 2, 0, 1, 2, 1])
    r = committor_verdict(a, 2 - a, np.full(6, 0.5))
    assert r.n_committed == 3 and r.ci95[1] - r.ci95[0] > 0.4
    assert r.verdict == "inconclusive", r.summary()
    empty = committor_verdict([], [], [])
    assert empty.verdict == "inconclusive" and empty.n_configurations == 0


def test_expected_histogram_is_the_binomial_pmf():
    from scipy.stats import binom

    r = committor_verdict([5, 5], [5, 5], [0.3, 0.3])
    k = np.arange(11)
    pmf = binom.pmf(k, 10, 0.3)
    expected = np.zeros(10)
    np.add.at(expected, np.clip(np.searchsorted(r.bin_edges, k / 10, "right") - 1, 0, 9), pmf)
    np.testing.assert_allclose(r.expected_histogram, 2 * expected)
    assert r.to_dict()["verdict"] == r.verdict
    with pytest.raises(InputError, match="one per tested configuration"):
        committor_verdict([1, 2], [1], [0.5, 0.5])
    with pytest.raises(InputError, match="not q"):
        committor_verdict([1], [1], [1.5])
    with pytest.raises(InputError, match="window"):
        committor_verdict([1], [1], [0.5], window=(0.6, 0.4))


# ----------------------------------------------------------------------
# a tiny real run on the bundled alanine dipeptide
# ----------------------------------------------------------------------
def _basin_frames():
    import MDAnalysis as mda

    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.systems import dihedral_degrees

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
        x = np.array([u.atoms.positions.copy() for _ in u.trajectory])
    phi = dihedral_degrees(x, np.array([PHI]))[:, 0]
    eq = np.flatnonzero((phi[:500] > -70) & (phi[:500] < -55))[:4]
    ax = 500 + np.flatnonzero((phi[500:] > 40) & (phi[500:] < 50))[:4]
    return x[np.r_[eq, ax]]


def test_basin_frames_called_transition_states_fail(ala):
    """A 'model' that calls basin frames p_B = 1/2 fails the test; shots are run_committor's."""
    small = ala.with_states({
        "A": StateDefinition("A", [PHI, PSI], [(-180, -70), (0, 200)]),
        "B": StateDefinition("B", [PHI, PSI], [(50, 100), (-110, 10)])})
    x = _basin_frames()
    assert len(x) == 8
    pred = np.r_[np.full(7, 0.5), 0.95]  # the last one is outside the window
    kw = dict(state_A="A", state_B="B")
    res = committor_test(small, x, lambda pos: pred[: len(pos)], n_configurations=6,
                         n_shots=4, seed=3, exclude=[0], **kw)
    assert res.verdict == "fail", res.summary()
    assert len(res.indices) == 6 and 0 not in res.indices and 7 not in res.indices
    # an independent run_committor on the same rows with the same seed gives the same counts
    ref = run_committor(small, x[res.indices], 4, seed=3, verbose=False, **kw)
    np.testing.assert_array_equal(res.n_A, ref.n_A)
    np.testing.assert_array_equal(res.n_B, ref.n_B)
    assert set(np.unique(res.p_B)) <= {0.0, 1.0}  # basin frames commit
    assert res.dataset is not None and len(res.dataset) == 6
    # nothing eligible: inconclusive, no shooting
    none = committor_test(small, x, np.full(8, 0.05), **kw)
    assert none.verdict == "inconclusive" and "nothing was shot" in none.reason
    with pytest.raises(InputError, match="one per configuration"):
        committor_test(small, x, np.full(3, 0.5), **kw)
    with pytest.raises(InputError, match="shape"):
        committor_test(small, x[0], np.full(8, 0.5), **kw)
    with pytest.raises(InputTypeError, match="window"):
        committor_test(small, x, np.full(8, 0.5), window="middle", **kw)


# ----------------------------------------------------------------------
# the naive coordinate (issue 21)
# ----------------------------------------------------------------------
def test_fit_naive_coordinate_recovers_a_known_committor():
    """One feature: w and the isocommittor level of a known p_B(d); a group: the weights,
    against scikit-learn's unpenalised logistic regression on the shots (p_B = sigmoid(2q))."""
    from sklearn.linear_model import LogisticRegression

    from mda_rcxai.sampling.validation import fit_naive_coordinate

    rng = np.random.default_rng(0)
    d = rng.uniform(2.5, 4.5, 6000)                       # Angstrom
    n_B = rng.binomial(10, (1 + np.tanh(3.0 * (d - 3.5))) / 2)
    c = fit_naive_coordinate(d, 10 - n_B, n_B, ["d(Na-Cl)"])
    assert c.names == ("d(Na-Cl)",) and c.n_configurations == 6000 and c.n_shots == 60000
    assert c.weights[0] == pytest.approx(3.0, rel=0.05)
    assert c.level == pytest.approx(3.5, abs=0.02)
    np.testing.assert_allclose(c.predict_proba([c.level]), [0.5], atol=1e-9)
    assert c.to_dict()["kind"] == "naive" and c.to_dict()["level"] == pytest.approx(c.level)
    # a group of two features (degrees, different scales)
    X = np.c_[rng.normal(0, 60, 3000), rng.normal(10, 5, 3000)]
    q = 0.02 * X[:, 0] - 0.1 * X[:, 1] + 0.8
    n_B = rng.binomial(6, (1 + np.tanh(q)) / 2)
    g = fit_naive_coordinate(X, 6 - n_B, n_B, ["phi", "theta"])
    assert g.level is None
    ref = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10000).fit(
        np.r_[X, X], np.r_[np.zeros(3000), np.ones(3000)], sample_weight=np.r_[6 - n_B, n_B])
    np.testing.assert_allclose(g.weights, ref.coef_[0] / 2, rtol=2e-3)
    assert g.intercept == pytest.approx(ref.intercept_[0] / 2, rel=2e-3)
    with pytest.raises(InputError, match="both A and B"):
        fit_naive_coordinate(d, np.zeros(6000), np.full(6000, 3))
    with pytest.raises(InputError, match="one per configuration"):
        fit_naive_coordinate(d[:10], np.ones(9), np.ones(9))
    with pytest.raises(InputError, match=r"want \(n, 1\)"):
        c.predict_proba(np.zeros((3, 2)))


def test_naive_committor_test_is_shot_from_unseen_frames(ala):
    """The naive test shoots fresh trajectories (counts present, the same counts as an
    independent run_committor) from candidates outside the training rows, chosen by the
    naive coordinate's own p_B, and records the coordinate."""
    from mda_rcxai.sampling.validation import NaiveCoordinate, naive_committor_test
    from mda_rcxai.systems import dihedral_degrees

    small = ala.with_states({
        "A": StateDefinition("A", [PHI, PSI], [(-180, -70), (0, 200)]),
        "B": StateDefinition("B", [PHI, PSI], [(50, 100), (-110, 10)])})
    x = _basin_frames()
    phi = dihedral_degrees(x, np.array([PHI]))[:, 0]
    # a flat coordinate puts every frame at p_B ~ 1/2: all are candidates but the excluded
    flat = NaiveCoordinate(("phi",), np.array([1e-4]), 0.0, 0.0, 50, 500.0, -0.69)
    training = [0, 5]
    kw = dict(state_A="A", state_B="B")
    res = naive_committor_test(small, x, phi, flat, n_configurations=4, n_shots=4, seed=5,
                               exclude=training, **kw)
    assert len(res.indices) == 4 and not set(res.indices) & set(training)
    np.testing.assert_array_equal(res.n_A + res.n_B + res.n_undecided, np.full(4, 4))
    ref = run_committor(small, x[res.indices], 4, seed=5, verbose=False, **kw)
    np.testing.assert_array_equal(res.n_A, ref.n_A)
    np.testing.assert_array_equal(res.n_B, ref.n_B)
    np.testing.assert_allclose(res.predicted_p_B, flat.predict_proba(phi[res.indices]))
    assert res.coordinate == flat.to_dict() and res.to_dict()["coordinate"]["names"] == ["phi"]
    # a steep coordinate whose level lies between the two basins: nothing is near it
    steep = NaiveCoordinate(("phi",), np.array([1.0]), 0.0, 0.0, 50, 500.0, -0.3)
    none = naive_committor_test(small, x, phi, steep, **kw)
    assert none.verdict == "inconclusive" and "nothing was shot" in none.reason
    assert none.coordinate["kind"] == "naive"
    with pytest.raises(InputTypeError, match="NaiveCoordinate"):
        naive_committor_test(small, x, phi, {"names": ["phi"]}, **kw)

import numpy as np
import pytest

from mda_rcxai.exceptions import InputError, InputTypeError, StateError
from mda_rcxai.sampling import (beta_for, harvest, initial_path, make_engine,
                                make_randomizer, make_volume, run_tps,
                                snapshot_from_positions, trajectory_positions)


def test_engine_settings(ala):
    engine = make_engine(ala, temperature=300, timestep_fs=2.0,
                         steps_per_frame=10, platform="CPU", threads=1)
    assert engine.n_steps_per_frame == 10
    assert engine.platform == "CPU"
    assert engine.simulation.context.getPlatform().getPropertyValue(
        engine.simulation.context, "Threads") == "1"
    integ = engine.simulation.integrator
    assert integ.getStepSize()._value == pytest.approx(0.002)
    assert integ.getTemperature()._value == pytest.approx(300)
    with pytest.raises(InputError, match="temperature"):
        make_engine(ala, temperature=-1)
    with pytest.raises(InputError, match="platform"):
        make_engine(ala, platform="Abacus")
    with pytest.raises(InputTypeError):
        make_engine("not a system")


def test_random_velocities_temperature(ala):
    """RandomVelocities with our per-particle beta samples 300 K, constrained."""
    engine = make_engine(ala)
    randomize = make_randomizer(engine, 300.0)
    snap = snapshot_from_positions(engine, ala.positions)
    masses = np.array([ala.system.getParticleMass(i)._value
                       for i in range(ala.n_atoms)])
    kin = []
    for _ in range(300):
        v = np.asarray(randomize(snap).velocities._value)
        kin.append(0.5 * np.sum(masses[:, None] * v ** 2))
        # H-bond constraints hold for the velocities (projected)
    x = ala.positions
    for k in range(ala.system.getNumConstraints()):
        i, j, _ = ala.system.getConstraintParameters(k)
        assert abs(np.dot(v[i] - v[j], x[i] - x[j])) < 1e-3
    # 3N - constraints degrees of freedom (centre of mass not removed here)
    ndof = 3 * ala.n_atoms - ala.system.getNumConstraints()
    temp = 2 * np.mean(kin) / (ndof * 0.00831446261815324)
    assert temp == pytest.approx(300, rel=0.05)
    import openmm.unit as u
    kt = (1 / beta_for(300)) * u.AVOGADRO_CONSTANT_NA
    assert kt.value_in_unit(u.kilojoule_per_mole) == pytest.approx(2.4943,
                                                                   abs=1e-3)


def test_volumes(ala):
    engine = make_engine(ala)
    snap = snapshot_from_positions(engine, ala.positions)
    assert make_volume(ala.states["C7eq"])(snap)
    assert not make_volume(ala.states["C7ax"])(snap)


def test_tps_paths_connect_states(ala, tps_result):
    path, result = tps_result
    eq, ax = ala.states["C7eq"], ala.states["C7ax"]
    x = trajectory_positions(path)
    assert eq.contains(x[0])[0] and ax.contains(x[-1])[0]
    assert not (eq.contains(x[1:-1]) | ax.contains(x[1:-1])).any()
    assert result.n_steps == len(result.active_lengths) > 0
    assert 0 < result.acceptance <= 1
    assert result.n_accepted == len(result.accepted_paths)
    assert len(result.path_lengths) == result.n_accepted
    for p in result.accepted_paths:
        x = trajectory_positions(p)
        assert eq.contains(x[0])[0] and ax.contains(x[-1])[0]
        assert not (eq.contains(x[1:-1]) | ax.contains(x[1:-1])).any()
    assert "accepted" in result.summary()
    assert result.frame_time_ps == pytest.approx(0.02)


def test_tps_storage_and_one_way(ala, tps_result, tmp_path):
    import openpathsampling as paths
    path, _ = tps_result
    out = tmp_path / "tps.nc"
    r = run_tps(ala, path, 3, storage=out, seed=1, shooting="one-way",
                verbose=False)
    assert r.n_steps == 3 and out.exists()
    from mda_rcxai.sampling.ops import close_storage
    st = paths.Storage(str(out), "r")
    try:
        assert len(st.steps) >= 3
    finally:
        close_storage(st)


def test_tps_bad_input(ala, tps_result):
    path, _ = tps_result
    with pytest.raises(StateError, match="not defined"):
        run_tps(ala, path, 2, state_B="alphaR", verbose=False)
    with pytest.raises(StateError, match="does not start"):
        run_tps(ala, path, 2, state_A="C7ax", state_B="C7eq", verbose=False)
    with pytest.raises(InputError, match="shooting"):
        run_tps(ala, path, 2, shooting="three-way", verbose=False)
    with pytest.raises(InputError, match="n_steps"):
        run_tps(ala, path, 0, verbose=False)
    with pytest.raises(InputTypeError):
        run_tps(ala, np.zeros((3, 22, 3)), 2, verbose=False)
    with pytest.raises(StateError, match="inside the final state"):
        bad = ala.with_states()
        bad.positions = ala.positions.copy()
        initial_path(bad, state_A="C7ax", state_B="C7eq", verbose=False)


def test_harvest_spread_and_dedup(ala, tps_result):
    path, result = tps_result
    x = harvest(result, 10, seed=0, system=ala)
    assert x.shape == (10, 22, 3)
    # Angstrom: bond C-O of ACE ~ 1.23 A
    assert np.linalg.norm(x[:, 4] - x[:, 5], axis=1) == pytest.approx(
        1.23, abs=0.1)
    flat = {a.tobytes() for a in x}
    assert len(flat) == 10
    nm = x / 10.0
    assert not (ala.states["C7eq"].contains(nm)
                | ala.states["C7ax"].contains(nm)).any()
    # same seed, same picks; another seed, other picks
    assert np.array_equal(x, harvest(result, 10, seed=0, system=ala))
    # duplicated paths do not give duplicated frames
    paths_twice = result.accepted_paths + result.accepted_paths
    with pytest.warns(UserWarning, match="unique"):
        allx = harvest(paths_twice, 10 ** 6, seed=0)
    assert len({a.tobytes() for a in allx}) == len(allx)


def test_harvest_with_predictor(tps_result):
    _, result = tps_result

    def predict(x):  # a fake model: p_B from phi (degrees), Angstrom input
        from mda_rcxai.systems import dihedral_degrees
        phi = dihedral_degrees(x, np.array([[4, 6, 8, 14]]))[:, 0]
        return 1 / (1 + np.exp(-(phi - 0) / 10))

    x = harvest(result, 5, seed=0, predict_p_B=predict, window=(0.2, 0.8))
    p = predict(x)
    assert ((p >= 0.2) & (p <= 0.8)).all()
    with pytest.raises(InputError, match="window"):
        harvest(result, 5, predict_p_B=predict, window=(0.8, 0.2))
    with pytest.raises(InputError, match="shape"):
        harvest(result, 5, predict_p_B=lambda x: np.zeros(3))
    with pytest.raises(InputError, match="n_configurations"):
        harvest(result, 0)


# ----------------------------------------------------------------------
# the fast route runs OPS' move on OPS' ensemble
def test_fast_trials_are_in_ops_ensemble_with_ops_acceptance(ala, tps_result):
    """Every trial the fast route calls valid is in OPS' own TPS ensemble,
    and its acceptance probability is OPS' UniformSelector ratio."""
    import openpathsampling as paths
    from mda_rcxai.sampling.ops import trajectory
    path, _ = tps_result
    r = run_tps(ala, path, 60, seed=4, verbose=False, keep_trials=True,
                method="fast")
    engine = make_engine(ala)
    vol_A, vol_B = (make_volume(ala.states[n]) for n in ("C7eq", "C7ax"))
    ensemble = paths.TPSNetwork(vol_A, vol_B).sampling_ensembles[0]
    selector = paths.UniformSelector()
    current = trajectory_positions(path)
    n_valid = 0
    for trial in r.extra["trials"][0]:
        assert 1 <= trial["shooting_index"] <= len(current) - 2
        if trial["in_ensemble"]:
            n_valid += 1
            tx = np.array(trial["trial_x"])
            traj = trajectory(engine, tx, np.zeros_like(tx))
            assert ensemble(traj)
            old = trajectory(engine, current, np.zeros_like(current))
            i = trial["shooting_index"]
            ratio = selector.probability_ratio(old[i], old, traj,
                                               new_snapshot=traj[1])
            assert trial["p_accept"] == pytest.approx(min(1.0, ratio))
            if trial["accepted"]:
                current = tx
        else:
            assert not trial["accepted"]
    assert n_valid > 0
    np.testing.assert_array_equal(trajectory_positions(r.final_path), current)


def test_fast_route_matches_ops_statistics(ala, tps_result):
    """Acceptance and accepted path lengths of ours and of OPS' PathSampling
    agree within statistical error (same system, same initial path)."""
    path, _ = tps_result
    ours = run_tps(ala, path, 600, seed=7, verbose=False, method="fast")
    ops = run_tps(ala, path, 150, seed=7, verbose=False, method="ops")
    assert (ours.extra["method"], ops.extra["method"]) == ("fast", "ops")
    p1, n1, p2, n2 = ours.acceptance, ours.n_steps, ops.acceptance, ops.n_steps
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    assert abs(z) < 4, (p1, p2, z)
    a, b = ours.path_lengths, ops.path_lengths
    assert len(a) > 5 and len(b) > 3
    t = (a.mean() - b.mean()) / np.sqrt(a.var(ddof=1) / len(a)
                                         + b.var(ddof=1) / len(b))
    assert abs(t) < 4, (a.mean(), b.mean(), t)


def test_chains_and_platform(ala, tps_result):
    path, _ = tps_result
    one = run_tps(ala, path, 20, seed=3, verbose=False, method="fast")
    two = run_tps(ala, path, 40, seed=3, verbose=False, n_chains=2,
                  n_workers=1)
    assert two.n_steps == 40 and two.extra["moves_per_chain"] == [20, 20]
    # chain 0 is the single chain of the same seed; chain 1 is another one
    np.testing.assert_array_equal(two.extra["accepted"][:20],
                                  one.extra["accepted"])
    c = two.extra["chain_of_path"]
    assert len(c) == two.n_accepted and np.all(np.diff(c) >= 0)
    x0 = trajectory_positions(path)
    assert np.all([trajectory_positions(p).shape[1:] == x0.shape[1:]
                   for p in two.accepted_paths])
    # a platform this OpenMM lacks: one line naming the ones it has
    with pytest.raises(InputError, match=r"platform='Abacus' is not available;"
                       r" this OpenMM has \[.*Reference"):
        run_tps(ala, path, 2, verbose=False, platform="Abacus")
    with pytest.raises(InputError, match=r"platform='Abacus' is not available"):
        initial_path(ala, verbose=False, platform="Abacus")
    with pytest.raises(InputError, match="n_chains"):
        run_tps(ala, path, 2, verbose=False, n_chains=3)
    with pytest.raises(InputError, match="method"):
        run_tps(ala, path, 2, verbose=False, method="magic")


def test_tps_leaves_global_rng_alone(ala, tps_result):
    import random
    path, _ = tps_result
    np.random.seed(123)
    random.seed(123)
    want = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    run_tps(ala, path, 3, seed=1, verbose=False, method="ops")
    run_tps(ala, path, 3, seed=1, verbose=False)
    assert (np.random.random(), random.random()) == want


def test_fast_state_test_agrees_with_state_definitions(ala):
    """The core's state test (single frame, pure Python; and batched) vs
    StateDefinition.contains (numpy), on frames of the bundled trajectory,
    also with atoms moved by box vectors (a molecule split across a periodic
    boundary); a NaN frame is in no state."""
    import MDAnalysis as mda
    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.sampling.core import StateTest
    u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    x = np.array([ts.positions / 10.0 for ts in u.trajectory[::5]])
    A, B = ala.states["C7eq"], ala.states["C7ax"]
    want = np.where(A.contains(x), 1, np.where(B.contains(x), 2, 0))
    assert set(want) == {0, 1, 2}
    test = StateTest(A, B)
    assert [test(f) for f in x] == want.tolist()
    assert test.codes(x).tolist() == want.tolist()
    assert test(np.full_like(x[0], np.nan)) == 0
    box = np.array([[2.0, 0, 0], [0.4, 2.2, 0], [-0.3, 0.5, 2.5]])
    rng = np.random.default_rng(0)
    shifted = x + (rng.integers(-1, 2, size=x.shape[:2] + (3,))[..., None]
                   * box).sum(axis=-2)
    want_box = np.where(A.contains(shifted, box=box), 1,
                        np.where(B.contains(shifted, box=box), 2, 0))
    np.testing.assert_array_equal(want_box, want)
    test_box = StateTest(A, B, box)
    assert [test_box(f) for f in shifted] == want.tolist()
    assert test_box.codes(shifted).tolist() == want.tolist()


def test_fast_route_writes_ops_storage(ala, tps_result, tmp_path):
    """storage= with the fast route: accepted paths and the final path as
    OPS trajectories in an OPS netCDF file that OPS reads back."""
    import openpathsampling as paths
    from mda_rcxai.sampling.ops import close_storage
    path, _ = tps_result
    out = tmp_path / "tps.nc"
    r = run_tps(ala, path, 30, storage=out, seed=2, verbose=False,
                method="fast")
    assert r.extra["method"] == "fast" and r.n_accepted > 0
    st = paths.Storage(str(out), "r")
    try:
        assert len(st.trajectories) >= r.n_accepted
        stored = [trajectory_positions(st.trajectories[i])
                  for i in range(r.n_accepted)]
        final = trajectory_positions(st.tag["final_path"])
    finally:
        close_storage(st)
    for a, b in zip(stored, r.accepted_paths):
        np.testing.assert_allclose(a, trajectory_positions(b), atol=1e-6)
    np.testing.assert_allclose(final, trajectory_positions(r.final_path),
                               atol=1e-6)
    assert not list(tmp_path.glob(".*tmp"))

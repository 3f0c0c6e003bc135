"""The dynamics core: settings, platform choice, the one loop, and replays
against OpenPathSampling itself (same velocities, same frames)."""

import numpy as np
import pytest

from mda_rcxai.exceptions import InputError, SamplingError
from mda_rcxai.sampling import make_engine, make_volume, trajectory_positions
from mda_rcxai.sampling.core import (KB_KJ_PER_MOL_K, EngineSettings,
                                     OneMolecule, StateTest, as_settings,
                                     choose_platform, create_context,
                                     make_integrator, maxwell_boltzmann,
                                     platform_names, run_until_state,
                                     start_trajectory, velocity_sigma)
from mda_rcxai.sampling.ops import snapshot_from_positions
from mda_rcxai.sampling.replicas import ReplicaBatch
from mda_rcxai.sampling.shooting import Shooter
from mda_rcxai.sampling.tps_fast import TPSChain

# friction 0: LangevinMiddle without noise, deterministic on Reference
REPLAY = EngineSettings(friction_per_ps=0.0, platform="Reference",
                        n_frames_max=400)


def test_settings_are_checked_and_frozen():
    s = EngineSettings()
    with pytest.raises(Exception):
        s.temperature = 10           # frozen
    for bad, word in ((dict(temperature=-1), "temperature"),
                      (dict(steps_per_frame=0), "steps_per_frame"),
                      (dict(n_frames_max=1.5), "n_frames_max"),
                      (dict(integrator="verlet"), "integrator"),
                      (dict(friction_per_ps=-1), "friction")):
        with pytest.raises(InputError, match=word):
            EngineSettings(**bad)
    assert EngineSettings.from_dict(s.to_dict()) == s
    with pytest.raises(InputError, match="unknown engine setting"):
        as_settings(s, temprature=3)
    # kB from openmm.unit equals CODATA R / 1000 (kJ/mol/K)
    assert KB_KJ_PER_MOL_K == pytest.approx(8.314462618e-3, rel=1e-9)


def test_max_frames_is_the_deprecated_name_of_n_frames_max():
    """as_settings folds the old keyword for every public sampling function: the same
    settings as n_frames_max=, with a DeprecationWarning naming the new keyword."""
    base = EngineSettings(steps_per_frame=5)
    with pytest.warns(DeprecationWarning, match="use n_frames_max="):
        old = as_settings(base, max_frames=99, temperature=310)
    assert old == as_settings(base, n_frames_max=99, temperature=310)
    assert old.n_frames_max == 99 and old != base
    with pytest.raises(InputError, match="give n_frames_max only"):
        as_settings(base, max_frames=99, n_frames_max=98)


def test_platform_is_chosen_by_measurement(ala):
    c = choose_platform(ala.system, EngineSettings(), ala.positions,
                        seconds=0.05, max_threads=2)
    names = platform_names()
    cands = {"Reference"} | ({"CPU/1", "CPU/2"} if "CPU" in names else set())
    assert cands <= set(c.steps_per_s)
    # the choice is the fastest measured candidate, named in the reason
    assert c.label == max(c.steps_per_s, key=c.steps_per_s.get)
    assert c.label in c.reason and "measured" in c.reason
    # an explicit platform is honoured without measuring
    ref = choose_platform(ala.system, EngineSettings(platform="Reference"),
                          ala.positions)
    assert (ref.platform, ref.steps_per_s) == ("Reference", {})
    missing = [p for p in ("CUDA", "OpenCL", "HIP") if p not in names]
    if missing:  # (on a machine with all three there is nothing to miss)
        with pytest.raises(InputError, match=rf"platform='{missing[0]}' is "
                           r"not available; this OpenMM has \["):
            choose_platform(ala.system, EngineSettings(platform=missing[0]),
                            ala.positions)
    # the OPS engine runs where the measurement says
    engine = make_engine(ala, platform="auto")
    assert engine.mda_rcxai_platform.label in engine.mda_rcxai_platform.steps_per_s
    assert engine.platform == engine.mda_rcxai_platform.platform


def test_run_until_state_single_and_batched(ala):
    test = StateTest(ala.states["C7eq"], ala.states["C7ax"])
    ctx = create_context(ala.system, make_integrator(REPLAY, 1), "Reference")
    one = OneMolecule(ctx, 10, record=True)
    v = maxwell_boltzmann(np.random.default_rng(0),
                          velocity_sigma(ala.system, 300))
    one.start(*start_trajectory(ctx, ala.positions, v))
    # a state test that never fires: the trajectory runs out at 5 frames
    slots, codes = next(run_until_state(one, lambda x: 0, 5))
    assert codes.tolist() == [-1] and len(one.xs) == 5 == one.frames[0]
    assert not one.active.any()
    # NaN positions are reported, not counted as a state

    class Blowup:
        n_replicas = 1
        active = np.ones(1, bool)
        frames = np.ones(1, int)

        def advance(self):
            self.frames += 1
            return np.full((1, 22, 3), np.nan)
    with pytest.raises(SamplingError, match="NaN"):
        next(run_until_state(Blowup(), test, 3))
    # a batch: every replica is reported once, the loop ends when none runs
    batch = ReplicaBatch(ala, 3, REPLAY, "Reference")
    batch.start([0, 1, 2], [ala.positions] * 3,
                [np.random.default_rng(k) for k in range(3)])
    seen = []
    for slots, codes in run_until_state(batch, test, 4):
        seen += list(zip(slots.tolist(), codes.tolist()))
    assert sorted(s for s, _ in seen) == [0, 1, 2]
    assert all(c in (1, 2, -1) for _, c in seen)


def _ops_trial(engine, vols, path, idx, x0, v0, forward_first):
    """OPS' own two-way shooting mover from the same point and velocities."""
    import openpathsampling as paths
    ensemble = paths.TPSNetwork(*vols).sampling_ensembles[0]
    cls = (paths.pathmover.ForwardFirstTwoWayShootingMover if forward_first
           else paths.pathmover.BackwardFirstTwoWayShootingMover)
    modified = snapshot_from_positions(engine, x0, v0)
    mover = cls(ensemble=ensemble, selector=paths.UniformSelector(),
                modifier=lambda snap: modified, engine=engine)
    trial, _ = mover._run(path, idx)
    return trajectory_positions(trial), ensemble(trial)


def test_fast_tps_trials_replay_ops_two_way_shooting(ala, tps_result):
    """Same shooting point and velocities, deterministic dynamics: the fast
    route's trial (accepted and rejected) equals OPS' TwoWayShootingMover's,
    frame by frame, with the same stopping frames."""
    from mda_rcxai.sampling.ops import trajectory
    path, _ = tps_result
    engine = make_engine(ala, REPLAY)
    vols = [make_volume(ala.states[n]) for n in ("C7eq", "C7ax")]
    chain = TPSChain(ala, ala.states["C7eq"], ala.states["C7ax"], REPLAY,
                     seed=3)
    px = list(trajectory_positions(path))
    pv = [np.asarray(s.velocities._value) for s in path]
    kinds = set()
    for _ in range(40):
        res = chain.move(px, pv)
        ops_path = trajectory(engine, px, pv)
        ops_x, ops_ok = _ops_trial(engine, vols, ops_path,
                                   res["shooting_index"], res["x0"],
                                   res["v0"], res["forward_first"])
        assert ops_ok == res["in_ensemble"]
        if res["in_ensemble"]:
            np.testing.assert_allclose(np.array(res["trial_x"]), ops_x,
                                       rtol=0, atol=1e-9)
            kinds.add("in ensemble")
        else:
            # the half that ran first ends in the wrong state (or too late);
            # OPS' trial holds it frame by frame
            first = res["forward_x"] if res["forward_first"] \
                else res["backward_x"]
            first = np.array(first)
            part = ops_x[-len(first):] if res["forward_first"] \
                else ops_x[:len(first)][::-1]
            np.testing.assert_allclose(part, first, rtol=0, atol=1e-9)
            kinds.add("rejected")
        if res["accepted"]:
            px, pv = res["trial_x"], res["trial_v"]
        if kinds == {"in ensemble", "rejected"}:
            break
    assert kinds == {"in ensemble", "rejected"}


def test_lean_shot_replays_ops_engine(ala, tps_result):
    """A lean committor shot and OPS' engine from the same snapshot, with
    Langevin noise seeded alike (Reference): the same frames and the same
    stopping frame."""
    path, _ = tps_result
    settings = EngineSettings(platform="Reference", n_frames_max=300)
    x = trajectory_positions(path)[len(path) // 2]
    sh = Shooter(ala, settings, ala.states["C7eq"], ala.states["C7ax"])
    sh.one.record = True
    sh.context.getIntegrator().setRandomNumberSeed(17)
    sh.context.reinitialize()
    v = maxwell_boltzmann(np.random.default_rng(5), sh.sigma)
    x0, v0 = start_trajectory(sh.context, x, v)
    sh.one.start(x0, v0)
    _, codes = next(run_until_state(sh.one, sh.test, 300))
    ours = np.array(sh.one.xs)
    engine = make_engine(ala, settings, seed=17)
    vols = [make_volume(ala.states[n]) for n in ("C7eq", "C7ax")]
    snap = snapshot_from_positions(engine, x0, v0)
    traj = engine.generate(snap, running=[
        lambda t, trusted=False: len(t) < 2 or not (vols[0](t[-1])
                                                    or vols[1](t[-1]))])
    theirs = trajectory_positions(traj)
    assert codes[0] in (1, 2) and len(theirs) == len(ours)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    assert vols[codes[0] - 1](traj[-1])


def test_batched_replica_replays_ops_engine(ala, tps_result):
    """Deterministic dynamics (friction 0): a replica of the batched engine
    (CustomIntegrator on the replica System) follows OPS' engine
    (LangevinMiddleIntegrator on the molecule) to 1e-5 nm over 30 frames.

    The molecule's System has a CMMotionRemover, which the replica System
    drops (it would act on all copies together): the velocities start with
    no centre-of-mass motion, so it has nothing to remove.
    """
    path, _ = tps_result
    x = trajectory_positions(path)[len(path) // 2]
    engine = make_engine(ala, REPLAY)
    ctx = engine.simulation.context
    v = maxwell_boltzmann(np.random.default_rng(2),
                          velocity_sigma(ala.system, 300))
    m = np.array([ala.system.getParticleMass(a)._value
                  for a in range(ala.n_atoms)])[:, None]
    v -= (m * v).sum(axis=0) / m.sum()
    x0, v0 = start_trajectory(ctx, x, v)
    traj = engine.generate(snapshot_from_positions(engine, x0, v0),
                           running=[lambda t, trusted=False: len(t) < 31])
    theirs = trajectory_positions(traj)
    batch = ReplicaBatch(ala, 2, REPLAY, "Reference")
    batch.context.setPositions(np.concatenate([x0, x0]))
    batch.context.setVelocities(np.concatenate([v0, v0]))
    batch.active[:] = True
    ours = [x0] + [batch.advance()[1].copy() for _ in range(30)]
    np.testing.assert_allclose(np.array(ours), theirs, rtol=0, atol=1e-5)


def test_batched_integrator_keeps_the_temperature(ala):
    """Under dynamics the per-shot-noise integrator holds T: the mean kinetic
    temperature of 64 replicas over 4 ps, after 2 ps to equilibrate, is
    within 15 K of T = 350 K. Per replica and frame the sd is
    T sqrt(2/dof) = 67 K; kinetic energy decorrelates in ~0.5 ps at
    friction 1/ps, so ~64 x 8 independent samples give a standard error of
    ~3 K (15 K is 5 of them; a noise scale 5 % off moves T by 10 %, 35 K).
    Measured: 346.6 K (OpenMM's native LangevinMiddle on the same replica
    System, same protocol: 351.0 K)."""
    T = 350.0
    K = 64
    batch = ReplicaBatch(ala, K, EngineSettings(temperature=T), "Reference")
    batch.start(range(K), [ala.positions] * K,
                [np.random.default_rng(100 + k) for k in range(K)])
    masses = np.array([ala.system.getParticleMass(a)._value
                       for a in range(ala.n_atoms)])
    dof = 3 * ala.n_atoms - ala.system.getNumConstraints()
    temps = []
    for frame in range(300):            # 6 ps in frames of 0.02 ps
        batch.advance()
        if frame >= 100:
            v = batch.velocities()
            ke = 0.5 * np.sum(masses[None, :, None] * v ** 2, axis=(1, 2))
            temps.append(2 * ke / (dof * KB_KJ_PER_MOL_K))
    t_mean = float(np.mean(temps))
    assert abs(t_mean - T) < 15.0, t_mean


def test_ops_tps_route_resumes_from_its_storage(ala, tps_result, tmp_path):
    """method='ops' with storage: a second call with more moves continues the
    stored OPS simulation (restart_at_step) instead of starting again; the
    accepted paths and flags come from OPS' stored steps and connect the
    states."""
    from mda_rcxai.sampling import run_tps
    path, _ = tps_result
    nc = tmp_path / "tps_ops.nc"
    first = run_tps(ala, path, 4, storage=nc, seed=3, method="ops",
                    verbose=False, platform="Reference")
    assert first.extra["resumed_from"] == 0 and first.n_steps == 4
    again = run_tps(ala, path, 7, storage=nc, seed=3, method="ops",
                    verbose=False, platform="Reference")
    assert again.extra["resumed_from"] == 4 and again.n_steps == 7
    # the first four moves are the stored ones, not run again
    np.testing.assert_array_equal(again.extra["accepted"][:4],
                                  first.extra["accepted"])
    eq, ax = ala.states["C7eq"], ala.states["C7ax"]
    for p in again.accepted_paths:
        x = trajectory_positions(p)
        assert eq.contains(x[0])[0] and ax.contains(x[-1])[0]
    # a damaged storage is named, with the way out
    nc.write_bytes(b"not netCDF")
    with pytest.raises(InputError, match="cannot be resumed.*delete it"):
        run_tps(ala, path, 8, storage=nc, seed=3, method="ops",
                verbose=False, platform="Reference")


def test_randomizer_draws_what_ops_randomvelocities_draws():
    """make_randomizer's numpy draw equals OPS' per-atom RandomVelocities loop.

    A TIP3P water box (the case it speeds up) and alanine dipeptide in vacuum,
    with constraints: the same np.random state gives the same constrained
    velocities (to rounding), and the Maxwell-Boltzmann width is right.
    """
    import openpathsampling as paths

    from mda_rcxai.sampling.ops import beta_for, make_randomizer
    from mda_rcxai.systems import alanine_dipeptide, alanine_dipeptide_water

    for system in (alanine_dipeptide(), alanine_dipeptide_water()):
        engine = make_engine(system, platform="Reference" if not system.periodic
                             else "CPU")
        snap = snapshot_from_positions(engine, system.positions)
        ours = make_randomizer(engine, 300.0)
        theirs = paths.RandomVelocities(beta=beta_for(300.0), engine=engine)
        assert type(ours) is not paths.RandomVelocities
        np.random.seed(7)
        a = np.asarray(ours(snap).velocities._value)
        after_a = np.random.random()
        np.random.seed(7)
        b = np.asarray(theirs(snap).velocities._value)
        after_b = np.random.random()
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        assert after_a == after_b          # the same numbers were consumed
        if system.periodic:                # 985 atoms: the kinetic temperature
            m = np.array([system.system.getParticleMass(i)._value
                          for i in range(system.n_atoms)])
            dof = 3 * system.n_atoms - system.system.getNumConstraints()
            t = (m[:, None] * a ** 2).sum() / (dof * KB_KJ_PER_MOL_K)
            assert abs(t - 300.0) < 5 * 300.0 * np.sqrt(2 / dof)

import functools
import textwrap

import numpy as np
import pytest

from mda_rcxai.exceptions import DatasetError, InputError, StateError
from mda_rcxai.sampling import CommittorDataset, harvest
from mda_rcxai.sampling import run_committor as _run_committor
from mda_rcxai.systems import PHI, PSI, StateDefinition
from mda_rcxai.tests.sampling.killing import kill_after_configurations


# these tests are about the lean (per-configuration) route unless they say
run_committor = functools.partial(_run_committor, method="lean")


@pytest.fixture(scope="module")
def configs(ala, tps_result):
    _, result = tps_result
    return harvest(result, 8, seed=0, system=ala)


def _basin_frames():
    """DCD frames in the basins but outside the (shrunk) test states, Angstrom."""
    import MDAnalysis as mda
    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.systems import dihedral_degrees
    u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    x = np.array([u.atoms.positions.copy() for _ in u.trajectory])
    phi = dihedral_degrees(x, np.array([PHI]))[:, 0]
    eq = np.flatnonzero((phi[:500] > -70) & (phi[:500] < -55))[:3]
    ax = 500 + np.flatnonzero((phi[500:] > 40) & (phi[500:] < 50))[:3]
    return x[eq], x[ax]


def test_deep_basins_commit(ala):
    """Basin configurations: p_B = 0 in C7eq and 1 in C7ax over all shots."""
    small = ala.with_states({
        "A": StateDefinition("A", [PHI, PSI], [(-180, -70), (0, 200)]),
        "B": StateDefinition("B", [PHI, PSI], [(50, 100), (-110, 10)])})
    eq, ax = _basin_frames()
    assert len(eq) == 3 and len(ax) == 3
    ds = run_committor(small, np.concatenate([eq, ax]), 5, seed=0,
                       state_A="A", state_B="B", verbose=False)
    assert ds.n_B[:3].tolist() == [0, 0, 0] and ds.n_A[:3].tolist() == [5] * 3
    assert ds.n_A[3:].tolist() == [0, 0, 0] and ds.n_B[3:].tolist() == [5] * 3
    assert ds.p_B.tolist() == [0, 0, 0, 1, 1, 1]


def test_end_to_end_dataset(ala, configs, tmp_path):
    out = tmp_path / "shots.npz"
    ds = run_committor(ala, configs, 4, out=out, seed=1, verbose=False)
    assert len(ds) == 8 and ds.complete
    assert np.all(ds.n_A + ds.n_B + ds.n_undecided == 4)
    assert np.allclose(ds.positions, configs)
    assert np.all((ds.p_B >= 0) & (ds.p_B <= 1))
    m = ds.metadata
    assert m["temperature"] == 300.0 and m["force_field"] == "amber99sb"
    assert m["states"] == ["C7eq", "C7ax"] and m["seed"] == 1
    assert m["versions"]["openpathsampling"] == "1.7.0"
    back = CommittorDataset.load(out)
    assert np.array_equal(back.n_B, ds.n_B) and back.metadata == ds.metadata
    # same seed, same counts; global random state untouched by the shots
    import random
    np.random.seed(123)
    random.seed(123)
    before = (np.random.get_state()[1].copy(), random.getstate())
    again = run_committor(ala, configs, 4, seed=1, verbose=False)
    assert np.random.get_state()[1].tolist() == before[0].tolist()
    assert random.getstate() == before[1]
    assert np.array_equal(again.n_A, ds.n_A)
    assert np.array_equal(again.n_B, ds.n_B)
    assert np.array_equal(again.n_undecided, ds.n_undecided)
    # a configuration's counts depend on (seed, its index), not on the rest
    part = run_committor(ala, configs[:3], 4, seed=1, verbose=False)
    assert np.array_equal(part.n_B, ds.n_B[:3])
    assert np.array_equal(part.n_A, ds.n_A[:3])
    assert ds.metadata["method"]["name"] == "lean"
    assert ds.box is None and ds.to_universe().dimensions is None
    u = ds.to_universe()
    assert len(u.atoms) == 22 and len(u.bonds) == 21
    assert len(u.trajectory) == 8
    assert u.atoms.names[0] == "HH31" and u.residues.resnames.tolist() == [
        "ACE", "ALA", "NME"]
    u.trajectory[3]
    assert np.allclose(u.atoms.positions, configs[3], atol=1e-4)
    from MDAnalysis.analysis.dihedrals import Dihedral
    ang = Dihedral([u.atoms[list(PHI)]]).run().results.angles[:, 0]
    ref = ala.states["C7eq"].values(configs / 10)[:, 0]
    assert np.allclose(ang, ref, atol=1e-2)
    both = CommittorDataset.concatenate([ds, back])
    assert len(both) == 16


def test_serial_and_dask_agree(ala, configs):
    from dask.distributed import Client, LocalCluster
    serial = run_committor(ala, configs, 4, seed=7, verbose=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        par = run_committor(ala, configs, 4, seed=7, client=client,
                            verbose=False, chunk_size=1)
    # each configuration has its own seeds: the counts are the same
    assert np.array_equal(serial.n_A, par.n_A)
    assert np.array_equal(serial.n_B, par.n_B)
    assert abs(serial.p_B.mean() - par.p_B.mean()) < 1e-12


def test_ops_route_on_dask_workers_equals_serial(ala, configs, tmp_path):
    """OPS' CommittorSimulation in Dask worker threads (where OPS may not
    install its SIGINT handler) gives the counts of the same route in this
    process, configuration by configuration (seeds from (seed, i))."""
    from dask.distributed import Client, LocalCluster
    serial = run_committor(ala, configs[:3], 3, seed=5, verbose=False,
                           method="ops", out=tmp_path / "s.npz")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        par = run_committor(ala, configs[:3], 3, seed=5, client=client,
                            verbose=False, chunk_size=1, method="ops",
                            out=tmp_path / "p.npz")
    assert par.complete and np.all(par.n_A + par.n_B + par.n_undecided == 3)
    assert np.array_equal(serial.n_A, par.n_A)
    assert np.array_equal(serial.n_B, par.n_B)
    # no OPS file kept unless storage= asks for it (~85 MB each)
    assert not list((tmp_path / "p_ops").glob("*.nc"))


def test_bad_input(ala, configs, tmp_path):
    with pytest.raises(StateError, match="not defined"):
        run_committor(ala, configs, 2, state_B="alphaR", verbose=False)
    overlapping = ala.with_states()
    overlapping.states["X"] = StateDefinition("X", [PHI], [(-60, 0)])
    with pytest.raises(StateError, match="overlap"):
        run_committor(overlapping, configs, 2, state_B="X", verbose=False)
    inside = configs.copy()
    inside[2] = ala.positions * 10
    with pytest.raises(StateError, match=r"\[2\].*inside state"):
        run_committor(ala, inside, 2, verbose=False)
    with pytest.raises(InputError, match="n_shots"):
        run_committor(ala, configs, 0, verbose=False)
    with pytest.raises(InputError, match="shape"):
        run_committor(ala, configs[:, :5], 2, verbose=False)
    notds = tmp_path / "not.npz"
    np.savez(notds, a=np.zeros(3))
    with pytest.raises(DatasetError, match="not a CommittorDataset"):
        CommittorDataset.load(notds)
    with pytest.raises(DatasetError, match="not a CommittorDataset"):
        run_committor(ala, configs, 2, out=notds, verbose=False)
    txt = tmp_path / "x.npz"
    txt.write_text("hello")
    # named as what it is, not as numpy's "pickled data"
    with pytest.raises(DatasetError, match=r"not an \.npz archive\); pass the "
                       r"\.npz") as err:
        CommittorDataset.load(txt)
    assert "pickle" not in str(err.value)
    with pytest.raises(DatasetError, match="no such"):
        CommittorDataset.load(tmp_path / "missing.npz")


def test_mismatched_resume_refused(ala, configs, tmp_path):
    from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.systems import from_pdb_and_forcefield
    out = tmp_path / "run.npz"
    run_committor(ala, configs[:2], 1, out=out, seed=0, verbose=False)
    with pytest.raises(DatasetError, match="n_shots"):
        run_committor(ala, configs[:2], 2, out=out, seed=0, verbose=False)
    with pytest.raises(DatasetError, match="seed"):
        run_committor(ala, configs[:2], 1, out=out, seed=5, verbose=False)
    other = from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB, "amber99sb.xml",
                                    states=ala.states, constraints=None)
    with pytest.raises(DatasetError, match="system_fingerprint"):
        run_committor(other, configs[:2], 1, out=out, seed=0, verbose=False)
    ds = CommittorDataset.load(out)
    ds2 = CommittorDataset(ds.positions, ds.n_A, ds.n_B, ds.topology,
                           dict(ds.metadata, system_fingerprint="other"))
    with pytest.raises(DatasetError, match="system_fingerprint"):
        CommittorDataset.concatenate([ds, ds2])


_CHILD = textwrap.dedent("""
    import sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from mda_rcxai.systems import alanine_dipeptide
    from mda_rcxai.sampling import run_committor
    x = np.load(sys.argv[1])
    run_committor(alanine_dipeptide(), x, 3, out=sys.argv[2], seed=11,
                  verbose=False, method="lean")
""")


def test_resume_after_sigkill(ala, tps_result, tmp_path):
    _, result = tps_result
    x = harvest(result, 16, seed=2, system=ala)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "resume.npz"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    partial = kill_after_configurations(script, [tmp_path / "x.npy", out], out)
    k = int(partial.done.sum())
    assert 0 < k < len(x), "the child finished before it could be killed"
    assert np.all(partial.n_A[~partial.done] + partial.n_B[~partial.done] == 0)
    resumed = run_committor(ala, x, 3, out=out, seed=11, verbose=False)
    assert resumed.complete
    # every configuration counted exactly once: 3 shots each
    assert np.all(resumed.n_A + resumed.n_B + resumed.n_undecided == 3)
    # the finished ones were kept, not redone
    assert np.array_equal(resumed.n_B[partial.done], partial.n_B[partial.done])
    # and the result equals an uninterrupted run with the same arguments
    straight = run_committor(ala, x, 3, seed=11, verbose=False)
    assert np.array_equal(straight.n_B, resumed.n_B)
    assert np.array_equal(straight.n_A, resumed.n_A)
    assert not any(".tmp" in p.name for p in tmp_path.iterdir())


def test_ops_committor_simulation_route(ala, configs, tmp_path):
    """method='ops': OPS' CommittorSimulation + storage, read back with
    from_ops_storage (ShootingPointAnalysis)."""
    import random

    import openpathsampling as paths
    nc = tmp_path / "ops"
    before = (np.random.get_state()[1].copy(), random.getstate())
    default_engine = paths.EngineMover.default_engine
    ds = run_committor(ala, configs[:2], 2, seed=0, method="ops",
                       storage=nc, verbose=False)
    # OPS draws from the global generators: seeded for the run, then restored
    assert np.array_equal(np.random.get_state()[1], before[0])
    assert random.getstate() == before[1]
    assert paths.EngineMover.default_engine is default_engine
    assert nc.exists() and len(ds) == 2
    assert np.all(ds.n_A + ds.n_B + ds.n_undecided == 2)
    files = sorted(nc.glob("ops_*.nc"))
    assert len(files) == 1   # one chunk, renamed when complete
    again = CommittorDataset.from_ops_storage(files[0], ala)
    # OPS' own analysis of the stored file sees the shots we counted
    assert again.n_A.sum() == ds.n_A.sum() and again.n_B.sum() == ds.n_B.sum()
    assert ds.n_A.sum() + ds.n_B.sum() == 4
    assert again.topology["names"][0] == "HH31"


def test_choose_method_routes(ala):
    from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.sampling import choose_method
    from mda_rcxai.systems import from_pdb_and_forcefield
    # vacuum: batched or lean by the measured replica-steps/s of each
    from mda_rcxai.sampling.committor import BATCH_ADVANTAGE, measure_routes
    one, many = measure_routes(ala)
    method, reason = choose_method(ala)
    assert method == ("batched" if many.best_steps_per_s
                      >= BATCH_ADVANTAGE * one.best_steps_per_s else "lean")
    assert f"{one.best_steps_per_s:,.0f} steps/s on {one.label}" in reason
    gb = from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB,
                                 ["amber14-all.xml", "implicit/obc2.xml"])
    method, reason = choose_method(gb)
    assert method == "lean" and "CustomGBForce" in reason
    assert choose_method(gb, "lean") == ("lean", 'requested (method="lean")')
    with pytest.raises(InputError, match="CustomGBForce"):
        choose_method(gb, "batched")
    with pytest.raises(InputError, match="method='fast'"):
        choose_method(ala, "fast")


def test_lean_velocities_have_the_temperature(ala):
    """The lean route's numpy Maxwell-Boltzmann draw, after the velocity
    constraints, has kinetic temperature T (equipartition over 3N - n_c
    degrees of freedom)."""
    from mda_rcxai.sampling.core import EngineSettings, maxwell_boltzmann, start_trajectory
    from mda_rcxai.sampling.shooting import Shooter
    settings = EngineSettings(temperature=350.0, platform="Reference")
    b = Shooter(ala, settings, ala.states["C7eq"], ala.states["C7ax"])
    rng = np.random.default_rng(0)
    dof = 3 * ala.n_atoms - ala.system.getNumConstraints()
    R = 0.00831446261815324  # kJ/mol/K, written out: an independent value
    temps = []
    for _ in range(300):
        start_trajectory(b.context, ala.positions, maxwell_boltzmann(rng, b.sigma))
        ke = b.context.getState(getEnergy=True).getKineticEnergy()._value
        temps.append(2 * ke / (dof * R))
    # one draw scatters by T sqrt(2 / dof) ~ 67 K; the mean of 300 by ~4 K
    assert np.mean(temps) == pytest.approx(350.0, abs=15.0)
    assert np.std(temps) == pytest.approx(350.0 * np.sqrt(2 / dof), rel=0.25)


def test_stale_temporary_of_a_killed_save_is_removed(ala, tmp_path):
    """A SIGKILL between writing the temporary file and the rename leaves
    ``.tmp_<name>.*.npz``; the next run on the same out removes it (and
    only it)."""
    from mda_rcxai.tests.sampling.test_committor import _basin_frames
    eq, _ = _basin_frames()
    small = ala.with_states({
        "A": StateDefinition("A", [PHI, PSI], [(-180, -70), (0, 200)]),
        "B": StateDefinition("B", [PHI, PSI], [(50, 100), (-110, 10)])})
    out = tmp_path / "run.npz"
    stale = tmp_path / ".run.4242-abcd1234.tmp.npz"   # atomic_write's name
    stale.write_bytes(b"half a file")
    other = tmp_path / ".other.4242-abcd1234.tmp.npz"
    other.write_bytes(b"someone else's")
    run_committor(small, eq[:1], 1, out=out, seed=0, state_A="A",
                  state_B="B", verbose=False)
    assert not stale.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.4242-abcd1234.tmp.npz", "run.npz"]

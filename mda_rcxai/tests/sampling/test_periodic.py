"""A periodic TIP3P box through committor shooting.

Alanine dipeptide solvated with OpenMM's Modeller in the test (amber14 +
TIP3P, 2.2 nm box, PME 0.9 nm; no downloaded files), written to a PDB and
loaded back like a user's files; states from MDAnalysis selections; a few
short shots through ``run_committor`` (lean route, one worker).
"""

import MDAnalysis as mda
import numpy as np
import openmm
import pytest
from MDAnalysis.lib.distances import distance_array

from mda_rcxai.exceptions import InputError
from mda_rcxai.sampling import (CommittorDataset, box_dimensions, choose_method,
                                make_engine, make_volume, run_committor,
                                snapshot_from_positions, universe_from_system)
from mda_rcxai.systems import (alanine_dipeptide_in_water, dihedral_degrees,
                               states_from_selections, PHI, PSI)

PHI_SEL = ["resname ACE and name C", "resname ALA and name N",
           "resname ALA and name CA", "resname ALA and name C"]
PSI_SEL = ["resname ALA and name N", "resname ALA and name CA",
           "resname ALA and name C", "resname NME and name N"]
SPEC = {  # MDAnalysis units: degrees
    "PII": {"phi": {"atoms": PHI_SEL, "range": [-180, -30]},
            "psi": {"atoms": PSI_SEL, "range": [100, 200]}},
    "alphaR": {"phi": {"atoms": PHI_SEL, "range": [-180, -30]},
               "psi": {"atoms": PSI_SEL, "range": [-90, -10]}},
}


@pytest.fixture(scope="module")
def water(tmp_path_factory):
    pdb = tmp_path_factory.mktemp("water") / "ala_water.pdb"
    system = alanine_dipeptide_in_water(pdb)
    u = mda.Universe(str(pdb))
    return system.with_states(states_from_selections(u, SPEC)), u


def _energy(system, x_nm):
    ctx = openmm.Context(system.system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("CPU"),
                         {"Threads": "1"})
    ctx.setPositions(x_nm)
    return ctx.getState(getEnergy=True).getPotentialEnergy()._value


def test_system_from_files_is_periodic(water):
    system, u = water
    assert system.periodic and system.description is None
    assert np.allclose(system.box_vectors, np.eye(3) * 2.2)
    assert np.allclose(u.dimensions, [22, 22, 22, 90, 90, 90])
    nb = [f for f in system.system.getForces()
          if isinstance(f, openmm.NonbondedForce)][0]
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.PME
    assert nb.getCutoffDistance()._value == pytest.approx(0.9)
    assert 300 < (system.n_atoms - 22) / 3 < 360  # a few hundred waters
    # selections became the backbone dihedrals of the bundled molecule
    st = system.states["PII"]
    assert [f.atoms for f in st.features] == [PHI, PSI]
    method, reason = choose_method(system, frames_per_shot=6)
    # chosen by the measured cost of a real OPS CommittorSimulation shot beside
    # a lean one (the measurement is cached: these are the numbers it used)
    from mda_rcxai.sampling.committor import ops_shot_overhead
    from mda_rcxai.sampling.core import EngineSettings
    from mda_rcxai.sampling.tps import OPS_OVERHEAD_LIMIT
    t_ops, t_md, _ = ops_shot_overhead(system, EngineSettings(), 6)
    assert method == ("ops" if t_ops / t_md - 1 <= OPS_OVERHEAD_LIMIT
                      else "lean")
    assert "periodic" in reason and "a 6-frame shot" in reason
    assert f"{1e3 * t_md:.0f} ms on the lean loop" in reason
    # OPS' shot is the lean shot plus bookkeeping: never much cheaper
    assert t_ops > 0.8 * t_md
    with pytest.raises(InputError, match="periodic"):
        choose_method(system, "batched")


def test_minimum_image_distance_state(water):
    """A distance state between two water oxygens on opposite faces of the
    box: minimum image, as MDAnalysis computes it with box=."""
    system, u = water
    dims = u.dimensions
    ow = u.select_atoms("resname HOH and name O")
    raw = distance_array(ow.positions, ow.positions)
    mic = distance_array(ow.positions, ow.positions, box=dims)
    i, k = np.unravel_index(np.argmax(raw - mic), raw.shape)
    assert raw[i, k] - mic[i, k] > 10.0 and mic[i, k] < 11.0
    d = float(mic[i, k])
    raw = raw[i]
    spec = {"near": {"d": {"atoms": [f"index {ow[i].index}",
                                     f"index {ow[k].index}"],
                           "range": [d - 0.5, d + 0.5]}}}
    st = states_from_selections(u, spec)["near"]
    assert st.features[0].kind == "distance"
    assert st.ranges[0] == pytest.approx(((d - 0.5) / 10, (d + 0.5) / 10))
    x_nm = u.atoms.positions.astype(float) / 10.0
    assert st.values(x_nm, system.box_vectors)[0, 0] * 10 == pytest.approx(
        d, abs=1e-3)
    assert st.values(x_nm)[0, 0] * 10 == pytest.approx(raw[k], abs=1e-3)
    assert st.contains(x_nm, system.box_vectors)[0]
    assert not st.contains(x_nm)[0]
    # the OPS volume (what TPS and OPS storages use) agrees
    engine = make_engine(system)
    snap = snapshot_from_positions(engine, x_nm)
    assert np.allclose(np.asarray(snap.box_vectors._value), system.box_vectors)
    assert make_volume(st, system.box_vectors)(snap)
    assert make_volume(st, system)(snap)
    assert not make_volume(st)(snap)
    # dihedrals of a molecule split across the boundary: minimum image
    shifted = x_nm.copy()
    shifted[list(PSI[2:])] += system.box_vectors[0]  # move C and N(NME) by a
    good = dihedral_degrees(x_nm, np.array([PSI]))[0]
    assert dihedral_degrees(shifted, np.array([PSI]), system.box_vectors)[0] \
        == pytest.approx(good, abs=1e-3)
    from mda_rcxai.systems import StateDefinition
    near = StateDefinition("S", [PSI, ("angle", PSI[:3])],
                           [(good - 5, good + 5), (0, 180)])
    assert near.contains(shifted, system.box_vectors)[0]
    assert not near.contains(shifted)[0]
    snap = snapshot_from_positions(engine, shifted)
    assert make_volume(near, system)(snap) and not make_volume(near)(snap)


def test_committor_shots_in_water(water, tmp_path):
    system, u = water
    engine = make_engine(system, seed=3)
    engine.current_snapshot = snapshot_from_positions(engine, system.positions)
    frames = [engine.generate_next_frame() for _ in range(3)]
    x1 = np.asarray(frames[-1].xyz, dtype=float)
    assert np.all(np.isfinite(x1))
    configs = np.array([system.positions, x1]) * 10.0  # Angstrom
    for x in configs:
        e = _energy(system, x / 10.0)
        assert np.isfinite(e) and e < 0  # solvated: strongly negative
        assert not system.states["PII"].contains(x / 10, system.box_vectors)[0]
        assert not system.states["alphaR"].contains(x / 10,
                                                   system.box_vectors)[0]
    out = tmp_path / "water.npz"
    ds = run_committor(system, configs, 2, out=out, seed=0, method="auto",
                       state_A="PII", state_B="alphaR", n_frames_max=4,
                       verbose=False)
    # the measured choice (cached in this process, so the same one)
    assert ds.metadata["method"]["name"] == choose_method(system)[0]
    assert "periodic" in ds.metadata["method"]["reason"]
    assert ds.metadata["method"]["requested"] == "auto"
    assert np.all(ds.n_A + ds.n_B + ds.n_undecided == 2)
    assert ds.metadata["frames"] > 0
    dims = box_dimensions(system.box_vectors)
    assert np.allclose(ds.box, dims) and np.allclose(dims, u.dimensions)
    back = CommittorDataset.load(out)
    assert np.allclose(back.box, dims)
    assert np.array_equal(back.n_B, ds.n_B)
    uu = back.to_universe()
    assert np.allclose(uu.dimensions, u.dimensions)
    uu.trajectory[1]
    assert np.allclose(uu.dimensions, u.dimensions)
    assert np.allclose(uu.atoms.positions, configs[1], atol=1e-3)
    # molecules kept: the peptide and every water are separate fragments
    n_water = (system.n_atoms - 22) // 3
    assert len(uu.atoms.fragments) == 1 + n_water
    # the Universe of the system holds the same topology and box
    us = universe_from_system(system, configs)
    assert len(us.trajectory) == 2 and np.allclose(us.dimensions, dims)
    assert len(us.bonds) == len(uu.bonds)


def test_same_seed_same_box_and_dynamics():
    """One CPU thread with deterministic forces: the minimised box and a seeded
    trajectory are the same every time (without it, PME sums in a varying order:
    0.005 nm apart after minimisation, 0.01 nm after 200 steps)."""
    from mda_rcxai.systems import platform_properties
    a = alanine_dipeptide_in_water(box_nm=2.0)
    b = alanine_dipeptide_in_water(box_nm=2.0)
    assert np.array_equal(np.asarray(a.positions), np.asarray(b.positions))
    assert platform_properties("CPU", system=a) == {"Threads": "1",
                                                     "DeterministicForces": "true"}
    ends = []
    for _ in range(2):
        integ = openmm.LangevinMiddleIntegrator(300, 1, 0.002)
        integ.setRandomNumberSeed(3)
        ctx = openmm.Context(a.system, integ, openmm.Platform.getPlatformByName("CPU"),
                             platform_properties("CPU", system=a))
        ctx.setPositions(a.positions)
        ctx.setVelocitiesToTemperature(300, 3)
        integ.step(100)
        ends.append(ctx.getState(getPositions=True).getPositions(asNumpy=True)._value)
    assert np.array_equal(ends[0], ends[1])


def test_vacuum_needs_no_deterministic_flag():
    """A non-periodic system on one CPU thread repeats without the flag (which
    costs ~11 % there), so platform_properties leaves it off."""
    from mda_rcxai.systems import alanine_dipeptide, platform_properties
    s = alanine_dipeptide()
    props = platform_properties("CPU", system=s)
    assert props == {"Threads": "1"}
    ends = []
    for _ in range(2):
        integ = openmm.LangevinMiddleIntegrator(300, 1, 0.002)
        integ.setRandomNumberSeed(3)
        ctx = openmm.Context(s.system, integ, openmm.Platform.getPlatformByName("CPU"), props)
        ctx.setPositions(s.positions)
        ctx.setVelocitiesToTemperature(300, 3)
        integ.step(2000)
        ends.append(ctx.getState(getPositions=True).getPositions(asNumpy=True)._value)
    assert np.array_equal(ends[0], ends[1])

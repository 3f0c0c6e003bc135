"""The bundled NaCl-in-TIP3P box, its states and its PMF."""

import os

import numpy as np
import pytest

import openmm
import openmm.unit as u

from mda_rcxai.data import NACL_PMF_TXT, NACL_WATER_PDB
from mda_rcxai.systems.nacl_pmf import (landmarks, radial_pmf, read_table,
                                        wham)
from mda_rcxai.exceptions import InputError, RcxaiError, StateError
from mda_rcxai.systems import NACL_STATES, check_states, nacl_water
from mda_rcxai.sampling import pull_initial_path
from mda_rcxai.systems.nacl import (CL_INDEX, NA_INDEX,
                                    NACL_CUTOFF_NM, add_distance_restraint,
                                    minimum_image_distance)


@pytest.fixture(scope="module")
def nacl():
    return nacl_water()


@pytest.fixture(scope="module")
def universe():
    import MDAnalysis as mda
    return mda.Universe(NACL_WATER_PDB)


def _energy(system, positions, box):
    integ = openmm.VerletIntegrator(0.001)
    ctx = openmm.Context(system, integ, openmm.Platform.getPlatformByName(
        "Reference"))
    ctx.setPeriodicBoxVectors(*box)
    ctx.setPositions(positions)
    return ctx.getState(getEnergy=True).getPotentialEnergy().value_in_unit(
        u.kilojoule_per_mole)


def test_composition_box_and_forces(nacl, universe):
    top = nacl.topology
    resnames = [r.name for r in top.residues()]
    assert resnames[:2] == ["NA", "CL"]
    n_w = resnames.count("HOH")
    assert n_w == len(resnames) - 2 and n_w > 200
    assert nacl.n_atoms == 2 + 3 * n_w
    elements = [a.element.symbol for a in top.atoms()]
    assert elements[NA_INDEX] == "Na" and elements[CL_INDEX] == "Cl"
    # the box is the PDB's CRYST1 (read by MDAnalysis), cubic, > 2 cutoffs
    box_a = universe.dimensions
    np.testing.assert_allclose(box_a[3:], 90.0)
    np.testing.assert_allclose(np.diag(nacl.box_vectors) * 10, box_a[:3],
                               atol=1e-3)
    assert np.allclose(nacl.box_vectors, np.diag(np.diag(nacl.box_vectors)))
    nb = [f for f in nacl.system.getForces()
          if isinstance(f, openmm.NonbondedForce)][0]
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.PME
    cut = nb.getCutoffDistance().value_in_unit(u.nanometer)
    assert cut == pytest.approx(NACL_CUTOFF_NM)
    assert cut < 0.5 * nacl.box_vectors[0, 0]
    q = [nb.getParticleParameters(i)[0].value_in_unit(u.elementary_charge)
         for i in range(nacl.n_atoms)]
    assert sum(q) == pytest.approx(0.0, abs=1e-6)
    assert q[NA_INDEX] == pytest.approx(1.0) and q[CL_INDEX] == pytest.approx(-1.0)
    # rigid TIP3P: 3 constraints per water, none on the ions
    assert nacl.system.getNumConstraints() == 3 * n_w
    assert nacl.system.usesPeriodicBoundaryConditions()
    assert "Geissler" in nacl.description and "CIP" in nacl.description


def test_loader_and_builder_make_the_same_system(nacl):
    # the PMF and the box builder use create_nacl_system; sampling uses the
    # loader: they must be one force field with one set of settings
    from mda_rcxai.systems.nacl import create_nacl_system
    a = openmm.XmlSerializer.serialize(nacl.system)
    b = openmm.XmlSerializer.serialize(create_nacl_system(nacl.topology))
    assert a == b


def test_shipped_positions_are_equilibrated_tip3p(nacl):
    box = nacl.box_vectors
    e = _energy(nacl.system, nacl.positions, box)
    assert np.isfinite(e)
    # water-water energy alone: switch the ions off (charge and LJ)
    import copy
    sys2 = copy.deepcopy(nacl.system)
    nb = [f for f in sys2.getForces() if isinstance(f, openmm.NonbondedForce)][0]
    for i in (NA_INDEX, CL_INDEX):
        nb.setParticleParameters(i, 0.0, 0.3, 0.0)
    n_w = (nacl.n_atoms - 2) // 3
    per_water = _energy(sys2, nacl.positions, box) / n_w
    # TIP3P at 300 K: about -41 kJ/mol per molecule (Jorgensen et al. 1983
    # -41.3 at 298 K with cutoffs; one frame of 245 waters scatters by ~0.4);
    # a minimised box is far lower (~ -50), a raw Modeller box higher
    assert -42.5 < per_water < -37.5, per_water
    # the pair feels a strong attraction in contact: ions on lowers E
    assert e < per_water * n_w - 100.0


def test_states_disjoint_and_shipped_structure_in_cip(nacl):
    check_states(nacl.states, ["CIP", "SSIP"], nacl.n_atoms)
    assert not NACL_STATES["CIP"].overlaps(NACL_STATES["SSIP"])
    for st in NACL_STATES.values():
        assert st.features[0].kind == "distance"
        assert st.features[0].atoms == (NA_INDEX, CL_INDEX)
    r = minimum_image_distance(nacl.positions, NA_INDEX, CL_INDEX,
                               np.diag(nacl.box_vectors))
    lo, hi = NACL_STATES["CIP"].ranges[0]
    assert lo <= r <= hi
    assert bool(nacl.states["CIP"].contains(nacl.positions)[0])
    assert not bool(nacl.states["SSIP"].contains(nacl.positions)[0])


def test_minimum_image_and_coordination_against_mdanalysis(nacl, universe):
    from MDAnalysis.lib.distances import distance_array
    na = universe.atoms[[NA_INDEX]]
    ow = universe.select_atoms("resname HOH and name O")
    d = distance_array(na.positions, ow.positions, box=universe.dimensions)[0]
    ours = np.array([minimum_image_distance(
        np.stack([nacl.positions[NA_INDEX], nacl.positions[k]]), 0, 1,
        np.diag(nacl.box_vectors)) for k in ow.indices]) * 10.0
    np.testing.assert_allclose(ours, d, atol=2e-3)
    # first shell of Na+ (Na-O g(r) minimum ~3.2 A): in contact with Cl-
    # Na+ keeps 4-5 waters (5-6 neighbours with the Cl-); in bulk 5-6
    cn = int(np.sum(d < 3.2))
    assert 4 <= cn <= 6, cn
    r_nacl = distance_array(na.positions, universe.atoms[[CL_INDEX]].positions,
                            box=universe.dimensions)[0, 0]
    assert 4 <= cn + int(r_nacl < 3.2) <= 7
    # no water inside the contact pair: nearest O-Na is not closer than ~2.1 A
    assert d.min() > 2.0


def test_restraint_is_minimum_image_harmonic():
    s = openmm.System()
    for _ in range(2):
        s.addParticle(10.0)
    L = 2.0
    s.setDefaultPeriodicBoxVectors(*(np.eye(3) * L))
    add_distance_restraint(s, 0, 1, 1000.0, 0.3)
    x = np.array([[0.05, 0.1, 0.1], [1.85, 0.1, 0.1]])  # 0.2 nm via the image
    e = _energy(s, x, np.eye(3) * L)
    assert e == pytest.approx(0.5 * 1000.0 * (0.2 - 0.3) ** 2, rel=1e-6)
    with pytest.raises(InputError, match="k_kj_mol_nm2"):
        add_distance_restraint(s, 0, 1, -1.0, 0.3)


def test_bad_box_argument():
    with pytest.raises(InputError, match="box_nm"):
        nacl_water(box_nm=1.5)
    with pytest.raises(RcxaiError, match="box_nm"):
        nacl_water(box_nm="2.0")
    with pytest.raises(TypeError):
        nacl_water(box_nm="2.0")


def _sample(u_of_x, grid, n, rng):
    p = np.exp(-(u_of_x - u_of_x.min()))
    c = np.cumsum(p)
    c /= c[-1]
    return np.interp(rng.uniform(size=n), c, grid)


def test_wham_recovers_a_known_double_well():
    rng = np.random.default_rng(3)
    grid = np.linspace(-2.2, 2.2, 40001)
    u0 = 4.0 * (grid ** 2 - 1.0) ** 2           # kT, barrier 4 kT at 0
    centers = np.linspace(-1.5, 1.5, 13)
    k = 20.0
    samples = [_sample(u0 + 0.5 * k * (grid - c) ** 2, grid, 4000, rng)
               for c in centers]
    f, log_w = wham(samples, centers, k, 1.0)
    # exact window free energies by quadrature
    z = np.array([np.trapz(np.exp(-u0 - 0.5 * k * (grid - c) ** 2), grid)
                  for c in centers])
    f_exact = -np.log(z / z[0])
    np.testing.assert_allclose(f, f_exact, atol=0.1)
    x = np.concatenate(samples)
    edges = np.linspace(-1.4, 1.4, 29)
    p, _ = np.histogram(x, bins=edges, weights=np.exp(log_w))
    w = -np.log(p)
    # exact: -ln of the Boltzmann weight integrated over each bin
    ref = np.array([-np.log(np.trapz(np.exp(-u0[m]), grid[m])) for m in
                    ((grid >= a) & (grid <= b) for a, b in
                     zip(edges[:-1], edges[1:]))])
    dw = (w - w.mean()) - (ref - ref.mean())
    assert np.max(np.abs(dw)) < 0.15
    with pytest.raises(InputError, match="centers"):
        wham(samples[:3], centers, k, 1.0)


def test_radial_pmf_removes_the_r2_jacobian():
    rng = np.random.default_rng(5)
    grid = np.linspace(2.0, 7.0, 20001)
    w_true = -2.0 * np.cos(2 * np.pi * (grid - 2.8) / 2.3)  # kT, min 2.8 A
    x = _sample(w_true - 2.0 * np.log(grid), grid, 200000, rng)
    edges = np.arange(2.2, 6.81, 0.1)
    r, w, n = radial_pmf(x, np.zeros_like(x), edges)
    # exact: -ln of the bin's Boltzmann weight over its r^2 average
    ref = np.array([-np.log(np.trapz((grid ** 2 * np.exp(-w_true))[m],
                                     grid[m]) / np.trapz(grid[m] ** 2, grid[m]))
                    for m in ((grid >= a) & (grid <= b) for a, b in
                              zip(edges[:-1], edges[1:]))])
    dw = (w - w.mean()) - (ref - ref.mean())
    assert np.max(np.abs(dw)) < 0.15
    m = landmarks(r, w)
    assert m["r_cip"] == pytest.approx(2.8, abs=0.15)
    assert m["r_ts"] == pytest.approx(2.8 + 2.3 / 2, abs=0.15)


def test_pmf_table_matches_the_states():
    t = read_table(NACL_PMF_TXT)
    r, w = t["r"], t["pmf_kT"]
    assert np.all(np.diff(r) > 0) and r.min() < 2.6 and r.max() > 6.5
    np.testing.assert_allclose(t["pmf_kj_mol"], w * 0.0083144626 * 300,
                               atol=2e-3)
    m = landmarks(r, w)  # the header is what the columns say
    assert m["r_cip"] == pytest.approx(t["r_cip"], abs=0.01)
    assert m["r_ts"] == pytest.approx(t["r_ts"], abs=0.01)
    assert m["r_ssip"] == pytest.approx(t["r_ssip"], abs=0.01)
    # literature for JC ions in TIP3P: CIP ~2.7-2.8 A, barrier ~3.5-3.7 A,
    # SSIP ~5 A
    assert 2.6 <= t["r_cip"] <= 2.95
    assert 3.3 <= t["r_ts"] <= 3.9
    assert 4.5 <= t["r_ssip"] <= 5.4
    assert 2.0 < t["barrier_kT"] < 8.0
    # states: CIP holds the CIP minimum, SSIP the SSIP one, both clear of
    # the barrier by a gap, and both low on the PMF (< barrier - 1 kT)
    (c_lo, c_hi), (s_lo, s_hi) = (np.array(NACL_STATES[k].ranges[0]) * 10
                                  for k in ("CIP", "SSIP"))
    assert c_lo <= t["r_cip"] <= c_hi < t["r_ts"] - 0.3
    assert t["r_ts"] + 0.5 < s_lo <= t["r_ssip"] <= s_hi
    top = t["barrier_kT"]
    assert np.all(w[(r >= 2.5) & (r <= c_hi)] < top - 1.0)
    assert np.all(w[(r >= s_lo) & (r <= s_hi)] < top - 1.0)


def test_initial_path_arguments_checked(nacl):
    with pytest.raises(InputError, match="max_shots"):
        pull_initial_path(nacl, max_shots=0)
    with pytest.raises(StateError):
        pull_initial_path(nacl, state_A="CIP", state_B="CIP")
    from mda_rcxai.systems import alanine_dipeptide
    with pytest.raises(InputError, match="one distance"):
        pull_initial_path(alanine_dipeptide())


def test_initial_path_is_a_continuous_cip_to_ssip_path(nacl):
    x, info = pull_initial_path(nacl, seed=3, return_info=True)
    assert x.ndim == 3 and x.shape[1:] == (nacl.n_atoms, 3)
    box = np.diag(nacl.box_vectors)
    r = minimum_image_distance(x, NA_INDEX, CL_INDEX, box)
    np.testing.assert_allclose(info["r_nm"], r)
    cip, ssip = NACL_STATES["CIP"], NACL_STATES["SSIP"]
    assert cip.contains(x[0])[0] and ssip.contains(x[-1])[0]
    inner = x[1:-1]
    assert not cip.contains(inner).any() and not ssip.contains(inner).any()
    # one trajectory: every atom moves little between frames of 20 fs,
    # across the joint at the shooting point too (no jump, no wrapping)
    step = np.linalg.norm(np.diff(x, axis=0), axis=-1)
    heavy = [a.index for a in nacl.topology.atoms() if a.element.symbol != "H"]
    assert step[:, heavy].max() < 0.06, step[:, heavy].max()  # O: ~0.015
    assert step.max() < 0.3, step.max()  # a wrap would jump ~1.95 nm
    assert 0 < info["shooting_frame"] < len(x) - 1
    assert info["frame_ps"] == pytest.approx(0.02)


DOCS_PAGE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "nacl.rst")


@pytest.mark.skipif(not os.path.exists(DOCS_PAGE), reason="docs/ is in the source tree, "
                                                            "not in the wheel")
def test_docs_page_quotes_the_table():
    text = open(DOCS_PAGE).read()
    t = read_table(NACL_PMF_TXT)
    for key in ("r_cip", "r_ts", "r_ssip"):
        assert f"{t[key]:.2f}" in text, key
    assert f"{t['barrier_kT']:.1f} kT" in text
    for st in NACL_STATES.values():
        lo, hi = (10 * x for x in st.ranges[0])
        assert f"{hi:.1f} A" in text

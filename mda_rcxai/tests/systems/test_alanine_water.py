"""The bundled alanine dipeptide in TIP3P water: composition, force field, states, the
papers' atom numbering, and the solvent potential at H18 against OpenMM's own PME."""

import numpy as np
import pytest

openmm = pytest.importorskip("openmm")
import openmm.unit as u  # noqa: E402

from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB  # noqa: E402
from mda_rcxai.systems import (PHI, PSI, THETA, alanine_dipeptide,  # noqa: E402
                               check_states, dihedral_degrees)
from mda_rcxai.systems.alanine_water import (ALANINE_WATER_CUTOFF_NM,  # noqa: E402
                                             ALANINE_WATER_FORCEFIELD, ALANINE_WATER_PDB,
                                             ALANINE_WATER_STATES, H18_INDEX,
                                             N_SOLUTE_ATOMS, PAPER_ATOM_NAMES,
                                             alanine_dipeptide_water,
                                             create_alanine_water_system)


@pytest.fixture(scope="module")
def ala():
    return alanine_dipeptide_water()


def _nonbonded(system):
    return [f for f in system.getForces() if isinstance(f, openmm.NonbondedForce)][0]


def test_composition_box_and_force_field(ala):
    top = ala.topology
    res = [r.name for r in top.residues()]
    assert res[:3] == ["ACE", "ALA", "NME"] and set(res[3:]) == {"HOH"}
    n_w = len(res) - 3
    assert ala.n_atoms == N_SOLUTE_ATOMS + 3 * n_w and 250 < n_w < 400
    # the solute atoms come first, in the vacuum file's order (same elements, same residues)
    vac = alanine_dipeptide()
    a = [(x.residue.name, x.element.symbol) for x in list(top.atoms())[:N_SOLUTE_ATOMS]]
    b = [(x.residue.name, x.element.symbol) for x in vac.topology.atoms()]
    assert a == b
    box = ala.box_vectors
    assert np.allclose(box, np.diag(np.diag(box))) and np.ptp(np.diag(box)) < 1e-9
    nb = _nonbonded(ala.system)
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.PME
    cut = nb.getCutoffDistance().value_in_unit(u.nanometer)
    assert cut == pytest.approx(ALANINE_WATER_CUTOFF_NM) and cut < 0.5 * box[0, 0]
    q = np.array([nb.getParticleParameters(i)[0].value_in_unit(u.elementary_charge)
                  for i in range(ala.n_atoms)])
    assert q[:N_SOLUTE_ATOMS].sum() == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(q[N_SOLUTE_ATOMS:].reshape(-1, 3),
                               np.tile([-0.834, 0.417, 0.417], (n_w, 1)))
    # HBonds on the peptide (12 H) + 3 rigid-water constraints per water
    assert ala.system.getNumConstraints() == 12 + 3 * n_w
    # water density of an equilibrated TIP3P box at 300 K and 1 bar (~0.98-1.0 g/cm^3)
    mass = n_w * 18.015 + 144.17
    assert 0.95 < mass / 602.214 / np.prod(np.diag(box)) < 1.03
    assert "H18" in ala.description
    # the loader and the builder of scripts/make_alanine_water.py make one System
    a = openmm.XmlSerializer.serialize(ala.system)
    b = openmm.XmlSerializer.serialize(create_alanine_water_system(ala.topology))
    assert a == b


def test_ff99sbildn_is_ff99sb_for_this_molecule():
    """The bundled vacuum system uses amber99sb.xml, this one amber99sbildn.xml: for
    ACE-ALA-NME they must give the same energy (ILDN changes Ile/Leu/Asp/Asn only)."""
    import openmm.app as app
    pdb = app.PDBFile(ALANINE_DIPEPTIDE_PDB)
    energies = []
    for files in (["amber99sb.xml"], [ALANINE_WATER_FORCEFIELD[0]]):
        system = app.ForceField(*files).createSystem(pdb.topology, nonbondedMethod=app.NoCutoff)
        ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("Reference"))
        ctx.setPositions(pdb.positions)
        energies.append(ctx.getState(getEnergy=True).getPotentialEnergy()
                        .value_in_unit(u.kilojoule_per_mole))
    assert energies[0] == pytest.approx(energies[1], abs=1e-6)


def test_shipped_structure_is_sane_and_in_c7eq(ala):
    check_states(ala.states, ["C7eq", "C7ax"], ala.n_atoms)
    assert not ALANINE_WATER_STATES["C7eq"].overlaps(ALANINE_WATER_STATES["C7ax"])
    assert bool(ala.states["C7eq"].contains(ala.positions)[0])
    assert not bool(ala.states["C7ax"].contains(ala.positions)[0])
    ctx = openmm.Context(ala.system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPeriodicBoxVectors(*ala.box_vectors)
    ctx.setPositions(ala.positions)
    st = ctx.getState(getEnergy=True, getForces=True)
    e = st.getPotentialEnergy().value_in_unit(u.kilojoule_per_mole)
    n_w = (ala.n_atoms - N_SOLUTE_ATOMS) // 3
    # an equilibrated TIP3P box: about -41 kJ/mol per water (a Modeller box is higher,
    # a minimised one lower), and no clash (the largest force of a 300 K frame)
    assert -44.0 < e / n_w < -37.0, e / n_w
    f = st.getForces(asNumpy=True).value_in_unit(u.kilojoule_per_mole / u.nanometer)
    assert np.abs(f).max() < 1e4
    # molecules are whole in the file (no bond longer than 0.2 nm)
    b = np.array([(x[0].index, x[1].index) for x in ala.topology.bonds()])
    assert np.linalg.norm(ala.positions[b[:, 0]] - ala.positions[b[:, 1]], axis=1).max() < 0.2


def test_paper_numbering_names_h18_and_the_dihedrals(ala):
    atoms = list(ala.topology.atoms())
    assert len(PAPER_ATOM_NAMES) == N_SOLUTE_ATOMS
    for k, name in enumerate(PAPER_ATOM_NAMES):
        assert atoms[k].element.symbol == name.rstrip("0123456789")
        assert int(name[1:]) == k + 1
    h18 = atoms[H18_INDEX]
    assert (h18.residue.name, h18.name) == ("NME", "H")
    # H18 is bonded to N17, the amide nitrogen of NME
    partners = {b[1].index for b in ala.topology.bonds() if b[0].index == H18_INDEX} | \
               {b[0].index for b in ala.topology.bonds() if b[1].index == H18_INDEX}
    assert partners == {PAPER_ATOM_NAMES.index("N17")}
    idx = {n: PAPER_ATOM_NAMES.index(n) for n in PAPER_ATOM_NAMES}
    assert PHI == tuple(idx[n] for n in ("C5", "N7", "C9", "C15"))
    assert PSI == tuple(idx[n] for n in ("N7", "C9", "C15", "N17"))
    assert THETA == tuple(idx[n] for n in ("O6", "C5", "N7", "C9"))


def test_solvent_potential_at_h18_equals_openmm_pme_derivative(ala):
    """dE/dq(H18) of the full PME system, solute charges off, by central differences on
    OpenMM's Reference platform, against SolventPotentialFeatures on the shipped PDB."""
    mda = pytest.importorskip("MDAnalysis")
    from mda_rcxai.features import SolventPotentialFeatures, charges_from_system
    u_ = mda.Universe(ALANINE_WATER_PDB)
    solute = u_.atoms[:N_SOLUTE_ATOMS]
    water = u_.select_atoms("resname HOH")
    res = SolventPotentialFeatures(solute, {"water": water}, charges=ala.system,
                                   cutoff=9.0, center_labels=PAPER_ATOM_NAMES).run().results
    col = res.names.index("V[H18|water]")
    assert col == H18_INDEX and res.columns[col].atoms == (H18_INDEX,)
    system = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(ala.system))
    nb = _nonbonded(system)
    nb.setEwaldErrorTolerance(1e-5)
    q0 = charges_from_system(system)
    for i in range(N_SOLUTE_ATOMS):
        _, sig, eps = nb.getParticleParameters(i)
        nb.setParticleParameters(i, 0.0, sig, eps)
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPeriodicBoxVectors(*ala.box_vectors)
    ctx.setPositions(u_.atoms.positions.astype(np.float64) / 10.0)
    delta = 1e-3
    ref = {}
    for i in (H18_INDEX, PAPER_ATOM_NAMES.index("O6")):
        _, sig, eps = nb.getParticleParameters(i)
        e = []
        for s in (1, -1):
            nb.setParticleParameters(i, s * delta, sig, eps)
            nb.updateParametersInContext(ctx)
            e.append(ctx.getState(getEnergy=True).getPotentialEnergy()
                     .value_in_unit(u.kilojoule_per_mole))
        nb.setParticleParameters(i, 0.0, sig, eps)
        nb.updateParametersInContext(ctx)
        ref[i] = (e[0] - e[1]) / (2 * delta)
    for i, v in ref.items():
        assert res.features[0, i] == pytest.approx(v, rel=0.01, abs=1.0)
        assert res.features[0, i] == pytest.approx(v, rel=1e-3, abs=0.1)
    assert abs(q0[H18_INDEX] - 0.2719) < 1e-3  # amber ff99SB charge of the NME amide H


def test_initial_path_by_a_pull_on_phi_and_two_way_shots(ala):
    """A real C7eq -> C7ax path from :func:`mda_rcxai.sampling.pull_initial_path` on the phi
    states (~1500 MD steps: ~10 s on one idle core): first frame in C7eq, last in C7ax, none
    between in either, frames continuous, molecules whole."""
    from mda_rcxai.sampling import pull_initial_path
    x, info = pull_initial_path(ala, seed=0, temperature=300.0, pull_ps=0.5, hold_ps=0.2,
                                between_ps=0.2, n_frames_max=300, return_info=True)
    assert x.shape[1:] == (ala.n_atoms, 3)
    inside_a = ala.states["C7eq"].contains(x)
    inside_b = ala.states["C7ax"].contains(x)
    assert inside_a[0] and inside_b[-1]
    assert not inside_a[1:-1].any() and not inside_b[1:-1].any()
    phi = dihedral_degrees(x, np.array([PHI]))[:, 0]
    np.testing.assert_allclose(phi, info["dihedral_deg"], atol=1e-6)
    jumps = np.abs((np.diff(phi) + 180) % 360 - 180)
    assert jumps.max() < 60.0  # 20 fs apart: no discontinuity
    assert 0 <= info["shooting_frame"] < len(x)
    assert -50.0 < info["centre_deg"] < 40.0  # the restraint stayed between the states
    bonds = np.array([(b[0].index, b[1].index) for b in ala.topology.bonds()])[:21]
    assert np.linalg.norm(x[:, bonds[:, 0]] - x[:, bonds[:, 1]], axis=2).max() < 0.2


def test_pull_on_a_dihedral_checks_its_arguments(ala):
    """The dihedral pull names what is wrong before any MD."""
    from mda_rcxai.exceptions import InputError
    from mda_rcxai.sampling import pull_initial_path
    with pytest.raises(InputError, match="not a single distance or dihedral range"):
        pull_initial_path(ala.with_states(
            {"C7eq": alanine_dipeptide().states["C7eq"],
             "C7ax": alanine_dipeptide().states["C7ax"]}))
    with pytest.raises(InputError, match=r"shoot_deg=70 lies inside a state.*e\.g\. -5\.0"):
        pull_initial_path(ala, shoot_deg=70)
    with pytest.raises(InputError, match=r"r_shoot_nm=0.5 applies to states on a distance; "
                                         r"these are on a dihedral: give shoot_deg"):
        pull_initial_path(ala, r_shoot_nm=0.5)
    with pytest.raises(InputError, match="adapt_deg=-1"):
        pull_initial_path(ala, adapt_deg=-1)

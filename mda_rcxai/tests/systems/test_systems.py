import os

import numpy as np
import openmm
import pytest

from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
from mda_rcxai.exceptions import (InputError, InputTypeError, RcxaiError,
                                  StateError)
from mda_rcxai.systems import (PHI, PSI, MolecularSystem, StateDefinition,
                               alanine_dipeptide, check_states, from_amber,
                               from_pdb_and_forcefield, from_system_xml)


def test_alanine_dipeptide_system(ala):
    assert isinstance(ala, MolecularSystem)
    assert ala.n_atoms == 22
    assert ala.positions.shape == (22, 3)
    assert ala.force_field == "amber99sb"
    assert set(ala.states) == {"C7eq", "C7ax"}
    # vacuum, no cutoff, H-bond constraints (12 H atoms)
    assert ala.system.getNumConstraints() == 12
    nb = [f for f in ala.system.getForces()
          if isinstance(f, openmm.NonbondedForce)][0]
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.NoCutoff
    assert not ala.system.usesPeriodicBoundaryConditions()
    t = ala.topology_arrays()
    assert t["bonds"].shape == (21, 2)
    assert list(t["names"][:6]) == ["HH31", "CH3", "HH32", "HH33", "C", "O"]
    assert os.path.isfile(ala.pdb_path)


def test_states_contain_basins(ala):
    """The boxes hold the basins of amber99sb: ~(-80, 60) and (60, -40)."""
    eq, ax = ala.states["C7eq"], ala.states["C7ax"]
    assert eq.contains_values([[-80, 60], [-160, 170], [-150, -170]]).all()
    assert ax.contains_values([[60, -40], [75, -70]]).all()
    assert not eq.contains_values([[60, -40], [0, 60], [-80, -60]]).any()
    assert not ax.contains_values([[-80, 60], [0, 0], [60, 60]]).any()
    # the minimised bundled structure is C7eq
    phi, psi = eq.values(ala.positions)[0]
    assert -90 < phi < -65 and 45 < psi < 70
    assert eq.contains(ala.positions).all()
    assert not eq.overlaps(ax)


def test_dihedral_matches_mdanalysis(ala):
    import MDAnalysis as mda
    from MDAnalysis.lib.distances import calc_dihedrals
    u = mda.Universe(ALANINE_DIPEPTIDE_PDB)
    x = u.atoms.positions
    ref = np.degrees(calc_dihedrals(*(x[[i]] for i in PHI)))[0]
    got = ala.states["C7eq"].values(ala.positions)[0, 0]
    assert got == pytest.approx(ref, abs=0.05)


def test_periodic_ranges():
    a = StateDefinition("a", [(0, 1, 2, 3)], [(100, 200)])
    b = StateDefinition("b", [(0, 1, 2, 3)], [(100, -160)])
    assert a.ranges == b.ranges
    assert a.contains_values([[150], [179.9], [-179.9], [-165]]).all()
    assert not a.contains_values([[-150], [0], [99]]).any()
    c = StateDefinition("c", [(0, 1, 2, 3)], [(-170, -150)])
    assert a.overlaps(c)
    d = StateDefinition("d", [(0, 1, 2, 3)], [(-150, 90)])
    assert not a.overlaps(d)


def test_distance_and_angle_states(ala):
    d = StateDefinition("close", [("distance", (5, 7))], [(0.0, 0.25)])
    ang = StateDefinition("bent", [(4, 6, 8)], [(100, 130)])
    assert d.units == ("nm",) and ang.units == ("degree",)
    v = d.values(ala.positions)[0, 0]
    assert 0.15 < v < 0.35        # O(ACE)...H(ALA) hydrogen bond of C7eq, nm
    assert 100 < ang.values(ala.positions)[0, 0] < 130
    s2 = ala.with_states(close=d)
    assert set(s2.states) == {"C7eq", "C7ax", "close"}
    assert StateDefinition.from_dict(d.to_dict()) == d


def test_state_errors(ala):
    with pytest.raises(StateError, match="not defined"):
        check_states(ala.states, ["C7eq", "alphaR"])
    with pytest.raises(StateError, match="overlap"):
        check_states({"a": StateDefinition("a", [PHI], [(-100, 0)]),
                      "b": StateDefinition("b", [PHI], [(-10, 50)])},
                     ["a", "b"])
    with pytest.raises(StateError, match="twice"):
        check_states(ala.states, ["C7eq", "C7eq"])
    with pytest.raises(StateError, match="atom index"):
        check_states({"x": StateDefinition("x", [(0, 1, 2, 99)], [(0, 1)])},
                     ["x"], n_atoms=22)
    with pytest.raises(StateError):
        StateDefinition("x", [PHI, PSI], [(0, 1)])
    with pytest.raises(InputError):
        StateDefinition("x", [(1, 1)], [(0, 1)])
    with pytest.raises(StateError, match="lo > hi"):
        StateDefinition("x", [(0, 1)], [(1, 0)])
    with pytest.raises(InputTypeError):
        StateDefinition("x", ["abc"], [(0, 1)])
    with pytest.raises(StateError, match="overlap"):
        ala.with_states(bad=StateDefinition("bad", [PHI, PSI],
                                            [(-90, -70), (50, 70)]))


def test_loader_errors(tmp_path):
    with pytest.raises(InputError, match="solvent"):
        alanine_dipeptide(solvent="water")
    with pytest.raises(InputError, match="force_field"):
        alanine_dipeptide(force_field="charmm36")
    with pytest.raises(InputError, match="no such file"):
        from_pdb_and_forcefield(tmp_path / "nope.pdb", "amber99sb.xml")
    with pytest.raises(InputError, match="'not_a_forcefield.xml' is neither"):
        from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB, "not_a_forcefield.xml")
    with pytest.raises(InputError, match="no such file"):
        from_amber(tmp_path / "x.prmtop", tmp_path / "x.inpcrd")
    bad = tmp_path / "x.prmtop"
    bad.write_text("not a prmtop\n")
    crd = tmp_path / "x.inpcrd"
    crd.write_text("nothing\n")
    with pytest.raises(RcxaiError, match="prmtop"):
        from_amber(bad, crd)
    notxml = tmp_path / "system.xml"
    notxml.write_text("<nope/>")
    with pytest.raises(InputError, match="serialized OpenMM System"):
        from_system_xml(notxml, ALANINE_DIPEPTIDE_PDB)


def test_pdb_forcefield_and_system_xml_roundtrip(ala, tmp_path):
    s1 = from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB, ["amber99sb.xml"],
                                 states=ala.states)
    assert s1.fingerprint() == ala.fingerprint()
    path = tmp_path / "system.xml"
    path.write_text(openmm.XmlSerializer.serialize(ala.system))
    s2 = from_system_xml(path, ALANINE_DIPEPTIDE_PDB,
                         states=list(ala.states.values()), name="mine")
    assert s2.name == "mine"
    assert s2.fingerprint() == ala.fingerprint()
    assert set(s2.states) == {"C7eq", "C7ax"}
    # same energy
    energies = []
    for s in (ala, s2):
        ctx = openmm.Context(s.system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("Reference"))
        ctx.setPositions(s.positions)
        energies.append(ctx.getState(getEnergy=True).getPotentialEnergy()
                        ._value)
    assert energies[0] == pytest.approx(energies[1])
    # a changed system has another fingerprint
    s3 = from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB, ["amber99sb.xml"],
                                 constraints=None)
    assert s3.fingerprint() != ala.fingerprint()

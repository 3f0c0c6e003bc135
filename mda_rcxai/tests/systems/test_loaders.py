"""Loaders for a user's own system: AMBER (.crd, implicit solvent), PDB +
force field with a box, serialized System; non-bonded choices checked
against the box."""

import os
import pickle

import numpy as np
import openmm
import openmm.app as app
import pytest

from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
from mda_rcxai.exceptions import InputError
from mda_rcxai.systems import (ALANINE_DIPEPTIDE_STATES, alanine_dipeptide,
                               from_amber, from_pdb_and_forcefield,
                               from_system_xml)


def _energy(system, positions):
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(positions)
    return ctx.getState(getEnergy=True).getPotentialEnergy()._value


def _boxed_pdb(tmp_path, edge_nm=3.0):
    """The bundled molecule with a CRYST1 record (a periodic box)."""
    pdb = app.PDBFile(ALANINE_DIPEPTIDE_PDB)
    top = pdb.topology
    top.setPeriodicBoxVectors(np.eye(3) * edge_nm * openmm.unit.nanometer)
    path = tmp_path / "boxed.pdb"
    with open(path, "w") as fh:
        app.PDBFile.writeFile(top, pdb.positions, fh, keepIds=True)
    return str(path)


@pytest.fixture(scope="module")
def amber_files(tmp_path_factory):
    """prmtop + .crd of the bundled molecule (amber99sb) written by ParmEd,
    with mbondi2 radii for Generalized Born."""
    import parmed
    from parmed.tools import changeRadii
    d = tmp_path_factory.mktemp("amber")
    pdb = app.PDBFile(ALANINE_DIPEPTIDE_PDB)
    ff = app.ForceField("amber99sb.xml")
    system = ff.createSystem(pdb.topology, nonbondedMethod=app.NoCutoff,
                             constraints=None)
    s = parmed.openmm.load_topology(pdb.topology, system, xyz=pdb.positions)
    changeRadii(s, "mbondi2").execute()
    s.save(str(d / "ala2.prmtop"), overwrite=True)
    s.save(str(d / "ala2.crd"), format="rst7", overwrite=True)
    return str(d / "ala2.prmtop"), str(d / "ala2.crd")


@pytest.mark.filterwarnings("ignore:Non-optimal GB parameters")
def test_amber_crd_in_obc2(amber_files):
    prmtop, crd = amber_files
    assert crd.endswith(".crd")
    vac = from_amber(prmtop, crd, states=ALANINE_DIPEPTIDE_STATES)
    gb = from_amber(prmtop, crd, implicit_solvent="OBC2",
                    states=ALANINE_DIPEPTIDE_STATES)
    ala = alanine_dipeptide()
    assert gb.n_atoms == 22 and not gb.periodic and gb.description is None
    assert np.allclose(gb.positions, ala.positions, atol=1e-6)
    names = {type(f).__name__ for f in gb.system.getForces()}
    assert "GBSAOBCForce" in names
    assert gb.system.getNumConstraints() == 12  # HBonds
    assert gb.states["C7eq"].contains(gb.positions)[0]
    # vacuum: the same energy as OpenMM's own amber99sb.xml route
    assert _energy(vac.system, vac.positions) == pytest.approx(
        _energy(ala.system, ala.positions), abs=1e-3)
    # OBC2 solvation energy = OpenMM's implicit/obc2.xml (mbondi2 radii) on
    # amber14, an independent parameter route
    pdb = app.PDBFile(ALANINE_DIPEPTIDE_PDB)
    e14 = _energy(app.ForceField("amber14-all.xml").createSystem(
        pdb.topology), pdb.positions)
    e14gb = _energy(app.ForceField("amber14-all.xml", "implicit/obc2.xml")
                    .createSystem(pdb.topology), pdb.positions)
    dg = _energy(gb.system, gb.positions) - _energy(vac.system, vac.positions)
    assert dg < -20
    assert dg == pytest.approx(e14gb - e14, abs=1e-2)
    for name in ("GBn2", "HCT", "OBC1", "GBn", None, "none"):
        from_amber(prmtop, crd, implicit_solvent=name)
    with pytest.raises(InputError, match="implicit_solvent='OBC3'"):
        from_amber(prmtop, crd, implicit_solvent="OBC3")
    with pytest.raises(InputError, match="nonbonded='PME' needs a periodic"):
        from_amber(prmtop, crd, nonbonded="PME")


def test_pdb_forcefield_implicit_solvent():
    s = from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB,
                                ["amber14-all.xml", "implicit/obc2.xml"],
                                states=ALANINE_DIPEPTIDE_STATES)
    assert not s.periodic and s.box_vectors is None
    assert "CustomGBForce" in {type(f).__name__ for f in s.system.getForces()}
    assert s.source["nonbonded"] == "NoCutoff"
    cut = from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB, ["amber14-all.xml"],
                                  nonbonded="CutoffNonPeriodic", cutoff_nm=1.2)
    nb = [f for f in cut.system.getForces()
          if isinstance(f, openmm.NonbondedForce)][0]
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.CutoffNonPeriodic
    assert nb.getCutoffDistance()._value == pytest.approx(1.2)
    with pytest.raises(InputError, match="'amber14/tip9p.xml'"):
        from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB,
                                ["amber14-all.xml", "amber14/tip9p.xml"])
    with pytest.raises(InputError, match="nonbonded='Ewald3'"):
        from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB, "amber14-all.xml",
                                nonbonded="Ewald3")
    with pytest.raises(InputError, match="cutoff_nm=-1"):
        from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB, "amber14-all.xml",
                                nonbonded="CutoffNonPeriodic", cutoff_nm=-1)


def test_periodic_pdb_defaults_to_pme_and_checks_cutoff(tmp_path):
    path = _boxed_pdb(tmp_path, 3.0)
    s = from_pdb_and_forcefield(path, ["amber14-all.xml"])
    assert s.periodic and np.allclose(s.box_vectors, np.eye(3) * 3.0)
    nb = [f for f in s.system.getForces()
          if isinstance(f, openmm.NonbondedForce)][0]
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.PME
    assert nb.getCutoffDistance()._value == pytest.approx(1.0)
    with pytest.raises(InputError, match=r"cutoff_nm=1.5 must be below half"):
        from_pdb_and_forcefield(path, ["amber14-all.xml"], cutoff_nm=1.5)
    flat = from_pdb_and_forcefield(path, ["amber14-all.xml"],
                                   nonbonded="NoCutoff")
    assert not flat.periodic and flat.box_vectors is None
    rf = from_pdb_and_forcefield(path, ["amber14-all.xml"],
                                 nonbonded="CutoffPeriodic", cutoff_nm=0.9)
    assert rf.periodic and rf.source["cutoff_nm"] == 0.9
    # serialized System: periodic from its forces, box from its defaults
    xml = tmp_path / "system.xml"
    xml.write_text(openmm.XmlSerializer.serialize(s.system))
    s2 = from_system_xml(xml, path)
    assert s2.periodic and np.allclose(s2.box_vectors, s.box_vectors)
    assert s2.fingerprint() == s.fingerprint()
    # shipped to another process as XML: box and description kept
    back = pickle.loads(pickle.dumps(s2))
    assert back.periodic and np.allclose(back.box_vectors, s.box_vectors)
    assert back.fingerprint() == s.fingerprint()
    ala = pickle.loads(pickle.dumps(alanine_dipeptide()))
    assert "N-CA (phi) and C-N (theta)" in ala.description


def test_periodic_amber_files(tmp_path):
    import parmed
    path = _boxed_pdb(tmp_path, 3.0)
    pdb = app.PDBFile(path)
    system = app.ForceField("amber99sb.xml").createSystem(
        pdb.topology, nonbondedMethod=app.PME, constraints=None)
    s = parmed.openmm.load_topology(pdb.topology, system, xyz=pdb.positions)
    s.save(str(tmp_path / "box.prmtop"), overwrite=True)
    s.save(str(tmp_path / "box.rst7"), format="rst7", overwrite=True)
    m = from_amber(tmp_path / "box.prmtop", tmp_path / "box.rst7")
    assert m.periodic and np.allclose(m.box_vectors, np.eye(3) * 3.0)
    assert m.source["nonbonded"] == "PME"
    with pytest.raises(InputError, match="cutoff_nm=2.0 must be below half"):
        from_amber(tmp_path / "box.prmtop", tmp_path / "box.rst7",
                   cutoff_nm=2.0)
    assert os.path.basename(m.source["inpcrd"]) == "box.rst7"

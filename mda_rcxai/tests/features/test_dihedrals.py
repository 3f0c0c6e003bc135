import warnings

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.analysis.dihedrals import Dihedral, Ramachandran

from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
from mda_rcxai.exceptions import InputError, RcxaiError, TopologyError
from mda_rcxai.features import DihedralFeatures, enumerate_dihedrals
from mda_rcxai.tests.features.peptide import make_peptide


def angle_diff(a, b):
    """Smallest signed difference of angles in degrees."""
    return (np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0


def test_bundled_files_have_both_basins(ala_universe):
    u = ala_universe
    assert len(u.atoms) == 22 and len(u.bonds) == 21 and len(u.trajectory) == 1000
    phi = Dihedral([u.atoms[[4, 6, 8, 14]]]).run().results.angles[:, 0]
    assert np.mean(phi[:500] < 0) > 0.95  # C7eq
    assert np.mean(phi[500:] > 0) > 0.95  # C7ax


def test_alanine_dipeptide_45_dihedrals_and_aliases(ala_universe):
    rows, imp = enumerate_dihedrals(ala_universe.atoms)
    assert len(rows) == 45 and imp.sum() == 4  # 41 proper + 4 improper (AMBER)
    # every proper row is a chain of bonds
    bonds = {tuple(sorted(b)) for b in ala_universe.bonds.indices.tolist()}
    for a, b, c, d in rows[~imp]:
        assert {(min(a, b), max(a, b)), (min(b, c), max(b, c)), (min(c, d), max(c, d))} <= bonds
    assert len({tuple(sorted(r)) for r in rows[~imp].tolist()}) == 41
    r = DihedralFeatures(ala_universe.atoms).run(stop=3).results
    idx = {n: r.atom_indices[i].tolist() for i, n in enumerate(r.names)}
    assert idx["phi"] == [4, 6, 8, 14]
    assert idx["psi"] == [6, 8, 14, 16]
    assert idx["theta"] == [5, 4, 6, 8]
    assert idx["omega(ACE1)"] == [1, 4, 6, 8]
    assert r.features.shape == (3, 45) and r.atom_indices.shape == (45, 4)
    assert "ALA2:H-N-CA-CB" in r.names


def test_values_match_mdanalysis_and_mdtraj(ala_universe):
    import mdtraj as md
    r = DihedralFeatures(ala_universe.atoms).run().results
    ref = Dihedral([ala_universe.atoms[list(x)] for x in r.atom_indices]).run()
    assert np.abs(angle_diff(r.features, ref.results.angles)).max() < 1e-4
    t = md.load(ALANINE_DIPEPTIDE_DCD, top=ALANINE_DIPEPTIDE_PDB)
    m = np.degrees(md.compute_dihedrals(t, r.atom_indices))
    assert np.abs(angle_diff(r.features, m)).max() < 1e-4


@pytest.mark.parametrize("backend", ["multiprocessing", "dask"])
def test_backends_agree(ala_universe, backend):
    serial = DihedralFeatures(ala_universe.atoms).run(step=7, backend="serial")
    par = DihedralFeatures(ala_universe.atoms).run(step=7, backend=backend, n_workers=2)
    np.testing.assert_array_equal(par.results.features, serial.results.features)
    np.testing.assert_array_equal(par.results.atom_indices, serial.results.atom_indices)
    assert par.results.names == serial.results.names
    np.testing.assert_array_equal(par.frames, serial.frames)


def test_block_paths_equal_frame_by_frame(ala_universe):
    # frame by frame: the multiprocessing backend with one worker runs _single_frame
    streamed = DihedralFeatures(ala_universe.atoms).run(start=5, stop=900, step=3,
                                                        backend="multiprocessing", n_workers=1)
    dcd_blocks = DihedralFeatures(ala_universe.atoms).run(start=5, stop=900, step=3,
                                                          block_size=64)
    np.testing.assert_allclose(dcd_blocks.results.features, streamed.results.features,
                               atol=1e-9)
    np.testing.assert_array_equal(dcd_blocks.frames, streamed.frames)
    np.testing.assert_allclose(dcd_blocks.times, streamed.times, atol=1e-4)
    u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD, in_memory=True)
    fast = DihedralFeatures(u.atoms, sincos=False).run(start=5, stop=900, step=3,
                                                       block_size=50)
    np.testing.assert_allclose(fast.results.features, streamed.results.features,
                               atol=1e-9)
    np.testing.assert_array_equal(fast.frames, streamed.frames)
    frames = [0, 10, 999, 3]
    np.testing.assert_allclose(DihedralFeatures(u.atoms).run(frames=frames).results.features,
                               DihedralFeatures(ala_universe.atoms).run(frames=frames).results.features,
                               atol=1e-9)


def test_sincos_columns_and_groups(ala_universe):
    deg = DihedralFeatures(ala_universe.atoms).run(stop=50).results
    sc = DihedralFeatures(ala_universe.atoms, sincos=True).run(stop=50).results
    assert sc.features.shape == (50, 90)
    assert sc.names[24:26] == ["sin(phi)", "cos(phi)"]
    np.testing.assert_array_equal(sc.groups, np.repeat(np.arange(45), 2))
    # float32 storage (the default, as mdtraj): the round trip keeps ~1e-5 degrees
    back = np.degrees(np.arctan2(sc.features[:, 0::2], sc.features[:, 1::2]))
    assert np.abs(angle_diff(back, deg.features)).max() < 1e-4
    np.testing.assert_array_equal(sc.atom_indices[0::2], deg.atom_indices)
    # float64 storage of the same float32 kernel values: exact round trip
    deg64 = DihedralFeatures(ala_universe.atoms, dtype=np.float64).run(stop=50).results
    sc64 = DihedralFeatures(ala_universe.atoms, sincos=True, dtype=np.float64).run(stop=50).results
    assert sc64.features.dtype == np.float64 and deg.features.dtype == np.float32
    back = np.degrees(np.arctan2(sc64.features[:, 0::2], sc64.features[:, 1::2]))
    assert np.abs(angle_diff(back, deg64.features)).max() < 1e-9
    assert np.abs(angle_diff(deg64.features, deg.features)).max() < 1e-4
    # columns: sin and cos of one angle share base, measure and group
    cols = sc.columns
    assert [c.kind for c in cols[24:26]] == ["sin", "cos"]
    assert {c.base for c in cols[24:26]} == {"phi"} and cols[24].alias == "phi"
    assert cols[24].group == "N-CA (phi)" and cols[24].measure == "dihedral"
    assert sum(c.measure == "improper" for c in cols) == 8


def test_radians_and_heavy_and_explicit(ala_universe):
    deg = DihedralFeatures(ala_universe.atoms).run(stop=5).results
    rad = DihedralFeatures(ala_universe.atoms, units="radians").run(stop=5).results
    np.testing.assert_allclose(np.degrees(rad.features), deg.features, atol=1e-9)
    heavy = DihedralFeatures(ala_universe.atoms, dihedrals="heavy").run(stop=1).results
    assert "phi" in heavy.names and "theta" in heavy.names
    assert all(ala_universe.atoms[list(r)].elements.tolist().count("H") == 0
               for r in heavy.atom_indices)
    ex = DihedralFeatures(ala_universe.atoms,
                          dihedrals=[(4, 6, 8, 14), ala_universe.atoms[[6, 8, 14, 16]]]
                          ).run(stop=5).results
    assert ex.names == ["phi", "psi"]
    np.testing.assert_allclose(ex.features[:, 0], deg.features[:, deg.names.index("phi")])


def test_multi_residue_peptide_matches_ramachandran_and_mdtraj():
    import mdtraj as md
    u = make_peptide(n_ala=4, n_frames=15, seed=3)
    r = DihedralFeatures(u.atoms, dihedrals="backbone").run().results
    rama = Ramachandran(u.residues[1:-1].atoms).run().results.angles  # (f, res, 2)
    for k, res in enumerate(u.residues[1:-1]):
        name = f"{res.resname}{res.resid}"
        assert np.abs(angle_diff(r.features[:, r.names.index(f"phi({name})")],
                                 rama[:, k, 0])).max() < 1e-4
        assert np.abs(angle_diff(r.features[:, r.names.index(f"psi({name})")],
                                 rama[:, k, 1])).max() < 1e-4
    assert sum(n.startswith("omega(") for n in r.names) == 5
    # all dihedrals against mdtraj via an in-memory trajectory
    allr = DihedralFeatures(u.atoms).run().results
    top = md.Topology()
    ch = top.add_chain()
    for res in u.residues:
        mres = top.add_residue(res.resname, ch)
        for a in res.atoms:
            top.add_atom(a.name, md.element.get_by_symbol(a.element), mres)
    t = md.Trajectory(u.trajectory.coordinate_array / 10.0, top)
    m = np.degrees(md.compute_dihedrals(t, allr.atom_indices))
    assert np.abs(angle_diff(allr.features, m)).max() < 1e-4
    assert allr.names.count("theta(ACE1)") == 1  # theta per peptide bond when several


def test_guessed_bonds_warn_and_give_same_set(tmp_path):
    src = open(ALANINE_DIPEPTIDE_PDB).read().splitlines()
    p = tmp_path / "nobonds.pdb"
    p.write_text("\n".join(l for l in src if not l.startswith("CONECT")) + "\n")
    u = mda.Universe(str(p))
    with pytest.warns(UserWarning, match="guessing"):
        r = DihedralFeatures(u.atoms).run().results
    ref = DihedralFeatures(mda.Universe(ALANINE_DIPEPTIDE_PDB).atoms).run().results
    assert r.names == ref.names


def test_topology_impropers_are_used(ala_universe):
    u = mda.Universe(ALANINE_DIPEPTIDE_PDB)
    u.add_TopologyAttr("impropers", [(4, 7, 6, 8)])
    r = DihedralFeatures(u.atoms).run().results
    assert len(r.names) == 42 and r.is_improper.sum() == 1
    assert DihedralFeatures(u.atoms, impropers=False).run().results.features.shape == (1, 41)


def test_errors(ala_universe):
    u = ala_universe
    with pytest.raises(InputError, match="at least 4"):
        DihedralFeatures(u.atoms[:3])
    with pytest.raises(InputError, match="empty"):
        DihedralFeatures(u.select_atoms("name XYZ"))
    with pytest.raises(InputError, match="out of range"):
        DihedralFeatures(u.atoms, dihedrals=[(0, 1, 2, 99)])
    with pytest.raises(InputError, match="repeats"):
        DihedralFeatures(u.atoms, dihedrals=[(4, 6, 6, 14)])
    with pytest.raises(InputError, match="units"):
        DihedralFeatures(u.atoms, units="furlongs")
    with pytest.raises(InputError, match="exactly 4"):
        DihedralFeatures(u.atoms, dihedrals=[(4, 6, 8)])
    with pytest.raises(InputError, match="'all', 'heavy', 'backbone'"):
        DihedralFeatures(u.atoms, dihedrals="sidechain")
    # no bonds and nothing to guess them from
    empty = mda.Universe.empty(5, trajectory=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TopologyError, match="bonds"):
            DihedralFeatures(empty.atoms)
    assert issubclass(TopologyError, RcxaiError)

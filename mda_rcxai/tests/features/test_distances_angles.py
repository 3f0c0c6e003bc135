import numpy as np
import pytest
from MDAnalysis.lib.distances import calc_bonds

from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
from mda_rcxai.exceptions import InputError
from mda_rcxai.features import AngleFeatures, DihedralFeatures, DistanceFeatures


def test_heavy_distances_match_mdtraj(ala_universe):
    import mdtraj as md
    r = DistanceFeatures(ala_universe.atoms).run().results
    assert r.features.shape == (1000, 45)  # 10 heavy atoms
    t = md.load(ALANINE_DIPEPTIDE_DCD, top=ALANINE_DIPEPTIDE_PDB)
    ref = md.compute_distances(t, r.atom_indices) * 10.0
    np.testing.assert_allclose(r.features, ref, atol=2e-4)
    nm = DistanceFeatures(ala_universe.atoms, units="nm").run(stop=3).results
    np.testing.assert_allclose(nm.features * 10, r.features[:3], rtol=1e-6)  # float32


def test_distance_explicit_and_exclude_bonded(ala_universe):
    u = ala_universe
    r = DistanceFeatures(u.atoms, pairs=[(4, 16), u.atoms[[5, 17]]]).run(stop=4).results
    u.trajectory[2]
    np.testing.assert_allclose(r.features[2], calc_bonds(u.atoms.positions[[4, 5]],
                                                          u.atoms.positions[[16, 17]]))
    all_heavy = DistanceFeatures(u.atoms).run(stop=1).results
    nonbonded = DistanceFeatures(u.atoms, exclude_bonded=True).run(stop=1).results
    assert len(all_heavy.names) - len(nonbonded.names) == 9  # 9 heavy-heavy bonds


def test_angles_match_mdtraj(ala_universe):
    import mdtraj as md
    r = AngleFeatures(ala_universe.atoms).run().results
    assert r.atom_indices.shape == (36, 3)
    t = md.load(ALANINE_DIPEPTIDE_DCD, top=ALANINE_DIPEPTIDE_PDB)
    ref = np.degrees(md.compute_angles(t, r.atom_indices))
    np.testing.assert_allclose(r.features, ref, atol=1e-3)
    heavy = AngleFeatures(ala_universe.atoms, angles="heavy").run(stop=1).results
    assert "ALA2:N-CA-C" in heavy.names


@pytest.mark.parametrize("cls", [DistanceFeatures, AngleFeatures])
def test_backends_agree(ala_universe, cls):
    s = cls(ala_universe.atoms).run(step=10)
    p = cls(ala_universe.atoms).run(step=10, backend="multiprocessing", n_workers=2)
    np.testing.assert_array_equal(s.results.features, p.results.features)


def test_errors(ala_universe):
    u = ala_universe
    with pytest.raises(InputError, match="units"):
        DistanceFeatures(u.atoms, units="parsec")
    with pytest.raises(InputError, match="exactly 2"):
        DistanceFeatures(u.atoms, pairs=[(1, 2, 3)])
    with pytest.raises(InputError, match="repeats"):
        DistanceFeatures(u.atoms, pairs=[(1, 1)])
    with pytest.raises(InputError, match="not known"):
        AngleFeatures(u.atoms, angles="weird")
    with pytest.raises(InputError, match="not in atomgroup"):
        AngleFeatures(u.atoms[:5], angles=[(4, 6, 8)])


@pytest.mark.parametrize("cls, kw", [(DistanceFeatures, {"pairs": "heavy"}),
                                     (AngleFeatures, {"angles": "heavy"}),
                                     (DihedralFeatures, {"dihedrals": "heavy"})])
def test_heavy_choice_on_a_topology_without_names(cls, kw):
    """Issue 23 case 8: a 'heavy' choice on a Universe with neither names nor elements ends
    in one line naming the option and the fix (was MDAnalysis' NoDataError, no hint)."""
    import MDAnalysis as mda
    u = mda.Universe.empty(5, trajectory=True)
    u.atoms.positions = np.arange(15, dtype=float).reshape(5, 3) ** 1.1
    u.add_TopologyAttr("bonds", [(0, 1), (1, 2), (2, 3), (3, 4)])
    (option, value), = kw.items()
    with pytest.raises(InputError, match=rf"^{option}='heavy' needs atom elements or names .*"
                                         r"add them \(u.add_TopologyAttr\('names'"):
        cls(u.atoms, **kw)
    # the same universe works when the atoms are chosen without names
    assert cls(u.atoms, **{option: "all"}).run().results.features.shape[0] == 1

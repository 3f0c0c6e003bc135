"""Solvent descriptors against dscribe's ACSF, an independent numpy implementation and
analytic configurations, on a periodic TIP3P box with Na+ and Cl- built by OpenMM."""

import MDAnalysis as mda
import numpy as np
import pytest

from mda_rcxai.exceptions import InputError, RcxaiError
from mda_rcxai.features import (CoordinationFeatures, SymmetryFunctionFeatures,
                                switching_function)
from mda_rcxai.tests.features.waterbox import make_nacl_box

G2 = [(0.5, 2.5), (0.1, 3.5), (0.0, 0.0)]
G5 = [(0.01, 1, -1), (0.01, 2, 1), (0.005, 4, 1)]


@pytest.fixture(scope="module")
def box():
    return make_nacl_box(n_frames=3, seed=1)


def _sets(u):
    return {"water O": u.select_atoms("resname HOH and name O"),
            "water H": u.select_atoms("resname HOH and name H1 H2")}


def test_acsf_matches_dscribe_on_periodic_box_with_broken_molecules(box):
    ase = pytest.importorskip("ase")
    dscribe = pytest.importorskip("dscribe.descriptors")
    u = box
    centers = u.select_atoms("name NA CL")
    r = SymmetryFunctionFeatures(centers, _sets(u), r_cut=6.0, g2=G2, g5=G5).run().results
    assert r.features.shape == (3, 2 * 2 * 6)
    acsf = dscribe.ACSF(r_cut=6.0, g2_params=[list(p) for p in G2],
                        g5_params=[list(p) for p in G5], species=["Na", "Cl", "O", "H"],
                        periodic=True)
    n2, n5 = len(G2), len(G5)
    species_index = {"H": 0, "O": 1}  # dscribe orders species by atomic number
    # molecules really are split across the boundary in these frames
    o = u.select_atoms("resname HOH")
    split = 0
    for ts in u.trajectory:
        L = ts.dimensions[0]
        for res in o.residues:
            p = res.atoms.positions
            split += np.ptp(p, axis=0).max() > L / 2
    assert split > 0
    for f, ts in enumerate(u.trajectory):
        atoms = ase.Atoms(symbols=list(u.atoms.elements), positions=u.atoms.positions,
                          cell=ts.dimensions[:3], pbc=True)
        d = acsf.create(atoms, centers=list(centers.indices))
        assert d.shape[1] == 4 * (1 + n2) + 10 * n5
        for c in range(2):
            for s, (name, sp) in enumerate((("water O", "O"), ("water H", "H"))):
                t = species_index[sp]
                ref2 = d[c, t * (1 + n2) + 1:t * (1 + n2) + 1 + n2]
                its = t * (t + 1) // 2 + t
                ref5 = d[c, 4 * (1 + n2) + its * n5:4 * (1 + n2) + (its + 1) * n5]
                base = (c * 2 + s) * (n2 + n5)
                cols = r.columns[base:base + n2 + n5]
                assert [col.neighbors for col in cols] == [name] * (n2 + n5)
                assert [col.kind for col in cols] == ["acsf_g2"] * n2 + ["acsf_g5"] * n5
                np.testing.assert_allclose(r.features[f, base:base + n2], ref2,
                                           rtol=1e-5, atol=1e-6)
                # Behler's G5 sums ordered pairs j != k; dscribe unordered pairs j < k
                np.testing.assert_allclose(r.features[f, base + n2:base + n2 + n5],
                                           2.0 * ref5, rtol=1e-5, atol=1e-6)


def test_broken_and_whole_molecules_give_the_same_descriptors():
    whole = make_nacl_box(n_frames=2, seed=4, broken=False)
    broken = make_nacl_box(n_frames=2, seed=4, broken=True)
    for cls, kw in ((SymmetryFunctionFeatures, dict(r_cut=6.0, g2=G2, g5=G5)),
                    (CoordinationFeatures, dict(r0={"water O": [3.15, 3.8],
                                                    "water H": [3.0, 2.95]}))):
        a = cls(whole.select_atoms("name NA CL"), _sets(whole), **kw).run().results
        b = cls(broken.select_atoms("name NA CL"), _sets(broken), **kw).run().results
        np.testing.assert_allclose(a.features, b.features, rtol=1e-5, atol=1e-5)


def _reference_coordination(pos, L, c_idx, sets, r0, n, m):
    """Independent numpy version: explicit minimum image in a cubic box, brute force."""
    def mic(v):
        return v - L * np.round(v / L)

    def s(r, r0):
        x = r / r0
        return (1 - x ** n) / (1 - x ** m)

    cn = []
    sw = {}
    for ci, c in enumerate(c_idx):
        for si, (name, idx) in enumerate(sets.items()):
            r = np.linalg.norm(mic(pos[idx] - pos[c]), axis=1)
            v = s(r, r0[ci][si])
            sw[(ci, name)] = v
            cn.append(v.sum())
    a, b = c_idx
    vab = mic(pos[b] - pos[a])
    rab = np.linalg.norm(vab)
    first = next(iter(sets))
    bridging = np.sum(sw[(0, first)] * sw[(1, first)])
    mid = pos[a] + vab / 2
    dm = np.linalg.norm(mic(pos[sets[first]] - mid), axis=1)
    dens = np.sum(s(dm, rab / 2))
    return np.array(cn + [rab, bridging, dens])


def test_coordination_matches_independent_numpy_on_periodic_box(box):
    u = box
    centers = u.select_atoms("name NA CL")
    sets = _sets(u)
    r0 = [[3.15, 2.9], [3.8, 2.95]]
    res = CoordinationFeatures(centers, sets, r0=np.array(r0), n=6, m=12).run().results
    assert res.names[:4] == ["CN[NA1:NA|water O]", "CN[NA1:NA|water H]",
                             "CN[CL2:CL|water O]", "CN[CL2:CL|water H]"]
    assert [c.kind for c in res.columns] == ["coordination"] * 4 + ["distance", "bridging",
                                                                    "density"]
    idx = {k: v.indices for k, v in sets.items()}
    for f, ts in enumerate(u.trajectory):
        ref = _reference_coordination(u.atoms.positions.astype(np.float64), ts.dimensions[0],
                                      centers.indices, idx, r0, 6, 12)
        np.testing.assert_allclose(res.features[f], ref, rtol=1e-5, atol=1e-5)
    # the ions were placed 2.8 A apart; the Modeller box is not equilibrated (the waters
    # that overlapped the ions were removed), so only a loose range for Na+ over O
    assert 2.7 < res.features[0, 4] < 2.9
    assert 1.0 < res.features[0, 0] < 8.0


def _tiny(positions, names, box=None):
    u = mda.Universe.empty(len(names), trajectory=True)
    u.add_TopologyAttr("name", names)
    u.atoms.positions = np.asarray(positions, float)
    if box is not None:
        u.dimensions = box
    return u


def test_coordination_analytic_configurations():
    # octahedron of 6 O at r0 around Na: CN = 6 * n/m = 3
    r0 = 2.4
    octa = [[r0, 0, 0], [-r0, 0, 0], [0, r0, 0], [0, -r0, 0], [0, 0, r0], [0, 0, -r0]]
    u = _tiny([[0, 0, 0], [20, 0, 0]] + octa, ["NA", "CL"] + ["O"] * 6)
    res = CoordinationFeatures(u.atoms[:2], {"O": u.atoms[2:]}, r0=r0).run().results
    assert res.features[0, 0] == pytest.approx(3.0, abs=1e-6)
    # one water O exactly between the ions, at r0 of each, counts n/m * n/m as bridging,
    # and 1 in the interionic sphere (it sits at the midpoint)
    u = _tiny([[0, 0, 0], [6, 0, 0], [3, 0, 0]], ["NA", "CL", "O"])
    res = CoordinationFeatures(u.atoms[:2], {"O": u.atoms[2:]}, r0=3.0).run().results
    cn_na, cn_cl, d, br, dens = res.features[0]
    assert (cn_na, cn_cl, d) == pytest.approx((0.5, 0.5, 6.0))
    assert br == pytest.approx(0.25) and dens == pytest.approx(1.0)
    # minimum image: the same pair across the boundary of a 10 A box
    u = _tiny([[0.5, 5, 5], [9.5, 5, 5], [9.9, 5, 5]], ["NA", "CL", "O"],
              box=[10, 10, 10, 90, 90, 90])
    res = CoordinationFeatures(u.atoms[:2], {"O": u.atoms[2:]}, r0=3.0).run().results
    assert res.features[0, 2] == pytest.approx(1.0, abs=1e-5)  # r_AB through the boundary
    assert res.features[0, 4] == pytest.approx(1.0, abs=1e-4)  # O at the midpoint (0.0)
    # the switching function itself
    assert switching_function(3.0, 3.0, 6, 12) == pytest.approx(0.5)
    assert switching_function(2.999999999, 3.0, 6, 12) == pytest.approx(0.5, abs=1e-6)


def test_acsf_analytic_two_neighbours():
    # two neighbours at distance a on perpendicular axes: cos(theta) = 0
    a, rc = 2.0, 5.0
    u = _tiny([[0, 0, 0], [a, 0, 0], [0, a, 0]], ["NA", "O", "O"])
    res = SymmetryFunctionFeatures(u.atoms[:1], {"O": u.atoms[1:]}, r_cut=rc,
                                   g2=[(0.3, 1.0)], g5=[(0.05, 2, 1)]).run().results
    fc = 0.5 * (np.cos(np.pi * a / rc) + 1)
    g2 = 2 * np.exp(-0.3 * (a - 1.0) ** 2) * fc
    g5 = 2 ** (1 - 2) * 2 * (1 + 0) ** 2 * np.exp(-0.05 * 2 * a * a) * fc * fc
    np.testing.assert_allclose(res.features[0], [g2, g5], rtol=1e-6)


@pytest.mark.parametrize("backend", ["multiprocessing", "dask"])
def test_backends_and_block_path_agree(box, backend):
    centers = box.select_atoms("name NA CL")
    for cls, kw in ((SymmetryFunctionFeatures, dict(r_cut=6.0, g2=G2[:1], g5=G5[:1])),
                    (CoordinationFeatures, dict(r0=3.2))):
        serial = cls(centers, _sets(box), **kw).run()  # block path over memory
        par = cls(centers, _sets(box), **kw).run(backend=backend, n_workers=2)
        np.testing.assert_allclose(par.results.features, serial.results.features, atol=1e-12)
        assert par.results.columns == serial.results.columns
        np.testing.assert_array_equal(par.frames, serial.frames)


def test_errors(box):
    centers = box.select_atoms("name NA CL")
    sets = _sets(box)
    with pytest.raises(InputError, match="centers is empty"):
        SymmetryFunctionFeatures(box.select_atoms("name XX"), sets, r_cut=5.0, g2=G2)
    with pytest.raises(InputError, match=r"neighbors\['w'\] is empty"):
        CoordinationFeatures(centers, {"w": box.select_atoms("name XX")}, r0=3.0)
    with pytest.raises(InputError, match="half the shortest box"):
        SymmetryFunctionFeatures(centers, sets, r_cut=9.0, g2=G2).run()
    with pytest.raises(InputError, match="g2 and g5 are both empty"):
        SymmetryFunctionFeatures(centers, sets, r_cut=5.0)
    with pytest.raises(InputError, match="start=100 is beyond the trajectory of 3 frames"):
        CoordinationFeatures(centers, sets, r0=3.0).run(start=100)
    with pytest.raises(RcxaiError, match="r0 has keys"):
        CoordinationFeatures(centers, sets, r0={"water O": 3.0})
    with pytest.raises(InputError, match="pair_terms=True needs exactly two"):
        CoordinationFeatures(centers[:1], sets, r0=3.0, pair_terms=True)

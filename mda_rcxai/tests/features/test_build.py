"""build_features / save_features / load_features, column metadata, and the
compiled-kernel block paths (XTC, periodic boxes, empty frame selections)."""

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.lib import distances as mdadist

from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
from mda_rcxai.exceptions import DatasetError, InputError, RcxaiError
from mda_rcxai.features import (AngleFeatures, DihedralFeatures, DistanceFeatures,
                                FeatureColumn, build_features, load_features, save_features)
from mda_rcxai.tests.features.waterbox import make_nacl_box


def test_build_concatenates_kinds_and_metadata(ala_universe):
    r = build_features(ala_universe.atoms, kinds=("dihedrals", "distances", "angles"),
                       stop=20, dihedrals={"sincos": True}, distances={"pairs": "heavy"})
    d = DihedralFeatures(ala_universe.atoms, sincos=True).run(stop=20).results
    dist = DistanceFeatures(ala_universe.atoms).run(stop=20).results
    ang = AngleFeatures(ala_universe.atoms).run(stop=20).results
    n1, n2 = d.features.shape[1], dist.features.shape[1]
    assert r.features.shape == (20, n1 + n2 + ang.features.shape[1])
    np.testing.assert_array_equal(r.features[:, :n1], d.features)
    np.testing.assert_array_equal(r.features[:, n1:n1 + n2], dist.features)
    assert r.columns[:n1] == d.columns and r.columns[n1:n1 + n2] == dist.columns
    assert r.kinds[0] == "dihedrals" and r.kinds[-1] == "angles"
    # groups stay unique across kinds; sin/cos of one angle share one
    assert r.groups[0] == r.groups[1] and len(set(r.groups[n1:])) == len(r.groups[n1:])
    assert r.groups[n1] > r.groups[n1 - 1]
    # atom indices padded with -1 to 4 columns
    assert r.atom_indices.shape == (len(r.names), 4)
    assert (r.atom_indices[n1:n1 + n2, 2:] == -1).all()
    assert r.units[0] == "1" and r.units[n1] == "angstrom" and r.units[-1] == "degrees"
    assert set(r.kernel) == {"dihedrals", "distances", "angles"}


def test_build_with_solvent_kinds_on_a_box():
    u = make_nacl_box(n_frames=2, seed=2)
    r = build_features(u.atoms, kinds=("distances", "acsf", "coordination"),
                       distances={"pairs": [(0, 1)]},
                       acsf={"centers": "name NA CL",
                             "neighbors": {"water O": "resname HOH and name O"},
                             "r_cut": 6.0, "g2": [(0.5, 2.5)], "g5": [(0.01, 1, -1)]},
                       coordination={"centers": "name NA CL",
                                     "neighbors": {"water O": "resname HOH and name O"},
                                     "r0": 3.2})
    kinds = [c.kind for c in r.columns]
    assert kinds == ["distance", "acsf_g2", "acsf_g5", "acsf_g2", "acsf_g5", "coordination",
                     "coordination", "distance", "bridging", "density"]
    # the pair distance (minimum image) twice: DistanceFeatures and CoordinationFeatures
    np.testing.assert_allclose(r.features[:, 0], r.features[:, 7], atol=1e-4)
    groups = [c.group for c in r.columns]
    assert groups[1] == groups[2] == "NA1:NA / water O"
    assert r.columns[1].center == (0,) and r.columns[1].neighbors == "water O"
    assert len(r.columns[1].neighbor_atoms) == len(u.select_atoms("resname HOH and name O"))


def test_build_errors(ala_universe):
    with pytest.raises(InputError, match="not known"):
        build_features(ala_universe.atoms, kinds=("torsions",))
    with pytest.raises(InputError, match="for kinds not in kinds"):
        build_features(ala_universe.atoms, kinds=("dihedrals",), distances={})
    with pytest.raises(InputError, match="needs 'centers'"):
        build_features(ala_universe.atoms, kinds=("acsf",), acsf={"r_cut": 5})
    with pytest.raises(InputError, match="selects no atoms"):
        build_features(ala_universe.atoms, kinds=("coordination",),
                       coordination={"centers": "name NA", "neighbors": "name O", "r0": 3})


def test_save_load_round_trip_and_damaged_files(tmp_path, ala_universe):
    r = build_features(ala_universe.atoms, kinds=("dihedrals", "distances"), stop=7,
                       dihedrals={"sincos": True})
    path = tmp_path / "features.npz"
    save_features(path, r, n_A=np.arange(7), n_B=np.ones(7))
    assert [p.name for p in tmp_path.iterdir()] == ["features.npz"]  # no temp file left
    back = load_features(path)
    np.testing.assert_array_equal(back.features, r.features)
    assert back.names == r.names and back.columns == r.columns
    assert all(isinstance(c, FeatureColumn) for c in back.columns)
    np.testing.assert_array_equal(back.atom_indices, r.atom_indices)
    np.testing.assert_array_equal(back.groups, r.groups)
    np.testing.assert_array_equal(back.n_A, np.arange(7))
    assert back.kinds == r.kinds and back.units == r.units and back.kernel == r.kernel
    # a solvent descriptor's parameters come back as numbers, not strings
    u = make_nacl_box(n_frames=1)
    s = build_features(u.atoms, kinds=("acsf",),
                       acsf={"centers": "name NA", "neighbors": {"O": "name O"}, "r_cut": 5.0,
                             "g5": [(0.01, 2, -1)]})
    save_features(tmp_path / "s.npz", s)
    c = load_features(tmp_path / "s.npz").columns[0]
    assert c.param("zeta") == 2.0 and c.param("lambda") == -1.0 and c.param("r_cut") == 5.0
    # truncated, wrong and missing files: one-line errors naming the file
    data = path.read_bytes()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="truncated.npz") as err:
        load_features(bad)
    assert "\n" not in str(err.value) and isinstance(err.value, InputError)
    other = tmp_path / "other.npz"
    np.savez(other, X=np.zeros((2, 2)))
    with pytest.raises(DatasetError, match="other.npz: not a features file"):
        load_features(other)
    with pytest.raises(DatasetError, match="no such features file"):
        load_features(tmp_path / "missing.npz")
    with pytest.raises(InputError, match="clash"):
        save_features(path, r, names=np.zeros(3))


def _xtc_copy(tmp_path, u, stop=60):
    path = str(tmp_path / "ala.xtc")
    with mda.Writer(path, u.atoms.n_atoms) as w:
        for ts in u.trajectory[:stop]:
            w.write(u.atoms)
    return mda.Universe(ALANINE_DIPEPTIDE_PDB, path)


def test_xtc_block_path_equals_frame_by_frame(tmp_path, ala_universe):
    u = _xtc_copy(tmp_path, ala_universe)
    for cls in (DihedralFeatures, DistanceFeatures, AngleFeatures):
        blocks = cls(u.atoms).run(start=3, step=4, block_size=5)
        frames = cls(u.atoms).run(start=3, step=4, backend="multiprocessing", n_workers=1)
        np.testing.assert_array_equal(blocks.results.features, frames.results.features)
        np.testing.assert_array_equal(blocks.frames, frames.frames)


def test_periodic_block_path_matches_mdanalysis_minimum_image():
    u = make_nacl_box(n_frames=3, seed=5)  # in memory, molecules broken across the box
    water = u.select_atoms("resname HOH")[:30]
    pairs = [(a.index, b.index) for a, b in zip(water[:-1], water[1:])]
    d = DistanceFeatures(u.atoms, pairs=pairs).run()
    a = AngleFeatures(u.atoms, angles="all").run()  # H-O-H of every water
    ref_d, ref_a = [], []
    for ts in u.trajectory:
        p = u.atoms.positions
        ix = np.array(pairs)
        ref_d.append(mdadist.calc_bonds(p[ix[:, 0]], p[ix[:, 1]], box=ts.dimensions))
        t = a.results.atom_indices
        ref_a.append(np.degrees(mdadist.calc_angles(p[t[:, 0]], p[t[:, 1]], p[t[:, 2]],
                                                    box=ts.dimensions)))
    np.testing.assert_allclose(d.results.features, ref_d, atol=2e-4)
    np.testing.assert_allclose(a.results.features, ref_a, atol=2e-3)
    # frame 0 is Modeller's rigid TIP3P (later frames are jittered): every H-O-H angle is
    # 104.52 degrees, also for the molecules split across the boundary
    assert np.abs(a.results.features[0] - 104.52).max() < 0.1
    frames = AngleFeatures(u.atoms).run(backend="multiprocessing", n_workers=1)
    np.testing.assert_array_equal(frames.results.features, a.results.features)


def test_empty_frame_selection_is_an_error(ala_universe):
    with pytest.raises(InputError, match=r"start=100000 is beyond the trajectory of 1000 frames"):
        DihedralFeatures(ala_universe.atoms).run(start=100000)
    with pytest.raises(InputError, match="step=0"):
        DihedralFeatures(ala_universe.atoms).run(step=0)
    with pytest.raises(InputError, match="select no frame"):
        DihedralFeatures(ala_universe.atoms).run(start=10, stop=5)
    with pytest.raises(InputError, match="frames is empty"):
        DihedralFeatures(ala_universe.atoms).run(frames=[])
    with pytest.raises(RcxaiError, match="atomgroup is empty"):
        DihedralFeatures(ala_universe.select_atoms("name XX"))
    with pytest.raises(InputError, match="dtype"):
        DihedralFeatures(ala_universe.atoms, dtype=np.int32)


def test_build_flat_options_go_to_their_kinds(ala_universe):
    # flat options (as a config gives them): each goes to the kinds that take it, options of
    # kinds not requested and None values are ignored
    r = build_features(ala_universe.atoms, kinds=("dihedrals",), stop=5, dihedrals="backbone",
                       sincos=True, pairs=None, centers=None, neighbors={}, r_cut=6.0,
                       g2=[], g5=[], r0=3.0)
    assert {"sin(phi)", "cos(psi)", "sin(omega(ACE1))"} <= set(r.names) and len(r.names) == 8  # omega x2
    u = make_nacl_box(n_frames=1)
    s = build_features(u.atoms, kinds=("acsf", "coordination"), centers="name NA CL",
                       neighbors={"O": "resname HOH and name O"}, r_cut=5.0, g2=[(0.5, 2.5)],
                       g5=[], r0=3.2, dihedrals="all")
    assert [c.kind for c in s.columns].count("acsf_g2") == 2
    assert [c.kind for c in s.columns].count("coordination") == 2
    with pytest.raises(InputError, match="unknown option 'cutoff'"):
        build_features(ala_universe.atoms, cutoff=3.0)


def test_dcd_memory_map_reads_what_mdanalysis_reads(tmp_path, ala_universe):
    from mda_rcxai.features._readers import dcd_blocks_numpy, dcd_layout
    r = ala_universe.trajectory
    assert dcd_layout(r.filename, r.n_atoms, r.n_frames) is not None
    # a DCD with unit-cell records (written by MDAnalysis from the periodic box)
    u = make_nacl_box(n_frames=4, seed=6)
    path = str(tmp_path / "box.dcd")
    with mda.Writer(path, len(u.atoms)) as w:
        for _ in u.trajectory:
            w.write(u.atoms)
    ud = mda.Universe(u._topology, path)
    header, dt = dcd_layout(path, len(u.atoms), 4)
    assert "cell" in dt.names
    for reader in (r, ud.trajectory):
        ids = np.arange(0, reader.n_frames, 3)
        got = np.concatenate([x for x, _ in dcd_blocks_numpy(reader, None, ids, 7, False)])
        ref = np.array([reader[i].positions for i in ids])
        np.testing.assert_array_equal(got, ref)
    # not a plain DCD (size does not fit the frames): no memory map, mdtraj's reader instead
    bad = tmp_path / "bad.dcd"
    bad.write_bytes(open(r.filename, "rb").read()[:-7])
    assert dcd_layout(str(bad), r.n_atoms, r.n_frames) is None


def test_periodic_dcd_blocks_use_boxes(tmp_path):
    u = make_nacl_box(n_frames=4, seed=8)
    path = str(tmp_path / "box.dcd")
    with mda.Writer(path, len(u.atoms)) as w:
        for _ in u.trajectory:
            w.write(u.atoms)
    ud = mda.Universe(u._topology, path)
    water = ud.select_atoms("resname HOH")[:40]
    pairs = [(a.index, b.index) for a, b in zip(water[:-1], water[1:])]
    blocks = DistanceFeatures(ud.atoms, pairs=pairs).run(block_size=3).results.features
    frames = DistanceFeatures(ud.atoms, pairs=pairs).run(backend="multiprocessing",
                                                        n_workers=1).results.features
    np.testing.assert_allclose(blocks, frames, atol=1e-5)
    assert blocks.max() < 0.5 * ud.dimensions[0] * np.sqrt(3)  # minimum image


def test_triclinic_box_matches_mdanalysis():
    rng = np.random.default_rng(11)
    n, nf = 30, 4
    u = mda.Universe.empty(n, trajectory=False)
    box = np.array([20.0, 22.0, 25.0, 70.0, 80.0, 95.0])
    coords = rng.uniform(0, 20, size=(nf, n, 3)).astype(np.float32)
    u.load_new(coords, format=mda.coordinates.memory.MemoryReader,
               dimensions=np.tile(box, (nf, 1)))
    pairs = [(i, (i * 7 + 3) % n) for i in range(n) if i != (i * 7 + 3) % n]
    quads = [(i, (i + 5) % n, (i + 11) % n, (i + 17) % n) for i in range(n)]
    d = DistanceFeatures(u.atoms, pairs=pairs).run().results.features
    q = DihedralFeatures(u.atoms, dihedrals=quads).run().results.features
    for f, ts in enumerate(u.trajectory):
        p = u.atoms.positions
        ix = np.array(pairs)
        np.testing.assert_allclose(d[f], mdadist.calc_bonds(p[ix[:, 0]], p[ix[:, 1]], box=box),
                                   atol=2e-4)
        jx = np.array(quads)
        ref = np.degrees(mdadist.calc_dihedrals(*(p[jx[:, k]] for k in range(4)), box=box))
        diff = (q[f] - ref + 180) % 360 - 180
        assert np.abs(diff).max() < 1e-2

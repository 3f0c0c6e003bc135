"""The geometry kernels (numba without a box, mdtraj with one, MDAnalysis as the
fallback) against MDAnalysis' double-precision ``lib.distances``."""

import numpy as np
import pytest
from MDAnalysis.lib.distances import calc_angles, calc_bonds, calc_dihedrals

from mda_rcxai.features import _kernels
from mda_rcxai.features._kernels import geometry, kernel_name


def _coords(n_frames=50, n_atoms=12, seed=0):
    rng = np.random.default_rng(seed)
    xyz = rng.normal(0.0, 3.0, (n_frames, n_atoms, 3)).astype(np.float32)
    # exact edge cases in frame 0: atoms 0-1-2 collinear (angle 180), 3-1-0 folded back
    # (angle 0); 5-6-7-8 planar trans (dihedral 180), 5-6-7-9 planar cis (dihedral 0)
    xyz[0, :4] = [[0, 0, 0], [1.5, 0, 0], [3, 0, 0], [0.5, 0, 0]]
    xyz[0, 5:10] = [[0, 1, 0], [0, 0, 0], [1.5, 0, 0], [1.5, -1, 0], [1.5, 1, 0]]
    return xyz


ROWS = {
    "distance": np.array([[0, 1], [2, 7], [11, 3], [5, 6]]),
    "angle": np.array([[0, 1, 2], [3, 1, 0], [4, 2, 9], [8, 10, 11]]),
    "dihedral": np.array([[5, 6, 7, 8], [5, 6, 7, 9], [3, 5, 7, 9], [11, 10, 8, 6]]),
}


def _reference(kind, xyz, rows, box=None):
    out = []
    for x in xyz.astype(np.float64):
        p = [x[rows[:, k]] for k in range(rows.shape[1])]
        fn = {"distance": calc_bonds, "angle": calc_angles, "dihedral": calc_dihedrals}[kind]
        out.append(fn(*p, box=box))
    return np.array(out)


def _angle_diff(a, b):
    return np.abs(np.angle(np.exp(1j * (a - b))))


@pytest.mark.parametrize("backend", ["numba", "mdtraj", "MDAnalysis"])
@pytest.mark.parametrize("kind", ["distance", "angle", "dihedral"])
def test_kernels_match_mdanalysis_double(monkeypatch, backend, kind):
    if backend != "numba":
        monkeypatch.setattr(_kernels, "_NUMBA", False)
    if backend == "MDAnalysis":
        monkeypatch.setattr(_kernels, "_MDTRAJ", False)
    assert kernel_name().startswith(backend)
    xyz = _coords()
    rows = ROWS[kind]
    got = geometry(kind, xyz, rows)
    assert got.shape == (len(xyz), len(rows)) and got.dtype == np.float32
    ref = _reference(kind, xyz, rows)
    if kind == "distance":
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=2e-6)
    else:
        # float32 coordinates; float64 arithmetic (numba, MDAnalysis) or float32 SIMD (mdtraj)
        tol = 1e-3 if backend == "mdtraj" else 1e-5
        assert _angle_diff(got, ref).max() < tol
    if kind == "angle":
        assert got[0, 0] == pytest.approx(np.pi, abs=1e-6 if backend != "mdtraj" else 1e-3)
        assert got[0, 1] == pytest.approx(0.0, abs=1e-6 if backend != "mdtraj" else 2e-3)
    if kind == "dihedral":
        # planar trans: +-pi (the same angle either way); planar cis: 0
        assert _angle_diff(got[0, 0], np.pi) < 1e-5
        assert abs(got[0, 1]) < 1e-6


@pytest.mark.parametrize("kind", ["distance", "angle", "dihedral"])
def test_block_output_and_strided_out(kind):
    """Writing into a slice of a larger (non-contiguous) array gives the same values."""
    xyz = _coords(n_frames=20)
    rows = ROWS[kind]
    whole = geometry(kind, xyz, rows)
    big = np.zeros((20, 2 * len(rows)), np.float32)
    geometry(kind, xyz, rows, out=big[:, ::2])
    np.testing.assert_array_equal(big[:, ::2], whole)
    assert not big[:, 1::2].any()


def test_periodic_uses_minimum_image():
    """With a box the minimum-image kernel runs (mdtraj), and matches MDAnalysis' box=."""
    xyz = _coords(n_frames=10) + 10.0
    box = np.array([12.0, 12.0, 12.0, 90, 90, 90])
    boxes = np.tile(box, (len(xyz), 1))
    rows = ROWS["distance"]
    got = geometry("distance", xyz, rows, boxes=boxes)
    np.testing.assert_allclose(got, _reference("distance", xyz, rows, box=box), atol=2e-5)
    assert (got <= np.sqrt(3) * 6 + 1e-4).all()
    assert kernel_name(periodic=True).startswith("mdtraj")

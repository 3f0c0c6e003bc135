"""Compiled geometry kernels for distances, angles and dihedrals over blocks of frames.

Two compiled back ends, chosen per call:

* without a periodic box: this module's own numba kernels (``@njit``,
  frame-major loops over a block ``(n_frames, n_atoms, 3)`` and rows of atom
  indices; compiled on first use and cached on disk). Distances are computed
  in float32 arithmetic, as mdtraj does; angles and dihedrals in float64
  arithmetic from the float32 coordinates. Their speed against mdtraj's SIMD
  kernels is measured by ``benchmarks/features.py`` and recorded, with why
  the loops are frame-major, in ``docs/development.rst``.
* with a periodic box (minimum image): mdtraj's own kernels
  (``mdtraj.geometry._geometry``: SIMD C++ over float32 coordinates, the
  routines behind ``mdtraj.compute_distances(..., periodic=True)``).

numba is installed with shap and mdtraj with OpenPathSampling; where either
is missing, :mod:`MDAnalysis.lib.distances` (double precision) takes its
place. :func:`kernel_name` says which one runs.

Precision: dihedrals agree with MDAnalysis' double-precision
``calc_dihedrals`` to about 1e-5 degrees on the bundled alanine dipeptide
trajectory (tested < 1e-4 degrees), distances to ~1e-6 Angstrom.
"""

import math

import numpy as np

__all__ = ["geometry", "kernel_name"]

_K = {"distance": 2, "angle": 3, "dihedral": 4}
_MDTRAJ = None
_NUMBA = None


def _mdtraj_geometry():
    global _MDTRAJ
    if _MDTRAJ is None:
        try:
            from mdtraj.geometry import _geometry
            _MDTRAJ = _geometry
        except Exception:  # mdtraj absent or broken: fall back to MDAnalysis
            _MDTRAJ = False
    return _MDTRAJ or None


def _dist_py(xyz, rows, out):
    for f in range(xyz.shape[0]):
        x = xyz[f]
        for j in range(rows.shape[0]):
            a = rows[j, 0]
            b = rows[j, 1]
            dx = x[b, 0] - x[a, 0]
            dy = x[b, 1] - x[a, 1]
            dz = x[b, 2] - x[a, 2]
            out[f, j] = math.sqrt(dx * dx + dy * dy + dz * dz)


def _angle_py(xyz, rows, out):
    for f in range(xyz.shape[0]):
        x = xyz[f]
        for j in range(rows.shape[0]):
            a = rows[j, 0]
            b = rows[j, 1]
            c = rows[j, 2]
            ux = np.float64(x[a, 0]) - x[b, 0]
            uy = np.float64(x[a, 1]) - x[b, 1]
            uz = np.float64(x[a, 2]) - x[b, 2]
            vx = np.float64(x[c, 0]) - x[b, 0]
            vy = np.float64(x[c, 1]) - x[b, 1]
            vz = np.float64(x[c, 2]) - x[b, 2]
            cx = uy * vz - uz * vy
            cy = uz * vx - ux * vz
            cz = ux * vy - uy * vx
            # atan2(|u x v|, u.v): accurate near 0 and pi, unlike acos
            out[f, j] = math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz),
                                   ux * vx + uy * vy + uz * vz)


def _dihedral_py(xyz, rows, out):
    for f in range(xyz.shape[0]):
        x = xyz[f]
        for j in range(rows.shape[0]):
            a = rows[j, 0]
            b = rows[j, 1]
            c = rows[j, 2]
            d = rows[j, 3]
            b1x = np.float64(x[b, 0]) - x[a, 0]
            b1y = np.float64(x[b, 1]) - x[a, 1]
            b1z = np.float64(x[b, 2]) - x[a, 2]
            b2x = np.float64(x[c, 0]) - x[b, 0]
            b2y = np.float64(x[c, 1]) - x[b, 1]
            b2z = np.float64(x[c, 2]) - x[b, 2]
            b3x = np.float64(x[d, 0]) - x[c, 0]
            b3y = np.float64(x[d, 1]) - x[c, 1]
            b3z = np.float64(x[d, 2]) - x[c, 2]
            n1x = b1y * b2z - b1z * b2y
            n1y = b1z * b2x - b1x * b2z
            n1z = b1x * b2y - b1y * b2x
            n2x = b2y * b3z - b2z * b3y
            n2y = b2z * b3x - b2x * b3z
            n2z = b2x * b3y - b2y * b3x
            # IUPAC sign, as MDAnalysis/mdtraj: atan2(|b2| b1.n2, n1.n2)
            nb2 = math.sqrt(b2x * b2x + b2y * b2y + b2z * b2z)
            out[f, j] = math.atan2(nb2 * (b1x * n2x + b1y * n2y + b1z * n2z),
                                   n1x * n2x + n1y * n2y + n1z * n2z)


def _numba_kernels():
    """The three kernels compiled by numba (``cache=True``), or None without numba."""
    global _NUMBA
    if _NUMBA is None:
        try:
            import numba
        except Exception:  # numba absent or broken: mdtraj / MDAnalysis instead
            _NUMBA = False
            return None
        fns = {"distance": _dist_py, "angle": _angle_py, "dihedral": _dihedral_py}
        try:
            jit = numba.njit(cache=True, nogil=True, boundscheck=False)
            _NUMBA = {k: jit(f) for k, f in fns.items()}
        except Exception:  # no writable cache folder: compile in every process
            jit = numba.njit(cache=False, nogil=True, boundscheck=False)
            _NUMBA = {k: jit(f) for k, f in fns.items()}
    return _NUMBA or None


def kernel_name(periodic=False):
    """The kernel that computes geometry without (or with) a periodic box.

    Parameters
    ----------
    periodic : bool
        Whether the minimum-image convention is in use.

    Returns
    -------
    str
        ``"numba (mda_rcxai, float32 distances / float64 angles)"``,
        ``"mdtraj._geometry (float32 SIMD, minimum image)"`` or
        ``"MDAnalysis.lib.distances"``.

    Examples
    --------
    >>> kernel_name().split()[0] in ("numba", "mdtraj._geometry", "MDAnalysis.lib.distances")
    True
    """
    if not periodic and _numba_kernels() is not None:
        return "numba (mda_rcxai, float32 distances / float64 angles)"
    if _mdtraj_geometry() is not None:
        return ("mdtraj._geometry (float32 SIMD, minimum image)" if periodic
                else "mdtraj._geometry (float32 SIMD)")
    return "MDAnalysis.lib.distances"


def geometry(kind, xyz, rows, boxes=None, out=None):
    """Distances, angles or dihedrals of ``rows`` in every frame of ``xyz``.

    Parameters
    ----------
    kind : {"distance", "angle", "dihedral"}
    xyz : numpy.ndarray
        (n_frames, n_atoms, 3) coordinates in Angstrom (float32 is used
        without a copy when C-contiguous).
    rows : numpy.ndarray
        (n_rows, k) indices into the second axis of ``xyz``.
    boxes : numpy.ndarray, optional
        (n_frames, 6) MDAnalysis box dimensions ``[lx, ly, lz, alpha, beta,
        gamma]`` for the minimum-image convention, or None.

    out : numpy.ndarray, optional
        (n_frames, n_rows) array to write into: a C-contiguous float32 one
        is written by the kernel directly (no allocation), any other is
        filled from a temporary.

    Returns
    -------
    numpy.ndarray
        ``out`` or a new (n_frames, n_rows) array: Angstrom for distances, radians for angles
        ([0, pi]) and dihedrals ((-pi, pi]).
    """
    xyz = np.ascontiguousarray(xyz, dtype=np.float32)
    rows = np.ascontiguousarray(rows, dtype=np.int32)
    nf = xyz.shape[0]
    if out is None:
        out = np.empty((nf, rows.shape[0]), dtype=np.float32)
    elif not (out.dtype == np.float32 and out.flags.c_contiguous):
        out[...] = geometry(kind, xyz, rows, boxes)  # the kernels write C float32 only
        return out
    if rows.shape[0] == 0 or nf == 0:
        return out
    if boxes is None:
        nb = _numba_kernels()
        if nb is not None:
            nb[kind](xyz, rows, out)
            return out
    g = _mdtraj_geometry()
    if g is None:
        out[...] = _mda_geometry(kind, xyz, rows, boxes)
        return out
    if boxes is None:
        {"distance": g._dist, "angle": g._angle, "dihedral": g._dihedral}[kind](xyz, rows, out)
        return out
    vecs, orthogonal = box_vectors(boxes)
    # mdtraj passes unitcell_vectors transposed (columns are the box vectors)
    vecs = np.ascontiguousarray(vecs.transpose(0, 2, 1))
    {"distance": g._dist_mic, "angle": g._angle_mic,
     "dihedral": g._dihedral_mic}[kind](xyz, rows, vecs, out, orthogonal)
    return out


def box_vectors(boxes):
    """(n, 3, 3) float32 box vectors (rows a, b, c) of (n, 6) MDAnalysis
    dimensions, and whether all boxes are orthogonal (vectorised for those)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    orthogonal = bool(np.allclose(boxes[:, 3:], 90.0))
    if orthogonal:
        vecs = np.zeros((len(boxes), 3, 3), np.float32)
        vecs[:, [0, 1, 2], [0, 1, 2]] = boxes[:, :3]
        return vecs, True
    from MDAnalysis.lib.mdamath import triclinic_vectors
    return np.stack([triclinic_vectors(b) for b in boxes]).astype(np.float32), False


def _mda_geometry(kind, xyz, rows, boxes):
    from MDAnalysis.lib import distances as mdadist
    nf = xyz.shape[0]
    out = np.empty((nf, rows.shape[0]))
    for f in range(nf) if boxes is not None else [None]:
        sl = slice(None) if f is None else slice(f, f + 1)
        pos = xyz[sl][:, rows].reshape(-1, rows.shape[1], 3)
        box = None if f is None else boxes[f]
        if kind == "distance":
            v = mdadist.calc_bonds(pos[:, 0], pos[:, 1], box=box)
        elif kind == "angle":
            v = mdadist.calc_angles(pos[:, 0], pos[:, 1], pos[:, 2], box=box)
        else:
            v = mdadist.calc_dihedrals(pos[:, 0], pos[:, 1], pos[:, 2], pos[:, 3], box=box)
        out[sl] = v.reshape(-1, rows.shape[0])
    return out

"""Blocks of trajectory frames for the feature classes' serial fast path.

Frames come from memory (:class:`~MDAnalysis.coordinates.memory.MemoryReader`,
without a copy for contiguous frames) or are read in blocks straight from a
DCD or XTC file: mdtraj's C readers where mdtraj is installed, else a numpy
view of the DCD records (:func:`dcd_layout`). Each block is
``(xyz, boxes)``: coordinates ``(n, n_atoms, 3)`` float32 in Angstrom and the
box dimensions per frame (or None).
"""

import os
import sys

import numpy as np
from MDAnalysis.coordinates.DCD import DCDReader

__all__ = ["memory_blocks", "file_block_reader", "dcd_layout", "dcd_blocks_numpy",
           "is_contiguous"]


def is_contiguous(frame_ids):
    """True when frame_ids is first, first+1, ..., last: n ids spanning n - 1 are
    exactly that when they are strictly increasing (an ``arange()[slice]`` always
    is; a user's ``frames`` list may not be)."""
    n = len(frame_ids)
    if n == 0 or int(frame_ids[-1]) - int(frame_ids[0]) != n - 1:
        return False
    return bool(np.all(frame_ids[1:] > frame_ids[:-1]))


def memory_blocks(reader, frame_ids, block_size, use_box):
    coords = reader.get_array()  # stored in any order; view it as 'fac'
    if reader.stored_order != "fac":
        coords = coords.transpose([reader.stored_order.index(c) for c in "fac"])
    dims = None
    if use_box:
        dims = getattr(reader, "dimensions_array", None)
        if dims is None or len(dims) != reader.n_frames:
            dims = np.tile(np.asarray(reader.ts.dimensions), (reader.n_frames, 1))
    contiguous = is_contiguous(frame_ids)
    for lo in range(0, len(frame_ids), block_size):
        ids = frame_ids[lo:lo + block_size]
        xyz = coords[int(ids[0]):int(ids[-1]) + 1] if contiguous else coords[ids]
        yield xyz, (None if dims is None else dims[ids])


def mdtraj_formats():
    try:
        from mdtraj.formats import DCDTrajectoryFile, XTCTrajectoryFile
        return DCDTrajectoryFile, XTCTrajectoryFile
    except Exception:  # mdtraj missing
        return None


def regular_step(frame_ids):
    """(start, stride) when frame_ids is an arithmetic progression, else None."""
    if len(frame_ids) < 2:
        return int(frame_ids[0]), 1
    d = np.diff(frame_ids)
    return (int(frame_ids[0]), int(d[0])) if np.all(d == d[0]) and d[0] > 0 else None


def dcd_blocks_mdtraj(reader, atom_indices, frame_ids, block_size, use_box):
    DCDFile = mdtraj_formats()[0]
    start, stride = regular_step(frame_ids)
    left = len(frame_ids)
    with DCDFile(reader.filename, "r") as fh:
        fh.seek(start)
        while left > 0:
            k = min(block_size, left)
            xyz, lengths, angles = fh.read(n_frames=k, stride=stride,
                                           atom_indices=atom_indices)
            if len(xyz) == 0:
                return
            left -= len(xyz)
            boxes = np.hstack([lengths, angles]) if use_box else None
            yield xyz, boxes


def xtc_blocks_mdtraj(reader, atom_indices, frame_ids, block_size, use_box):
    XTCFile = mdtraj_formats()[1]
    from MDAnalysis.lib.mdamath import triclinic_box
    start, stride = regular_step(frame_ids)
    left = len(frame_ids)
    with XTCFile(reader.filename, "r") as fh:
        if start:
            fh.seek(start)
        while left > 0:
            k = min(block_size, left)
            xyz, _time, _step, box = fh.read(n_frames=k, stride=stride,
                                             atom_indices=atom_indices)
            if len(xyz) == 0:
                return
            left -= len(xyz)
            xyz *= np.float32(10.0)  # nm -> Angstrom, as MDAnalysis' XTCReader
            boxes = None
            if use_box:
                box = np.asarray(box, np.float64) * 10.0
                boxes = np.array([triclinic_box(*b) for b in box])
            yield xyz, boxes


def dcd_layout(filename, n_atoms, n_frames):
    """Frame layout of a plain DCD file for reading it as a numpy memory map.

    A DCD written by CHARMM, NAMD, OpenMM, MDAnalysis or mdtraj without
    fixed atoms stores every frame alike: an optional unit-cell record
    (4-byte marker 48, six float64, marker 48), then X, Y and Z records
    (marker 4N, N float32, marker 4N). Returns ``(header_bytes, dtype)``
    when the file size and the record markers of the first and last frames
    match exactly (native byte order), else None (then mdtraj's reader is
    used).
    """
    try:
        size = os.path.getsize(filename)
    except OSError:
        return None
    if n_frames < 1 or n_atoms < 1:
        return None
    rec = 4 * n_atoms
    xyz = [("m0", "<i4"), ("x", "<f4", (n_atoms,)), ("m1", "<i4"),
           ("m2", "<i4"), ("y", "<f4", (n_atoms,)), ("m3", "<i4"),
           ("m4", "<i4"), ("z", "<f4", (n_atoms,)), ("m5", "<i4")]
    for cell in (True, False):
        fields = ([("c0", "<i4"), ("cell", "<f8", (6,)), ("c1", "<i4")] if cell else []) + xyz
        dt = np.dtype(fields)
        header = size - n_frames * dt.itemsize
        if header <= 0:
            continue
        try:
            mm = np.memmap(filename, dtype=dt, mode="r", offset=header, shape=(n_frames,))
        except (OSError, ValueError):
            return None
        ends = mm[[0, n_frames - 1]]
        ok = all((ends[m] == rec).all() for m in ("m0", "m1", "m2", "m3", "m4", "m5"))
        if cell:
            ok = ok and (ends["c0"] == 48).all() and (ends["c1"] == 48).all()
        del mm
        if ok:
            return header, dt
    return None


def dcd_blocks_numpy(reader, atom_indices, frame_ids, block_size, use_box):
    """Blocks of a plain DCD read as a numpy memory map (see :func:`dcd_layout`):
    the same float32 values MDAnalysis' and mdtraj's readers return, without
    their per-frame overhead."""
    header, dt = dcd_layout(reader.filename, reader.n_atoms, reader.n_frames)
    mm = np.memmap(reader.filename, dtype=dt, mode="r", offset=header,
                   shape=(reader.n_frames,))
    contiguous = is_contiguous(frame_ids)
    for lo in range(0, len(frame_ids), block_size):
        ids = frame_ids[lo:lo + block_size]
        part = mm[int(ids[0]):int(ids[-1]) + 1] if contiguous else mm[ids]
        xyz = np.empty((len(part), reader.n_atoms, 3), dtype=np.float32)
        xyz[:, :, 0] = part["x"]
        xyz[:, :, 1] = part["y"]
        xyz[:, :, 2] = part["z"]
        if atom_indices is not None:
            xyz = xyz[:, atom_indices]
        yield xyz, None
    del mm


def file_block_reader(reader, use_box=False):
    """A generator function reading blocks of (xyz, boxes) from the reader's
    file, or None when frames must be read one by one."""
    from MDAnalysis.coordinates.XTC import XTCReader
    formats = mdtraj_formats()
    if isinstance(reader, DCDReader):
        if not use_box and sys.byteorder == "little" and \
                dcd_layout(reader.filename, reader.n_atoms, reader.n_frames) is not None:
            return dcd_blocks_numpy
        if formats is not None:
            return dcd_blocks_mdtraj
        return None
    if isinstance(reader, XTCReader) and formats is not None:
        return xtc_blocks_mdtraj
    return None

"""Shared machinery of the feature classes: one AnalysisBase, many internal coordinates.

Every feature class here computes a fixed set of internal coordinates (bond
distances, angles or dihedrals) given as rows of atom indices, with compiled
geometry kernels (:mod:`mda_rcxai.features._kernels`: our numba kernels
without a periodic box, mdtraj's minimum-image kernels with one; MDAnalysis'
``lib.distances`` where neither is installed). With the serial backend, a
trajectory in memory (:class:`MDAnalysis.coordinates.memory.MemoryReader`,
e.g. after ``u.transfer_to_memory()``) or a DCD/XTC file is processed in
blocks of frames (:mod:`mda_rcxai.features._readers`) with one kernel call
per block (speed against mdtraj's ``compute_*``: ``benchmarks/features.py``);
the parallel backends go frame by frame with the same kernel, so results are
identical.
Every column also gets a :class:`~mda_rcxai.features.columns.FeatureColumn`
record in ``results.columns``.
"""

import warnings

import networkx as nx
import numpy as np
from MDAnalysis.analysis.base import AnalysisBase, ResultsGroup
from MDAnalysis.coordinates.memory import MemoryReader
from MDAnalysis.core.groups import AtomGroup

from ..exceptions import InputError, InputTypeError, TopologyError
from ._kernels import geometry, kernel_name
from ._readers import file_block_reader, memory_blocks
from .columns import FeatureColumn

__all__ = ["FeaturesBase", "bond_graph", "check_run_frames"]

ANGULAR_UNITS = ("degrees", "radians")
LENGTH_UNITS = ("angstrom", "nm")


def first_value(values):
    """Aggregator for static results: every worker computed the same value."""
    return values[0]


def check_atomgroup(atomgroup, minimum, what):
    if not isinstance(atomgroup, AtomGroup):
        raise InputTypeError(
            f"atomgroup must be an MDAnalysis AtomGroup (e.g. u.atoms or "
            f"u.select_atoms('protein')), got {type(atomgroup).__name__}")
    if len(atomgroup) == 0:
        raise InputError(
            "atomgroup is empty: the selection matched no atoms; check the "
            "selection string against u.atoms.names / u.residues.resnames")
    if len(atomgroup) < minimum:
        raise InputError(
            f"atomgroup has {len(atomgroup)} atom(s) but {what} need at least "
            f"{minimum}; select more atoms")


def bond_graph(atomgroup, guess=True):
    """Return the bond graph of an AtomGroup as a :class:`networkx.Graph`.

    Nodes are the atoms' universe indices (``atom.index``, 0-based); edges
    are the topology's bonds between atoms of the group. If the topology has
    no bonds, they are guessed from distances
    (:meth:`MDAnalysis.core.groups.AtomGroup.guess_bonds`) with a warning.

    Parameters
    ----------
    atomgroup : MDAnalysis.core.groups.AtomGroup
        Atoms whose bonds are wanted.
    guess : bool, optional
        Guess bonds when the topology has none (default ``True``).

    Returns
    -------
    networkx.Graph

    Raises
    ------
    TopologyError
        No bonds and they could not be guessed.

    Examples
    --------
    >>> import MDAnalysis as mda
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    >>> g = bond_graph(mda.Universe(ALANINE_DIPEPTIDE_PDB).atoms)
    >>> g.number_of_nodes(), g.number_of_edges()
    (22, 21)
    """
    u = atomgroup.universe
    if not hasattr(u.atoms, "bonds") or len(u.bonds) == 0:
        if not guess:
            raise TopologyError(
                "the topology has no bonds; load a topology with bonds (PSF, "
                "prmtop, TPR, PDB with CONECT) or pass guess=True")
        warnings.warn(
            "the topology has no bonds; guessing them from distances with "
            "AtomGroup.guess_bonds(); load a topology with bonds to avoid this",
            UserWarning, stacklevel=3)
        try:
            atomgroup.guess_bonds()
        except Exception as err:  # MDAnalysis raises several kinds here
            raise TopologyError(
                f"the topology has no bonds and guessing them failed ({err}); "
                "load a topology with bonds or add atom types/elements") from err
        if len(atomgroup.bonds) == 0:
            raise TopologyError(
                "the topology has no bonds and none could be guessed from the "
                "coordinates; load a topology with bonds")
    inside = set(atomgroup.indices.tolist())
    g = nx.Graph()
    g.add_nodes_from(sorted(inside))
    for i, j in atomgroup.bonds.indices:
        if i in inside and j in inside:
            g.add_edge(int(i), int(j))
    return g


def check_run_frames(trajectory, start, stop, step, frames):
    """Raise :class:`InputError` when ``run(start, stop, step, frames)`` selects no frame.

    Returns the number of frames selected.
    """
    n = trajectory.n_frames
    for label, v in (("start", start), ("stop", stop), ("step", step)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise InputTypeError(f"{label}={v!r} must be an int frame index or None")
    if step is not None and step <= 0:
        raise InputError(f"step={step} must be a positive int (1 = every frame)")
    if frames is not None:
        idx = np.asarray(frames)
        if idx.size == 0:
            raise InputError("frames is empty; pass at least one frame index")
        if idx.dtype != bool and (idx.max() >= n or idx.min() < -n):
            raise InputError(
                f"frames contains {int(idx.max()) if idx.max() >= n else int(idx.min())}, "
                f"outside the trajectory of {n} frames (indices 0..{n - 1})")
        return int(idx.sum()) if idx.dtype == bool else int(idx.size)
    count = len(range(n)[slice(start, stop, step)])
    if count == 0:
        if start is not None and (start >= n or start < -n):
            raise InputError(
                f"start={start} is beyond the trajectory of {n} frames; use start < {n}")
        raise InputError(
            f"start={start}, stop={stop}, step={step} select no frame of the trajectory "
            f"of {n} frames; check the range")
    return count


class FeaturesBase(AnalysisBase):
    """Base of the internal-coordinate feature classes (not used directly).

    Subclasses set ``self._rows`` (n_coordinates, k) universe atom indices,
    the geometry ``_kind`` (``"distance"``, ``"angle"`` or ``"dihedral"``)
    and implement :meth:`_transform` (raw kernel values -> output columns)
    and :meth:`_make_columns` (one :class:`~mda_rcxai.features.columns.FeatureColumn`
    per output column). Values are computed by
    :func:`mda_rcxai.features._kernels.geometry` (numba kernels without a
    periodic box, mdtraj's with one) for a block of frames at a time, or one frame at a time with
    the parallel backends; ``results.kernel`` names the kernel.
    """

    _analysis_algorithm_is_parallelizable = True
    _kind = None

    @classmethod
    def get_supported_backends(cls):
        """Backends :meth:`run` accepts: ``('serial', 'multiprocessing', 'dask')``."""
        return ("serial", "multiprocessing", "dask")

    def __init__(self, atomgroup, rows, labels, aliases, units, pbc, dtype=np.float32,
                 **kwargs):
        self._dtype = check_dtype(dtype)
        super().__init__(atomgroup.universe.trajectory, **kwargs)
        self._ag = atomgroup
        self._universe_rows = np.asarray(rows, dtype=np.intp)
        # positions of the group are gathered once per frame; map rows to them
        pos_in_group = {int(ix): k for k, ix in enumerate(atomgroup.indices)}
        self._local_rows = np.vectorize(pos_in_group.__getitem__, otypes=[np.intp])(
            self._universe_rows) if self._universe_rows.size else self._universe_rows
        self._labels = list(labels)
        self._aliases = list(aliases)
        self._units = units
        self._pbc = bool(pbc)

    # -- per-feature bookkeeping shared by all subclasses ------------------
    def _column_names(self):
        return [a if a is not None else l for a, l in zip(self._aliases, self._labels)]

    def _columns(self):
        """(names, atom_indices, groups) per output column."""
        names = self._column_names()
        groups = np.arange(len(names))
        return names, self._universe_rows.copy(), groups

    def _make_columns(self, names, atom_indices, groups):
        """One FeatureColumn per output column (subclasses refine kind/group)."""
        unit = {"angstrom": "angstrom", "nm": "nm", "degrees": "degrees",
                "radians": "radians"}.get(self._units, self._units)
        return [FeatureColumn(name=n, kind=self._kind, atoms=tuple(a), unit=unit)
                for n, a in zip(names, atom_indices.tolist())]

    def _prepare(self):
        names, atom_indices, groups = self._columns()
        self.results.names = list(names)
        self.results.labels = [self._labels[g] for g in groups]
        self.results.atom_indices = atom_indices
        self.results.groups = groups
        self.results.units = self._units
        self.results.columns = self._make_columns(names, atom_indices, groups)
        self.results.kernel = kernel_name(periodic=self._uses_box())
        # the block path writes every row: np.empty spares calloc's zeroed pages (measured
        # 1.3-1.7x faster for cheap kernels such as distances)
        alloc = np.empty if getattr(self, "_in_blocks", False) else np.zeros
        self.results.features = alloc((self.n_frames, len(names)), dtype=self._dtype)

    def _get_aggregator(self):
        return ResultsGroup(lookup={
            "features": ResultsGroup.ndarray_vstack,
            "names": first_value,
            "labels": first_value,
            "atom_indices": first_value,
            "groups": first_value,
            "units": first_value,
            "columns": first_value,
            "kernel": first_value,
        })

    def _box(self, ts):
        if not self._pbc or ts.dimensions is None:
            return None
        dims = np.asarray(ts.dimensions)
        if np.all(dims[:3] <= 1.0001):  # placeholder cells written for vacuum systems
            return None
        return dims

    def _single_frame(self):
        box = self._box(self._ts)
        i = self._frame_index
        self._compute_into(self._ag.positions[None], self._local_rows,
                           None if box is None else box[None],
                           self.results.features[i:i + 1])

    def _compute_into(self, xyz, rows, boxes, out):
        """Kernel values of a block of frames, transformed, into ``out`` (a
        slice of ``results.features``); float32 output without sin/cos is
        written by the kernel in place, with no temporary array."""
        direct = (out.dtype == np.float32 and out.shape[1] == rows.shape[0]
                  and out.flags.c_contiguous)
        vals = geometry(self._kind, xyz, rows, boxes, out=out if direct else None)
        self._fill(vals, out)

    def _fill(self, vals, out):
        """Write the output columns of raw kernel values ``vals`` (radians or
        Angstrom, float32) into ``out``; ``vals`` may be ``out`` itself."""
        if vals is not out:
            out[...] = vals

    # -- vectorised path over blocks of frames ------------------------------
    def run(self, start=None, stop=None, step=None, frames=None, verbose=None,
            n_workers=None, n_parts=None, backend=None, *,
            unsupported_backend=False, progressbar_kwargs=None, block_size=4096):
        """Compute the features; see :meth:`MDAnalysis.analysis.base.AnalysisBase.run`.

        With ``backend='serial'`` (the default) and a trajectory in memory
        (:class:`~MDAnalysis.coordinates.memory.MemoryReader`, periodic or
        not) or in a DCD file without a periodic box in use (read in blocks
        with the reader's ``timeseries``), frames are processed in blocks of
        ``block_size`` frames, one compiled-kernel call per block. Other
        backends split the frames over ``n_workers`` processes exactly as
        MDAnalysis does.

        Raises
        ------
        InputError
            ``start``/``stop``/``step``/``frames`` select no frame (e.g.
            ``start`` beyond the trajectory), or ``step`` <= 0.
        """
        check_run_frames(self._trajectory, start, stop, step, frames)
        if block_size is None or int(block_size) < 1:
            raise InputError(f"block_size={block_size!r} must be an int >= 1")
        serial = backend in (None, "serial")
        if serial:
            if isinstance(self._trajectory, MemoryReader):
                return self._run_blocks(start, stop, step, frames, verbose, int(block_size))
            if frames is None and file_block_reader(self._trajectory,
                                                     self._uses_box()) is not None:
                return self._run_blocks(start, stop, step, frames, verbose, int(block_size),
                                        reader_blocks=True)
        return super().run(start=start, stop=stop, step=step, frames=frames,
                           verbose=verbose, n_workers=n_workers, n_parts=n_parts,
                           backend=backend, unsupported_backend=unsupported_backend,
                           progressbar_kwargs=progressbar_kwargs)

    def _uses_box(self):
        if not self._pbc:
            return False
        dims = self._trajectory.ts.dimensions
        if dims is None:
            return False
        return not np.all(np.asarray(dims)[:3] <= 1.0001)

    def _run_blocks(self, start, stop, step, frames, verbose, block_size,
                    reader_blocks=False):
        """Blocks of frames at once: from memory (no copy for contiguous
        frames), or read in blocks from a DCD/XTC file (mdtraj's C readers,
        or MDAnalysis' DCD ``timeseries`` where mdtraj is missing); one
        compiled-kernel call per block."""
        from tqdm.auto import tqdm

        self._setup_frames(self._trajectory, start=start, stop=stop, step=step,
                           frames=frames)
        frame_ids = self._frame_indices
        self._in_blocks = True
        try:
            self._prepare()
        finally:
            self._in_blocks = False
        reader = self._trajectory
        use_box = self._uses_box()
        n = len(frame_ids)
        out = self.results.features
        disable = not (self._verbose if verbose is None else verbose)
        if reader_blocks:
            n_all = reader.n_atoms
            if 2 * len(self._ag) >= n_all:
                # read whole frames (mdtraj's fastest path) and index them by universe rows
                rows, atom_indices = self._universe_rows, None
                width = n_all
            else:
                rows, atom_indices = self._local_rows, self._ag.indices
                width = len(self._ag)
            # at most ~64 MB of coordinates per block
            block_size = max(1, min(block_size, (64 << 20) // (12 * max(width, 1))))
            blocks = file_block_reader(reader, use_box)(reader, atom_indices, frame_ids,
                                                         block_size, use_box)
        else:
            rows = self._universe_rows  # universe indices into whole frames
            blocks = memory_blocks(reader, frame_ids, block_size, use_box)
        lo = 0
        bar = None if disable else tqdm(total=n, desc=type(self).__name__, unit="frame")
        try:
            for xyz, boxes in blocks:
                b = len(xyz)
                self._compute_into(xyz, rows, boxes, out[lo:lo + b])
                lo += b
                if bar is not None:
                    bar.update(b)
        finally:
            if bar is not None:
                bar.close()
        if lo != n:  # pragma: no cover - a reader returned fewer frames than announced
            raise InputError(f"the trajectory file gave {lo} frames where {n} were expected; "
                             "the file may be truncated")
        times = reader.dt * frame_ids.astype(np.float64)
        self.frames = frame_ids
        self.times = times + reader.ts.data.get("time_offset", 0.0)
        self._conclude()
        return self

    def _conclude(self):
        pass

    def _setup_frames(self, trajectory, start=None, stop=None, step=None, frames=None):
        super()._setup_frames(trajectory, start=start, stop=stop, step=step,
                              frames=frames)
        self._frame_indices = np.arange(trajectory.n_frames)[
            frames if frames is not None else slice(start, stop, step)]


def check_dtype(dtype):
    """``numpy.float32`` or ``numpy.float64``, or :class:`InputError`."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InputError(f"dtype={dtype!r} is not supported; use numpy.float32 (default, as "
                         "mdtraj) or numpy.float64")
    return dt


def check_units(units, allowed):
    """Return ``units`` normalised, or raise :class:`InputError` naming the choices."""
    if not isinstance(units, str) or units.lower() not in allowed:
        raise InputError(
            f"units={units!r} is not known; use one of {', '.join(map(repr, allowed))}")
    return units.lower()


def check_rows(rows, k, atomgroup, what):
    """Validate explicit index tuples / AtomGroups; return (n, k) universe indices."""
    out = []
    n_atoms = len(atomgroup.universe.atoms)
    for r, row in enumerate(rows):
        if isinstance(row, AtomGroup):
            idx = row.indices
        else:
            try:
                idx = np.asarray(row, dtype=np.int64).ravel()
            except (TypeError, ValueError) as err:
                raise InputTypeError(
                    f"{what}[{r}]={row!r} is neither an AtomGroup nor a tuple of "
                    f"{k} integer atom indices") from err
        if len(idx) != k:
            raise InputError(
                f"{what}[{r}] has {len(idx)} atoms; each entry needs exactly {k}")
        if np.any(idx < 0) or np.any(idx >= n_atoms):
            raise InputError(
                f"{what}[{r}]={tuple(int(i) for i in idx)} is out of range: the "
                f"universe has {n_atoms} atoms (indices 0..{n_atoms - 1}, 0-based)")
        if len(set(idx.tolist())) != k:
            raise InputError(
                f"{what}[{r}]={tuple(int(i) for i in idx)} repeats an atom; the "
                f"{k} atoms must be distinct")
        out.append(idx)
    if not out:
        raise InputError(f"{what} is empty; give at least one entry")
    rows = np.array(out, dtype=np.intp)
    missing = np.setdiff1d(rows.ravel(), atomgroup.indices)
    if missing.size:
        raise InputError(
            f"{what} uses atoms {missing.tolist()[:10]} that are not in atomgroup; "
            "pass an atomgroup that contains them (e.g. u.atoms)")
    return rows


def _plain_label(name, index):
    """Label of an atom of a topology without residues: name and index, or ``atom<i>``."""
    return f"{name}{index}" if name else f"atom{index}"


def _plain_atom_label(atom):
    name = getattr(atom, "name", None) if hasattr(atom.universe.atoms, "names") else None
    return _plain_label(name, atom.index)


def _names_and_residues(atoms):
    """Whether a topology has atom names, residue names and ids (for ``'ALA2:CA'`` labels)."""
    return hasattr(atoms, "resnames") and hasattr(atoms, "resids") and hasattr(atoms, "names")


def has_residues(atom):
    return _names_and_residues(atom.universe.atoms)


def atom_label(atom, with_residue=True):
    """``'ALA2:CA'`` style label of one atom (``'CA8'``, name and index, or
    ``'atom8'`` when the topology has no residue or atom names)."""
    if not has_residues(atom):
        return _plain_atom_label(atom)
    if not with_residue:
        return atom.name
    return f"{atom.resname}{atom.resid}:{atom.name}"


def row_labels(universe, rows):
    """Readable labels of rows of atom indices, from per-atom arrays (no Atom objects):
    ``'ALA2:N-CA-CB-HB1'`` within a residue, else every atom qualified
    (``'ACE1:O-ACE1:C-ALA2:N-ALA2:CA'``); ``'C4-N6'`` style without residues."""
    atoms = universe.atoms
    rows = [tuple(int(i) for i in r) for r in rows]
    if not rows:
        return []
    if not _names_and_residues(atoms):
        names = atoms.names if hasattr(atoms, "names") else None
        return ["-".join(_plain_label(None if names is None else names[i], i) for i in r)
                for r in rows]
    needed = sorted({i for r in rows for i in r})
    sub = atoms[needed]
    names = dict(zip(needed, sub.names.tolist()))
    resn = dict(zip(needed, sub.resnames.tolist()))
    resi = dict(zip(needed, sub.resids.tolist()))
    rix = dict(zip(needed, sub.resindices.tolist()))
    out = []
    for r in rows:
        if len({rix[i] for i in r}) == 1:
            out.append(f"{resn[r[0]]}{resi[r[0]]}:" + "-".join(names[i] for i in r))
        else:
            out.append("-".join(f"{resn[i]}{resi[i]}:{names[i]}" for i in r))
    return out

"""Shared machinery of the feature classes: one AnalysisBase, many internal coordinates.

Every feature class here computes a fixed set of internal coordinates (bond
distances, angles or dihedrals) given as rows of atom indices. Per frame, all
of them are computed with one vectorised call of :mod:`MDAnalysis.lib.distances`
(no Python loop over features). When the trajectory is held in memory
(:class:`MDAnalysis.coordinates.memory.MemoryReader`, e.g. after
``u.transfer_to_memory()``) and the serial backend is used, all frames are
computed in blocks at once, which is several times faster than frame by frame.
"""

import warnings

import networkx as nx
import numpy as np
from MDAnalysis.analysis.base import AnalysisBase, ResultsGroup
from MDAnalysis.coordinates.DCD import DCDReader
from MDAnalysis.coordinates.memory import MemoryReader
from MDAnalysis.core.groups import AtomGroup

from ..exceptions import InputError, InputTypeError, TopologyError

__all__ = ["FeaturesBase", "bond_graph"]

_ANGULAR_UNITS = ("degrees", "radians")
_LENGTH_UNITS = ("angstrom", "nm")


def _first(values):
    """Aggregator for static results: every worker computed the same value."""
    return values[0]


def _check_atomgroup(atomgroup, minimum, what):
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


class FeaturesBase(AnalysisBase):
    """Base of the feature classes (not used directly).

    Subclasses set ``self._rows`` (n_coordinates, k) universe atom indices in
    ``__init__`` and implement :meth:`_values` (coordinates of shape
    (n_rows, k, 3) in Angstrom -> values) and :attr:`_labels`.
    """

    _analysis_algorithm_is_parallelizable = True

    @classmethod
    def get_supported_backends(cls):
        """Backends :meth:`run` accepts: ``('serial', 'multiprocessing', 'dask')``."""
        return ("serial", "multiprocessing", "dask")

    def __init__(self, atomgroup, rows, labels, aliases, units, pbc, **kwargs):
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

    def _prepare(self):
        names, atom_indices, groups = self._columns()
        self.results.names = list(names)
        self.results.labels = [self._labels[g] for g in groups]
        self.results.atom_indices = atom_indices
        self.results.groups = groups
        self.results.units = self._units
        self.results.features = np.zeros((self.n_frames, len(names)), dtype=np.float64)

    def _get_aggregator(self):
        return ResultsGroup(lookup={
            "features": ResultsGroup.ndarray_vstack,
            "names": _first,
            "labels": _first,
            "atom_indices": _first,
            "groups": _first,
            "units": _first,
        })

    def _box(self, ts):
        if not self._pbc or ts.dimensions is None:
            return None
        dims = np.asarray(ts.dimensions)
        if np.all(dims[:3] <= 1.0001):  # placeholder cells written for vacuum systems
            return None
        return dims

    def _single_frame(self):
        pos = self._ag.positions[self._local_rows]  # (n_rows, k, 3)
        self.results.features[self._frame_index] = self._transform(
            self._values(pos, self._box(self._ts)))

    def _transform(self, values):
        """Map raw values (radians or Angstrom) to the output columns."""
        return values

    # -- vectorised path over all frames held in memory --------------------
    def run(self, start=None, stop=None, step=None, frames=None, verbose=None,
            n_workers=None, n_parts=None, backend=None, *,
            unsupported_backend=False, progressbar_kwargs=None, block_size=4096):
        """Compute the features; see :meth:`MDAnalysis.analysis.base.AnalysisBase.run`.

        With ``backend='serial'`` (the default), no periodic box in use and a
        trajectory in memory (:class:`~MDAnalysis.coordinates.memory.MemoryReader`)
        or in a DCD file (read in blocks with the reader's ``timeseries``),
        frames are processed in blocks of ``block_size`` frames with one
        vectorised call per block. Other backends split the frames
        over ``n_workers`` processes exactly as MDAnalysis does.
        """
        serial = backend in (None, "serial")
        if serial and not self._uses_box():
            if isinstance(self._trajectory, MemoryReader):
                return self._run_in_memory(start, stop, step, frames, verbose, block_size)
            if isinstance(self._trajectory, DCDReader) and frames is None:
                return self._run_in_memory(start, stop, step, frames, verbose, block_size,
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

    def _run_in_memory(self, start, stop, step, frames, verbose, block_size,
                       reader_blocks=False):
        """Blocks of frames at once: from memory, or read in blocks (DCD) with
        the reader's C-level ``timeseries``."""
        from tqdm.auto import tqdm

        self._setup_frames(self._trajectory, start=start, stop=stop, step=step,
                           frames=frames)
        frame_ids = self._frame_indices
        self._prepare()
        reader = self._trajectory
        if reader_blocks:
            coords = None
            atoms = self._local_rows  # rows index the group's atoms
            stride = 1 if step is None else int(step)
        else:
            coords = reader.get_array()  # stored in any order; view it as 'fac'
            if reader.stored_order != "fac":
                coords = coords.transpose([reader.stored_order.index(c) for c in "fac"])
            atoms = self._ag.indices[self._local_rows]  # universe indices (n_rows, k)
        n = len(frame_ids)
        times = reader.dt * frame_ids.astype(np.float64)
        disable = not (self._verbose if verbose is None else verbose)
        for lo in tqdm(range(0, n, block_size), disable=disable,
                       desc=type(self).__name__, unit="block"):
            ids = frame_ids[lo:lo + block_size]
            if reader_blocks:
                part = reader.timeseries(atomgroup=self._ag, start=int(ids[0]),
                                         stop=int(ids[-1]) + 1, step=stride, order="fac")
                block = part[:, atoms]
            else:
                block = coords[ids][:, atoms]  # (b, n_rows, k, 3)
            b = block.shape[0]
            flat = block.reshape(b * block.shape[1], block.shape[2], 3)
            vals = self._values(flat, None).reshape(b, -1)
            self.results.features[lo:lo + b] = self._transform(vals)
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


def atom_label(atom, with_residue=True):
    """``'ALA2:CA'`` style label of one atom."""
    if not with_residue:
        return atom.name
    return f"{atom.resname}{atom.resid}:{atom.name}"


def row_label(atoms):
    """Readable label of a row of atoms: ``'ALA2:N-CA-CB-HB1'`` within a residue,
    else every atom qualified (``'ACE1:O-ACE1:C-ALA2:N-ALA2:CA'``)."""
    res = {a.resindex for a in atoms}
    if len(res) == 1:
        a0 = atoms[0]
        return f"{a0.resname}{a0.resid}:" + "-".join(a.name for a in atoms)
    return "-".join(atom_label(a) for a in atoms)

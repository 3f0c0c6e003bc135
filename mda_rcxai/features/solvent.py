r"""Solvent descriptors: atom-centred symmetry functions and coordination numbers.

Two :class:`~MDAnalysis.analysis.base.AnalysisBase` classes that describe
the environment of chosen centre atoms (ions, a ligand's atoms) in a
periodic box, for reaction coordinates in solution (Okada et al. 2025 use
them for NaCl dissociation in water):

* :class:`SymmetryFunctionFeatures` -- Behler's radial G2 and angular G5
  atom-centred symmetry functions (J. Chem. Phys. 134, 074106 (2011));
* :class:`CoordinationFeatures` -- smooth coordination numbers, the number
  of solvent molecules bridging two centres, the number of solvent
  molecules between them, and their distance.

All distances use the minimum-image convention of the trajectory's box
(:mod:`MDAnalysis.lib.distances` with ``box=``), so molecules broken
across the periodic boundary (as OpenMM writes them unless wrapped whole)
give the same values as whole ones. Lengths are in Angstrom, ``eta`` in
Angstrom^-2. Every column has a
:class:`~mda_rcxai.features.columns.FeatureColumn` in ``results.columns``
(kind, centre atom, neighbour set name and atoms, parameters, group label).

Neighbour sets
--------------
``neighbors`` is one AtomGroup, a list of AtomGroups or a dict
``{name: AtomGroup}``; each set gives its own block of columns (e.g.
``{"water O": u.select_atoms("resname HOH and name O"), "water H": ...}``).
Without a dict, a set is named after its atoms (``"HOH:O"``, the residue
and atom names it contains). A centre atom that is also in a neighbour set
is never its own neighbour.

(About 670 lines: two AnalysisBase classes on one shared base, with the
cutoff functions they both use; about 250 of the lines are docstrings.)
"""

import numpy as np
from MDAnalysis.analysis.base import AnalysisBase, ResultsGroup
from MDAnalysis.coordinates.memory import MemoryReader
from MDAnalysis.core.groups import AtomGroup
from MDAnalysis.lib import distances as mdadist

from ..exceptions import InputError, InputTypeError
from ._base import first_value, atom_label, check_run_frames
from .columns import FeatureColumn

__all__ = ["SymmetryFunctionFeatures", "CoordinationFeatures", "switching_function",
           "cosine_cutoff"]


def cosine_cutoff(r, r_cut):
    """Behler's cutoff ``f_c(r) = (cos(pi r / r_cut) + 1) / 2`` for ``r < r_cut``, else 0.

    Examples
    --------
    >>> float(cosine_cutoff(0.0, 6.0)), float(cosine_cutoff(3.0, 6.0)), float(cosine_cutoff(7.0, 6.0))
    (1.0, 0.5, 0.0)
    """
    r = np.asarray(r, dtype=np.float64)
    return np.where(r < r_cut, 0.5 * (np.cos(np.pi * r / r_cut) + 1.0), 0.0)


def switching_function(r, r0, n=6, m=12):
    r"""PLUMED's rational switching function ``s(r) = (1 - (r/r0)^n) / (1 - (r/r0)^m)``.

    1 at r = 0, ``n/m`` at ``r = r0`` (the limit; 0.5 for the default
    n = 6, m = 12), decaying as ``(r/r0)^-(m-n)`` far away (with n = 6,
    m = 12: 1/65 at 2 r0). PLUMED's ``d_0`` offset is 0 here and there is
    no hard cutoff, so the function is smooth everywhere.

    Parameters
    ----------
    r : array_like
        Distances in Angstrom.
    r0 : float or array_like
        Switching distance in Angstrom (broadcast against ``r``).
    n, m : int
        Exponents, ``m > n > 0``.

    Examples
    --------
    >>> float(switching_function(0.0, 3.0)), float(switching_function(3.0, 3.0))
    (1.0, 0.5)
    >>> round(float(switching_function(6.0, 3.0)), 5)
    0.01538
    """
    x = np.asarray(r, dtype=np.float64) / np.asarray(r0, dtype=np.float64)
    xn = x ** n
    xm = x ** m
    den = 1.0 - xm
    near = np.abs(den) < 1e-9
    safe = np.where(near, 1.0, den)
    return np.where(near, n / m, (1.0 - xn) / safe)


def _center_label(atom):
    try:
        return atom_label(atom)
    except Exception:  # no residue information in the topology
        return f"{atom.name}{atom.index}"


def _set_name(ag):
    try:
        pairs = list(dict.fromkeys(f"{a.resname}:{a.name}" for a in ag[:1000]))
    except Exception:  # no residue names
        pairs = list(dict.fromkeys(str(a.name) for a in ag[:1000]))
    return ",".join(pairs[:3]) + ("..." if len(pairs) > 3 else "")


def _neighbor_sets(neighbors):
    """``{name: AtomGroup}`` from an AtomGroup, a list or a dict."""
    if isinstance(neighbors, AtomGroup):
        items = [(None, neighbors)]
    elif isinstance(neighbors, dict):
        items = list(neighbors.items())
    else:
        try:
            items = [(None, x) for x in neighbors]
        except TypeError:
            raise InputTypeError(
                "neighbors must be an AtomGroup, a list of AtomGroups or a dict {name: "
                f"AtomGroup}}, got {type(neighbors).__name__}") from None
    if not items:
        raise InputError("neighbors is empty; give at least one AtomGroup (e.g. "
                         "u.select_atoms('resname HOH and name O'))")
    out = {}
    for k, (name, ag) in enumerate(items):
        if not isinstance(ag, AtomGroup):
            raise InputTypeError(f"neighbors[{name if name is not None else k!r}] must be an "
                                 f"AtomGroup, got {type(ag).__name__}")
        if len(ag) == 0:
            raise InputError(f"neighbors[{name if name is not None else k!r}] is empty: the "
                             "selection matched no atoms; check it against u.atoms.names")
        label = str(name) if name is not None else _set_name(ag)
        if label in out:
            label = f"{label}#{k}"
        out[label] = ag
    return out


def _check_centers(centers):
    if not isinstance(centers, AtomGroup):
        raise InputTypeError("centers must be an MDAnalysis AtomGroup (e.g. "
                             f"u.select_atoms('name NA CL')), got {type(centers).__name__}")
    if len(centers) == 0:
        raise InputError("centers is empty: the selection matched no atoms; check it against "
                         "u.atoms.names / u.residues.resnames")
    return centers


class _SolventBase(AnalysisBase):
    """Shared machinery: per-frame values of all columns from the positions
    of the whole system and the box; a block path over in-memory frames."""

    _analysis_algorithm_is_parallelizable = True

    @classmethod
    def get_supported_backends(cls):
        """Backends :meth:`run` accepts: ``('serial', 'multiprocessing', 'dask')``."""
        return ("serial", "multiprocessing", "dask")

    def __init__(self, centers, neighbors, pbc=True, center_labels=None, **kwargs):
        centers = _check_centers(centers)
        self._sets = _neighbor_sets(neighbors)
        if centers.universe is not next(iter(self._sets.values())).universe:
            raise InputError("centers and neighbors must come from the same Universe")
        super().__init__(centers.universe.trajectory, **kwargs)
        self._centers = centers
        self._c_idx = centers.indices.copy()
        self._s_idx = {k: ag.indices.copy() for k, ag in self._sets.items()}
        self._pbc = bool(pbc)
        if center_labels is None:
            self._c_labels = [_center_label(a) for a in centers]
        else:
            labels = [str(x) for x in center_labels]
            if len(labels) != len(centers):
                raise InputError(f"center_labels has {len(labels)} entries for {len(centers)} "
                                 "centre atoms; give one label per centre")
            self._c_labels = labels
        self._cols = self._make_columns()

    # -- bookkeeping -------------------------------------------------------
    def _prepare(self):
        cols = self._cols
        self.results.columns = list(cols)
        self.results.names = [c.name for c in cols]
        self.results.labels = [c.name for c in cols]
        width = max(len(c.atoms) for c in cols)
        ai = np.full((len(cols), width), -1, dtype=np.intp)
        for k, c in enumerate(cols):
            ai[k, :len(c.atoms)] = c.atoms
        self.results.atom_indices = ai
        self.results.groups = np.arange(len(cols))
        self.results.units = "mixed" if len({c.unit for c in cols}) > 1 else cols[0].unit
        self.results.kernel = "MDAnalysis.lib.distances"
        self.results.features = np.zeros((self.n_frames, len(cols)), dtype=np.float64)

    def _get_aggregator(self):
        return ResultsGroup(lookup={
            "features": ResultsGroup.ndarray_vstack,
            **{k: first_value for k in ("names", "labels", "atom_indices", "groups", "units",
                                   "columns", "kernel")},
        })

    def _box_of(self, dims):
        if not self._pbc or dims is None:
            return None
        dims = np.asarray(dims, dtype=np.float64)
        if np.all(dims[:3] <= 1.0001):  # placeholder cells of vacuum systems
            return None
        return dims

    def _check_box(self, box):
        """Subclasses check their cutoff against half the box."""

    def _single_frame(self):
        box = self._box_of(self._ts.dimensions)
        self._check_box(box)
        self.results.features[self._frame_index] = self._frame(self._ts.positions, box)

    def run(self, start=None, stop=None, step=None, frames=None, verbose=None,
            n_workers=None, n_parts=None, backend=None, *, unsupported_backend=False,
            progressbar_kwargs=None):
        """Compute the descriptors; see :meth:`MDAnalysis.analysis.base.AnalysisBase.run`.

        With ``backend='serial'`` and a trajectory in memory, frames are read
        straight from the coordinate array (no Timestep updates).

        Raises
        ------
        InputError
            The frame selection is empty (e.g. ``start`` beyond the
            trajectory), or the cutoff is not below half the box.
        """
        check_run_frames(self._trajectory, start, stop, step, frames)
        if backend in (None, "serial") and isinstance(self._trajectory, MemoryReader):
            return self._run_memory(start, stop, step, frames, verbose)
        return super().run(start=start, stop=stop, step=step, frames=frames, verbose=verbose,
                           n_workers=n_workers, n_parts=n_parts, backend=backend,
                           unsupported_backend=unsupported_backend,
                           progressbar_kwargs=progressbar_kwargs)

    def _run_memory(self, start, stop, step, frames, verbose):
        from tqdm.auto import tqdm
        reader = self._trajectory
        self._setup_frames(reader, start=start, stop=stop, step=step, frames=frames)
        ids = np.arange(reader.n_frames)[frames if frames is not None
                                         else slice(start, stop, step)]
        self._prepare()
        coords = reader.get_array()
        if reader.stored_order != "fac":
            coords = coords.transpose([reader.stored_order.index(c) for c in "fac"])
        dims = getattr(reader, "dimensions_array", None)
        disable = not (self._verbose if verbose is None else verbose)
        for i, f in enumerate(tqdm(ids, disable=disable, desc=type(self).__name__)):
            d = None if dims is None else dims[f]
            if d is None and reader.ts.dimensions is not None:
                d = reader.ts.dimensions
            box = self._box_of(d)
            self._check_box(box)
            self.results.features[i] = self._frame(coords[f], box)
        self.frames = ids
        self.times = reader.dt * ids.astype(np.float64) + reader.ts.data.get("time_offset", 0.0)
        self._conclude()
        return self

    def _conclude(self):
        pass


def _check_params(items, k, what, example):
    try:
        rows = [tuple(float(v) for v in it) for it in items]
    except (TypeError, ValueError):
        raise InputTypeError(f"{what} must be a list of {k}-tuples of numbers, e.g. "
                             f"{what}={example}") from None
    for r in rows:
        if len(r) != k:
            raise InputError(f"{what} entry {r} has {len(r)} numbers; each needs {k}, e.g. "
                             f"{what}={example}")
        if not np.all(np.isfinite(r)):
            raise InputError(f"{what} entry {r} is not finite")
    return rows


class SymmetryFunctionFeatures(_SolventBase):
    r"""Behler's atom-centred symmetry functions (ACSF) of centre atoms over neighbour sets.

    For a centre atom i and a neighbour set S (i itself excluded), with the
    cosine cutoff :math:`f_c(r) = \tfrac12[\cos(\pi r / r_c) + 1]` for
    :math:`r < r_c` (0 beyond) and minimum-image distances:

    .. math::

        G^2_i = \sum_{j \in S} e^{-\eta (r_{ij} - r_s)^2} f_c(r_{ij})

        G^5_i = 2^{1-\zeta} \sum_{j \ne k \in S} (1 + \lambda \cos\theta_{ijk})^\zeta
                e^{-\eta (r_{ij}^2 + r_{ik}^2)} f_c(r_{ij}) f_c(r_{ik})

    (Behler, J. Chem. Phys. 134, 074106 (2011), eqs. 6 and 9; the G5 sum
    runs over ordered pairs, so each unordered pair counts twice; no cutoff
    on :math:`r_{jk}`).

    Parameters
    ----------
    centers : MDAnalysis.core.groups.AtomGroup
        Centre atoms (e.g. Na+ and Cl-); one block of columns per centre.
    neighbors : AtomGroup, list of AtomGroup or dict {name: AtomGroup}
        Neighbour sets (e.g. ``{"water O": ..., "water H": ...}``); one
        block of columns per centre and set. G5 pairs j, k are taken within
        one set.
    r_cut : float
        Cutoff radius in Angstrom; must be below half the shortest box
        length (minimum image).
    g2 : list of (eta, r_s), optional
        Radial functions: ``eta`` in Angstrom^-2, ``r_s`` in Angstrom.
    g5 : list of (eta, zeta, lambda\_), optional
        Angular functions: ``eta`` in Angstrom^-2, ``zeta`` >= 1,
        ``lambda_`` in [-1, 1] (usually +1 or -1).
    pbc : bool, optional
        Minimum image when the trajectory has a box (default True).
    center_labels : list of str, optional
        Names of the centres in column names and groups (default
        ``"NA1:NA"``: residue name, id and atom name).
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    results.features : numpy.ndarray
        (n_frames, n_columns) float64, dimensionless. Column order: for each
        centre, for each neighbour set, the G2 then the G5 functions.
    results.names : list of str
        ``"G2[NA1:NA|water O](eta=0.5,r_s=2.5)"``,
        ``"G5[NA1:NA|water O](eta=0.01,zeta=1,lambda=-1)"``.
    results.columns : list of FeatureColumn
        ``kind`` ``"acsf_g2"``/``"acsf_g5"``, ``center`` and ``atoms`` the
        centre atom, ``neighbors`` the set name, ``neighbor_atoms`` its
        atoms, ``params`` (``eta``, ``r_s`` or ``zeta``, ``lambda``, and
        ``r_cut``), ``group`` ``"NA1:NA / water O"`` (all G2 and G5 of one
        centre over one set), ``unit`` ``"1"``.
    results.atom_indices : numpy.ndarray
        (n_columns, 1) the centre atom of each column.
    results.groups : numpy.ndarray
        ``arange(n_columns)``.

    Notes
    -----
    Conventions compared with dscribe 2.1.2's ``ACSF`` (the test reference,
    ``tests/features/test_solvent.py``):

    * dscribe makes one block per neighbour *species* (element) and, for
      G4/G5, per unordered species pair (including mixed pairs such as
      (H, O)); here a block is a user-chosen neighbour *set* and G5 pairs
      lie within one set (no mixed-set G5). A set that holds every atom of
      one element (all water O) gives dscribe's block for that element.
    * dscribe's G5 sums over unordered pairs ``j < k``; here over ordered
      pairs ``j != k`` as in Behler's definition, so **ours = 2 x dscribe**.
    * Units are the same: Angstrom and ``eta`` in Angstrom^-2 (dscribe works
      in the units of the ``ase.Atoms`` positions).
    * Neither applies a cutoff to ``r_jk`` in G5 (dscribe's G4 does).
    * dscribe also writes G1 (the sum of cutoffs) per species; G1 is
      ``g2=[(0.0, 0.0)]`` here.

    Examples
    --------
    >>> import MDAnalysis as mda
    >>> from mda_rcxai.data import NACL_WATER_PDB  # doctest: +SKIP
    >>> u = mda.Universe(NACL_WATER_PDB)  # doctest: +SKIP
    >>> acsf = SymmetryFunctionFeatures(
    ...     u.select_atoms("name NA CL"),
    ...     {"water O": u.select_atoms("resname HOH and name O")},
    ...     r_cut=6.0, g2=[(0.5, 2.5), (0.5, 3.5)], g5=[(0.01, 1, -1), (0.01, 1, 1)]
    ... ).run()  # doctest: +SKIP
    >>> acsf.results.features.shape  # doctest: +SKIP
    (1, 8)

    A runnable example on a box built here is in the how-to
    ``docs/solvent_descriptors.rst``.
    """

    def __init__(self, centers, neighbors, r_cut, g2=(), g5=(), pbc=True, center_labels=None,
                 **kwargs):
        try:
            r_cut = float(r_cut)
        except (TypeError, ValueError):
            raise InputTypeError(f"r_cut={r_cut!r} must be a number (Angstrom)") from None
        if not np.isfinite(r_cut) or r_cut <= 0:
            raise InputError(f"r_cut={r_cut} must be a positive distance in Angstrom, e.g. 6.0")
        self._r_cut = r_cut
        self._g2 = _check_params(g2 or (), 2, "g2", "[(0.5, 2.5), (0.5, 3.5)]")
        self._g5 = _check_params(g5 or (), 3, "g5", "[(0.01, 1, -1), (0.01, 1, 1)]")
        if not self._g2 and not self._g5:
            raise InputError("g2 and g5 are both empty; give at least one function, e.g. "
                             "g2=[(0.5, 2.5)]")
        for eta, rs in self._g2:
            if eta < 0:
                raise InputError(f"g2 eta={eta} must be >= 0 (Angstrom^-2)")
        for eta, zeta, lam in self._g5:
            if eta < 0 or zeta < 1 or abs(lam) > 1:
                raise InputError(f"g5 entry (eta={eta}, zeta={zeta}, lambda={lam}) needs eta >= 0, "
                                 "zeta >= 1 and -1 <= lambda <= 1")
        super().__init__(centers, neighbors, pbc=pbc, center_labels=center_labels, **kwargs)

    def _make_columns(self):
        cols = []
        for ci, clab in zip(self._c_idx, self._c_labels):
            for sname, sidx in self._s_idx.items():
                group = f"{clab} / {sname}"
                common = dict(atoms=(int(ci),), center=(int(ci),), neighbors=sname,
                              neighbor_atoms=tuple(int(x) for x in sidx), group=group, unit="1")
                for eta, rs in self._g2:
                    cols.append(FeatureColumn(
                        name=f"G2[{clab}|{sname}](eta={eta:g},r_s={rs:g})", kind="acsf_g2",
                        params={"eta": eta, "r_s": rs, "r_cut": self._r_cut}, **common))
                for eta, zeta, lam in self._g5:
                    cols.append(FeatureColumn(
                        name=f"G5[{clab}|{sname}](eta={eta:g},zeta={zeta:g},lambda={lam:g})",
                        kind="acsf_g5",
                        params={"eta": eta, "zeta": zeta, "lambda": lam, "r_cut": self._r_cut},
                        **common))
        return cols

    def _check_box(self, box):
        if box is not None and self._r_cut >= 0.5 * float(np.min(box[:3])):
            raise InputError(
                f"r_cut={self._r_cut} Angstrom is not below half the shortest box length "
                f"({0.5 * float(np.min(box[:3])):.2f} Angstrom); the minimum image would miss "
                "neighbours: use a smaller r_cut")

    def _frame(self, positions, box):
        rc = self._r_cut
        cpos = positions[self._c_idx]
        out = np.empty(len(self._cols))
        g2 = np.asarray(self._g2, dtype=np.float64).reshape(-1, 2)
        g5 = np.asarray(self._g5, dtype=np.float64).reshape(-1, 3)
        n2, n5 = len(g2), len(g5)
        per = n2 + n5
        nsets = len(self._s_idx)
        for s, (sname, sidx) in enumerate(self._s_idx.items()):
            spos = positions[sidx]
            pairs, dist = mdadist.capped_distance(cpos, spos, rc, box=box,
                                                  return_distances=True)
            keep = (self._c_idx[pairs[:, 0]] != sidx[pairs[:, 1]]) & (dist < rc)
            pairs, dist = pairs[keep], dist[keep]
            fc = 0.5 * (np.cos(np.pi * dist / rc) + 1.0)
            for c in range(len(self._c_idx)):
                sel = pairs[:, 0] == c
                d = dist[sel]
                f = fc[sel]
                base = (c * nsets + s) * per
                if n2:
                    out[base:base + n2] = (np.exp(-g2[:, :1] * (d[None, :] - g2[:, 1:2]) ** 2)
                                           * f[None, :]).sum(axis=1)
                if n5:
                    if len(d) < 2:
                        out[base + n2:base + per] = 0.0
                        continue
                    v = spos[pairs[sel, 1]] - cpos[c]
                    if box is not None:
                        v = mdadist.minimize_vectors(v.astype(np.float32), box)
                    v = v.astype(np.float64)
                    cos = (v @ v.T) / np.outer(d, d)
                    np.clip(cos, -1.0, 1.0, out=cos)
                    off = ~np.eye(len(d), dtype=bool)
                    cos = cos[off]
                    d2 = d ** 2
                    r2 = (d2[:, None] + d2[None, :])[off]
                    ff = np.outer(f, f)[off]
                    for k, (eta, zeta, lam) in enumerate(g5):
                        out[base + n2 + k] = 2.0 ** (1.0 - zeta) * np.sum(
                            (1.0 + lam * cos) ** zeta * np.exp(-eta * r2) * ff)
        return out


class CoordinationFeatures(_SolventBase):
    r"""Smooth coordination numbers, bridging and interionic solvent, and the centre distance.

    With the rational switching function of PLUMED (:func:`switching_function`)

    .. math:: s(r; r_0) = \frac{1 - (r/r_0)^n}{1 - (r/r_0)^m}

    (1 at contact, ``n/m`` at ``r0``, smooth everywhere) and minimum-image
    distances, the columns are:

    * ``coordination``, for every centre c and neighbour set S:
      :math:`CN_{c,S} = \sum_{j \in S} s(r_{cj}; r_0[c, S])` (e.g. Na+ over
      water O with r0 = 3.15 A, Cl- over water H with r0 = 2.95 A);
    * with exactly two centres A, B and ``pair_terms=True``:

      - ``distance``: the minimum-image distance r_AB in Angstrom;
      - ``bridging``: the number of molecules of the set ``bridging``
        (default: the first set, e.g. water O) coordinating both centres,
        each molecule counted by the product of its switching values,
        :math:`N_{br} = \sum_{j \in S} s(r_{Aj}; r_0[A,S])\, s(r_{Bj}; r_0[B,S])`;
      - ``density``: the number of molecules of that set between the
        centres, counted smoothly inside the sphere whose diameter is the
        A-B segment: :math:`N_{mid} = \sum_{j \in S} s(|x_j - x_M|; r_{AB}/2)`
        with :math:`x_M` the minimum-image midpoint of A and B (a molecule
        at the midpoint counts 1, one on the sphere ``n/m``). Its unit is
        molecules (divide by :math:`\tfrac{4}{3}\pi (r_{AB}/2)^3` for a
        number density; the count is used because that volume vanishes at
        contact).

    Parameters
    ----------
    centers : MDAnalysis.core.groups.AtomGroup
        Centre atoms (e.g. ``u.select_atoms("name NA CL")``).
    neighbors : AtomGroup, list of AtomGroup or dict {name: AtomGroup}
        Neighbour sets (see :mod:`mda_rcxai.features.solvent`).
    r0 : float, dict or array_like
        Switching distance(s) in Angstrom: one number; a list with one
        value per centre (for every set); a dict ``{set name: r0}`` or
        ``{set name: [r0 per centre]}``; or an (n_centers, n_sets) array.
    n, m : int, optional
        Exponents of the switching function (default 6, 12).
    pair_terms : bool, optional
        Add distance, bridging and density columns (needs exactly two
        centres). Default: True when there are two centres.
    bridging : str, optional
        Name of the neighbour set used for bridging and density (default
        the first set).
    pbc : bool, optional
        Minimum image when the trajectory has a box (default True).
    center_labels : list of str, optional
        Names of the centres in column names (default ``"NA1:NA"``).
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    results.features : numpy.ndarray
        (n_frames, n_columns) float64: coordination numbers, then distance
        (Angstrom), bridging and density (molecules).
    results.names : list of str
        ``"CN[NA1:NA|water O]"``, ``"d[NA1:NA-CL2:CL]"``,
        ``"bridging[NA1:NA,CL2:CL|water O]"``, ``"interionic[NA1:NA,CL2:CL|water O]"``.
    results.columns : list of FeatureColumn
        ``kind`` ``"coordination"``, ``"distance"``, ``"bridging"``,
        ``"density"``; ``center`` the centre atom(s); ``params`` ``r0``,
        ``n``, ``m``; ``group`` ``"NA1:NA / water O"`` for a coordination
        number, ``"NA1:NA-CL2:CL"`` for the pair terms.
    results.atom_indices : numpy.ndarray
        (n_columns, 2) centre atom(s) of each column, padded with -1.

    Examples
    --------
    >>> import numpy as np, MDAnalysis as mda
    >>> from mda_rcxai.features import CoordinationFeatures
    >>> u = mda.Universe.empty(4, trajectory=True)
    >>> u.add_TopologyAttr("name", ["NA", "CL", "O", "O"])
    >>> u.atoms.positions = np.array([[0, 0, 0], [5, 0, 0], [2.5, 0, 0], [0, 3, 0]], float)
    >>> cn = CoordinationFeatures(u.atoms[:2], {"water O": u.atoms[2:]}, r0=3.0).run()
    >>> cn.results.names[:3]
    ['CN[NA0|water O]', 'CN[CL1|water O]', 'd[NA0-CL1]']
    >>> cn.results.features.round(3).tolist()   # CN Na, CN Cl, r, bridging, interionic
    [[1.249, 0.767, 5.0, 0.57, 1.064]]
    """

    def __init__(self, centers, neighbors, r0, n=6, m=12, pair_terms=None, bridging=None,
                 pbc=True, center_labels=None, **kwargs):
        if not (isinstance(n, (int, np.integer)) and isinstance(m, (int, np.integer))
                and 0 < n < m):
            raise InputError(f"n={n!r}, m={m!r}: the switching exponents must be ints with "
                             "0 < n < m (PLUMED's default n=6, m=12)")
        self._n, self._m = int(n), int(m)
        sets = _neighbor_sets(neighbors)
        centers = _check_centers(centers)
        nc = len(centers)
        self._r0 = self._r0_array(r0, list(sets), nc)
        if pair_terms is None:
            pair_terms = nc == 2
        if pair_terms and nc != 2:
            raise InputError(f"pair_terms=True needs exactly two centres (got {nc}); select "
                             "two atoms (e.g. 'name NA CL') or pass pair_terms=False")
        self._pair = bool(pair_terms)
        if bridging is None:
            bridging = next(iter(sets))
        if bridging not in sets:
            raise InputError(f"bridging={bridging!r} is not a neighbour set; use one of "
                             f"{list(sets)}")
        self._bridge = bridging
        super().__init__(centers, sets, pbc=pbc, center_labels=center_labels, **kwargs)

    @staticmethod
    def _r0_array(r0, names, nc):
        ns = len(names)
        if isinstance(r0, dict):
            missing = [k for k in names if k not in r0]
            extra = [k for k in r0 if k not in names]
            if missing or extra:
                raise InputError(f"r0 has keys {list(r0)} but the neighbour sets are {names}; "
                                 "give one r0 per set name")
            arr = np.empty((nc, ns))
            for s, k in enumerate(names):
                v = np.asarray(r0[k], dtype=np.float64).reshape(-1)
                if len(v) not in (1, nc):
                    raise InputError(f"r0[{k!r}] has {len(v)} values for {nc} centres; give one "
                                     "number or one per centre")
                arr[:, s] = v
        else:
            try:
                arr = np.asarray(r0, dtype=np.float64)
                if arr.ndim == 1:
                    if len(arr) != nc:
                        raise ValueError
                    arr = arr[:, None]  # one value per centre, for every set
                arr = np.broadcast_to(arr, (nc, ns)).copy()
            except (TypeError, ValueError):
                raise InputError(f"r0={r0!r} must be a number, a dict {{set name: r0}} or an "
                                 f"array broadcastable to ({nc} centres, {ns} sets)") from None
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise InputError(f"r0 must be positive distances in Angstrom, got {arr.tolist()}")
        return arr

    def _make_columns(self):
        cols = []
        nm = {"n": self._n, "m": self._m}
        for c, (ci, clab) in enumerate(zip(self._c_idx, self._c_labels)):
            for s, (sname, sidx) in enumerate(self._s_idx.items()):
                cols.append(FeatureColumn(
                    name=f"CN[{clab}|{sname}]", kind="coordination", atoms=(int(ci),),
                    center=(int(ci),), neighbors=sname,
                    neighbor_atoms=tuple(int(x) for x in sidx),
                    params={"r0": float(self._r0[c, s]), **nm}, group=f"{clab} / {sname}",
                    unit="molecules"))
        if self._pair:
            a, b = (int(x) for x in self._c_idx)
            la, lb = self._c_labels
            s = list(self._s_idx).index(self._bridge)
            sidx = tuple(int(x) for x in self._s_idx[self._bridge])
            group = f"{la}-{lb}"
            cols.append(FeatureColumn(name=f"d[{la}-{lb}]", kind="distance", atoms=(a, b),
                                      center=(a, b), group=group, unit="angstrom"))
            cols.append(FeatureColumn(
                name=f"bridging[{la},{lb}|{self._bridge}]", kind="bridging", atoms=(a, b),
                center=(a, b), neighbors=self._bridge, neighbor_atoms=sidx,
                params={"r0_a": float(self._r0[0, s]), "r0_b": float(self._r0[1, s]), **nm},
                group=group, unit="molecules"))
            cols.append(FeatureColumn(
                name=f"interionic[{la},{lb}|{self._bridge}]", kind="density", atoms=(a, b),
                center=(a, b), neighbors=self._bridge, neighbor_atoms=sidx,
                params={"radius": "r_ab/2", **nm}, group=group, unit="molecules"))
        return cols

    def _frame(self, positions, box):
        n, m = self._n, self._m
        cpos = positions[self._c_idx].astype(np.float32)
        out = []
        sw = {}
        for s, (sname, sidx) in enumerate(self._s_idx.items()):
            spos = positions[sidx]
            d = mdadist.distance_array(cpos, spos, box=box)  # (n_centers, n_set)
            same = self._c_idx[:, None] == sidx[None, :]
            sv = switching_function(d, self._r0[:, s:s + 1], n, m)
            sv[same] = 0.0
            sw[sname] = sv
            out.append(sv.sum(axis=1))
        vals = list(np.stack(out, axis=1).reshape(-1))  # centre-major, as the columns
        if self._pair:
            r_ab = float(mdadist.calc_bonds(cpos[0], cpos[1], box=box))
            sv = sw[self._bridge]
            bridging = float(np.sum(sv[0] * sv[1]))
            v = cpos[1] - cpos[0]
            if box is not None:
                v = mdadist.minimize_vectors(v[None].astype(np.float32), box)[0]
            mid = (cpos[0] + 0.5 * v).astype(np.float32)[None]
            spos = positions[self._s_idx[self._bridge]]
            dm = mdadist.distance_array(mid, spos, box=box)[0]
            dens = float(np.sum(switching_function(dm, max(0.5 * r_ab, 1e-6), n, m)))
            vals += [r_ab, bridging, dens]
        return np.asarray(vals, dtype=np.float64)

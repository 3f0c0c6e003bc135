"""Interatomic distances and bond angles as features (Okada et al. 2024 style inputs)."""

import itertools

import numpy as np

from ..exceptions import InputError, InputTypeError, TopologyError
from ._base import (FeaturesBase, ANGULAR_UNITS, LENGTH_UNITS, check_atomgroup,
                    bond_graph, check_rows, check_units, row_labels)
from .dihedrals import check_heavy_info, is_heavy

__all__ = ["DistanceFeatures", "AngleFeatures"]


def _explicit(entries, k, atomgroup, what, choices):
    try:
        entries = list(entries)
    except TypeError:
        raise InputTypeError(
            f"{what} must be one of {choices} or a list of {k}-atom index tuples / "
            f"AtomGroups, got {entries!r}") from None
    return check_rows(entries, k, atomgroup, what)


class DistanceFeatures(FeaturesBase):
    """Interatomic distances of any trajectory as features.

    Parameters
    ----------
    atomgroup : MDAnalysis.core.groups.AtomGroup
        Atoms to describe.
    pairs : {"heavy", "all"} or list, optional
        ``"heavy"``: every pair of heavy (non-hydrogen) atoms of the group;
        ``"all"``: every pair of atoms; or an explicit list of 2-atom
        universe index tuples (0-based) or 2-atom AtomGroups.
    exclude_bonded : bool, optional
        Drop pairs that are directly bonded (their distance barely moves);
        needs bonds (guessed with a warning when missing). Default ``False``.
    units : {"angstrom", "nm"}, optional
        Units of the distances.
    pbc : bool, optional
        Minimum-image distances when the trajectory has a periodic box.
    dtype : numpy.float32 or numpy.float64, optional
        dtype of ``results.features`` (default float32, as mdtraj; the
        kernels compute in float32 either way).
    **kwargs
        Passed to :class:`MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    results.features : numpy.ndarray
        (n_frames, n_pairs) distances in ``units``.
    results.names, results.labels : list of str
        ``"ACE1:C-ALA2:CA"`` style labels.
    results.atom_indices : numpy.ndarray
        (n_pairs, 2) universe atom indices (0-based).
    results.groups : numpy.ndarray
        (n_pairs,) ``arange(n_pairs)``.

    Examples
    --------
    >>> import MDAnalysis as mda
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD
    >>> from mda_rcxai.features import DistanceFeatures
    >>> u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    >>> d = DistanceFeatures(u.atoms, pairs="heavy").run(stop=10)
    >>> d.results.features.shape   # 10 heavy atoms -> 45 pairs
    (10, 45)
    """

    def __init__(self, atomgroup, pairs="heavy", exclude_bonded=False,
                 units="angstrom", pbc=True, **kwargs):
        check_atomgroup(atomgroup, 2, "distances")
        units = check_units(units, LENGTH_UNITS)
        if isinstance(pairs, str):
            if pairs not in ("heavy", "all"):
                raise InputError(
                    f"pairs={pairs!r} is not known; use 'heavy', 'all' or a list of "
                    "2-atom index tuples")
            if pairs == "heavy":
                check_heavy_info(atomgroup, "pairs='heavy'")
            pool = [a.index for a in atomgroup if pairs == "all" or is_heavy(a)]
            if len(pool) < 2:
                raise InputError(
                    f"pairs={pairs!r} leaves {len(pool)} atom(s) in atomgroup; "
                    "select more atoms or use pairs='all'")
            rows = np.array(list(itertools.combinations(sorted(pool), 2)), np.intp)
        else:
            rows = _explicit(pairs, 2, atomgroup, "pairs", "'heavy', 'all'")
        if exclude_bonded:
            g = bond_graph(atomgroup)
            keep = [not g.has_edge(int(i), int(j)) for i, j in rows]
            rows = rows[np.asarray(keep, bool)]
            if len(rows) == 0:
                raise InputError("exclude_bonded=True removed every pair; "
                                 "use exclude_bonded=False")
        labels = row_labels(atomgroup.universe, rows)
        super().__init__(atomgroup, rows, labels, [None] * len(rows), units, pbc,
                         **kwargs)

    _kind = "distance"

    def _fill(self, vals, out):
        vals = vals if vals.dtype == out.dtype else vals.astype(out.dtype)
        if self._units == "nm":
            np.divide(vals, 10.0, out=out)
        elif vals is not out:
            out[...] = vals


class AngleFeatures(FeaturesBase):
    """Bond angles a-b-c (a-b and b-c bonded) of any trajectory as features.

    Parameters
    ----------
    atomgroup : MDAnalysis.core.groups.AtomGroup
        Atoms to describe; needs bonds (guessed with a warning when missing).
    angles : {"all", "heavy"} or list, optional
        ``"all"``: every bonded triplet of the bond graph (each once, centre
        atom in the middle); ``"heavy"``: only triplets of heavy atoms; or
        an explicit list of 3-atom universe index tuples / AtomGroups.
    units : {"degrees", "radians"}, optional
        Units of the angles, in [0, 180] degrees.
    pbc : bool, optional
        Minimum-image convention when the trajectory has a periodic box.
    dtype : numpy.float32 or numpy.float64, optional
        dtype of ``results.features`` (default float32, as mdtraj).
    **kwargs
        Passed to :class:`MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    results.features : numpy.ndarray
        (n_frames, n_angles) angles in ``units``.
    results.names, results.labels : list of str
        ``"ALA2:N-CA-C"`` style labels.
    results.atom_indices : numpy.ndarray
        (n_angles, 3) universe atom indices (0-based), centre in the middle.
    results.groups : numpy.ndarray
        (n_angles,) ``arange(n_angles)``.

    Examples
    --------
    >>> import MDAnalysis as mda
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    >>> from mda_rcxai.features import AngleFeatures
    >>> a = AngleFeatures(mda.Universe(ALANINE_DIPEPTIDE_PDB).atoms).run()
    >>> a.results.features.shape
    (1, 36)
    """

    def __init__(self, atomgroup, angles="all", units="degrees", pbc=True, **kwargs):
        check_atomgroup(atomgroup, 3, "angles")
        units = check_units(units, ANGULAR_UNITS)
        atoms = atomgroup.universe.atoms
        if isinstance(angles, str):
            if angles not in ("all", "heavy"):
                raise InputError(
                    f"angles={angles!r} is not known; use 'all', 'heavy' or a list of "
                    "3-atom index tuples")
            g = bond_graph(atomgroup)
            rows = []
            for b in sorted(g.nodes()):
                for a, c in itertools.combinations(sorted(g[b]), 2):
                    rows.append((a, b, c))
            if angles == "heavy":
                check_heavy_info(atomgroup, "angles='heavy'")
                rows = [r for r in rows if all(is_heavy(atoms[i]) for i in r)]
            if not rows:
                raise TopologyError(
                    "atomgroup has no bonded triplets; select bonded atoms or give "
                    "angles explicitly")
            rows = np.array(rows, np.intp)
        else:
            rows = _explicit(angles, 3, atomgroup, "angles", "'all', 'heavy'")
        labels = row_labels(atomgroup.universe, rows)
        super().__init__(atomgroup, rows, labels, [None] * len(rows), units, pbc,
                         **kwargs)

    _kind = "angle"

    def _fill(self, vals, out):
        vals = vals if vals.dtype == out.dtype else vals.astype(out.dtype)
        if self._units == "degrees":
            np.degrees(vals, out=out)
        elif vals is not out:
            out[...] = vals

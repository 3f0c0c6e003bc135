"""Dihedral-angle features from the bond graph (the inputs of Kikutsuji et al. 2022)."""

import itertools

import numpy as np

from ..exceptions import InputError, InputTypeError, TopologyError
from .columns import FeatureColumn
from ._base import (ANGULAR_UNITS, FeaturesBase, check_atomgroup, has_residues,
                    _plain_atom_label, bond_graph, check_rows, check_units, row_labels)

__all__ = ["DihedralFeatures", "enumerate_dihedrals", "dihedral_alias"]

# caps whose methyl carbon CH3 plays the part of CA, for omega only
_CAPS = {"ACE", "NME", "NMA"}


def _is_ca_like(atom):
    return atom.name == "CA" or (atom.name == "CH3" and atom.resname in _CAPS)


def _alias_oriented(a):
    """Alias of four atoms in this order, or ``None``.

    Returns ``(alias, residue)`` where residue is the Residue the alias is
    attributed to (phi/psi: their own residue; omega/theta: the residue on
    the carbonyl side, as MDAnalysis' ``omega_selection``).
    """
    names = tuple(x.name for x in a)
    r = [x.resindex for x in a]
    if names == ("C", "N", "CA", "C") and r[0] == r[1] - 1 and r[1] == r[2] == r[3]:
        return "phi", a[1].residue
    if names == ("N", "CA", "C", "N") and r[0] == r[1] == r[2] and r[3] == r[2] + 1:
        return "psi", a[1].residue
    if names == ("O", "C", "N", "CA") and r[0] == r[1] and r[2] == r[3] == r[1] + 1:
        return "theta", a[1].residue
    if (names[1:3] == ("C", "N") and _is_ca_like(a[0]) and _is_ca_like(a[3])
            and r[0] == r[1] and r[2] == r[3] == r[1] + 1):
        return "omega", a[1].residue
    return None


_ALIAS_ORDER = ("phi", "psi", "theta", "omega")


def _bond_group_labels(rows, is_improper, aliases, labels, atoms):
    """Group label of each dihedral: its rotatable bond (atoms 1-2, unordered)
    named by atom names plus the conventional aliases of the dihedrals about
    it (``"N-CA (phi)"``, ``"C-N (theta/omega)"``), qualified with residues
    (``"ACE1:C-ALA2:N (theta/omega)"``) when two bonds would share a name;
    impropers are their own group (their label)."""
    keys = []
    members = {}
    for r, imp, alias, label in zip(rows, is_improper, aliases, labels):
        if imp:
            key = ("own", label)
        else:
            key = ("bond", tuple(sorted((int(r[1]), int(r[2])))))
        keys.append(key)
        if alias is not None:
            members.setdefault(key, []).append(alias.split("(")[0])

    def name(key, qualified):
        if key[0] == "own":
            return key[1]
        i, j = key[1]
        a, b = atoms[i], atoms[j]
        if not has_residues(a):
            s = f"{_plain_atom_label(a)}-{_plain_atom_label(b)}"
        elif qualified:
            s = f"{a.resname}{a.resid}:{a.name}-{b.resname}{b.resid}:{b.name}"
        else:
            s = f"{a.name}-{b.name}"
        al = sorted(set(members.get(key, [])),
                    key=lambda x: (_ALIAS_ORDER.index(x) if x in _ALIAS_ORDER else 9, x))
        return s + (f" ({'/'.join(al)})" if al else "")

    uniq = list(dict.fromkeys(keys))
    plain = {k: name(k, False) for k in uniq}
    counts = {}
    for v in plain.values():
        counts[v] = counts.get(v, 0) + 1
    final = {k: name(k, True) if counts[plain[k]] > 1 and k[0] == "bond" else plain[k]
             for k in uniq}
    return [final[k] for k in keys]


def dihedral_alias(atoms):
    """Conventional name of a dihedral (``phi``, ``psi``, ``omega``, ``theta``).

    Patterns (residue ``i``, the next residue ``i+1``): phi = C(i-1)-N-CA-C,
    psi = N-CA-C-N(i+1), omega = CA-C-N(i+1)-CA(i+1) (the methyl carbon CH3
    of ACE/NME caps counts as CA), theta = O-C-N(i+1)-CA(i+1), the
    out-of-plane angle of the carbonyl across the peptide bond used by
    Kikutsuji et al. (2022). Both orientations of the four atoms are tried.

    Parameters
    ----------
    atoms : sequence of MDAnalysis.core.groups.Atom
        The four atoms of the dihedral.

    Returns
    -------
    tuple or None
        ``(alias, residue, reversed)`` or ``None`` when no pattern matches.

    Examples
    --------
    >>> import MDAnalysis as mda
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    >>> u = mda.Universe(ALANINE_DIPEPTIDE_PDB)
    >>> dihedral_alias(u.atoms[[4, 6, 8, 14]])[0]
    'phi'
    """
    atoms = list(atoms)
    if not atoms or not has_residues(atoms[0]):
        return None  # no atom/residue names: no conventional alias
    hit = _alias_oriented(atoms)
    if hit:
        return hit[0], hit[1], False
    hit = _alias_oriented(atoms[::-1])
    if hit:
        return hit[0], hit[1], True
    return None


def check_heavy_info(atomgroup, option):
    """Refuse a heavy-atom choice on a topology with neither elements nor names.

    Parameters
    ----------
    atomgroup : MDAnalysis.core.groups.AtomGroup
    option : str
        The argument that asked for heavy atoms (``"pairs='heavy'"``), named
        in the error.

    Raises
    ------
    InputError
        When the topology carries neither ``elements`` nor ``names``, so a
        hydrogen cannot be told from a heavy atom.
    """
    atoms = atomgroup.universe.atoms
    if not hasattr(atoms, "elements") and not hasattr(atoms, "names"):
        raise InputError(
            f"{option} needs atom elements or names to tell hydrogens from heavy atoms, and "
            "this topology has neither; add them (u.add_TopologyAttr('names', [...]) or "
            "'elements') or choose the atoms yourself ('all' or a list of index tuples)")


def is_heavy(atom):
    el = getattr(atom, "element", None) if hasattr(atom, "element") else None
    if el:
        return el.strip().upper() not in ("H", "D")
    return not atom.name.lstrip("0123456789").upper().startswith(("H", "D"))


def enumerate_dihedrals(atomgroup, which="all", impropers=True):
    """List the dihedrals of an AtomGroup from its bond graph.

    Parameters
    ----------
    atomgroup : MDAnalysis.core.groups.AtomGroup
        Atoms to use (bonds leaving the group are ignored).
    which : {"all", "heavy", "backbone"}
        ``"all"``: every proper dihedral a-b-c-d with a-b, b-c, c-d bonded
        and a != d, each quadruplet once; ``"heavy"``: those whose four
        atoms are all heavy atoms; ``"backbone"``: phi, psi and omega.
    impropers : bool or "topology"
        ``True``: impropers from the topology when it has them (AMBER
        prmtop, PSF), otherwise one per atom with exactly three bonded
        neighbours (planar centres such as amide N and carbonyl C), as
        ``(n1, n2, centre, n3)`` with neighbours in index order, the AMBER
        convention of the central atom third. ``"topology"``: only the
        topology's. ``False``: none. Ignored for ``"backbone"``.

    Returns
    -------
    rows : numpy.ndarray
        (n, 4) universe atom indices (0-based).
    is_improper : numpy.ndarray
        (n,) bool.

    Examples
    --------
    >>> import MDAnalysis as mda
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    >>> rows, imp = enumerate_dihedrals(mda.Universe(ALANINE_DIPEPTIDE_PDB).atoms)
    >>> len(rows), int(imp.sum())
    (45, 4)
    """
    if which not in ("all", "heavy", "backbone"):
        raise InputError(
            f"dihedrals={which!r} is not known; use 'all', 'heavy', 'backbone' or "
            "a list of 4-atom index tuples / AtomGroups")
    g = bond_graph(atomgroup)
    if g.number_of_edges() == 0:
        raise TopologyError(
            "atomgroup has no bonds between its atoms, so it has no dihedrals; "
            "select bonded atoms (e.g. whole residues) or give dihedrals explicitly")
    atoms = atomgroup.universe.atoms
    rows = []
    for b, c in sorted(tuple(sorted(e)) for e in g.edges()):
        for a in sorted(g[b]):
            if a == c:
                continue
            for d in sorted(g[c]):
                if d in (b, a):
                    continue
                rows.append((a, b, c, d))
    # orient known dihedrals as their convention writes them
    oriented = []
    for row in rows:
        hit = dihedral_alias(atoms[list(row)])
        oriented.append(tuple(row[::-1]) if hit and hit[2] else row)
    rows = oriented
    if which == "heavy":
        check_heavy_info(atomgroup, "dihedrals='heavy'")
        rows = [r for r in rows if all(is_heavy(atoms[i]) for i in r)]
    if which == "backbone":
        order = {"phi": 0, "psi": 1, "omega": 2}
        keyed = []
        for r in rows:
            hit = dihedral_alias(atoms[list(r)])
            if hit and hit[0] in order:
                keyed.append(((hit[1].resindex, order[hit[0]]), r))
        rows = [r for _, r in sorted(keyed)]
        if not rows:
            raise TopologyError(
                "dihedrals='backbone' found no phi/psi/omega: atom names must follow "
                "the PDB convention (N, CA, C, O) in consecutive bonded residues")
        return np.array(rows, dtype=np.intp), np.zeros(len(rows), bool)
    improper_rows = []
    if impropers:
        top = atomgroup.universe._topology
        has_top = hasattr(top, "impropers") and len(atomgroup.universe.impropers) > 0
        if has_top:
            inside = set(atomgroup.indices.tolist())
            for imp in atomgroup.universe.impropers.indices:
                if all(int(i) in inside for i in imp):
                    improper_rows.append(tuple(int(i) for i in imp))
        elif impropers is True:
            for centre in sorted(g.nodes()):
                nb = sorted(g[centre])
                if len(nb) == 3:
                    improper_rows.append((nb[0], nb[1], centre, nb[2]))
        if which == "heavy":
            improper_rows = [r for r in improper_rows
                             if all(is_heavy(atoms[i]) for i in r)]
    is_imp = np.array([False] * len(rows) + [True] * len(improper_rows))
    allrows = rows + improper_rows
    if not allrows:
        raise TopologyError(
            "atomgroup has no dihedrals (no chain of four bonded atoms); select "
            "more atoms or give dihedrals explicitly")
    return np.array(allrows, dtype=np.intp), is_imp


class DihedralFeatures(FeaturesBase):
    r"""Dihedral angles of any trajectory as reaction-coordinate features.

    Parameters
    ----------
    atomgroup : MDAnalysis.core.groups.AtomGroup
        The molecule(s) to describe (e.g. ``u.atoms`` or
        ``u.select_atoms("protein")``). Needs bonds; when the topology has
        none they are guessed with a warning.
    dihedrals : {"all", "heavy", "backbone"} or list, optional
        Which dihedrals (see :func:`enumerate_dihedrals`), or an explicit
        list of 4-atom universe index tuples (0-based) or 4-atom AtomGroups.
    impropers : bool or "topology", optional
        Whether to add improper dihedrals (see :func:`enumerate_dihedrals`).
        With the bundled alanine dipeptide, ``"all"`` gives 41 proper + 4
        improper = 45 dihedrals, the input set of Mori et al. (2020) and
        Kikutsuji et al. (2022).
    sincos : bool, optional
        Return ``sin`` and ``cos`` of each angle (two columns per dihedral,
        continuous across +-180 degrees) instead of the angle.
    units : {"degrees", "radians"}, optional
        Units of the angles (ignored when ``sincos=True``).
    pbc : bool, optional
        Use the minimum-image convention when the trajectory has a box.
    dtype : numpy.float32 or numpy.float64, optional
        dtype of ``results.features``. Default float32, as mdtraj: the
        compiled kernel computes in float32 (agreement with MDAnalysis'
        double-precision ``Dihedral`` ~1e-5 degrees); float64 only widens
        the stored values.
    **kwargs
        Passed to :class:`MDAnalysis.analysis.base.AnalysisBase`
        (e.g. ``verbose=True``).

    Attributes
    ----------
    results.features : numpy.ndarray
        (n_frames, n_features) angles in ``units`` in (-180, 180], or sin/cos.
    results.names : list of str
        One per column: the conventional alias (``"phi"``, ``"psi"``,
        ``"theta"``, ``"omega"``; qualified with the residue, e.g.
        ``"phi(ALA2)"``, when the alias occurs more than once) or a label
        such as ``"ALA2:H-N-CA-CB"``; ``"sin(phi)"`` / ``"cos(phi)"`` with
        ``sincos=True``.
    results.labels : list of str
        Atom-based label of each column's dihedral (impropers prefixed
        ``"improper "``).
    results.atom_indices : numpy.ndarray
        (n_features, 4) universe atom indices (0-based) of each column.
    results.groups : numpy.ndarray
        (n_features,) index of the dihedral each column belongs to (sin and
        cos of one dihedral share a group), for summing explanations.
    results.is_improper : numpy.ndarray
        (n_features,) bool.
    results.columns : list of FeatureColumn
        One record per column: ``kind`` (``"dihedral"``, ``"improper"``,
        ``"sin"``, ``"cos"``), ``atoms``, ``group`` (the rotatable bond,
        ``"N-CA (phi)"``; an improper is its own group), ``alias``,
        ``base`` (the angle of a sin/cos column), ``unit``.
    results.kernel : str
        The compiled kernel that ran (see :mod:`mda_rcxai.features._kernels`).

    Examples
    --------
    >>> import MDAnalysis as mda
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD
    >>> from mda_rcxai.features import DihedralFeatures
    >>> u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    >>> f = DihedralFeatures(u.atoms).run()
    >>> f.results.features.shape
    (1000, 45)
    >>> f.results.names.index("phi"), f.results.atom_indices[f.results.names.index("phi")].tolist()
    (12, [4, 6, 8, 14])
    """

    def __init__(self, atomgroup, dihedrals="all", impropers=True, sincos=False,
                 units="degrees", pbc=True, **kwargs):
        check_atomgroup(atomgroup, 4, "dihedrals")
        self._sincos = bool(sincos)
        units = "sincos" if self._sincos else check_units(units, ANGULAR_UNITS)
        if isinstance(dihedrals, str):
            rows, is_imp = enumerate_dihedrals(atomgroup, dihedrals, impropers)
        else:
            try:
                entries = list(dihedrals)
            except TypeError:
                raise InputTypeError(
                    "dihedrals must be 'all', 'heavy', 'backbone' or a list of "
                    f"4-atom index tuples / AtomGroups, got {dihedrals!r}") from None
            rows = check_rows(entries, 4, atomgroup, "dihedrals")
            is_imp = np.zeros(len(rows), bool)
        atoms = atomgroup.universe.atoms
        labels, aliases = [], []
        hits = [dihedral_alias(atoms[list(r)]) if not imp else None
                for r, imp in zip(rows, is_imp)]
        counts = {}
        for h in hits:
            if h:
                counts[h[0]] = counts.get(h[0], 0) + 1
        plain_labels = row_labels(atomgroup.universe, rows)
        for r, imp, h, lab in zip(rows, is_imp, hits, plain_labels):
            labels.append(("improper " if imp else "") + lab)
            if h is None:
                aliases.append(None)
            elif counts[h[0]] == 1:
                aliases.append(h[0])
            else:
                aliases.append(f"{h[0]}({h[1].resname}{h[1].resid})")
        self._is_improper = np.asarray(is_imp, bool)
        super().__init__(atomgroup, rows, labels, aliases, units, pbc, **kwargs)

    def _columns(self):
        names = self._column_names()
        rows = self._universe_rows
        if not self._sincos:
            return names, rows.copy(), np.arange(len(names))
        cols = list(itertools.chain.from_iterable(
            (f"sin({n})", f"cos({n})") for n in names))
        return cols, np.repeat(rows, 2, axis=0), np.repeat(np.arange(len(names)), 2)

    def _prepare(self):
        super()._prepare()
        self.results.is_improper = self._is_improper[self.results.groups]

    def _get_aggregator(self):
        agg = super()._get_aggregator()
        agg._lookup["is_improper"] = agg._lookup["groups"]
        return agg

    _kind = "dihedral"

    def _make_columns(self, names, atom_indices, groups):
        atoms = self._ag.universe.atoms
        bond_label = _bond_group_labels(self._universe_rows, self._is_improper, self._aliases,
                                        self._labels, atoms)
        base_names = self._column_names()
        unit = "1" if self._sincos else self._units
        out = []
        for k, (name, row, g) in enumerate(zip(names, atom_indices, groups)):
            measure = "improper" if self._is_improper[g] else "dihedral"
            kind = measure if not self._sincos else ("sin" if k % 2 == 0 else "cos")
            alias = self._aliases[g]
            out.append(FeatureColumn(
                name=name, kind=kind, atoms=tuple(row), unit=unit, group=bond_label[g],
                base=base_names[g], measure=measure,
                alias=None if alias is None else alias.split("(")[0]))
        return out

    def _fill(self, vals, out):
        vals = vals if vals.dtype == out.dtype else vals.astype(out.dtype)
        if self._sincos:
            np.sin(vals, out=out[:, 0::2])
            np.cos(vals, out=out[:, 1::2])
        elif self._units == "degrees":
            np.degrees(vals, out=out)
        elif vals is not out:
            out[...] = vals

"""Column metadata of the explained features and how they are grouped.

A column's metadata (:func:`column_meta`, or :func:`legacy_columns` read from
bare feature names), its atoms (:func:`atom_rows`), and the groups that
:meth:`~mda_rcxai.explain.Explanation.grouped` sums over: rotatable bonds
(:func:`bond_groups`, named by the conventional dihedral aliases) or a
metadata field (:data:`GROUP_FIELDS`); :func:`group_meta` is a group's own
metadata.

Examples
--------
>>> bond_groups(["phi", "psi"], [(4, 6, 8, 14), (6, 8, 14, 16)])[0]
['6-8 (phi)', '8-14 (psi)']
"""

from __future__ import annotations

import re
from types import MappingProxyType

import numpy as np

from ..exceptions import InputError, InputTypeError

__all__ = ["ALIAS_PRIORITY", "GROUP_FIELDS", "column_meta", "legacy_columns", "atom_rows",
           "atom_labels", "bond_groups", "base_name", "frozen_array", "group_meta"]

#: Conventional dihedral aliases, best known first; used to name bond groups
#: (``"N-CA (phi)"``, ``"C-N (theta/omega)"``).
ALIAS_PRIORITY = ("phi", "psi", "theta", "omega", "chi1", "chi2", "chi3", "chi4", "chi5")

_SINCOS = re.compile(r"^(sin|cos)\((.*)\)$")
_QUALIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9_']*)\([A-Za-z0-9]+\)$")
_GEOMETRY = {2: "distance", 3: "angle", 4: "dihedral"}
#: Metadata fields :meth:`Explanation.grouped` can group by (besides ``"bond"``).
GROUP_FIELDS = ("group", "kind", "measure", "neighbors")


def column_meta(column):
    """A column's metadata as a plain dict, from a ``FeatureColumn`` or a dict.

    Explanations do not import :mod:`mda_rcxai.features`; they read the
    fields of :class:`~mda_rcxai.features.columns.FeatureColumn` records
    (``name``, ``kind``, ``atoms``, ``center``, ``neighbors``, ``params``,
    ``group``, ``unit``, ``base``, ``measure``, ``alias``,
    ``neighbor_atoms``) by name.
    """
    if hasattr(column, "to_dict"):
        d = column.to_dict()
    elif isinstance(column, (dict, MappingProxyType)):
        d = dict(column)
    else:
        raise InputTypeError("columns must be FeatureColumn records (results.columns of a "
                             f"feature class) or dicts, got {type(column).__name__}")
    if "name" not in d:
        raise InputError(f"column metadata {d!r} has no 'name'")
    d["name"] = str(d["name"])
    d.setdefault("kind", "")
    d.setdefault("measure", d["kind"])
    d.setdefault("base", d["name"])
    d.setdefault("group", d["name"])
    d.setdefault("alias", None)
    for k in ("atoms", "center", "neighbor_atoms"):
        d[k] = tuple(int(i) for i in (d.get(k) or ()))
    params = d.get("params") or {}
    d["params"] = dict(params) if not isinstance(params, dict) else params
    return d


def legacy_columns(names, atom_indices=None):
    """Metadata inferred from names alone, for features saved without it.

    The one place that still reads names: ``"sin(x)"``/``"cos(x)"`` are the
    sine/cosine of ``x``; a name starting with ``"improper "`` is an
    improper dihedral; a name without ``:``, ``-`` or spaces is a
    conventional alias (``phi``, ``omega(ACE1)``); otherwise the kind
    follows from the number of atoms (2 distance, 3 angle, 4 dihedral).
    Pass ``columns=results.columns`` to :func:`~mda_rcxai.explain.explain`
    instead whenever the feature class's metadata is at hand.
    """
    out = []
    for k, name in enumerate(names):
        name = str(name)
        m = _SINCOS.match(name)
        base = m.group(2) if m else name
        row = tuple(atom_indices[k]) if atom_indices is not None else ()
        if base.startswith("improper"):
            measure = "improper"
        else:
            measure = _GEOMETRY.get(len(row), "")
        alias = None
        if (":" not in base and "-" not in base and " " not in base
                and not base.startswith("improper")):
            q = _QUALIFIER.match(base)
            alias = q.group(1) if q else base
        out.append({"name": name, "kind": m.group(1) if m else measure, "measure": measure,
                    "base": base, "alias": alias, "atoms": row, "center": (),
                    "neighbor_atoms": (), "params": {}, "group": base, "neighbors": None})
    return out


def base_name(name):
    """``"sin(phi)"`` -> ``"phi"``; anything else unchanged (legacy names)."""
    m = _SINCOS.match(name)
    return m.group(2) if m else name


def frozen_array(arr):
    arr = np.array(arr, copy=True)
    arr.setflags(write=False)
    return arr


def atom_rows(atom_indices, n, name="atom_indices"):
    """Normalise to a tuple of int tuples (rows may differ in length), or None."""
    if atom_indices is None:
        return None
    if isinstance(atom_indices, np.ndarray) and atom_indices.ndim == 2:
        rows = [tuple(int(i) for i in r) for r in atom_indices]
    else:
        try:
            rows = [tuple(int(i) for i in np.atleast_1d(r)) for r in atom_indices]
        except (TypeError, ValueError):
            raise InputTypeError(
                f"{name} must be an int array of shape (n_features, k) or a list of int "
                "tuples, one per feature (e.g. DihedralFeatures(...).results.atom_indices)"
            ) from None
    if len(rows) != n:
        raise InputError(
            f"{name} has {len(rows)} rows but there are {n} feature columns; pass one row "
            "of atom indices per column of X (results.atom_indices of the feature class)")
    out = []
    for r in rows:
        # -1 pads rows of features with fewer atoms (build_features' atom_indices)
        core = tuple(i for i in r if i != -1)
        if any(i < 0 for i in core) or (-1 in r and -1 in r[:len(core)]):
            raise InputError(f"{name} contains a negative atom index in row {r}; indices are "
                             "0-based universe atom indices (-1 only as trailing padding)")
        out.append(core)
    return tuple(out)


def atom_labels(atom_names):
    """(names, qualified names) per atom from a sequence or a Universe/AtomGroup."""
    if atom_names is None:
        return None, None
    atoms = getattr(atom_names, "atoms", None)
    if atoms is not None and hasattr(atoms, "names"):
        u = atoms.universe
        names = [str(n) for n in u.atoms.names]
        try:
            qual = [f"{a.resname}{a.resid}:{a.name}" for a in u.atoms]
        except Exception:  # no residue information
            qual = [f"{n}{i}" for i, n in enumerate(names)]
        return names, qual
    if isinstance(atom_names, str):
        raise InputTypeError("atom_names must be a sequence of atom names indexed by atom index "
                             "(e.g. list(u.atoms.names)) or a Universe/AtomGroup, not a string")
    names = [str(n) for n in atom_names]
    return names, [f"{n}{i}" for i, n in enumerate(names)]


def bond_groups(feature_names, atom_indices, atom_names=None, columns=None):
    """Group features by the rotatable bond they turn about.

    The rule (documented in :meth:`Explanation.grouped`): a proper
    dihedral (4 atoms) belongs to the bond between its atoms 1 and 2
    (0-based, unordered); a distance (2 atoms) to the pair it measures;
    impropers, angles, solvent descriptors and features without atoms each
    form their own group named after the feature. What a feature is comes
    from its metadata (``columns``: ``measure``, ``alias``); without it,
    from :func:`legacy_columns` (names).

    Parameters
    ----------
    feature_names : sequence of str
    atom_indices : sequence of int tuples
        Universe atom indices (0-based) of each feature.
    atom_names : sequence of str or MDAnalysis Universe/AtomGroup, optional
        Atom names indexed by atom index, for readable group names.
    columns : sequence of FeatureColumn or dict, optional
        Metadata of each feature (``results.columns``).

    Returns
    -------
    labels : list of str
        Group name of each feature.
    group_atoms : dict
        ``{group name: tuple of atom indices}`` (the two bond atoms, or the
        feature's own atoms).

    Examples
    --------
    >>> names = ["phi", "ALA2:H-N-CA-CB", "theta", "omega(ACE1)"]
    >>> idx = [(4, 6, 8, 14), (7, 6, 8, 10), (5, 4, 6, 8), (1, 4, 6, 8)]
    >>> atom_names = ["HH31", "CH3", "HH32", "HH33", "C", "O", "N", "H", "CA",
    ...               "HA", "CB", "HB1", "HB2", "HB3", "C"]
    >>> bond_groups(names, idx, atom_names)[0]
    ['N-CA (phi)', 'N-CA (phi)', 'C-N (theta/omega)', 'C-N (theta/omega)']
    """
    names = [str(n) for n in feature_names]
    metas = ([column_meta(c) for c in columns] if columns is not None
             else legacy_columns(names, atom_indices))
    anames, qual = atom_labels(atom_names)
    keys, members = [], {}
    for name, row, meta in zip(names, atom_indices, metas):
        base = meta["base"] if columns is not None else base_name(name)
        measure = meta["measure"]
        if measure == "dihedral" and len(row) == 4:
            key = ("bond", tuple(sorted((row[1], row[2]))))
        elif measure == "distance" and len(row) == 2:
            key = ("bond", tuple(sorted((row[0], row[1]))))
        else:
            key = ("feature", base)
        keys.append(key)
        members.setdefault(key, []).append((base, meta.get("alias")))

    def label(key, qualified):
        if key[0] == "feature":
            return key[1]
        i, j = key[1]
        if anames is None or max(i, j) >= len(anames):
            atoms = f"{i}-{j}"
        elif qualified:
            atoms = f"{qual[i]}-{qual[j]}"
        else:
            atoms = f"{anames[i]}-{anames[j]}"
        aliases = []
        for base, alias in dict.fromkeys(members[key]):
            if alias is None:
                continue
            a = alias if not qualified else base
            if a not in aliases:
                aliases.append(a)
        aliases.sort(key=lambda a: (ALIAS_PRIORITY.index(_QUALIFIER.sub(r"\1", a))
                                    if _QUALIFIER.sub(r"\1", a) in ALIAS_PRIORITY
                                    else len(ALIAS_PRIORITY), a))
        return atoms + (f" ({'/'.join(aliases)})" if aliases else "")

    unique = list(dict.fromkeys(keys))
    plain = {k: label(k, False) for k in unique}
    counts = {}
    for v in plain.values():
        counts[v] = counts.get(v, 0) + 1
    final = {k: (label(k, True) if counts[plain[k]] > 1 and k[0] == "bond" else plain[k])
             for k in unique}
    group_atoms = {}
    for k, name, row in zip(keys, names, atom_indices):
        g = final[k]
        if g not in group_atoms:
            group_atoms[g] = tuple(k[1]) if k[0] == "bond" else tuple(row)
    return [final[k] for k in keys], group_atoms


def group_meta(name, metas, bond_atoms=None):
    """Metadata of a group of features: unions of atoms, centres and neighbour
    atoms; the largest cutoff-like parameters (for :meth:`Explanation.to_atomgroup`)."""
    measures = {m["measure"] for m in metas}
    measure = measures.pop() if len(measures) == 1 else "mixed"
    params = {}
    for key in ("r_cut", "r0", "r0_a", "r0_b", "n", "m"):
        vals = [m["params"][key] for m in metas if isinstance(m["params"].get(key), (int, float))]
        if vals:
            params[key] = max(vals)
    union = lambda key: tuple(sorted({a for m in metas for a in m[key]}))  # noqa: E731
    return {"name": name, "kind": "group", "measure": measure, "base": name, "group": name,
            "alias": None, "atoms": tuple(bond_atoms) if bond_atoms else union("atoms"),
            "center": union("center"), "neighbor_atoms": union("neighbor_atoms"),
            "neighbors": "+".join(dict.fromkeys(str(m.get("neighbors")) for m in metas
                                                if m.get("neighbors"))) or None,
            "params": params, "unit": ""}

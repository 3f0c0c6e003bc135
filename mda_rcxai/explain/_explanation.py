"""The :class:`Explanation` record, feature grouping, atom mapping and :func:`compare`."""

from __future__ import annotations

import re
from types import MappingProxyType

import numpy as np
from scipy.stats import spearmanr

from ..exceptions import InputError, InputTypeError
from ._plots import plot_beeswarm, plot_importance

__all__ = ["Explanation", "compare", "bond_groups", "ALIAS_PRIORITY", "GROUP_FIELDS",
           "column_meta", "legacy_columns"]

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


def _base_name(name):
    """``"sin(phi)"`` -> ``"phi"``; anything else unchanged (legacy names)."""
    m = _SINCOS.match(name)
    return m.group(2) if m else name


def _frozen(arr):
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


def _atom_labels(atom_names):
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
    anames, qual = _atom_labels(atom_names)
    keys, members = [], {}
    for name, row, meta in zip(names, atom_indices, metas):
        base = meta["base"] if columns is not None else _base_name(name)
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


def _spearman(a, b):
    """Spearman's rank correlation (ties share their average rank); nan when either
    side is constant."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:  # spearmanr would warn and return nan
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _switch(r, r0, n=6, m=12):
    x = np.asarray(r, float) / float(r0)
    den = 1.0 - x ** m
    near = np.abs(den) < 1e-9
    return np.where(near, n / m, (1.0 - x ** n) / np.where(near, 1.0, den))


def _neighbor_weights(meta, pos, center, nb, box, distance_array, minimize_vectors):
    """How much a solvent descriptor counts each neighbour atom in this frame
    (documented in :meth:`Explanation.to_atomgroup`), or None."""
    p = meta["params"]
    n, m = int(p.get("n", 6)), int(p.get("m", 12))
    d = distance_array(pos[center], pos[nb], box=box)  # (n_centers, n_neighbours)
    kind = meta["measure"]
    if "r_cut" in p:
        rc = float(p["r_cut"])
        w = np.where(d < rc, 0.5 * (np.cos(np.pi * d / rc) + 1.0), 0.0).max(axis=0)
    elif kind == "density" and len(center) == 2:
        v = minimize_vectors((pos[center[1]] - pos[center[0]])[None], box)[0] \
            if box is not None else pos[center[1]] - pos[center[0]]
        mid = (pos[center[0]] + 0.5 * v)[None].astype(np.float32)
        r_ab = max(float(np.linalg.norm(v)), 1e-6)
        w = _switch(distance_array(mid, pos[nb], box=box)[0], r_ab / 2, n, m)
    elif "r0_a" in p and len(center) == 2:
        w = _switch(d[0], p["r0_a"], n, m) * _switch(d[1], p["r0_b"], n, m)
    elif "r0" in p:
        w = _switch(d, p["r0"], n, m).max(axis=0)
    else:
        return None
    return np.where(w >= 0.05, w, 0.0)


def _group_meta(name, metas, bond_atoms=None):
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


class Explanation:
    """Attributions of a reaction coordinate to features: an immutable record.

    Made by :func:`mda_rcxai.explain.explain`; all arrays are read-only and
    attributes cannot be reassigned (derive new records with
    :meth:`grouped`).

    Parameters
    ----------
    values : array_like, shape (n_explained, n_features)
        Attribution of each feature in each explained configuration, in the
        units of the explained output (``q``, dimensionless, or ``p_B``).
        Positive pushes towards B (product).
    feature_names : sequence of str, length n_features
    base_values : array_like, shape (n_explained,), optional
        SHAP: the expected output over the background, ``E[f]``, so that
        ``values.sum(1) + base_values = prediction``. LIME: the intercept of
        each local linear model.
    prediction : array_like, shape (n_explained,), optional
        The explained output ``f(x)`` of each configuration.
    data : array_like, shape (n_explained, n_features), optional
        Feature values of the explained configurations (NaN where a feature
        has no single value, e.g. a group of several dihedrals); angles of
        sin/cos pairs are given in degrees.
    atom_indices : sequence of int tuples, optional
        Universe atom indices (0-based) of each feature.
    indices : array_like of int, optional
        Row of each explained configuration in the ``X`` passed to
        :func:`explain`.
    p_B : array_like, optional
        Predicted committor of each explained configuration.
    method, algorithm, selection, output : str
        ``"shap"``, ``"shap-partition"`` or ``"lime"``; the explainer used
        (``"deep"``, ``"gradient"``, ``"kernel"``, ``"permutation"``,
        ``"partition"``, ``"lime"``); ``"global"`` or
        ``"transition_state"``; ``"q"`` or ``"p_B"``.
    window : tuple of float or None
        The p_B window of a transition-state selection.
    members : dict, optional
        ``{feature: tuple of the original features summed into it}``.
    atom_names : sequence of str or Universe, optional
        Used by :meth:`grouped` to name bond groups.
    info : dict, optional
        Anything else (seed, background size, timings).
    columns : sequence of FeatureColumn or dict, optional
        Metadata of each feature (kind, atoms, centre, neighbour set and
        atoms, parameters, group label); stored as read-only dicts. Used by
        :meth:`grouped` (``by="group"`` and the other metadata fields, and
        to tell impropers and aliases for ``by="bond"``) and by
        :meth:`to_atomgroup` (solvent descriptors).

    Attributes
    ----------
    importance : numpy.ndarray, shape (n_features,)
        Mean absolute attribution over the explained configurations.
    ranking : list of str
        Feature names, most important first.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.explain import Explanation
    >>> ex = Explanation(np.array([[0.5, -0.1], [-0.7, 0.2]]), ["phi", "psi"])
    >>> ex.ranking
    ['phi', 'psi']
    >>> ex.importance.round(2).tolist()
    [0.6, 0.15]
    """

    _FIELDS = ("values", "feature_names", "base_values", "prediction", "data", "atom_indices",
               "indices", "p_B", "method", "algorithm", "selection", "output", "window",
               "members", "atom_names", "info", "columns")

    def __init__(self, values, feature_names, *, base_values=None, prediction=None, data=None,
                 atom_indices=None, indices=None, p_B=None, method="shap", algorithm=None,
                 selection="global", output="q", window=None, members=None, atom_names=None,
                 info=None, columns=None):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            raise InputError(f"values must be 2-D (n_explained, n_features), got shape "
                             f"{values.shape}")
        n, d = values.shape
        names = tuple(str(f) for f in feature_names)
        if len(names) != d:
            raise InputError(f"feature_names has {len(names)} entries but values has {d} "
                             "columns; pass one name per column")
        if len(set(names)) != len(names):
            dup = sorted({x for x in names if names.count(x) > 1})
            raise InputError(f"feature_names must be unique; repeated: {dup[:5]}")

        def vec(x, label):
            if x is None:
                return None
            x = np.asarray(x, dtype=np.float64).reshape(-1)
            if len(x) != n:
                raise InputError(f"{label} must have one entry per explained configuration "
                                 f"({n}), got {len(x)}")
            return _frozen(x)

        s = object.__setattr__
        s(self, "values", _frozen(values))
        s(self, "feature_names", names)
        s(self, "base_values", vec(base_values, "base_values"))
        s(self, "prediction", vec(prediction, "prediction"))
        if data is None:
            data = np.full((n, d), np.nan)
        data = np.asarray(data, dtype=np.float64)
        if data.shape != (n, d):
            raise InputError(f"data must have the shape of values {values.shape}, got "
                             f"{data.shape}")
        s(self, "data", _frozen(data))
        s(self, "atom_indices", atom_rows(atom_indices, d))
        s(self, "indices", None if indices is None else
          _frozen(np.asarray(indices, dtype=np.int64).reshape(-1)))
        s(self, "p_B", vec(p_B, "p_B"))
        s(self, "method", str(method))
        s(self, "algorithm", None if algorithm is None else str(algorithm))
        s(self, "selection", str(selection))
        s(self, "output", str(output))
        s(self, "window", None if window is None else tuple(float(w) for w in window))
        mem = {f: (f,) for f in names} if members is None else \
            {str(k): tuple(str(m) for m in v) for k, v in members.items()}
        s(self, "members", MappingProxyType(mem))
        s(self, "atom_names", None if atom_names is None else
          (atom_names if hasattr(atom_names, "atoms") else tuple(str(a) for a in atom_names)))
        s(self, "info", MappingProxyType(dict(info or {})))
        if columns is not None:
            metas = [column_meta(c) for c in columns]
            if len(metas) != d:
                raise InputError(f"columns has {len(metas)} records but there are {d} features; "
                                 "pass one per feature (results.columns)")
            columns = tuple(MappingProxyType(m) for m in metas)
        s(self, "columns", columns)
        imp = np.abs(values).mean(axis=0) if n else np.zeros(d)
        s(self, "importance", _frozen(imp))
        order = np.argsort(-imp, kind="mergesort")
        s(self, "ranking", [names[i] for i in order])

    def __setattr__(self, name, value):
        raise AttributeError(f"Explanation is immutable; cannot set {name!r} (derive a new one "
                             "with grouped() or build a new Explanation)")

    def __delattr__(self, name):
        raise AttributeError("Explanation is immutable")

    def __reduce__(self):
        """Picklable (Dask workers, multiprocessing): rebuilt from plain fields."""
        state = {f: getattr(self, f) for f in self._FIELDS}
        state["members"] = dict(state["members"])
        state["info"] = dict(state["info"])
        if state["columns"] is not None:
            state["columns"] = [dict(c) for c in state["columns"]]
        return (_rebuild_explanation, (state,))

    def __repr__(self):
        top = ", ".join(self.ranking[:3])
        return (f"<Explanation {self.method}/{self.algorithm} {self.selection}: "
                f"{self.values.shape[0]} configurations x {len(self.feature_names)} features "
                f"of {self.output}; top: {top}>")

    @property
    def n_explained(self):
        """Number of explained configurations."""
        return int(self.values.shape[0])

    @property
    def mean_values(self):
        """Mean signed attribution per feature, shape (n_features,)."""
        return self.values.mean(axis=0) if self.n_explained else np.zeros(len(self.feature_names))

    def _replace(self, **kw):
        state = {f: getattr(self, f) for f in self._FIELDS}
        state.update(kw)
        values = state.pop("values")
        names = state.pop("feature_names")
        return Explanation(values, names, **state)

    # ------------------------------------------------------------------
    def grouped(self, by="bond", atom_names=None):
        """Sum signed attributions over groups of features, then rank the groups.

        Parameters
        ----------
        by : "bond", dict or sequence, optional
            ``"bond"``: every proper dihedral (4 atoms) belongs to the bond
            between its atoms 1 and 2 (0-based, unordered), so phi and its
            collinear partners (H-N-CA-CB, C-N-CA-CB, ...) add up to one
            rotation about N-CA. Distances (2 atoms) group by their atom
            pair; impropers (names starting with ``"improper"``), angles and
            features without atom indices stay on their own. A group is
            named by its bond's atom names in ascending atom-index order,
            followed by the conventional aliases among its members (those
            names without ``:``/``-``), best known first (phi, psi, theta,
            omega, chi...) with residue qualifiers dropped, e.g.
            ``"N-CA (phi)"`` and ``"C-N (theta/omega)"``. If two groups
            would get the same name, both are qualified with residue names
            and ids (``"ACE1:C-ALA2:N (theta/omega(ACE1))"``) when a
            Universe was given, else with atom indices (``"C4-N6"``);
            without atom names, bonds are named by atom indices
            (``"6-8 (phi)"``). Which features are impropers and which
            carry an alias comes from the column metadata (``columns=`` of
            :func:`explain`); without it, from the names
            (:func:`legacy_columns`).
            ``"group"``: the group label of each feature's metadata: the
            rotatable bond for dihedrals, ``"NA1:NA / water O"`` for all
            G2 and G5 (or coordination) columns of one centre over one
            neighbour set. ``"kind"``, ``"measure"``, ``"neighbors"``: the
            metadata field of that name (features without a neighbour set
            stay alone under ``"neighbors"``). These need ``columns``.
            A dict ``{feature: group}`` (features not in it stay alone) or
            a sequence of group names, one per feature, groups by your own
            rule.
        atom_names : sequence of str or MDAnalysis Universe/AtomGroup, optional
            Atom names indexed by atom index; default: those given to
            :func:`explain`.

        Returns
        -------
        Explanation
            One feature per group: ``values`` are the sums of the members'
            signed attributions (so Shapley additivity is kept),
            ``importance`` their mean absolute value, ``members`` lists the
            features of each group (names of this explanation's features), ``atom_indices`` are the bond's two atoms
            (``"bond"``) or the union of the members' atoms (own mapping).

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.explain import Explanation
        >>> ex = Explanation(np.array([[0.3, 0.2, -0.4]]), ["phi", "ALA2:H-N-CA-CB", "psi"],
        ...                  atom_indices=[(4, 6, 8, 14), (7, 6, 8, 10), (6, 8, 14, 16)])
        >>> g = ex.grouped(by="bond")
        >>> g.ranking, g.values.round(2).tolist()
        (['6-8 (phi)', '8-14 (psi)'], [[0.5, -0.4]])
        >>> ex.grouped(by={"phi": "backbone", "psi": "backbone"}).values.round(2).tolist()
        [[-0.1, 0.2]]
        """
        names = list(self.feature_names)
        atom_names = self.atom_names if atom_names is None else atom_names
        if isinstance(by, str) and by in GROUP_FIELDS:
            if self.columns is None:
                raise InputError(
                    f"grouped(by={by!r}) needs column metadata; pass columns=results.columns "
                    "to explain() (or use by='bond', a dict or a list)")
            labels = [str(m.get(by) or m["name"]) for m in self.columns]
            group_atoms = None
        elif isinstance(by, str):
            if by != "bond":
                raise InputError(f"grouped(by={by!r}) is not known; use by='bond', one of "
                                 f"{list(GROUP_FIELDS)}, a dict {{feature: group}} or a list of "
                                 "group names, one per feature")
            if self.atom_indices is None:
                raise InputError(
                    "grouped(by='bond') needs the atom indices of the features; pass "
                    "atom_indices=results.atom_indices to explain() (or a dict/list to by=)")
            labels, group_atoms = bond_groups(names, self.atom_indices, atom_names,
                                              columns=self.columns)
        elif isinstance(by, dict):
            unknown = sorted(set(map(str, by)) - set(names))
            if unknown:
                raise InputError(f"grouped(by=...) names features that are not in this "
                                 f"explanation: {unknown[:5]}; known: {names[:5]}...")
            labels = [str(by.get(n, n)) for n in names]
            group_atoms = None
        else:
            try:
                labels = [str(x) for x in by]
            except TypeError:
                raise InputTypeError("grouped(by=...) must be 'bond', a dict or a sequence of "
                                     "group names") from None
            if len(labels) != len(names):
                raise InputError(f"grouped(by=...) has {len(labels)} group names but there are "
                                 f"{len(names)} features; give one per feature")
            group_atoms = None
        groups = list(dict.fromkeys(labels))
        lab = np.array([groups.index(x) for x in labels])
        n = self.n_explained
        vals = np.zeros((n, len(groups)))
        data = np.full((n, len(groups)), np.nan)
        members, atoms, metas = {}, [], []
        for k, g in enumerate(groups):
            cols = np.flatnonzero(lab == k)
            if self.columns is not None:
                metas.append(_group_meta(g, [self.columns[c] for c in cols],
                                         None if group_atoms is None else group_atoms[g]))
            vals[:, k] = self.values[:, cols].sum(axis=1)
            if len(cols) == 1:
                data[:, k] = self.data[:, cols[0]]
            members[g] = tuple(names[c] for c in cols)
            if group_atoms is not None:
                atoms.append(group_atoms[g])
            elif self.atom_indices is not None:
                atoms.append(tuple(sorted({a for c in cols for a in self.atom_indices[c]})))
        return self._replace(values=vals, feature_names=groups, data=data, members=members,
                             columns=metas if self.columns is not None else None,
                             atom_indices=atoms if atoms else None, atom_names=atom_names,
                             info={**self.info, "grouped_by": by if isinstance(by, str)
                                   else "mapping"})

    # ------------------------------------------------------------------
    def per_atom(self, n_atoms):
        """Importance per atom: each feature's importance shared equally over its atoms.

        Parameters
        ----------
        n_atoms : int
            Number of atoms of the universe (length of the result).

        Returns
        -------
        numpy.ndarray, shape (n_atoms,)
            Sum over features of ``importance / n_atoms_of_feature`` for each
            atom of the feature (units of the explained output); atoms in no
            feature get 0. The total equals ``importance.sum()``.

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.explain import Explanation
        >>> ex = Explanation(np.array([[0.4, 0.2]]), ["a", "b"], atom_indices=[(0, 1), (1, 2)])
        >>> ex.per_atom(4).round(2).tolist()
        [0.2, 0.3, 0.1, 0.0]
        """
        if self.atom_indices is None and self.columns is None:
            raise InputError("this Explanation has no atom_indices; pass "
                             "atom_indices=results.atom_indices to explain()")
        n_atoms = int(n_atoms)
        rows = self._rows()
        top = max((max(r) for r in rows if r), default=-1)
        if top >= n_atoms:
            raise InputError(
                f"atom_indices refer to atom index {top} but the universe has {n_atoms} atoms; "
                "pass the universe (or n_atoms) the features were computed on")
        out = np.zeros(n_atoms)
        for imp, row in zip(self.importance, rows):
            if row:
                np.add.at(out, list(row), imp / len(row))
        return out

    def to_atomgroup(self, universe_or_atomgroup, scale=1.0, frame=None, neighbor_share=0.5):
        """Atoms carrying per-atom importance in ``tempfactors``, ready to write as PDB.

        The values are :meth:`per_atom` (each feature's importance shared
        equally over its atoms) times ``scale``. A solvent descriptor
        (ACSF, coordination; its metadata has a centre and a neighbour set)
        puts its importance on its centre atom(s). With ``frame`` (an
        annotated PDB of one configuration), the solvent molecules that the
        descriptor counts in that frame get a share too: a fraction
        ``neighbor_share`` of its importance goes to its neighbour atoms,
        weighted as the descriptor weighs them (the cutoff ``f_c(r)`` for
        ACSF, zero beyond ``r_cut``; the switching value ``s(r; r0)`` for a
        coordination number, the product of both centres' values for
        bridging, ``s(|x - x_mid|; r_AB/2)`` for interionic solvent; weights
        below 0.05 are dropped), and each neighbour atom's part is spread
        evenly over its residue (the whole water molecule); the rest stays
        on the centre(s). Distances use the minimum image of the frame's
        box. The values are written into the ``tempfactors`` of the given
        universe's atoms (the attribute is added if the topology lacks it);
        nothing else of the universe is changed. Pass ``universe.copy()``
        to leave your universe untouched.

        Parameters
        ----------
        universe_or_atomgroup : MDAnalysis.Universe or AtomGroup
            The system the features were computed on (``atom_indices`` are
            indices into its atoms). It is checked against what the
            explanation knows of that system: every feature atom must
            exist, and where the explanation carries atom names
            (``atom_names``, as :func:`~mda_rcxai.explain.run.explain_all`
            and ``explain(..., atom_names=u)`` record them) the feature
            atoms must have the same names and, for names given as a
            Universe, the universe the same number of atoms; a mismatch
            raises :class:`~mda_rcxai.exceptions.InputError` saying what
            differs. With an AtomGroup, only its atoms get values and only
            they are returned; it must hold every atom that gets a nonzero
            value (select afterwards, ``ex.to_atomgroup(u).select_atoms(...)``,
            to show fewer).
        scale : float or "max", optional
            Multiplier of the per-atom values; ``"max"`` scales them so that
            the most important atom reads 100 (handy for the PDB B-factor
            column, which keeps two decimals). Default 1: raw values in
            units of the explained output.
        frame : int, optional
            Trajectory frame whose solvent configuration is annotated (the
            trajectory is moved to it); None keeps all of a solvent
            descriptor's importance on its centre.
        neighbor_share : float, optional
            Fraction (0..1) of a solvent descriptor's importance given to
            the molecules it counts when ``frame`` is set (default 0.5).

        Returns
        -------
        MDAnalysis.core.groups.AtomGroup
            ``ag.tempfactors`` holds the values; ``ag.write("explained.pdb")``
            stores them in the B-factor column. The total over all atoms is
            ``importance.sum() * scale`` (for a number ``scale``).

        Examples
        --------
        >>> import numpy as np, MDAnalysis as mda
        >>> from mda_rcxai.explain import Explanation
        >>> u = mda.Universe.empty(3, trajectory=True)
        >>> ex = Explanation(np.array([[1.0]]), ["d"], atom_indices=[(0, 2)])
        >>> ex.to_atomgroup(u).tempfactors.tolist()
        [0.5, 0.0, 0.5]
        """
        u = getattr(universe_or_atomgroup, "universe", None)
        ag = getattr(universe_or_atomgroup, "atoms", None)
        if u is None or ag is None:
            raise InputTypeError("to_atomgroup() needs an MDAnalysis Universe or AtomGroup, got "
                                 f"{type(universe_or_atomgroup).__name__}")
        self._check_universe(u)
        if frame is None:
            values = self.per_atom(len(u.atoms))
        else:
            values = self._per_atom_in_frame(u, frame, neighbor_share)
        left_out = np.ones(len(values), dtype=bool)
        left_out[ag.indices] = False
        lost = np.flatnonzero(left_out & (values != 0))
        if len(lost):
            share = 100.0 * values[lost].sum() / values.sum()
            shown = ", ".join(str(i) for i in lost[:8]) + (", ..." if len(lost) > 8 else "")
            raise InputError(
                f"to_atomgroup(): the AtomGroup holds {len(ag)} of the universe's {len(values)} "
                f"atoms and leaves out {len(lost)} atoms that carry importance (indices "
                f"{shown}; {share:.0f}% of the total); pass the whole Universe, or an AtomGroup "
                "that contains those atoms, and select afterwards: "
                "ex.to_atomgroup(u).select_atoms(...)")
        if isinstance(scale, str):
            if scale != "max":
                raise InputError(f"scale={scale!r} is not known; use a number or 'max'")
            top = values.max()
            values = values * (100.0 / top if top > 0 else 1.0)
        else:
            values = values * float(scale)
        if not hasattr(u.atoms, "tempfactors"):
            u.add_TopologyAttr("tempfactors")
        ag.tempfactors = values[ag.indices]
        return ag

    def _check_universe(self, u):
        """Refuse a universe that is not the features' system (count, then names)."""
        n = len(u.atoms)
        known = self.atom_names
        if known is None or (self.atom_indices is None and self.columns is None):
            return  # per_atom() checks that every feature atom exists
        if hasattr(known, "atoms"):
            strict = True
            known_u = known.atoms.universe
            known = (tuple(str(a) for a in known_u.atoms.names)
                     if hasattr(known_u.atoms, "names") else None)
            m = len(known_u.atoms)
        else:
            strict = False  # a sequence of names may cover only the first atoms
            m = len(known)
        what = f"the universe has {n} atoms but the features were computed on {m}"
        fix = "pass the Universe the features were computed on (the same topology)"
        if (strict and m != n) or m > n:
            raise InputError(f"to_atomgroup(): {what}; {fix}")
        if known is None or not hasattr(u.atoms, "names"):
            return
        here = u.atoms.names
        atoms = sorted({a for r in self._rows() for a in r if a < min(len(known), n)})
        bad = [a for a in atoms if str(here[a]) != known[a]]
        if bad:
            a = bad[0]
            count = "" if m == n else f"; {what}"
            raise InputError(
                f"to_atomgroup(): the universe does not match the features' atoms: atom {a} is "
                f"named {known[a]!r} in the features' system but {str(here[a])!r} here "
                f"({len(bad)} of {len(atoms)} feature atoms differ{count}); {fix}")

    def _per_atom_in_frame(self, u, frame, neighbor_share):
        from MDAnalysis.lib.distances import distance_array, minimize_vectors
        try:
            share = float(neighbor_share)
        except (TypeError, ValueError):
            share = -1.0
        if not 0.0 <= share <= 1.0:
            raise InputError(f"neighbor_share={neighbor_share!r} must be a number in [0, 1]")
        n_frames = len(u.trajectory)
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or \
                not -n_frames <= frame < n_frames:
            raise InputError(f"frame={frame!r} must be an int frame index of the trajectory "
                             f"({n_frames} frames)")
        base = self.per_atom(len(u.atoms))
        if self.columns is None:
            return base
        u.trajectory[int(frame)]
        pos = u.atoms.positions
        box = u.dimensions
        if box is None or np.all(np.asarray(box)[:3] <= 1.0001):
            box = None
        out = np.zeros(len(u.atoms))
        for imp, row, meta in zip(self.importance, self._rows(), self.columns):
            nb = np.asarray(meta["neighbor_atoms"], dtype=np.intp)
            center = np.asarray(meta["center"], dtype=np.intp)
            w = None
            if len(nb) and len(center) and share > 0:
                w = _neighbor_weights(meta, pos, center, nb, box, distance_array,
                                      minimize_vectors)
            if w is None or not np.any(w > 0):
                if row:
                    np.add.at(out, list(row), imp / len(row))
                continue
            np.add.at(out, center, (1.0 - share) * imp / len(center))
            w = share * imp * w / w.sum()
            for j in np.flatnonzero(w):
                res_atoms = u.atoms[int(nb[j])].residue.atoms.indices
                np.add.at(out, res_atoms, w[j] / len(res_atoms))
        return out

    def _rows(self):
        if self.atom_indices is not None:
            return self.atom_indices
        return tuple(tuple(m["atoms"]) for m in self.columns)

    # ------------------------------------------------------------------
    def to_dataframe(self, per_configuration=False):
        """The explanation as a pandas DataFrame.

        Parameters
        ----------
        per_configuration : bool, optional
            False: one row per feature with columns ``feature``, ``rank``
            (1 = most important), ``importance`` (mean absolute
            attribution), ``mean_attribution`` (signed mean),
            ``std_attribution``, ``n_explained``, ``atoms`` (space-separated
            atom indices) and ``members``, sorted by rank. True: long
            format, one row per configuration and feature with ``index``
            (row in X), ``feature``, ``attribution``, ``value``.

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.explain import Explanation
        >>> ex = Explanation(np.array([[0.5, -0.1], [-0.7, 0.2]]), ["phi", "psi"])
        >>> ex.to_dataframe()[["feature", "rank", "importance"]]
          feature  rank  importance
        0     phi     1        0.60
        1     psi     2        0.15
        """
        import pandas as pd

        names = list(self.feature_names)
        if per_configuration:
            n, d = self.values.shape
            idx = self.indices if self.indices is not None else np.arange(n)
            return pd.DataFrame({
                "index": np.repeat(idx, d),
                "feature": np.tile(np.array(names, dtype=object), n),
                "attribution": self.values.reshape(-1),
                "value": self.data.reshape(-1),
            })
        rank = {f: i + 1 for i, f in enumerate(self.ranking)}
        df = pd.DataFrame({
            "feature": names,
            "rank": [rank[f] for f in names],
            "importance": self.importance,
            "mean_attribution": self.mean_values,
            "std_attribution": self.values.std(axis=0) if self.n_explained else 0.0,
            "n_explained": self.n_explained,
            "atoms": [" ".join(map(str, r)) for r in self.atom_indices]
            if self.atom_indices is not None else "",
            "members": [" + ".join(self.members.get(f, (f,))) for f in names],
        })
        return df.sort_values("rank", kind="mergesort").reset_index(drop=True)

    def plot(self, kind="importance", **kwargs):
        """Plot: ``kind="importance"`` (:func:`plot_importance`) or ``"beeswarm"``.

        Returns
        -------
        matplotlib.figure.Figure
        """
        if kind == "importance":
            return plot_importance(self, **kwargs)
        if kind == "beeswarm":
            return plot_beeswarm(self, **kwargs)
        raise InputError(f"plot(kind={kind!r}) is not known; use 'importance' or 'beeswarm'")


def _rebuild_explanation(state):
    state = dict(state)
    values = state.pop("values")
    names = state.pop("feature_names")
    return Explanation(values, names, **state)


def compare(explanation_a, explanation_b, top_k=5, grouped="bond"):
    """Rank agreement of two explanations (e.g. SHAP versus LIME).

    Parameters
    ----------
    explanation_a, explanation_b : Explanation
        Over the same features (order may differ).
    top_k : int, optional
        Size of the top sets compared.
    grouped : "bond", dict, sequence or None, optional
        Also compare the rankings of ``explanation.grouped(by=grouped)``;
        None skips it (it is skipped anyway when atom indices are missing).

    Returns
    -------
    dict
        ``spearman`` (rank correlation of the importances, -1..1),
        ``top_k``, ``top_k_overlap`` (fraction of the top-k features shared,
        0..1), ``top_k_shared`` (those features), ``top1_agree`` (bool),
        ``n_features``; and the same keys prefixed ``grouped_`` for the
        grouped rankings.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.explain import Explanation, compare
    >>> a = Explanation(np.array([[3.0, 2.0, 1.0, 0.1]]), ["w", "x", "y", "z"])
    >>> b = Explanation(np.array([[2.0, 3.0, 0.5, 0.2]]), ["w", "x", "y", "z"])
    >>> r = compare(a, b, top_k=2, grouped=None)
    >>> round(r["spearman"], 2), r["top_k_overlap"], r["top1_agree"]
    (0.8, 1.0, False)
    """
    for label, ex in (("explanation_a", explanation_a), ("explanation_b", explanation_b)):
        if not isinstance(ex, Explanation):
            raise InputTypeError(f"{label} must be an Explanation (from explain()), got "
                                 f"{type(ex).__name__}")
    if set(explanation_a.feature_names) != set(explanation_b.feature_names):
        only_a = sorted(set(explanation_a.feature_names) - set(explanation_b.feature_names))
        only_b = sorted(set(explanation_b.feature_names) - set(explanation_a.feature_names))
        raise InputError(f"compare(): the explanations cover different features (only in a: "
                         f"{only_a[:3]}, only in b: {only_b[:3]}); explain the same features")
    top_k = int(top_k)
    if top_k < 1:
        raise InputError(f"top_k must be >= 1, got {top_k}")

    def one(a, b, prefix):
        names = list(a.feature_names)
        ib = {f: i for i, f in enumerate(b.feature_names)}
        imp_a = np.asarray(a.importance)
        imp_b = np.asarray(b.importance)[[ib[f] for f in names]]
        k = min(top_k, len(names))
        shared = [f for f in a.ranking[:k] if f in set(b.ranking[:k])]
        return {f"{prefix}spearman": _spearman(imp_a, imp_b), f"{prefix}top_k": k,
                f"{prefix}top_k_overlap": len(shared) / k, f"{prefix}top_k_shared": shared,
                f"{prefix}top1_agree": a.ranking[0] == b.ranking[0],
                f"{prefix}n_features": len(names)}

    out = one(explanation_a, explanation_b, "")
    if grouped is not None and not (isinstance(grouped, str) and (
            explanation_a.atom_indices is None or explanation_b.atom_indices is None)):
        names_ = explanation_a.atom_names if explanation_a.atom_names is not None \
            else explanation_b.atom_names
        out.update(one(explanation_a.grouped(by=grouped, atom_names=names_),
                       explanation_b.grouped(by=grouped, atom_names=names_), "grouped_"))
    return out

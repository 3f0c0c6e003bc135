"""The :class:`Explanation` record, feature grouping, atom mapping and :func:`compare`."""

from __future__ import annotations

import re
from types import MappingProxyType

import numpy as np

from ..exceptions import InputError, InputTypeError

__all__ = ["Explanation", "compare", "bond_groups", "ALIAS_PRIORITY"]

#: Conventional dihedral aliases, best known first; used to name bond groups
#: (``"N-CA (phi)"``, ``"C-N (theta/omega)"``).
ALIAS_PRIORITY = ("phi", "psi", "theta", "omega", "chi1", "chi2", "chi3", "chi4", "chi5")

_SINCOS = re.compile(r"^(sin|cos)\((.*)\)$")
_QUALIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9_']*)\([A-Za-z0-9]+\)$")


def _base_name(name):
    """``"sin(phi)"`` -> ``"phi"``; anything else unchanged."""
    m = _SINCOS.match(name)
    return m.group(2) if m else name


def _is_alias(name):
    """A conventional alias (``phi``, ``omega(ACE1)``), not an atom label."""
    return (":" not in name and "-" not in name and not name.startswith("improper")
            and " " not in name)


def _frozen(arr):
    arr = np.array(arr, copy=True)
    arr.setflags(write=False)
    return arr


def _atom_rows(atom_indices, n, name="atom_indices"):
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
    for r in rows:
        if any(i < 0 for i in r):
            raise InputError(f"{name} contains a negative atom index in row {r}; indices are "
                             "0-based universe atom indices")
    return tuple(rows)


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


def bond_groups(feature_names, atom_indices, atom_names=None):
    """Group features by the rotatable bond they turn about.

    The rule (documented in :meth:`Explanation.grouped`): a 4-atom feature
    (a proper dihedral) belongs to the bond between its atoms 1 and 2
    (0-based, unordered); a 2-atom feature (a distance) to the pair it
    measures; impropers (names starting with ``"improper"``), angles and
    features without atoms each form their own group named after the feature.

    Parameters
    ----------
    feature_names : sequence of str
    atom_indices : sequence of int tuples
        Universe atom indices (0-based) of each feature.
    atom_names : sequence of str or MDAnalysis Universe/AtomGroup, optional
        Atom names indexed by atom index, for readable group names.

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
    anames, qual = _atom_labels(atom_names)
    keys, members = [], {}
    for name, row in zip(names, atom_indices):
        base = _base_name(name)
        if base.startswith("improper") or len(row) not in (2, 4):
            key = ("feature", base)
        else:
            pair = (row[1], row[2]) if len(row) == 4 else (row[0], row[1])
            key = ("bond", tuple(sorted(pair)))
        keys.append(key)
        members.setdefault(key, []).append(base)

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
        for m in dict.fromkeys(members[key]):
            if _is_alias(m):
                q = _QUALIFIER.match(m)
                a = q.group(1) if q and not qualified else m
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


def _rank(values):
    """Average ranks (1 = smallest), ties shared, like scipy.stats.rankdata."""
    values = np.asarray(values, float)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sv = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sv[j + 1] == sv[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1
        i = j + 1
    return ranks


def _spearman(a, b):
    ra, rb = _rank(a), _rank(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


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
               "members", "atom_names", "info")

    def __init__(self, values, feature_names, *, base_values=None, prediction=None, data=None,
                 atom_indices=None, indices=None, p_B=None, method="shap", algorithm=None,
                 selection="global", output="q", window=None, members=None, atom_names=None,
                 info=None):
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
        s(self, "atom_indices", _atom_rows(atom_indices, d))
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
        imp = np.abs(values).mean(axis=0) if n else np.zeros(d)
        s(self, "importance", _frozen(imp))
        order = np.argsort(-imp, kind="mergesort")
        s(self, "ranking", [names[i] for i in order])

    def __setattr__(self, name, value):
        raise AttributeError(f"Explanation is immutable; cannot set {name!r} (derive a new one "
                             "with grouped() or build a new Explanation)")

    def __delattr__(self, name):
        raise AttributeError("Explanation is immutable")

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
            (``"6-8 (phi)"``).
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
        if isinstance(by, str):
            if by != "bond":
                raise InputError(f"grouped(by={by!r}) is not known; use by='bond', a dict "
                                 "{feature: group} or a list of group names, one per feature")
            if self.atom_indices is None:
                raise InputError(
                    "grouped(by='bond') needs the atom indices of the features; pass "
                    "atom_indices=results.atom_indices to explain() (or a dict/list to by=)")
            labels, group_atoms = bond_groups(names, self.atom_indices, atom_names)
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
        members, atoms = {}, []
        for k, g in enumerate(groups):
            cols = np.flatnonzero(lab == k)
            vals[:, k] = self.values[:, cols].sum(axis=1)
            if len(cols) == 1:
                data[:, k] = self.data[:, cols[0]]
            members[g] = tuple(names[c] for c in cols)
            if group_atoms is not None:
                atoms.append(group_atoms[g])
            elif self.atom_indices is not None:
                atoms.append(tuple(sorted({a for c in cols for a in self.atom_indices[c]})))
        return self._replace(values=vals, feature_names=groups, data=data, members=members,
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
        if self.atom_indices is None:
            raise InputError("this Explanation has no atom_indices; pass "
                             "atom_indices=results.atom_indices to explain()")
        n_atoms = int(n_atoms)
        top = max((max(r) for r in self.atom_indices if r), default=-1)
        if top >= n_atoms:
            raise InputError(
                f"atom_indices refer to atom index {top} but the universe has {n_atoms} atoms; "
                "pass the universe (or n_atoms) the features were computed on")
        out = np.zeros(n_atoms)
        for imp, row in zip(self.importance, self.atom_indices):
            if row:
                np.add.at(out, list(row), imp / len(row))
        return out

    def to_atomgroup(self, universe_or_atomgroup, scale=1.0):
        """Atoms carrying per-atom importance in ``tempfactors``, ready to write as PDB.

        The values are :meth:`per_atom` (each feature's importance shared
        equally over its atoms) times ``scale``. They are written into the
        ``tempfactors`` of the given universe's atoms (the attribute is added
        if the topology lacks it); nothing else of the universe is changed.
        Pass ``universe.copy()`` to leave your universe untouched.

        Parameters
        ----------
        universe_or_atomgroup : MDAnalysis.Universe or AtomGroup
            The system the features were computed on (``atom_indices`` are
            indices into its atoms). With an AtomGroup, only its atoms get
            values and only they are returned.
        scale : float or "max", optional
            Multiplier of the per-atom values; ``"max"`` scales them so that
            the most important atom reads 100 (handy for the PDB B-factor
            column, which keeps two decimals). Default 1: raw values in
            units of the explained output.

        Returns
        -------
        MDAnalysis.core.groups.AtomGroup
            ``ag.tempfactors`` holds the values; ``ag.write("explained.pdb")``
            stores them in the B-factor column.

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
        values = self.per_atom(len(u.atoms))
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
        from ._plots import plot_beeswarm, plot_importance
        if kind == "importance":
            return plot_importance(self, **kwargs)
        if kind == "beeswarm":
            return plot_beeswarm(self, **kwargs)
        raise InputError(f"plot(kind={kind!r}) is not known; use 'importance' or 'beeswarm'")


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

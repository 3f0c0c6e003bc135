"""The :class:`Explanation` record: attributions, their grouping and atom mapping.

Column metadata and grouping rules are in :mod:`~mda_rcxai.explain.grouping`,
the solvent descriptors' neighbour weights in
:mod:`~mda_rcxai.explain.solvent_weights`, :func:`~mda_rcxai.explain.compare`
in :mod:`~mda_rcxai.explain.agreement`.

(About 610 lines: one immutable record class with its views on atoms, tables
and plots; the helpers already live in the modules above, and about 260 of the
lines are docstrings.)
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from ..exceptions import InputError, InputTypeError
from ._plots import plot_beeswarm, plot_importance
from .grouping import (GROUP_FIELDS, atom_rows, bond_groups, column_meta, frozen_array,
                       group_meta)
from .solvent_weights import neighbor_weights

__all__ = ["Explanation"]


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
            return frozen_array(x)

        s = object.__setattr__
        s(self, "values", frozen_array(values))
        s(self, "feature_names", names)
        s(self, "base_values", vec(base_values, "base_values"))
        s(self, "prediction", vec(prediction, "prediction"))
        if data is None:
            data = np.full((n, d), np.nan)
        data = np.asarray(data, dtype=np.float64)
        if data.shape != (n, d):
            raise InputError(f"data must have the shape of values {values.shape}, got "
                             f"{data.shape}")
        s(self, "data", frozen_array(data))
        s(self, "atom_indices", atom_rows(atom_indices, d))
        s(self, "indices", None if indices is None else
          frozen_array(np.asarray(indices, dtype=np.int64).reshape(-1)))
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
        s(self, "importance", frozen_array(imp))
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
                metas.append(group_meta(g, [self.columns[c] for c in cols],
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
                w = neighbor_weights(meta, pos, center, nb, box, distance_array,
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

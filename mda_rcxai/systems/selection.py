"""Stable states from MDAnalysis atom selections.

This is the one module of :mod:`mda_rcxai.systems` that imports MDAnalysis
(inside the functions that need it): a state is written the way a user
thinks of it, with selection strings and ranges in MDAnalysis units
(Angstrom, degrees), and becomes a :class:`StateDefinition` on 0-based
atom indices with distances in nm (the unit of this layer).

A spec maps state name -> variable name -> ``{"atoms": [...], "range":
[lo, hi]}``; 2 selections make a distance (Angstrom), 3 an angle (degrees,
the middle atom at the vertex), 4 a dihedral (degrees, periodic: ``[0,
200]`` means ``[0, 180] U [-180, -160]``). Each selection must pick
exactly one atom.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..exceptions import InputError, InputTypeError, StateError
from .states import StateDefinition, check_states

__all__ = ["states_from_selections", "validate_state_spec"]

_KINDS = {2: "distance", 3: "angle", 4: "dihedral"}
NM_PER_ANGSTROM = 0.1


def _num(x):
    return (not isinstance(x, bool)) and isinstance(x, (int, float,
                                                        np.integer,
                                                        np.floating))


def validate_state_spec(spec) -> dict:
    """Check the shape and types of a state spec (no Universe needed).

    Parameters
    ----------
    spec : dict
        ``{state: {variable: {"atoms": [sel, ...], "range": [lo, hi]}}}``;
        2-4 selection strings per variable, ranges in Angstrom (distances)
        or degrees (angles, dihedrals).

    Returns
    -------
    dict
        The same spec with ranges as float pairs and atoms as lists.

    Raises
    ------
    InputError, InputTypeError
        One line naming the key (``states.<state>.<variable>.<field>``),
        what is wrong and the fix.

    Examples
    --------
    >>> spec = {"A": {"d": {"atoms": ["index 0", "index 5"],
    ...                     "range": [0, 3.5]}}}
    >>> validate_state_spec(spec)["A"]["d"]["range"]
    [0.0, 3.5]
    """
    if not isinstance(spec, Mapping):
        raise InputTypeError(f"states must be a table of states (state name "
                             f"-> variables), got {type(spec).__name__}")
    if not spec:
        raise InputError("states is empty; define at least two states, e.g. "
                         "[states.A] d = { atoms = [sel1, sel2], range = "
                         "[0, 3.5] }")
    out = {}
    for st, variables in spec.items():
        where = f"states.{st}"
        if not isinstance(st, str) or not st:
            raise InputTypeError(f"state names must be non-empty strings, got "
                                 f"{st!r}")
        if not isinstance(variables, Mapping) or not variables:
            raise InputTypeError(
                f"{where} must be a table of variables, e.g. phi = {{ atoms "
                "= [4 selections], range = [-180, -50] }}")
        out[st] = {}
        for var, d in variables.items():
            w = f"{where}.{var}"
            if not isinstance(d, Mapping):
                raise InputTypeError(f"{w} must be a table with 'atoms' and "
                                     f"'range', got {type(d).__name__}")
            extra = set(d) - {"atoms", "range"}
            if extra:
                raise InputError(f"{w} has unknown keys {sorted(extra)}; only "
                                 "'atoms' and 'range' are allowed")
            for key in ("atoms", "range"):
                if key not in d:
                    raise InputError(f"{w}.{key} is missing")
            atoms = d["atoms"]
            if isinstance(atoms, str) or not isinstance(atoms, (list, tuple)):
                raise InputTypeError(f"{w}.atoms must be a list of 2, 3 or 4 "
                                     "selection strings")
            if len(atoms) not in _KINDS:
                raise InputError(f"{w}.atoms has {len(atoms)} selections; "
                                 "give 2 (distance), 3 (angle) or 4 "
                                 "(dihedral)")
            for a in atoms:
                if not isinstance(a, str) or not a.strip():
                    raise InputTypeError(f"{w}.atoms must hold selection "
                                         f"strings, got {a!r}")
            rng = d["range"]
            if isinstance(rng, str) or not isinstance(rng, (list, tuple)) \
                    or len(rng) != 2 or not all(_num(v) for v in rng):
                raise InputTypeError(f"{w}.range must be [lo, hi], two "
                                     f"numbers, got {rng!r}")
            lo, hi = float(rng[0]), float(rng[1])
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise InputError(f"{w}.range {[lo, hi]} is not finite")
            kind = _KINDS[len(atoms)]
            if kind != "dihedral" and hi < lo:
                raise InputError(f"{w}.range {[lo, hi]}: lo > hi for a "
                                 f"{kind}; only dihedral ranges wrap")
            if kind == "distance" and lo < 0:
                raise InputError(f"{w}.range {[lo, hi]}: a distance range "
                                 "must be >= 0 Angstrom")
            if kind == "angle" and (lo < 0 or hi > 180):
                raise InputError(f"{w}.range {[lo, hi]}: an angle range must "
                                 "lie in [0, 180] degrees")
            if kind == "dihedral" and ((hi - lo) % 360.0 if hi < lo
                                       else hi - lo) > 360.0:
                raise InputError(f"{w}.range {[lo, hi]} is wider than 360 "
                                 "degrees")
            out[st][var] = {"atoms": list(atoms), "range": [lo, hi]}
    return out


def states_from_selections(universe, spec, box=None) -> dict:
    """Stable states from MDAnalysis selections, in MDAnalysis units.

    Parameters
    ----------
    universe : MDAnalysis.Universe
        Atoms in the order of the OpenMM system the states are for (e.g.
        the system's PDB loaded with MDAnalysis, or
        :func:`mda_rcxai.sampling.universe_from_system`).
    spec : dict
        ``{state: {variable: {"atoms": [sel, ...], "range": [lo, hi]}}}``.
        2 selections: distance in Angstrom (minimum image in a periodic
        box, applied by the sampling layer); 3: angle in degrees; 4:
        dihedral in degrees (periodic; ``[0, 200]`` is ``[0, 180] U
        [-180, -160]``).
    box : array_like, optional
        MDAnalysis dimensions ``[lx, ly, lz, alpha, beta, gamma]``
        (Angstrom, degrees) of a periodic system (default: the
        universe's, if any). A distance state that starts at or beyond
        half the shortest box length can never be reached under the
        minimum image and is refused.

    Returns
    -------
    dict of str -> StateDefinition
        Distances in nm, angles in degrees; atom indices 0-based
        (``universe.atoms`` order).

    Raises
    ------
    InputError
        A selection that matches no atom or more than one (naming the
        state, the variable, the selection and the count), a malformed
        spec, overlapping states.

    Examples
    --------
    >>> import MDAnalysis as mda
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    >>> u = mda.Universe(ALANINE_DIPEPTIDE_PDB)
    >>> phi = ["resid 1 and name C", "resid 2 and name N",
    ...        "resid 2 and name CA", "resid 2 and name C"]
    >>> st = states_from_selections(u, {
    ...     "C7eq": {"phi": {"atoms": phi, "range": [-180, -50]}},
    ...     "C7ax": {"phi": {"atoms": phi, "range": [40, 100]}}})
    >>> st["C7eq"].features[0].atoms
    (4, 6, 8, 14)
    """
    spec = validate_state_spec(spec)
    atoms_of = getattr(universe, "atoms", None)
    if atoms_of is None or not hasattr(universe, "select_atoms"):
        raise InputTypeError(f"universe must be an MDAnalysis Universe, got "
                             f"{type(universe).__name__}")
    if box is None:
        dims = getattr(universe, "dimensions", None)
        box = None if dims is None else np.asarray(dims, float)
    half = None
    if box is not None:
        box = np.asarray(box, dtype=float).reshape(-1)
        if box.shape != (6,):
            raise InputError(f"box must be MDAnalysis dimensions [lx, ly, lz, "
                             f"alpha, beta, gamma], got {box.tolist()}")
        if np.all(box[:3] > 0):
            from MDAnalysis.lib.mdamath import triclinic_vectors
            vec = triclinic_vectors(box)
            half = float(np.min(np.diag(vec))) / 2.0
    states = {}
    for st, variables in spec.items():
        feats, ranges = [], []
        for var, d in variables.items():
            idx = []
            for sel in d["atoms"]:
                try:
                    ag = universe.select_atoms(sel)
                except Exception as err:
                    msg = str(err).strip().splitlines()
                    raise InputError(
                        f"states.{st}.{var}: selection {sel!r} is not valid "
                        f"MDAnalysis syntax ({msg[0] if msg else err!r})"
                        ) from None
                if len(ag) != 1:
                    raise InputError(
                        f"states.{st}.{var}: selection {sel!r} matched "
                        f"{len(ag)} atoms; each selection must pick exactly "
                        "one atom (add 'resid ...' / 'name ...')")
                idx.append(int(ag[0].index))
            if len(set(idx)) != len(idx):
                raise InputError(f"states.{st}.{var}: selections {d['atoms']}"
                                 f" pick the same atom twice ({idx})")
            kind = _KINDS[len(idx)]
            lo, hi = d["range"]
            if kind == "distance":
                if half is not None and lo >= half:
                    raise InputError(
                        f"states.{st}.{var}.range starts at {lo} Angstrom, "
                        f"beyond half the shortest box length ({half:.3g} "
                        "Angstrom): minimum-image distances never get there")
                lo, hi = lo * NM_PER_ANGSTROM, hi * NM_PER_ANGSTROM
            feats.append((kind, tuple(idx)))
            ranges.append((lo, hi))
        try:
            states[st] = StateDefinition(
                st, feats, ranges,
                description="from MDAnalysis selections: " + "; ".join(
                    f"{v}: {d['atoms']} in {d['range']}"
                    for v, d in variables.items()))
        except StateError:
            raise
    n = len(universe.atoms)
    if len(states) > 1:
        check_states(states, list(states), n)
    return states

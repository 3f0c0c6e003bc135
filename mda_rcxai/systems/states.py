"""Stable-state definitions on internal coordinates (numpy only).

A :class:`StateDefinition` is a box in the space of a few internal
coordinates (dihedrals, angles, distances), each given by atom indices
(0-based, the order of the OpenMM topology) and a range. Dihedrals are
periodic: a range ``(lo, hi)`` in degrees may run past 180 (``(100, 200)``
means ``[100, 180] U [-180, -160]``) or be given with ``lo > hi``
(``(100, -160)``, the same set). Angles are in degrees, distances in
nanometres (the OpenMM unit: this layer works on OpenMM positions).

The same object serves every layer: :meth:`StateDefinition.contains` on
positions in nm (used by the sampling layer to build OpenPathSampling
volumes and to stop committor shots), :meth:`StateDefinition.to_dict` for
metadata and for shipping to worker processes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..exceptions import InputError, InputTypeError, StateError

__all__ = ["StateDefinition", "Feature", "check_states", "dihedral_degrees",
           "minimum_image"]

_KIND_BY_LEN = {2: "distance", 3: "angle", 4: "dihedral"}
_UNITS = {"distance": "nm", "angle": "degree", "dihedral": "degree"}


def minimum_image(d, box=None) -> np.ndarray:
    """Difference vectors ``d`` (..., 3) wrapped to their minimum image.

    Parameters
    ----------
    d : array_like
        ``(..., 3)`` differences, same length unit as ``box``.
    box : array_like or None
        ``(3, 3)`` box vectors (rows a, b, c) in OpenMM's reduced
        (lower-triangular) form, as :attr:`MolecularSystem.box_vectors`;
        None returns ``d`` unchanged.

    Returns
    -------
    numpy.ndarray
        Exact for rectangular boxes; for triclinic boxes the reduced-form
        wrap OpenMM itself uses (exact for lengths below half the box).

    Examples
    --------
    >>> import numpy as np
    >>> minimum_image(np.array([1.9, 0.0, -1.2]), np.eye(3) * 2.0).tolist()
    [-0.10000000000000009, 0.0, 0.8]
    """
    d = np.array(d, dtype=float)
    if box is None:
        return d
    box = np.asarray(box, dtype=float)
    for k in (2, 1, 0):
        d -= np.round(d[..., k:k + 1] / box[k, k]) * box[k]
    return d


def dihedral_degrees(positions: np.ndarray, indices: np.ndarray,
                     box=None) -> np.ndarray:
    """Dihedral angles in degrees, in ``[-180, 180)``, vectorised.

    Parameters
    ----------
    positions : numpy.ndarray
        ``(n_atoms, 3)`` or ``(n_frames, n_atoms, 3)``, any length unit.
    indices : numpy.ndarray
        ``(n_dihedrals, 4)`` 0-based atom indices.
    box : array_like, optional
        ``(3, 3)`` box vectors (same unit as positions): the three bond
        vectors are taken at their minimum image (molecules split across
        the boundary give the right angle).

    Returns
    -------
    numpy.ndarray
        ``(n_frames, n_dihedrals)`` (or ``(n_dihedrals,)`` for one frame),
        degrees, IUPAC sign convention (same as MDAnalysis and mdtraj).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1., 0, 0], [0, 0, 0], [0, 1, 0], [0, 1, 1]])
    >>> float(dihedral_degrees(x, np.array([[0, 1, 2, 3]]))[0])
    -90.0
    """
    pos = np.asarray(positions, dtype=float)
    single = pos.ndim == 2
    if single:
        pos = pos[None]
    idx = np.asarray(indices, dtype=int)
    p0, p1, p2, p3 = (pos[:, idx[:, k]] for k in range(4))
    b0 = minimum_image(p0 - p1, box)
    b1 = minimum_image(p2 - p1, box)
    b2 = minimum_image(p3 - p2, box)
    b1n = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - np.sum(b0 * b1n, -1, keepdims=True) * b1n
    w = b2 - np.sum(b2 * b1n, -1, keepdims=True) * b1n
    x = np.sum(v * w, -1)
    y = np.sum(np.cross(b1n, v) * w, -1)
    out = np.degrees(np.arctan2(y, x))
    return out[0] if single else out


@dataclass(frozen=True)
class Feature:
    """One internal coordinate: ``kind`` and 0-based ``atoms``.

    Parameters
    ----------
    kind : {"dihedral", "angle", "distance"}
        Dihedral and angle values are in degrees, distances in nm.
    atoms : tuple of int
        4, 3 or 2 atom indices (0-based, OpenMM topology order).

    Examples
    --------
    >>> Feature("dihedral", (4, 6, 8, 14)).periodic
    True
    """

    kind: str
    atoms: tuple

    def __post_init__(self):
        if self.kind not in _UNITS:
            raise InputError(
                f"feature kind={self.kind!r} is not known; use 'dihedral', "
                "'angle' or 'distance'")
        atoms = tuple(int(a) for a in self.atoms)
        want = {v: k for k, v in _KIND_BY_LEN.items()}[self.kind]
        if len(atoms) != want:
            raise InputError(
                f"a {self.kind} needs {want} atom indices, got {len(atoms)} "
                f"({atoms})")
        if len(set(atoms)) != len(atoms) or min(atoms) < 0:
            raise InputError(
                f"atom indices {atoms} of a {self.kind} must be distinct and "
                ">= 0")
        object.__setattr__(self, "atoms", atoms)

    @property
    def periodic(self) -> bool:
        """True for dihedrals (period 360 degrees)."""
        return self.kind == "dihedral"

    @property
    def unit(self) -> str:
        """``'degree'`` or ``'nm'``."""
        return _UNITS[self.kind]

    @classmethod
    def coerce(cls, spec) -> "Feature":
        """Build from a Feature, ``(kind, atoms)``, a dict or a bare index tuple.

        Examples
        --------
        >>> Feature.coerce((4, 6, 8, 14)).kind
        'dihedral'
        >>> Feature.coerce(("distance", (0, 5))).atoms
        (0, 5)
        """
        if isinstance(spec, Feature):
            return spec
        if isinstance(spec, Mapping):
            return cls(str(spec["kind"]), tuple(spec["atoms"]))
        if (isinstance(spec, Sequence) and len(spec) == 2
                and isinstance(spec[0], str)):
            return cls(spec[0], tuple(spec[1]))
        try:
            atoms = tuple(int(a) for a in spec)
        except (TypeError, ValueError):
            raise InputTypeError(
                f"cannot read a feature from {spec!r}; give ('dihedral', "
                "(i, j, k, l)), ('distance', (i, j)), ('angle', (i, j, k)) "
                "or a bare tuple of 2-4 atom indices") from None
        if len(atoms) not in _KIND_BY_LEN:
            raise InputError(
                f"a bare feature tuple needs 2, 3 or 4 atom indices, got "
                f"{len(atoms)}: {atoms}")
        return cls(_KIND_BY_LEN[len(atoms)], atoms)


def _values(features: Sequence[Feature], pos: np.ndarray,
            box=None) -> np.ndarray:
    """Values of ``features`` for positions ``(n_frames, n_atoms, 3)`` nm
    (minimum image in ``box``, nm, if given)."""
    out = np.empty((pos.shape[0], len(features)))
    for k, f in enumerate(features):
        a = f.atoms
        if f.kind == "dihedral":
            out[:, k] = dihedral_degrees(pos, np.array([a]), box)[:, 0]
        elif f.kind == "distance":
            out[:, k] = np.linalg.norm(minimum_image(
                pos[:, a[0]] - pos[:, a[1]], box), axis=-1)
        else:
            u = minimum_image(pos[:, a[0]] - pos[:, a[1]], box)
            v = minimum_image(pos[:, a[2]] - pos[:, a[1]], box)
            c = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1)
                                     * np.linalg.norm(v, axis=-1))
            out[:, k] = np.degrees(np.arccos(np.clip(c, -1, 1)))
    return out


@dataclass(frozen=True)
class StateDefinition:
    """A stable state: a box on internal coordinates.

    Parameters
    ----------
    name : str
        State name (e.g. ``"C7eq"``).
    features : sequence
        Internal coordinates, each a :class:`Feature`, ``(kind, atoms)``,
        ``{"kind": ..., "atoms": ...}`` or a bare tuple of 2 (distance),
        3 (angle) or 4 (dihedral) 0-based atom indices.
    ranges : sequence of (float, float)
        One closed interval per feature: degrees for dihedrals and angles,
        nm for distances. Dihedral ranges are periodic: ``(100, 200)`` and
        ``(100, -160)`` both mean ``[100, 180] U [-180, -160]``.
    description : str, optional
        Where the ranges come from; kept in dataset metadata.

    Examples
    --------
    A box on phi and psi of alanine dipeptide (degrees):

    >>> c7ax = StateDefinition("C7ax", [(4, 6, 8, 14), (6, 8, 14, 16)],
    ...                        [(40, 100), (-110, 10)])
    >>> c7ax.units
    ('degree', 'degree')
    """

    name: str
    features: tuple
    ranges: tuple
    description: str = field(default="", compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"state name must be a non-empty str, got "
                             f"{self.name!r}")
        feats = tuple(Feature.coerce(f) for f in self.features)
        if not feats:
            raise StateError(f"state {self.name!r} needs at least one feature")
        try:
            rng = tuple((float(lo), float(hi)) for lo, hi in self.ranges)
        except (TypeError, ValueError):
            raise InputTypeError(
                f"ranges of state {self.name!r} must be (lo, hi) pairs of "
                f"numbers, got {self.ranges!r}") from None
        if len(rng) != len(feats):
            raise StateError(
                f"state {self.name!r} has {len(feats)} features but "
                f"{len(rng)} ranges; give one (lo, hi) per feature")
        norm = []
        for f, (lo, hi) in zip(feats, rng):
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise StateError(f"range {(lo, hi)} of state {self.name!r} "
                                 "is not finite")
            if f.periodic:
                width = (hi - lo) % 360.0 if hi < lo else hi - lo
                if width > 360.0:
                    raise StateError(
                        f"dihedral range {(lo, hi)} of state {self.name!r} "
                        "is wider than 360 degrees")
                lo_n = (lo + 180.0) % 360.0 - 180.0
                norm.append((lo_n, lo_n + width))
            else:
                if hi < lo:
                    raise StateError(
                        f"range {(lo, hi)} of state {self.name!r} on a "
                        f"non-periodic {f.kind} has lo > hi")
                norm.append((lo, hi))
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "ranges", tuple(norm))

    # ------------------------------------------------------------------
    @property
    def units(self) -> tuple:
        """Unit of each feature's range (``'degree'`` or ``'nm'``)."""
        return tuple(f.unit for f in self.features)

    @property
    def max_atom_index(self) -> int:
        """Largest atom index used (for checking against a topology)."""
        return max(max(f.atoms) for f in self.features)

    def values(self, positions_nm, box=None) -> np.ndarray:
        """Feature values, ``(n_frames, n_features)`` (degrees / nm).

        Parameters
        ----------
        positions_nm : array_like
            ``(n_atoms, 3)`` or ``(n_frames, n_atoms, 3)`` in nm.
        box : array_like, optional
            ``(3, 3)`` periodic box vectors in nm (e.g.
            ``system.box_vectors``): distances, angles and dihedrals use
            minimum-image bond vectors.

        Examples
        --------
        >>> from mda_rcxai.systems import alanine_dipeptide
        >>> s = alanine_dipeptide()
        >>> s.states["C7eq"].values(s.positions).shape
        (1, 2)
        """
        pos = np.asarray(positions_nm, dtype=float)
        if pos.ndim == 2:
            pos = pos[None]
        if pos.ndim != 3 or pos.shape[-1] != 3:
            raise InputError(f"positions must be (n_atoms, 3) or (n_frames, "
                             f"n_atoms, 3), got shape {pos.shape}")
        if self.max_atom_index >= pos.shape[1]:
            raise StateError(
                f"state {self.name!r} uses atom {self.max_atom_index} but "
                f"positions have only {pos.shape[1]} atoms")
        return _values(self.features, pos, box)

    def contains_values(self, values) -> np.ndarray:
        """Boolean ``(n_frames,)``: are these feature values in the box?"""
        vals = np.atleast_2d(np.asarray(values, dtype=float))
        inside = np.ones(vals.shape[0], dtype=bool)
        for k, (f, (lo, hi)) in enumerate(zip(self.features, self.ranges)):
            x = vals[:, k]
            if f.periodic:
                inside &= ((x - lo) % 360.0) <= (hi - lo)
            else:
                inside &= (x >= lo) & (x <= hi)
        return inside

    def contains(self, positions_nm, box=None) -> np.ndarray:
        """Boolean ``(n_frames,)``: which frames are in this state.

        Parameters
        ----------
        positions_nm : array_like
            ``(n_atoms, 3)`` or ``(n_frames, n_atoms, 3)``, nm.
        box : array_like, optional
            ``(3, 3)`` periodic box in nm (minimum image), or None.

        Examples
        --------
        >>> from mda_rcxai.systems import alanine_dipeptide
        >>> s = alanine_dipeptide()
        >>> bool(s.states["C7eq"].contains(s.positions)[0])
        True
        """
        return self.contains_values(self.values(positions_nm, box))

    def overlaps(self, other: "StateDefinition") -> bool:
        """True if the two boxes can hold the same configuration.

        Boxes are compared on the features they share (a feature only one
        box uses is unconstrained in the other): they overlap when every
        shared feature's ranges intersect. Boxes without a shared feature
        cannot be compared this way and count as disjoint; for those the
        sampling layer checks each configuration.

        Examples
        --------
        >>> a = StateDefinition("a", [(0, 1)], [(0.1, 0.3)])
        >>> b = StateDefinition("b", [(0, 1)], [(0.25, 0.5)])
        >>> a.overlaps(b)
        True
        """
        o_ranges = dict(zip(other.features, other.ranges))
        shared = [f for f in self.features if f in o_ranges]
        if not shared:
            return False
        for f, (lo, hi) in zip(self.features, self.ranges):
            if f not in o_ranges:
                continue
            lo2, hi2 = o_ranges[f]
            if f.periodic:
                # shift the second interval by multiples of 360 and test
                hit = any(max(lo, lo2 + s) <= min(hi, hi2 + s)
                          for s in (-360.0, 0.0, 360.0))
            else:
                hit = max(lo, lo2) <= min(hi, hi2)
            if not hit:
                return False
        return True

    def to_dict(self) -> dict:
        """Plain-JSON form (used in metadata and for worker processes)."""
        return {
            "name": self.name,
            "features": [{"kind": f.kind, "atoms": list(f.atoms)}
                         for f in self.features],
            "ranges": [list(r) for r in self.ranges],
            "units": list(self.units),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "StateDefinition":
        """Inverse of :meth:`to_dict`.

        Examples
        --------
        >>> a = StateDefinition("a", [(0, 1)], [(0.1, 0.3)])
        >>> StateDefinition.from_dict(a.to_dict()) == a
        True
        """
        return cls(d["name"], [Feature.coerce(f) for f in d["features"]],
                   [tuple(r) for r in d["ranges"]], d.get("description", ""))

    def key(self) -> str:
        """Canonical JSON of features and ranges (for run fingerprints)."""
        d = self.to_dict()
        d.pop("description")
        return json.dumps(d, sort_keys=True)


def check_states(states: Mapping[str, StateDefinition], names: Iterable[str],
                 n_atoms: int | None = None) -> list:
    """Look up state ``names`` in ``states`` and check them.

    Raises :class:`~mda_rcxai.exceptions.StateError` for an unknown name,
    the same state twice, indices past ``n_atoms`` or boxes that overlap.

    Returns
    -------
    list of StateDefinition

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> [x.name for x in check_states(s.states, ["C7eq", "C7ax"], 22)]
    ['C7eq', 'C7ax']
    """
    out = []
    for n in names:
        if isinstance(n, StateDefinition):
            st = n
        else:
            if n not in states:
                raise StateError(
                    f"state {n!r} is not defined; known states: "
                    f"{sorted(states)}. Define it with StateDefinition and "
                    "pass it in system.states or as the argument itself")
            st = states[n]
        if n_atoms is not None and st.max_atom_index >= n_atoms:
            raise StateError(
                f"state {st.name!r} uses atom index {st.max_atom_index} but "
                f"the system has {n_atoms} atoms")
        out.append(st)
    for i in range(len(out)):
        for j in range(i + 1, len(out)):
            if out[i].name == out[j].name or out[i] == out[j]:
                raise StateError(
                    f"state {out[i].name!r} is given twice; initial and "
                    "final states must differ")
            if out[i].overlaps(out[j]):
                raise StateError(
                    f"states {out[i].name!r} {list(out[i].ranges)} and "
                    f"{out[j].name!r} {list(out[j].ranges)} overlap; make "
                    "the boxes disjoint so that no configuration is in both")
    return out

"""Structured metadata of feature columns: one frozen :class:`FeatureColumn` per column.

Every feature class puts ``results.columns`` next to ``results.features``:
a list with one :class:`FeatureColumn` per column saying what the column
measures (``kind``), on which atoms, around which centre, over which
neighbour set, with which parameters, in which unit, and to which group it
belongs. Code that needs to know what a column is (explanations grouping
columns by bond or by descriptor block, sin/cos pairs summed into one
angle, impropers kept apart) reads these records instead of parsing names.

The records are plain data: :meth:`FeatureColumn.to_dict` /
:meth:`FeatureColumn.from_dict` convert them to JSON-able dicts, and
:func:`mda_rcxai.features.save_features` stores them as JSON inside the
``.npz`` file.

Examples
--------
>>> from mda_rcxai.features.columns import FeatureColumn
>>> c = FeatureColumn(name="G2[NA1:NA|water O](eta=0.5,r_s=2.5)", kind="acsf_g2",
...                   atoms=(0,), center=(0,), neighbors="water O",
...                   params={"eta": 0.5, "r_s": 2.5, "r_cut": 6.0},
...                   group="NA1:NA / water O", unit="1")
>>> c.param("r_cut")
6.0
>>> FeatureColumn.from_dict(c.to_dict()) == c
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

__all__ = ["FeatureColumn", "KINDS", "SOLVENT_KINDS", "columns_to_json", "columns_from_json"]

#: Known values of :attr:`FeatureColumn.kind`.
KINDS = ("dihedral", "improper", "distance", "angle", "sin", "cos", "acsf_g2", "acsf_g5",
         "coordination", "bridging", "density", "solvent_potential", "solvent_field")
#: Kinds that describe an environment around a centre atom (solvent descriptors); a
#: solvent-potential column's centre is its solute atom, a solvent-field column's its bond.
SOLVENT_KINDS = ("acsf_g2", "acsf_g5", "coordination", "bridging", "density",
                 "solvent_potential", "solvent_field")


def _tuple_ints(x):
    if type(x) is tuple and all(type(i) is int for i in x):
        return x
    return tuple(int(i) for i in (x if x is not None else ()))


@dataclass(frozen=True)
class FeatureColumn:
    """What one feature column measures; an immutable record.

    Parameters
    ----------
    name : str
        Column name, unique within a feature set (``"phi"``,
        ``"sin(phi)"``, ``"ALA2:N-CA-C"``, ``"G2[NA1:NA|water O](eta=0.5,r_s=2.5)"``).
    kind : str
        One of :data:`KINDS`: ``"dihedral"``, ``"improper"``,
        ``"distance"``, ``"angle"``, ``"sin"`` / ``"cos"`` (of an angle,
        see ``measure``), ``"acsf_g2"``, ``"acsf_g5"``, ``"coordination"``,
        ``"bridging"``, ``"density"``, ``"solvent_potential"`` (kJ/mol/e at
        a solute atom), ``"solvent_field"`` (along a solute bond).
    atoms : tuple of int
        Universe atom indices (0-based) that carry the column: the 2/3/4
        atoms of a distance/angle/dihedral, the centre atom(s) of a solvent
        descriptor.
    center : tuple of int
        Centre atom(s) of a solvent descriptor (empty for internal
        coordinates).
    neighbors : str or None
        Name of the neighbour set a solvent descriptor sums over.
    params : dict
        Parameters (``eta`` in Angstrom^-2, ``r_s``, ``r_cut``, ``r0`` in
        Angstrom, ``zeta``, ``lambda``, ``n``, ``m``); stored sorted, read
        with :meth:`param` or :attr:`params_dict`.
    group : str
        Group label: the rotatable bond of a dihedral (``"N-CA (phi)"``),
        the block of a solvent descriptor (``"NA1:NA / water O"``), else
        the name.
    unit : str
        ``"degrees"``, ``"radians"``, ``"angstrom"``, ``"nm"``, ``"1"``
        (dimensionless), ``"molecules"``.
    base : str
        Name of the underlying quantity: the angle of a ``sin``/``cos``
        column (``"phi"``), else ``name``.
    measure : str
        Kind of the underlying quantity (``"dihedral"`` or ``"improper"``
        for a ``sin``/``cos`` column), else ``kind``.
    alias : str or None
        Conventional dihedral alias without residue qualifier (``"phi"``,
        ``"psi"``, ``"theta"``, ``"omega"``), or None.
    neighbor_atoms : tuple of int
        Universe atom indices of the neighbour set (solvent descriptors).
    """

    name: str
    kind: str
    atoms: tuple = ()
    center: tuple = ()
    neighbors: str | None = None
    params: tuple = ()
    group: str = ""
    unit: str = ""
    base: str = ""
    measure: str = ""
    alias: str | None = None
    neighbor_atoms: tuple = field(default=(), repr=False)

    def __post_init__(self):
        s = object.__setattr__
        s(self, "name", str(self.name))
        s(self, "kind", str(self.kind))
        s(self, "atoms", _tuple_ints(self.atoms))
        s(self, "center", _tuple_ints(self.center))
        s(self, "neighbor_atoms", _tuple_ints(self.neighbor_atoms))
        p = self.params
        if isinstance(p, dict):
            p = p.items()
        s(self, "params", tuple(sorted((str(k), _plain(v)) for k, v in (p or ()))))
        if not self.group:
            s(self, "group", self.name)
        if not self.base:
            s(self, "base", self.name)
        if not self.measure:
            s(self, "measure", self.kind)

    @property
    def params_dict(self):
        """The parameters as a new dict."""
        return dict(self.params)

    def param(self, key, default=None):
        """One parameter by name (``default`` when absent)."""
        return dict(self.params).get(key, default)

    @property
    def is_solvent(self):
        """True for descriptors of an environment around a centre (:data:`SOLVENT_KINDS`)."""
        return self.measure in SOLVENT_KINDS

    def to_dict(self):
        """JSON-able dict (tuples as lists, params as a dict)."""
        d = asdict(self)
        d["params"] = dict(self.params)
        for k in ("atoms", "center", "neighbor_atoms"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d):
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(d).items() if k in known})

    def replace(self, **changes):
        """A copy with some fields changed."""
        d = self.to_dict()
        d.update(changes)
        return FeatureColumn.from_dict(d)


def _plain(v):
    """Parameters as plain JSON types (numpy scalars -> float/int)."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, (list, tuple)):
        return tuple(_plain(x) for x in v)
    return v


def columns_to_json(columns):
    """Serialise a list of :class:`FeatureColumn` to a JSON string."""
    return json.dumps([c.to_dict() for c in columns], separators=(",", ":"))


def columns_from_json(text):
    """Inverse of :func:`columns_to_json`."""
    return [FeatureColumn.from_dict(d) for d in json.loads(text)]

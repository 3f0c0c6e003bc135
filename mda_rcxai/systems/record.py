"""The :class:`MolecularSystem` record (an OpenMM System with its topology, positions in
nm, box and stable states) and the argument checks the loaders share.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..exceptions import InputError, InputTypeError, TopologyError
from .states import StateDefinition, check_states

__all__ = ["MolecularSystem", "pdb_atom_names", "resid_of", "strip_nm", "check_file",
           "constraints_arg", "states_arg"]


def pdb_atom_names(path):
    """Atom names exactly as written in a PDB file (first model)."""
    names = []
    with open(path) as fh:
        for line in fh:
            if line.startswith(("ATOM", "HETATM")):
                names.append(line[12:16].strip())
            elif line.startswith("ENDMDL"):
                break
    return names


def resid_of(res):
    try:
        return int(res.id)
    except (TypeError, ValueError):
        return res.index + 1


def strip_nm(x):
    import openmm.unit as u
    if isinstance(x, u.Quantity):
        return np.asarray(x.value_in_unit(u.nanometer))
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], u.Quantity):
        return np.array([v.value_in_unit(u.nanometer) for v in x])
    return np.asarray(x)


def check_file(path, arg):
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"{arg} must be a file path, got "
                             f"{type(path).__name__}")
    if not os.path.isfile(path):
        raise InputError(f"{arg}={str(path)!r}: no such file")
    return os.fspath(path)


def constraints_arg(constraints):
    import openmm.app as app
    table = {None: None, "none": None, "hbonds": app.HBonds,
             "allbonds": app.AllBonds, "hangles": app.HAngles}
    if constraints in (app.HBonds, app.AllBonds, app.HAngles):
        return constraints
    key = constraints.lower() if isinstance(constraints, str) else constraints
    if key not in table:
        raise InputError(f"constraints={constraints!r} is not known; use "
                         "'HBonds', 'AllBonds', 'HAngles' or None")
    return table[key]


def states_arg(states, n_atoms):
    if states is None:
        return {}
    if isinstance(states, StateDefinition):
        states = [states]
    if isinstance(states, Mapping):
        out = dict(states)
    else:
        out = {s.name: s for s in states}
    for k, v in out.items():
        if not isinstance(v, StateDefinition):
            raise InputTypeError(f"state {k!r} must be a StateDefinition, "
                                 f"got {type(v).__name__}")
    if out:
        check_states(out, list(out), n_atoms)
    return out


@dataclass
class MolecularSystem:
    """An OpenMM system with its topology, positions and stable states.

    Parameters
    ----------
    name : str
        Label kept in dataset metadata.
    topology : openmm.app.Topology
        Atoms, residues and bonds.
    system : openmm.System
        Forces, masses and constraints (no integrator).
    positions : numpy.ndarray
        ``(n_atoms, 3)`` starting positions in nm.
    states : dict of str -> StateDefinition
        Stable states by name.
    force_field : str
        Description of the force field (e.g. ``"amber99sb"``).
    pdb_path : str or None
        A PDB file with the same atoms (with CONECT records where possible).
    source : dict
        How the system was made (loader and file names).
    box_vectors : numpy.ndarray or None
        ``(3, 3)`` periodic box vectors in nm (rows a, b, c, OpenMM's
        reduced form), or None for a non-periodic system. Taken from the
        System's default box when the System uses periodic boundary
        conditions; the sampling layer runs NVT, so the box stays this one.
    description : str or None
        Free text about the system (the report prints it), e.g. what the
        literature found; None for a user's own system.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> s.n_atoms, sorted(s.states)
    (22, ['C7ax', 'C7eq'])
    """

    name: str
    topology: object
    system: object
    positions: np.ndarray
    states: dict = field(default_factory=dict)
    force_field: str = ""
    pdb_path: str | None = None
    source: dict = field(default_factory=dict)
    box_vectors: np.ndarray | None = None
    description: str | None = None

    def __post_init__(self):
        pos = np.asarray(strip_nm(self.positions), dtype=float)
        if pos.shape != (self.system.getNumParticles(), 3):
            raise TopologyError(
                f"positions have shape {pos.shape} but the System has "
                f"{self.system.getNumParticles()} particles")
        if self.topology.getNumAtoms() != self.system.getNumParticles():
            raise TopologyError(
                f"topology has {self.topology.getNumAtoms()} atoms but the "
                f"System has {self.system.getNumParticles()} particles; they "
                "must describe the same molecule")
        self.positions = pos
        states = dict(self.states or {})
        for k, v in states.items():
            if not isinstance(v, StateDefinition):
                raise InputTypeError(
                    f"states[{k!r}] must be a StateDefinition, got "
                    f"{type(v).__name__}")
        self.states = states
        if states:
            check_states(states, list(states), self.n_atoms)
        if self.system.usesPeriodicBoundaryConditions():
            if self.box_vectors is None:
                self.box_vectors = strip_nm(
                    self.system.getDefaultPeriodicBoxVectors())
            box = np.asarray(strip_nm(self.box_vectors), dtype=float)
            if box.shape != (3, 3) or not np.all(np.isfinite(box)) or \
                    np.any(np.diag(box) <= 0):
                raise TopologyError(
                    f"box_vectors must be (3, 3) in nm with positive "
                    f"diagonal, got {box.tolist()}")
            self.box_vectors = box
        elif self.box_vectors is not None:
            raise TopologyError(
                "box_vectors were given but the System uses no periodic "
                "boundary conditions (NoCutoff / CutoffNonPeriodic); drop "
                "box_vectors or build the System with PME / CutoffPeriodic")
        self._fingerprint = None

    def __getstate__(self):
        # shipped to Dask workers as text: the System as OpenMM XML (the
        # topology is a plain Python object); no file of this machine
        # (pdb_path) is needed on the worker
        d = dict(self.__dict__)
        d["system"] = self.system_xml()
        return d

    def __setstate__(self, d):
        import openmm
        d = dict(d)
        if isinstance(d.get("system"), str):
            d["system"] = openmm.XmlSerializer.deserialize(d["system"])
        self.__dict__.update(d)

    @property
    def periodic(self) -> bool:
        """True when the System uses periodic boundary conditions (a box)."""
        return self.box_vectors is not None

    # ------------------------------------------------------------------
    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return self.system.getNumParticles()

    def system_xml(self) -> str:
        """The System serialized with :class:`openmm.XmlSerializer`."""
        import openmm
        return openmm.XmlSerializer.serialize(self.system)

    def fingerprint(self) -> str:
        """SHA-256 of the serialized System and the atom names.

        Two systems with the same fingerprint have the same forces,
        masses, constraints and atom order; datasets and resumed runs are
        checked against it.

        Examples
        --------
        >>> from mda_rcxai.systems import alanine_dipeptide
        >>> alanine_dipeptide().fingerprint() == alanine_dipeptide().fingerprint()
        True
        """
        if self._fingerprint is None:
            h = hashlib.sha256(self.system_xml().encode())
            h.update("|".join(a.name for a in self.topology.atoms()).encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def topology_arrays(self) -> dict:
        """Atom names, residue names/ids, elements, masses (Da) and bonds.

        Enough to build an MDAnalysis Universe with bonds (see
        :meth:`mda_rcxai.sampling.CommittorDataset.to_universe`).

        Returns
        -------
        dict
            ``names``, ``resnames``, ``resids``, ``segids``, ``elements``
            (str arrays), ``masses`` (float, Da), ``bonds`` (``(n, 2)`` int).

        Examples
        --------
        >>> from mda_rcxai.systems import alanine_dipeptide
        >>> t = alanine_dipeptide().topology_arrays()
        >>> len(t["names"]), t["bonds"].shape
        (22, (21, 2))
        """
        import openmm.unit as u
        atoms = list(self.topology.atoms())
        masses = np.array([self.system.getParticleMass(i).value_in_unit(
            u.dalton) for i in range(self.n_atoms)])
        bonds = sorted({tuple(sorted((b[0].index, b[1].index)))
                        for b in self.topology.bonds()})
        names = [a.name for a in atoms]
        if self.pdb_path:  # openmm renames atoms to its templates (HH31->H1)
            file_names = pdb_atom_names(self.pdb_path)
            if len(file_names) == len(names):
                names = file_names
        return {
            "names": np.array(names),
            "resnames": np.array([a.residue.name for a in atoms]),
            "resids": np.array([resid_of(a.residue) for a in atoms]),
            "segids": np.array([a.residue.chain.id or "A" for a in atoms]),
            "elements": np.array([a.element.symbol if a.element is not None
                                  else "" for a in atoms]),
            "masses": masses,
            "bonds": np.array(bonds, dtype=int).reshape(-1, 2),
        }

    def pdb_string(self, positions_nm=None) -> str:
        """The system as PDB text (with CONECT records) at given positions.

        Examples
        --------
        >>> from mda_rcxai.systems import alanine_dipeptide
        >>> "CONECT" in alanine_dipeptide().pdb_string()
        True
        """
        import openmm.app as app
        import openmm.unit as u
        pos = self.positions if positions_nm is None else positions_nm
        buf = io.StringIO()
        app.PDBFile.writeFile(self.topology, np.asarray(pos) * 10.0 * u.angstrom,
                              buf, keepIds=True)
        return buf.getvalue()

    def with_states(self, states: Mapping[str, StateDefinition] | None = None,
                    **more: StateDefinition) -> "MolecularSystem":
        """A copy with other (or more) stable states.

        Parameters
        ----------
        states : dict of str -> StateDefinition, optional
            Replaces the states (None keeps the current ones).
        **more : StateDefinition
            Added or replaced by name.

        Examples
        --------
        >>> from mda_rcxai.systems import alanine_dipeptide, StateDefinition
        >>> s = alanine_dipeptide()
        >>> s2 = s.with_states(alphaR=StateDefinition(
        ...     "alphaR", [(4, 6, 8, 14), (6, 8, 14, 16)], [(-100, -50), (-60, -20)]))
        >>> sorted(s2.states)
        ['C7ax', 'C7eq', 'alphaR']
        """
        new = dict(self.states if states is None else states)
        for k, v in more.items():
            new[k] = v
        return MolecularSystem(self.name, self.topology, self.system,
                               self.positions.copy(), new, self.force_field,
                               self.pdb_path, dict(self.source),
                               None if self.box_vectors is None else
                               self.box_vectors.copy(), self.description)

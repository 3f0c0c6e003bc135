"""OpenMM systems: the bundled alanine dipeptide and loaders for your own.

Everything here is plain OpenMM + numpy (no OpenPathSampling, no torch).
Positions are numpy arrays in nm (OpenMM's unit); the sampling layer
converts to Angstrom at its boundary.
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

__all__ = [
    "MolecularSystem",
    "alanine_dipeptide",
    "from_pdb_and_forcefield",
    "from_amber",
    "from_system_xml",
    "ALANINE_DIPEPTIDE_STATES",
    "PHI",
    "PSI",
    "THETA",
]

#: 0-based atom indices of the backbone dihedrals of the bundled molecule
#: (C-N-CA-C, N-CA-C-N and the O-C-N-CA dihedral of the ACE-ALA bond).
PHI = (4, 6, 8, 14)
PSI = (6, 8, 14, 16)
THETA = (5, 4, 6, 8)

_STATE_SOURCE = (
    "Boxes on (phi, psi) in degrees. They enclose the two vacuum basins of "
    "amber99sb (energy minima at (-78, 55) and (60, -41)) with the 1st-99th "
    "percentile of 300 K Langevin MD in each basin (the bundled "
    "ALANINE_DIPEPTIDE_DCD: C7eq phi -164..-60, psi 23..178 plus the C5 "
    "shoulder at psi ~ -175; C7ax phi 40..78, psi -85..2) and stay clear of "
    "the barrier at phi ~ 0, as in the vacuum TPS studies of Bolhuis, "
    "Dellago & Chandler, PNAS 97, 5877 (2000) and Kikutsuji et al., "
    "J. Chem. Phys. 156, 154108 (2022), which define C7eq and C7ax by "
    "phi/psi. psi of C7eq is periodic: (0, 200) = [0, 180] U [-180, -160].")

#: Default stable states of the bundled alanine dipeptide (vacuum, amber99sb).
ALANINE_DIPEPTIDE_STATES = {
    "C7eq": StateDefinition("C7eq", [PHI, PSI], [(-180.0, -50.0),
                                                (0.0, 200.0)],
                            description=_STATE_SOURCE),
    "C7ax": StateDefinition("C7ax", [PHI, PSI], [(40.0, 100.0),
                                                (-110.0, 10.0)],
                            description=_STATE_SOURCE),
}


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

    def __post_init__(self):
        pos = np.asarray(_strip_nm(self.positions), dtype=float)
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
        self._fingerprint = None

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
            file_names = _pdb_atom_names(self.pdb_path)
            if len(file_names) == len(names):
                names = file_names
        return {
            "names": np.array(names),
            "resnames": np.array([a.residue.name for a in atoms]),
            "resids": np.array([_resid(a.residue) for a in atoms]),
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
                               self.pdb_path, dict(self.source))


def _pdb_atom_names(path):
    """Atom names exactly as written in a PDB file (first model)."""
    names = []
    with open(path) as fh:
        for line in fh:
            if line.startswith(("ATOM", "HETATM")):
                names.append(line[12:16].strip())
            elif line.startswith("ENDMDL"):
                break
    return names


def _resid(res):
    try:
        return int(res.id)
    except (TypeError, ValueError):
        return res.index + 1


def _strip_nm(x):
    import openmm.unit as u
    if isinstance(x, u.Quantity):
        return np.asarray(x.value_in_unit(u.nanometer))
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], u.Quantity):
        return np.array([v.value_in_unit(u.nanometer) for v in x])
    return np.asarray(x)


def _check_file(path, arg):
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"{arg} must be a file path, got "
                             f"{type(path).__name__}")
    if not os.path.isfile(path):
        raise InputError(f"{arg}={str(path)!r}: no such file")
    return os.fspath(path)


def _constraints(constraints):
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


def _states_arg(states, n_atoms):
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


# ----------------------------------------------------------------------
def alanine_dipeptide(solvent: str = "vacuum",
                      force_field: str = "amber99sb") -> MolecularSystem:
    """The bundled alanine dipeptide (ACE-ALA-NME) in vacuum with amber99sb.

    No cutoff, bonds to hydrogen constrained (``HBonds``), rigid nothing
    else; positions are the bundled energy-minimised C7eq structure.

    Parameters
    ----------
    solvent : {"vacuum"}
        Only vacuum is bundled (the system of Kikutsuji et al. 2022).
    force_field : {"amber99sb"}
        OpenMM's ``amber99sb.xml``.

    Returns
    -------
    MolecularSystem
        With states ``"C7eq"`` = phi in [-180, -50], psi in [0, 200]
        (periodic: [0, 180] U [-180, -160]) and ``"C7ax"`` = phi in
        [40, 100], psi in [-110, 10], degrees; phi = atoms (4, 6, 8, 14),
        psi = (6, 8, 14, 16). See ``ALANINE_DIPEPTIDE_STATES`` for where
        the boxes come from.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> s.name, s.n_atoms, s.force_field
    ('alanine_dipeptide', 22, 'amber99sb')
    >>> s.states["C7ax"].ranges
    ((40.0, 100.0), (-110.0, 10.0))
    """
    if solvent != "vacuum":
        raise InputError(f"solvent={solvent!r} is not bundled; only "
                         "'vacuum' is. For a solvated system build it with "
                         "OpenMM and load it with from_pdb_and_forcefield")
    if force_field != "amber99sb":
        raise InputError(f"force_field={force_field!r} is not bundled; only "
                         "'amber99sb' is. Use from_pdb_and_forcefield("
                         "ALANINE_DIPEPTIDE_PDB, [...]) for another one")
    from ..data import ALANINE_DIPEPTIDE_PDB
    s = from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB, ["amber99sb.xml"],
                                states=ALANINE_DIPEPTIDE_STATES,
                                name="alanine_dipeptide")
    s.force_field = "amber99sb"
    s.source = {"loader": "alanine_dipeptide", "solvent": solvent,
                "force_field": force_field}
    return s


def from_pdb_and_forcefield(pdb, forcefield_files, states=None, *,
                            constraints="HBonds", nonbonded_method="NoCutoff",
                            nonbonded_cutoff_nm: float = 1.0,
                            name: str | None = None) -> MolecularSystem:
    """Your own system from a PDB file and OpenMM force-field XML files.

    Parameters
    ----------
    pdb : str or path
        PDB file (CONECT records for non-standard residues).
    forcefield_files : str or list of str
        Names or paths understood by :class:`openmm.app.ForceField`, e.g.
        ``["amber14-all.xml", "amber14/tip3pfb.xml"]``.
    states : dict or list of StateDefinition, optional
        Stable states (atom indices 0-based in the PDB's order).
    constraints : {"HBonds", "AllBonds", "HAngles", None}
    nonbonded_method : {"NoCutoff", "CutoffNonPeriodic", "CutoffPeriodic", "PME"}
    nonbonded_cutoff_nm : float
        Cutoff in nm where a cutoff method is used.
    name : str, optional
        Label (default: the PDB's file name).

    Returns
    -------
    MolecularSystem

    Examples
    --------
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    >>> from mda_rcxai.systems import from_pdb_and_forcefield
    >>> s = from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB, "amber99sb.xml")
    >>> s.n_atoms
    22
    """
    import openmm.app as app
    import openmm.unit as u
    pdb = _check_file(pdb, "pdb")
    if isinstance(forcefield_files, (str, os.PathLike)):
        forcefield_files = [forcefield_files]
    methods = {"nocutoff": app.NoCutoff, "cutoffnonperiodic":
               app.CutoffNonPeriodic, "cutoffperiodic": app.CutoffPeriodic,
               "pme": app.PME}
    if str(nonbonded_method).lower() not in methods:
        raise InputError(f"nonbonded_method={nonbonded_method!r} is not "
                         f"known; use one of NoCutoff, CutoffNonPeriodic, "
                         "CutoffPeriodic, PME")
    pdbf = app.PDBFile(pdb)
    try:
        ff = app.ForceField(*[os.fspath(f) for f in forcefield_files])
    except Exception as err:  # openmm raises ValueError / OSError
        raise InputError(f"forcefield_files={list(forcefield_files)!r} could "
                         f"not be read by openmm.app.ForceField: {err}") from err
    method = methods[str(nonbonded_method).lower()]
    kwargs = {"nonbondedMethod": method,
              "constraints": _constraints(constraints)}
    if method is not app.NoCutoff:
        kwargs["nonbondedCutoff"] = nonbonded_cutoff_nm * u.nanometer
    try:
        system = ff.createSystem(pdbf.topology, **kwargs)
    except ValueError as err:
        raise TopologyError(f"the force field does not match {pdb!r}: "
                            f"{err}") from err
    n = pdbf.topology.getNumAtoms()
    return MolecularSystem(
        name=name or os.path.splitext(os.path.basename(pdb))[0],
        topology=pdbf.topology, system=system,
        positions=_strip_nm(pdbf.getPositions(asNumpy=True)),
        states=_states_arg(states, n),
        force_field="+".join(os.path.basename(os.fspath(f))
                             for f in forcefield_files),
        pdb_path=os.path.abspath(pdb),
        source={"loader": "from_pdb_and_forcefield", "pdb": os.path.abspath(pdb),
                "forcefield_files": [os.fspath(f) for f in forcefield_files],
                "constraints": str(constraints),
                "nonbonded_method": str(nonbonded_method)})


def from_amber(prmtop, inpcrd, states=None, *, constraints="HBonds",
               implicit_solvent=None, name: str | None = None
               ) -> MolecularSystem:
    """Your own system from AMBER ``prmtop`` + ``inpcrd`` files.

    Read with :class:`openmm.app.AmberPrmtopFile` and
    :class:`openmm.app.AmberInpcrdFile`; a periodic box in the inpcrd gives
    PME with a 1 nm cutoff, otherwise no cutoff.

    Parameters
    ----------
    prmtop, inpcrd : str or path
    states : dict or list of StateDefinition, optional
    constraints : {"HBonds", "AllBonds", "HAngles", None}
    implicit_solvent : openmm.app implicit-solvent model or None
    name : str, optional

    Returns
    -------
    MolecularSystem

    Examples
    --------
    >>> from mda_rcxai.systems import from_amber
    >>> s = from_amber("ala2.prmtop", "ala2.inpcrd")  # doctest: +SKIP
    """
    import openmm.app as app
    import openmm.unit as u
    prmtop = _check_file(prmtop, "prmtop")
    inpcrd = _check_file(inpcrd, "inpcrd")
    try:
        top = app.AmberPrmtopFile(prmtop)
    except Exception as err:
        raise InputError(f"prmtop={prmtop!r} is not an AMBER topology that "
                         f"openmm.app.AmberPrmtopFile can read: {err}") from err
    try:
        crd = app.AmberInpcrdFile(inpcrd)
    except Exception as err:
        raise InputError(f"inpcrd={inpcrd!r} is not an AMBER coordinate file "
                         f"that openmm.app.AmberInpcrdFile can read: {err}"
                         ) from err
    box = crd.boxVectors
    kwargs = {"constraints": _constraints(constraints),
              "implicitSolvent": implicit_solvent}
    if box is not None:
        kwargs.update(nonbondedMethod=app.PME,
                      nonbondedCutoff=1.0 * u.nanometer)
        top.topology.setPeriodicBoxVectors(box)
    else:
        kwargs.update(nonbondedMethod=app.NoCutoff)
    system = top.createSystem(**kwargs)
    n = top.topology.getNumAtoms()
    return MolecularSystem(
        name=name or os.path.splitext(os.path.basename(prmtop))[0],
        topology=top.topology, system=system,
        positions=_strip_nm(crd.getPositions(asNumpy=True)),
        states=_states_arg(states, n), force_field="AMBER prmtop",
        pdb_path=None,
        source={"loader": "from_amber", "prmtop": os.path.abspath(prmtop),
                "inpcrd": os.path.abspath(inpcrd)})


def from_system_xml(system_xml, pdb, states=None, *,
                    name: str | None = None) -> MolecularSystem:
    """Your own system from a serialized :class:`openmm.System` and a PDB.

    Parameters
    ----------
    system_xml : str or path
        File written with ``openmm.XmlSerializer.serialize(system)``.
    pdb : str or path
        Topology (atom names, residues, CONECT bonds) and positions; atoms in
        the System's order.
    states : dict or list of StateDefinition, optional
    name : str, optional

    Returns
    -------
    MolecularSystem

    Examples
    --------
    >>> import openmm, tempfile, os
    >>> from mda_rcxai.systems import alanine_dipeptide, from_system_xml
    >>> s = alanine_dipeptide()
    >>> path = os.path.join(tempfile.mkdtemp(), "system.xml")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write(openmm.XmlSerializer.serialize(s.system))
    >>> s2 = from_system_xml(path, s.pdb_path, states=s.states)
    >>> s2.fingerprint() == s.fingerprint()
    True
    """
    import openmm
    import openmm.app as app
    system_xml = _check_file(system_xml, "system_xml")
    pdb = _check_file(pdb, "pdb")
    with open(system_xml) as fh:
        text = fh.read()
    try:
        system = openmm.XmlSerializer.deserialize(text)
    except Exception as err:
        raise InputError(f"system_xml={system_xml!r} is not a serialized "
                         f"OpenMM System: {err}") from err
    if not isinstance(system, openmm.System):
        raise InputError(f"system_xml={system_xml!r} holds a "
                         f"{type(system).__name__}, not an openmm.System")
    pdbf = app.PDBFile(pdb)
    n = pdbf.topology.getNumAtoms()
    return MolecularSystem(
        name=name or os.path.splitext(os.path.basename(pdb))[0],
        topology=pdbf.topology, system=system,
        positions=_strip_nm(pdbf.getPositions(asNumpy=True)),
        states=_states_arg(states, n), force_field="serialized System",
        pdb_path=os.path.abspath(pdb),
        source={"loader": "from_system_xml",
                "system_xml": os.path.abspath(system_xml),
                "pdb": os.path.abspath(pdb)})

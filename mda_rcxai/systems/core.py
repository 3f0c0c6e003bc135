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
from ..fileio import atomic_write
from .states import StateDefinition, check_states

__all__ = [
    "MolecularSystem",
    "alanine_dipeptide",
    "from_pdb_and_forcefield",
    "from_amber",
    "from_system_xml",
    "alanine_dipeptide_in_water",
    "platform_properties",
    "ALANINE_DIPEPTIDE_STATES",
    "ALANINE_DIPEPTIDE_DESCRIPTION",
    "IMPLICIT_SOLVENTS",
    "NONBONDED_METHODS",
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

#: What the reference study found for the bundled molecule (the report
#: prints a system's ``description``).
ALANINE_DIPEPTIDE_DESCRIPTION = (
    "Alanine dipeptide (ACE-ALA-NME) in vacuum, amber99sb, C7eq -> C7ax; "
    "expected answer: N-CA (phi) and C-N (theta) (Kikutsuji et al. 2022)")

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
        if self.system.usesPeriodicBoundaryConditions():
            if self.box_vectors is None:
                self.box_vectors = _strip_nm(
                    self.system.getDefaultPeriodicBoxVectors())
            box = np.asarray(_strip_nm(self.box_vectors), dtype=float)
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
                               self.pdb_path, dict(self.source),
                               None if self.box_vectors is None else
                               self.box_vectors.copy(), self.description)


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
    s.description = ALANINE_DIPEPTIDE_DESCRIPTION
    return s


#: Implicit-solvent models of :func:`from_amber` (OpenMM's names).
IMPLICIT_SOLVENTS = ("HCT", "OBC1", "OBC2", "GBn", "GBn2")
#: Non-bonded methods (OpenMM's names).
NONBONDED_METHODS = ("NoCutoff", "CutoffNonPeriodic", "CutoffPeriodic", "PME")
_DEFAULT_CUTOFF_NM = 1.0


def platform_properties(name, threads=1, system=None):
    """OpenMM Context properties for ``platform`` as this package uses them.

    CPU: ``Threads``, plus ``DeterministicForces="true"`` for a periodic
    system (or when ``system`` is not given). OpenMM 8's CPU PME sums forces
    in a varying order, so without the flag two runs of the same seed on a
    TIP3P box drift apart (0.01 nm after 200 steps) even with one thread;
    with it and one thread they are identical (cost ~2 %). A non-periodic
    system with one thread is repeatable without the flag (20,000 steps of
    alanine dipeptide in vacuum, identical), and there the flag costs ~11 %,
    so it is left off. With several threads neither is repeatable. GPU
    platforms: mixed precision.

    Parameters
    ----------
    name : str
        OpenMM platform name (``"CPU"``, ``"CUDA"``, ``"OpenCL"``, ``"HIP"``,
        ``"Reference"``).
    threads : int
        CPU threads per Context.
    system : openmm.System or MolecularSystem, optional
        The system the Context is for; decides the CPU flag.

    Returns
    -------
    dict of str to str

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide, platform_properties
    >>> platform_properties("CPU")
    {'Threads': '1', 'DeterministicForces': 'true'}
    >>> platform_properties("CPU", system=alanine_dipeptide())   # vacuum
    {'Threads': '1'}
    >>> platform_properties("CUDA")
    {'Precision': 'mixed'}
    """
    if name == "CPU":
        props = {"Threads": str(int(threads))}
        omm = getattr(system, "system", system)
        if omm is None or omm.usesPeriodicBoundaryConditions():
            props["DeterministicForces"] = "true"
        return props
    if name in ("CUDA", "OpenCL", "HIP"):
        return {"Precision": "mixed"}
    return {}


def _box_nm(box):
    """OpenMM box vectors (Quantity, Vec3 triple or None) -> (3, 3) nm or None."""
    if box is None:
        return None
    import openmm.unit as u
    rows = []
    for v in box:
        if isinstance(v, u.Quantity):
            v = v.value_in_unit(u.nanometer)
        rows.append([float(c) for c in v])
    return np.array(rows)


def _nonbonded(nonbonded, cutoff_nm, box, where):
    """Check the non-bonded choice against the box; OpenMM kwargs + names.

    ``where`` names the input that would carry a box (for the messages).
    """
    import openmm.app as app
    import openmm.unit as u
    table = {m.lower(): m for m in NONBONDED_METHODS}
    if nonbonded is None:
        name = "PME" if box is not None else "NoCutoff"
    else:
        if not isinstance(nonbonded, str) or nonbonded.lower() not in table:
            raise InputError(f"nonbonded={nonbonded!r} is not known; use one "
                             f"of {', '.join(NONBONDED_METHODS)}")
        name = table[nonbonded.lower()]
    periodic = name in ("CutoffPeriodic", "PME")
    if periodic and box is None:
        raise InputError(
            f"nonbonded={name!r} needs a periodic box but {where} has none; "
            "add one (CRYST1 record / box line) or use nonbonded='NoCutoff' "
            "or 'CutoffNonPeriodic'")
    if name == "NoCutoff":
        if cutoff_nm is not None:
            raise InputError(f"cutoff_nm={cutoff_nm!r} has no effect with "
                             "nonbonded='NoCutoff'; drop it or choose a "
                             "cutoff method")
        return {"nonbondedMethod": app.NoCutoff}, name, None
    cut = _DEFAULT_CUTOFF_NM if cutoff_nm is None else cutoff_nm
    if isinstance(cut, bool) or not isinstance(cut, (int, float, np.number)):
        raise InputTypeError(f"cutoff_nm={cutoff_nm!r} must be a number (nm)")
    cut = float(cut)
    if not (np.isfinite(cut) and cut > 0):
        raise InputError(f"cutoff_nm={cut} must be a positive number of nm")
    if periodic:
        half = float(np.min(np.diag(box))) / 2.0
        if cut >= half:
            raise InputError(
                f"cutoff_nm={cut} must be below half the shortest box length "
                f"({half:.4g} nm for the box of {where}); use a smaller "
                "cutoff or a bigger box")
    method = {"CutoffNonPeriodic": app.CutoffNonPeriodic,
              "CutoffPeriodic": app.CutoffPeriodic, "PME": app.PME}[name]
    return ({"nonbondedMethod": method, "nonbondedCutoff": cut * u.nanometer},
            name, cut)


def _implicit(implicit_solvent):
    import openmm.app as app
    if implicit_solvent is None:
        return None
    if isinstance(implicit_solvent, str):
        table = {m.lower(): m for m in IMPLICIT_SOLVENTS}
        key = implicit_solvent.lower()
        if key in ("none", ""):
            return None
        if key not in table:
            raise InputError(f"implicit_solvent={implicit_solvent!r} is not "
                             f"known; use one of {', '.join(IMPLICIT_SOLVENTS)}"
                             " or None")
        return getattr(app, table[key])
    if implicit_solvent in tuple(getattr(app, m) for m in IMPLICIT_SOLVENTS):
        return implicit_solvent
    raise InputError(f"implicit_solvent={implicit_solvent!r} is not known; use "
                     f"one of {', '.join(IMPLICIT_SOLVENTS)} or None")


def _forcefield_files(forcefield_files):
    """Check every force-field file name before OpenMM reads them."""
    from openmm.app.forcefield import _getDataDirectories
    if isinstance(forcefield_files, (str, os.PathLike)):
        forcefield_files = [forcefield_files]
    try:
        files = [os.fspath(f) for f in forcefield_files]
    except TypeError:
        raise InputTypeError(
            f"forcefield_files={forcefield_files!r} must be a file name or a "
            "list of them, e.g. ['amber14-all.xml', 'amber14/tip3p.xml']"
            ) from None
    if not files:
        raise InputError("forcefield_files is empty; give e.g. "
                         "['amber14-all.xml', 'implicit/obc2.xml']")
    dirs = _getDataDirectories()
    for f in files:
        if not (os.path.isfile(f) or any(os.path.isfile(os.path.join(d, f))
                                         for d in dirs)):
            raise InputError(
                f"forcefield_files: {f!r} is neither a file nor a force field "
                "that ships with OpenMM (e.g. 'amber14-all.xml', "
                "'amber14/tip3p.xml', 'implicit/obc2.xml', 'amber99sb.xml'); "
                "check the name or the path")
    return files


def _one_line(err) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def from_pdb_and_forcefield(pdb, forcefield_files, states=None, *,
                            nonbonded: str | None = None,
                            cutoff_nm: float | None = None,
                            constraints="HBonds",
                            name: str | None = None) -> MolecularSystem:
    """Your own system from a PDB file and OpenMM force-field XML files.

    Parameters
    ----------
    pdb : str or path
        PDB file (CONECT records for non-standard residues; a ``CRYST1``
        record gives the periodic box).
    forcefield_files : str or list of str
        Names or paths understood by :class:`openmm.app.ForceField`, e.g.
        ``["amber14-all.xml", "implicit/obc2.xml"]`` (implicit solvent) or
        ``["amber14-all.xml", "amber14/tip3p.xml"]`` (explicit water).
    states : dict or list of StateDefinition, optional
        Stable states (atom indices 0-based in the PDB's order).
    nonbonded : {"NoCutoff", "CutoffNonPeriodic", "CutoffPeriodic", "PME"}, optional
        Default: ``"PME"`` when the PDB has a box, ``"NoCutoff"`` otherwise.
    cutoff_nm : float, optional
        Non-bonded cutoff in nm for the cutoff methods (default 1.0); must
        be below half the shortest box length.
    constraints : {"HBonds", "AllBonds", "HAngles", None}
    name : str, optional
        Label (default: the PDB's file name).

    Returns
    -------
    MolecularSystem
        ``box_vectors`` set (nm) when the non-bonded method is periodic;
        ``description`` None.

    Raises
    ------
    InputError
        Missing file, unknown force-field file, unknown method, a periodic
        method without a box, a cutoff too long for the box.

    Examples
    --------
    >>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    >>> from mda_rcxai.systems import from_pdb_and_forcefield
    >>> s = from_pdb_and_forcefield(ALANINE_DIPEPTIDE_PDB,
    ...                             ["amber14-all.xml", "implicit/obc2.xml"])
    >>> s.n_atoms, s.periodic
    (22, False)
    """
    import openmm.app as app
    pdb = _check_file(pdb, "pdb")
    files = _forcefield_files(forcefield_files)
    try:
        pdbf = app.PDBFile(pdb)
    except Exception as err:
        raise InputError(f"pdb={pdb!r} could not be read by "
                         f"openmm.app.PDBFile: {_one_line(err)}") from err
    box = _box_nm(pdbf.topology.getPeriodicBoxVectors())
    nb_kwargs, nb_name, cut = _nonbonded(nonbonded, cutoff_nm, box,
                                         f"pdb={os.path.basename(pdb)!r}")
    try:
        ff = app.ForceField(*files)
    except Exception as err:  # openmm raises ValueError / OSError
        raise InputError(f"forcefield_files={files!r} could not be read by "
                         f"openmm.app.ForceField: {_one_line(err)}") from err
    kwargs = dict(nb_kwargs, constraints=_constraints(constraints))
    try:
        system = ff.createSystem(pdbf.topology, **kwargs)
    except ValueError as err:
        raise TopologyError(f"forcefield_files={files!r} do not match "
                            f"pdb={pdb!r}: {_one_line(err)}") from err
    n = pdbf.topology.getNumAtoms()
    return MolecularSystem(
        name=name or os.path.splitext(os.path.basename(pdb))[0],
        topology=pdbf.topology, system=system,
        positions=_strip_nm(pdbf.getPositions(asNumpy=True)),
        states=_states_arg(states, n),
        force_field="+".join(os.path.basename(f) for f in files),
        pdb_path=os.path.abspath(pdb),
        source={"loader": "from_pdb_and_forcefield", "pdb": os.path.abspath(pdb),
                "forcefield_files": files, "constraints": str(constraints),
                "nonbonded": nb_name, "cutoff_nm": cut},
        box_vectors=box if system.usesPeriodicBoundaryConditions() else None)


def from_amber(prmtop, inpcrd, states=None, *, implicit_solvent=None,
               nonbonded: str | None = None, cutoff_nm: float | None = None,
               constraints="HBonds", name: str | None = None
               ) -> MolecularSystem:
    """Your own system from AMBER ``prmtop`` + coordinate files.

    Read with :class:`openmm.app.AmberPrmtopFile` and
    :class:`openmm.app.AmberInpcrdFile`, which reads by content: the
    coordinate file may be called ``.inpcrd``, ``.crd``, ``.rst7`` (ASCII
    restart) or ``.ncrst`` (NetCDF restart).

    Parameters
    ----------
    prmtop : str or path
        AMBER topology/parameter file.
    inpcrd : str or path
        AMBER coordinates (a box line gives the periodic box).
    states : dict or list of StateDefinition, optional
    implicit_solvent : {"HCT", "OBC1", "OBC2", "GBn", "GBn2"} or None
        Generalized Born model (OpenMM's names), radii from the prmtop.
    nonbonded : {"NoCutoff", "CutoffNonPeriodic", "CutoffPeriodic", "PME"}, optional
        Default: ``"PME"`` when the coordinate file has a box, else
        ``"NoCutoff"``.
    cutoff_nm : float, optional
        Cutoff in nm for the cutoff methods (default 1.0); below half the
        shortest box length.
    constraints : {"HBonds", "AllBonds", "HAngles", None}
    name : str, optional
        Label (default: the prmtop's file name).

    Returns
    -------
    MolecularSystem

    Examples
    --------
    >>> from mda_rcxai.systems import from_amber
    >>> s = from_amber("ala2.prmtop", "ala2.crd",
    ...                implicit_solvent="OBC2")  # doctest: +SKIP
    """
    import openmm.app as app
    prmtop = _check_file(prmtop, "prmtop")
    inpcrd = _check_file(inpcrd, "inpcrd")
    solvent = _implicit(implicit_solvent)
    try:
        top = app.AmberPrmtopFile(prmtop)
    except Exception as err:
        raise InputError(f"prmtop={prmtop!r} is not an AMBER topology that "
                         f"openmm.app.AmberPrmtopFile can read: "
                         f"{_one_line(err)}") from err
    try:
        crd = app.AmberInpcrdFile(inpcrd)
    except Exception as err:
        raise InputError(f"inpcrd={inpcrd!r} is not an AMBER coordinate file "
                         f"that openmm.app.AmberInpcrdFile can read: "
                         f"{_one_line(err)}") from err
    n = top.topology.getNumAtoms()
    pos = _strip_nm(crd.getPositions(asNumpy=True))
    if pos.shape != (n, 3):
        raise TopologyError(f"inpcrd={inpcrd!r} has {pos.shape[0]} atoms but "
                            f"prmtop={prmtop!r} has {n}; they must describe "
                            "the same system")
    box = _box_nm(crd.boxVectors)
    nb_kwargs, nb_name, cut = _nonbonded(nonbonded, cutoff_nm, box,
                                         f"inpcrd={os.path.basename(inpcrd)!r}")
    if box is not None:
        top.topology.setPeriodicBoxVectors(crd.boxVectors)
    kwargs = dict(nb_kwargs, constraints=_constraints(constraints),
                  implicitSolvent=solvent)
    try:
        system = top.createSystem(**kwargs)
    except (ValueError, Exception) as err:
        raise InputError(f"prmtop={prmtop!r}: OpenMM could not build the "
                         f"System ({_one_line(err)}); check nonbonded / "
                         "implicit_solvent") from err
    return MolecularSystem(
        name=name or os.path.splitext(os.path.basename(prmtop))[0],
        topology=top.topology, system=system, positions=pos,
        states=_states_arg(states, n), force_field="AMBER prmtop" + (
            f" + {implicit_solvent}" if solvent is not None else ""),
        pdb_path=None,
        source={"loader": "from_amber", "prmtop": os.path.abspath(prmtop),
                "inpcrd": os.path.abspath(inpcrd),
                "implicit_solvent": None if solvent is None else str(solvent),
                "nonbonded": nb_name, "cutoff_nm": cut,
                "constraints": str(constraints)},
        box_vectors=box if system.usesPeriodicBoundaryConditions() else None)


def from_system_xml(system_xml, pdb, states=None, *,
                    name: str | None = None) -> MolecularSystem:
    """Your own system from a serialized :class:`openmm.System` and a PDB.

    The System's forces decide whether it is periodic; its default box
    vectors are the box (NVT: the sampling layer keeps them).

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
                         f"OpenMM System: {_one_line(err)}") from err
    if not isinstance(system, openmm.System):
        raise InputError(f"system_xml={system_xml!r} holds a "
                         f"{type(system).__name__}, not an openmm.System")
    try:
        pdbf = app.PDBFile(pdb)
    except Exception as err:
        raise InputError(f"pdb={pdb!r} could not be read by "
                         f"openmm.app.PDBFile: {_one_line(err)}") from err
    n = pdbf.topology.getNumAtoms()
    box = None
    if system.usesPeriodicBoundaryConditions():
        box = _box_nm(system.getDefaultPeriodicBoxVectors())
        pdbf.topology.setPeriodicBoxVectors(system.getDefaultPeriodicBoxVectors())
    return MolecularSystem(
        name=name or os.path.splitext(os.path.basename(pdb))[0],
        topology=pdbf.topology, system=system,
        positions=_strip_nm(pdbf.getPositions(asNumpy=True)),
        states=_states_arg(states, n), force_field="serialized System",
        pdb_path=os.path.abspath(pdb),
        source={"loader": "from_system_xml",
                "system_xml": os.path.abspath(system_xml),
                "pdb": os.path.abspath(pdb)}, box_vectors=box)


def alanine_dipeptide_in_water(pdb_out=None, *, box_nm: float = 2.2,
                               cutoff_nm: float = 0.9, minimize: bool = True,
                               states=None) -> MolecularSystem:
    """The bundled alanine dipeptide in a small periodic TIP3P box.

    Built offline with :class:`openmm.app.Modeller` (``amber14-all.xml`` +
    ``amber14/tip3p.xml``, cubic box of ``box_nm``, about 330 waters for
    2.2 nm), PME with ``cutoff_nm``, ``HBonds``; energy-minimised (OpenMM
    ``LocalEnergyMinimizer``, CPU, one thread, deterministic forces: the same
    structure every time) so that MD
    can start at once. A small test and benchmark system for the periodic
    route, not a production set-up (the box is small; the cutoff must stay
    below half of it).

    Parameters
    ----------
    pdb_out : str or path, optional
        Write the solvated, minimised structure here (PDB with CRYST1) and
        load it back with :func:`from_pdb_and_forcefield`, so that the
        system comes from files like a user's.
    box_nm : float
        Cubic box edge, nm.
    cutoff_nm : float
        PME real-space cutoff, nm (< box_nm / 2).
    minimize : bool
        Energy-minimise (100 iterations at most).
    states : dict of StateDefinition, optional
        Stable states (0-based atom indices; the peptide's atoms come first,
        as in the bundled PDB).

    Returns
    -------
    MolecularSystem
        Periodic (``box_vectors`` set), ``description`` None.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide_in_water
    >>> s = alanine_dipeptide_in_water()               # doctest: +SKIP
    >>> s.periodic, s.n_atoms                          # doctest: +SKIP
    (True, 1015)
    """
    import openmm
    import openmm.app as app
    import openmm.unit as u
    from ..data import ALANINE_DIPEPTIDE_PDB
    if not (isinstance(box_nm, (int, float)) and box_nm > 0):
        raise InputError(f"box_nm={box_nm!r} must be a positive number (nm)")
    files = ["amber14-all.xml", "amber14/tip3p.xml"]
    ff = app.ForceField(*files)
    pdb = app.PDBFile(ALANINE_DIPEPTIDE_PDB)
    mod = app.Modeller(pdb.topology, pdb.positions)
    mod.addSolvent(ff, model="tip3p",
                   boxSize=openmm.Vec3(box_nm, box_nm, box_nm) * u.nanometer)
    box = _box_nm(mod.topology.getPeriodicBoxVectors())
    nb_kwargs, _, _ = _nonbonded("PME", cutoff_nm, box, f"box_nm={box_nm}")
    system = ff.createSystem(mod.topology, constraints=app.HBonds, **nb_kwargs)
    pos = mod.getPositions()
    if minimize:
        ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("CPU"),
                             platform_properties("CPU", system=system))
        ctx.setPositions(pos)
        openmm.LocalEnergyMinimizer.minimize(ctx, 10.0, 100)
        pos = ctx.getState(getPositions=True).getPositions()
        del ctx
    if pdb_out is not None:
        pdb_out = os.fspath(pdb_out)
        d = os.path.dirname(os.path.abspath(pdb_out))
        if not os.path.isdir(d):
            raise InputError(f"pdb_out={pdb_out!r}: folder {d!r} does not exist")
        def write(tmp):
            with open(tmp, "w") as fh:
                app.PDBFile.writeFile(mod.topology, pos, fh, keepIds=True)
        atomic_write(pdb_out, write)
        s = from_pdb_and_forcefield(pdb_out, files, states=states,
                                    nonbonded="PME", cutoff_nm=cutoff_nm,
                                    name="alanine_dipeptide_in_water")
    else:
        s = MolecularSystem(
            name="alanine_dipeptide_in_water", topology=mod.topology,
            system=system, positions=_strip_nm(pos),
            states=_states_arg(states, mod.topology.getNumAtoms()),
            force_field="+".join(files), pdb_path=None, box_vectors=box)
    s.source = {"loader": "alanine_dipeptide_in_water", "box_nm": box_nm,
                "cutoff_nm": cutoff_nm, "forcefield_files": files,
                "minimized": bool(minimize), "pdb": s.pdb_path}
    return s

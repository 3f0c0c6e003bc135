"""Loaders for your own OpenMM system: PDB + force-field XML, AMBER prmtop/inpcrd, a
serialized System XML; each returns a :class:`~mda_rcxai.systems.MolecularSystem`.

Positions are numpy arrays in nm (OpenMM's unit).
"""

from __future__ import annotations

import os

import numpy as np

from ..exceptions import InputError, InputTypeError, TopologyError
from .record import MolecularSystem, check_file, constraints_arg, states_arg, strip_nm

__all__ = ["from_pdb_and_forcefield", "from_amber", "from_system_xml", "IMPLICIT_SOLVENTS",
           "NONBONDED_METHODS", "box_nm_of", "nonbonded_arg"]


IMPLICIT_SOLVENTS = ("HCT", "OBC1", "OBC2", "GBn", "GBn2")
#: Non-bonded methods (OpenMM's names).
NONBONDED_METHODS = ("NoCutoff", "CutoffNonPeriodic", "CutoffPeriodic", "PME")
_DEFAULT_CUTOFF_NM = 1.0


def box_nm_of(box):
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


def nonbonded_arg(nonbonded, cutoff_nm, box, where):
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
    pdb = check_file(pdb, "pdb")
    files = _forcefield_files(forcefield_files)
    try:
        pdbf = app.PDBFile(pdb)
    except Exception as err:
        raise InputError(f"pdb={pdb!r} could not be read by "
                         f"openmm.app.PDBFile: {_one_line(err)}") from err
    box = box_nm_of(pdbf.topology.getPeriodicBoxVectors())
    nb_kwargs, nb_name, cut = nonbonded_arg(nonbonded, cutoff_nm, box,
                                         f"pdb={os.path.basename(pdb)!r}")
    try:
        ff = app.ForceField(*files)
    except Exception as err:  # openmm raises ValueError / OSError
        raise InputError(f"forcefield_files={files!r} could not be read by "
                         f"openmm.app.ForceField: {_one_line(err)}") from err
    kwargs = dict(nb_kwargs, constraints=constraints_arg(constraints))
    try:
        system = ff.createSystem(pdbf.topology, **kwargs)
    except ValueError as err:
        raise TopologyError(f"forcefield_files={files!r} do not match "
                            f"pdb={pdb!r}: {_one_line(err)}") from err
    n = pdbf.topology.getNumAtoms()
    return MolecularSystem(
        name=name or os.path.splitext(os.path.basename(pdb))[0],
        topology=pdbf.topology, system=system,
        positions=strip_nm(pdbf.getPositions(asNumpy=True)),
        states=states_arg(states, n),
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
    prmtop = check_file(prmtop, "prmtop")
    inpcrd = check_file(inpcrd, "inpcrd")
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
    pos = strip_nm(crd.getPositions(asNumpy=True))
    if pos.shape != (n, 3):
        raise TopologyError(f"inpcrd={inpcrd!r} has {pos.shape[0]} atoms but "
                            f"prmtop={prmtop!r} has {n}; they must describe "
                            "the same system")
    box = box_nm_of(crd.boxVectors)
    nb_kwargs, nb_name, cut = nonbonded_arg(nonbonded, cutoff_nm, box,
                                         f"inpcrd={os.path.basename(inpcrd)!r}")
    if box is not None:
        top.topology.setPeriodicBoxVectors(crd.boxVectors)
    kwargs = dict(nb_kwargs, constraints=constraints_arg(constraints),
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
        states=states_arg(states, n), force_field="AMBER prmtop" + (
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
    system_xml = check_file(system_xml, "system_xml")
    pdb = check_file(pdb, "pdb")
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
        box = box_nm_of(system.getDefaultPeriodicBoxVectors())
        pdbf.topology.setPeriodicBoxVectors(system.getDefaultPeriodicBoxVectors())
    return MolecularSystem(
        name=name or os.path.splitext(os.path.basename(pdb))[0],
        topology=pdbf.topology, system=system,
        positions=strip_nm(pdbf.getPositions(asNumpy=True)),
        states=states_arg(states, n), force_field="serialized System",
        pdb_path=os.path.abspath(pdb),
        source={"loader": "from_system_xml",
                "system_xml": os.path.abspath(system_xml),
                "pdb": os.path.abspath(pdb)}, box_vectors=box)

"""The bundled alanine dipeptide (vacuum, implicit solvent, a water box) and its states.

The record is :mod:`~mda_rcxai.systems.record`, the loaders for your own
system :mod:`~mda_rcxai.systems.loaders`, the platform settings
:mod:`~mda_rcxai.systems.platforms`; their names stay importable from here.
Everything here is plain OpenMM + numpy (no OpenPathSampling, no torch).
Positions are numpy arrays in nm (OpenMM's unit); the sampling layer
converts to Angstrom at its boundary.
"""

from __future__ import annotations

import os

from ..exceptions import InputError
from ..fileio import atomic_write
from .states import StateDefinition

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

from .loaders import (IMPLICIT_SOLVENTS, NONBONDED_METHODS, box_nm_of,  # noqa: F401
                      from_amber, from_pdb_and_forcefield, from_system_xml, nonbonded_arg)
from .platforms import platform_properties  # noqa: F401
from .record import MolecularSystem, states_arg, strip_nm  # noqa: F401

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
    box = box_nm_of(mod.topology.getPeriodicBoxVectors())
    nb_kwargs, _, _ = nonbonded_arg("PME", cutoff_nm, box, f"box_nm={box_nm}")
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
            system=system, positions=strip_nm(pos),
            states=states_arg(states, mod.topology.getNumAtoms()),
            force_field="+".join(files), pdb_path=None, box_vectors=box)
    s.source = {"loader": "alanine_dipeptide_in_water", "box_nm": box_nm,
                "cutoff_nm": cutoff_nm, "forcefield_files": files,
                "minimized": bool(minimize), "pdb": s.pdb_path}
    return s

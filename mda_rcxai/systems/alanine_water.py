"""Alanine dipeptide (ACE-ALA-NME) in TIP3P water: the bundled solvated peptide.

OpenMM + numpy only. The 22 solute atoms come first, in the order of the vacuum
system (:func:`mda_rcxai.systems.alanine_dipeptide`), then 321 waters (O, H1, H2
each) in a cube of 2.150 nm. Positions are in nm; the box is periodic (PME 0.9 nm).

Set-up and sources. Only the abstract of Kawashima et al. (arXiv:2408.02132) was
readable where this module was written, not their methods section; so the force
field, box and states here are this package's choices, stated as such: AMBER
ff99SB-ILDN + TIP3P (``amber99sbildn.xml`` + ``tip3p.xml``; for ACE-ALA-NME identical
to the ff99SB of the group's vacuum study, Kikutsuji et al. 2022, checked by a test),
300 K, and states on phi (:data:`ALANINE_WATER_STATES`). The box was built and
equilibrated by ``scripts/make_alanine_water.py`` (its docstring has the recipe).

Atom numbering of the papers
----------------------------
Kikutsuji et al. (J. Chem. Phys. 156, 154108 (2022)) number the atoms of
alanine dipeptide 1-22 in this (AMBER) order and name them element + number
(Kawashima et al. use the same group's numbering; their figure could not be
checked here): phi = C5-N7-C9-C15,
psi = N7-C9-C15-N17, theta = O6-C5-N7-C9. :data:`PAPER_ATOM_NAMES` holds
these names in atom order, so ``PAPER_ATOM_NAMES.index("H18")`` = 17 is
the 0-based index; H18 is the amide hydrogen of the C-terminal
N-methylamide (residue NME, atom name ``H``), the hydrogen whose solvent
electrostatic potential Kawashima et al. found to matter near the
transition state in water. Passing ``center_labels=PAPER_ATOM_NAMES`` to
:class:`~mda_rcxai.features.SolventPotentialFeatures` names the columns
``V[H18|water]``.

Paper name -> residue and atom name in the bundled PDB (OpenMM's standard names,
which OpenMM's ``PDBFile`` gives the vacuum file's ``HH31``... too; 0-based index =
number - 1):

* ACE1: H1 H1, C2 CH3, H3 H2, H4 H3, C5 C, O6 O
* ALA2: N7 N, H8 H, C9 CA, H10 HA, C11 CB, H12 HB1, H13 HB2, H14 HB3, C15 C, O16 O
* NME3: N17 N, **H18 H**, C19 C, H20 H1, H21 H2, H22 H3

In MDAnalysis: ``u.select_atoms("resname NME and name H")`` is H18.

Speed
-----
Measured on the 2-core development VM under load (load average ~6), OpenMM 8.6.1,
CPU platform, one thread, LangevinMiddle 2 fs, positions read every 10 steps:
140-154 steps/s for this box (985 atoms). The solvent potential at the 22 solute
atoms (Ewald, tolerance 1e-5) costs ~25 ms per frame with
:class:`~mda_rcxai.features.SolventPotentialFeatures`.
"""

from __future__ import annotations

import os

from .core import PHI, PSI, THETA
from .states import StateDefinition

__all__ = ["alanine_dipeptide_water", "create_alanine_water_system", "ALANINE_WATER_STATES",
           "ALANINE_WATER_FORCEFIELD", "ALANINE_WATER_CUTOFF_NM", "ALANINE_WATER_PDB",
           "PAPER_ATOM_NAMES", "H18_INDEX", "N_SOLUTE_ATOMS", "ALANINE_WATER_DESCRIPTION",
           "alanine_water_initial_path"]

#: OpenMM force-field files: AMBER ff99SB-ILDN (identical to ff99SB for ACE-ALA-NME) + TIP3P.
ALANINE_WATER_FORCEFIELD = ("amber99sbildn.xml", "tip3p.xml")

#: Real-space cutoff of PME, nm (below half the box side).
ALANINE_WATER_CUTOFF_NM = 0.9

#: Number of solute atoms; they come first in the bundled PDB.
N_SOLUTE_ATOMS = 22

#: Element + 1-based number of each solute atom, in atom order (the papers' numbering).
PAPER_ATOM_NAMES = ("H1", "C2", "H3", "H4", "C5", "O6", "N7", "H8", "C9", "H10", "C11",
                    "H12", "H13", "H14", "C15", "O16", "N17", "H18", "C19", "H20", "H21",
                    "H22")

#: 0-based index of H18 (the NME amide hydrogen).
H18_INDEX = PAPER_ATOM_NAMES.index("H18")

#: The shipped, equilibrated box (a path next to the package's other data).
ALANINE_WATER_PDB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                 "data", "alanine_water.pdb")

_STATES_SOURCE = (
    "Ranges of phi (C5-N7-C9-C15, atoms 4, 6, 8, 14 0-based) in degrees. In water the "
    "negative-phi basins (beta/C5, PII, C7eq, alpha_R) exchange within picoseconds by "
    "rotation of psi, and the slow step is the change of sign of phi; so C7eq is "
    "phi in [-180, -50] (every negative-phi basin, as the vacuum C7eq box on phi) and "
    "C7ax is phi in [40, 100] (the positive-phi basins C7ax and alpha_L), with no "
    "condition on psi. Kawashima et al.'s exact state boxes could not be read here; these "
    "are this package's choice, matching the vacuum boxes on phi.")

#: Stable states of the bundled alanine dipeptide in water (phi only, degrees).
ALANINE_WATER_STATES = {
    "C7eq": StateDefinition("C7eq", [PHI], [(-180.0, -50.0)], description=_STATES_SOURCE),
    "C7ax": StateDefinition("C7ax", [PHI], [(40.0, 100.0)], description=_STATES_SOURCE),
}

#: What the system is and what the literature found (the report prints it).
ALANINE_WATER_DESCRIPTION = (
    "Alanine dipeptide (ACE-ALA-NME) in a cubic box of TIP3P water (OpenMM "
    "amber99sbildn.xml + tip3p.xml; for this molecule ff99SB-ILDN equals ff99SB), PME with "
    "a 0.9 nm cutoff, bonds to H constrained, rigid water; equilibrated at 300 K and 1 bar, "
    "then NVT (scripts/make_alanine_water.py). Atoms 0-21 are the solute in the papers' "
    "numbering H1..H22 (H18 = NME amide H, index 17). States C7eq (phi in [-180, -50]) and "
    "C7ax (phi in [40, 100]). Expected from the literature: phi and theta (O6-C5-N7-C9) "
    "as in vacuum (Kikutsuji et al. 2022), and in water also the electrostatic potential "
    "of the solvent at H18 near the transition state (Kawashima et al., arXiv:2408.02132); "
    "Bolhuis, Dellago and Chandler (PNAS 2000) found phi and psi insufficient in water.")


def create_alanine_water_system(topology):
    """The OpenMM System of a peptide/water topology: PME 0.9 nm, HBonds, rigid water.

    Parameters
    ----------
    topology : openmm.app.Topology
        With periodic box vectors set (ACE-ALA-NME with AMBER names + HOH).

    Returns
    -------
    openmm.System

    Examples
    --------
    >>> from mda_rcxai.systems.alanine_water import (alanine_dipeptide_water,
    ...                                              create_alanine_water_system)
    >>> s = alanine_dipeptide_water()
    >>> create_alanine_water_system(s.topology).getNumParticles() == s.n_atoms
    True
    """
    import openmm.app as app
    import openmm.unit as u

    from ..exceptions import InputError
    if topology.getPeriodicBoxVectors() is None:
        raise InputError("topology has no periodic box; set it with "
                         "topology.setPeriodicBoxVectors(...) first")
    ff = app.ForceField(*ALANINE_WATER_FORCEFIELD)
    return ff.createSystem(topology, nonbondedMethod=app.PME,
                           nonbondedCutoff=ALANINE_WATER_CUTOFF_NM * u.nanometer,
                           constraints=app.HBonds, rigidWater=True)


def alanine_dipeptide_water(states=None):
    """The bundled alanine dipeptide in TIP3P water (PME, periodic cube), C7eq -> C7ax.

    Loads ``mda_rcxai/data/alanine_water.pdb`` (equilibrated by
    ``scripts/make_alanine_water.py``) with ``amber99sbildn.xml`` +
    ``tip3p.xml``, PME with a 0.9 nm cutoff, ``HBonds``, rigid water.

    Parameters
    ----------
    states : dict of StateDefinition, optional
        Default :data:`ALANINE_WATER_STATES` (phi ranges, degrees).

    Returns
    -------
    MolecularSystem
        Name ``"alanine_water"``; ``box_vectors`` in nm; ``description``;
        atoms 0-21 the solute (see :data:`PAPER_ATOM_NAMES`), then the
        waters.

    Examples
    --------
    >>> from mda_rcxai.systems.alanine_water import alanine_dipeptide_water, H18_INDEX
    >>> s = alanine_dipeptide_water()
    >>> s.periodic, sorted(s.states), H18_INDEX
    (True, ['C7ax', 'C7eq'], 17)
    >>> bool(s.states["C7eq"].contains(s.positions)[0])
    True
    """
    from .core import from_pdb_and_forcefield
    s = from_pdb_and_forcefield(ALANINE_WATER_PDB, list(ALANINE_WATER_FORCEFIELD),
                                ALANINE_WATER_STATES if states is None else states,
                                nonbonded="PME", cutoff_nm=ALANINE_WATER_CUTOFF_NM,
                                constraints="HBonds", name="alanine_water")
    s.force_field = "+".join(ALANINE_WATER_FORCEFIELD)
    s.source = {"loader": "alanine_dipeptide_water", "pdb": "mda_rcxai/data/alanine_water.pdb"}
    s.description = ALANINE_WATER_DESCRIPTION
    return s


# the dihedrals named in the description, for users of this module
PHI_PSI_THETA = {"phi": PHI, "psi": PSI, "theta": THETA}
__all__ += ["PHI_PSI_THETA"]


def _phi_states(state_a, state_b):
    """The dihedral (atoms) and ranges (degrees) of two states on one dihedral."""
    from ..exceptions import InputError, InputTypeError
    out = []
    for st in (state_a, state_b):
        if not isinstance(st, StateDefinition):
            raise InputTypeError(f"states must be StateDefinition objects, got "
                                 f"{type(st).__name__}")
        if len(st.features) != 1 or st.features[0].kind != "dihedral":
            raise InputError(f"state {st.name!r} is not a single dihedral range; the pull "
                             "needs states on one dihedral (as ALANINE_WATER_STATES)")
        out.append((tuple(st.features[0].atoms), st.ranges[0]))
    if out[0][0] != out[1][0]:
        raise InputError("the two states use different dihedrals; give states on the same "
                         "dihedral")
    return out[0][0], out[0][1], out[1][1]


def alanine_water_initial_path(system=None, *, state_A="C7eq", state_B="C7ax",
                               temperature: float = 300.0, seed: int = 0,
                               phi_shoot: float = 0.0, pull_ps: float = 2.0,
                               hold_ps: float = 1.0, between_ps: float = 0.5,
                               max_shots: int = 40, max_frames: int = 2000,
                               timestep_fs: float = 2.0, steps_per_frame: int = 10,
                               friction_per_ps: float = 1.0, adapt_deg: float = 3.0,
                               platform: str = "CPU", return_info: bool = False):
    """A C7eq -> C7ax transition path in water by a pull on phi and two-way shots (nm).

    The transition is rare at 300 K (and hot MD would boil the water), so:

    1. Pull: a harmonic restraint on the dihedral of the states (500
       kJ/mol/rad^2, minimum-image angle difference) moves its centre from
       the starting value to ``phi_shoot`` (degrees) in ``pull_ps`` and holds
       it there for ``hold_ps`` (Langevin at ``temperature``).
    2. Two-way shots from the restrained configuration: fresh
       Maxwell-Boltzmann velocities, free MD forward until the dihedral is in
       ``state_A`` or ``state_B``, and from the same configuration with the
       velocities reversed. If one half ends in A and the other in B, the
       two halves joined (A first) are the path; otherwise the restrained run
       goes on for ``between_ps`` and the next shot is tried, with the
       restraint's centre moved by ``adapt_deg`` towards B when both halves
       ended in A (towards A when both ended in B), so the shooting points
       drift to where the committor is near 1/2.

    Parameters
    ----------
    system : MolecularSystem, optional
        Default :func:`alanine_dipeptide_water`; its states must be ranges on
        one dihedral (as :data:`ALANINE_WATER_STATES`).
    state_A, state_B : str
        Names of the states in ``system.states``.
    temperature : float
        K.
    seed : int
        Seeds velocities and the thermostat.
    phi_shoot : float
        First centre of the restraint at the shooting points, degrees (the
        barrier between the negative- and positive-phi basins is near 0).
    adapt_deg : float
        Step of the restraint's centre after a shot whose halves both ended
        in one state, degrees (0 keeps it fixed).
    pull_ps, hold_ps, between_ps : float
        Restrained MD, ps.
    max_shots, max_frames : int
        Two-way shots to try; longest half-path in frames.
    timestep_fs, steps_per_frame, friction_per_ps : float, int, float
        Integrator settings.
    platform : str
        OpenMM platform name ("CPU" runs one thread).
    return_info : bool
        Also return ``shots``, ``shooting_frame``, ``frame_ps`` and ``phi``
        (degrees per frame).

    Returns
    -------
    positions : numpy.ndarray
        ``(n_frames, n_atoms, 3)`` nm, molecules whole (not wrapped), frame 0
        in ``state_A``, the last in ``state_B``, none between in either.
    info : dict
        Only with ``return_info=True``.

    Raises
    ------
    SamplingError
        No shot joined A and B within ``max_shots``.

    Examples
    --------
    >>> from mda_rcxai.systems.alanine_water import alanine_water_initial_path
    >>> x = alanine_water_initial_path(seed=0)  # doctest: +SKIP
    """
    import numpy as np
    import openmm
    import openmm.unit as u

    from ..exceptions import InputError, SamplingError
    from .core import platform_properties
    from .states import check_states, dihedral_degrees
    if system is None:
        system = alanine_dipeptide_water()
    sa, sb = check_states(system.states, [state_A, state_B], system.n_atoms)
    idx, range_a, range_b = _phi_states(sa, sb)
    for name, v in (("temperature", temperature), ("timestep_fs", timestep_fs),
                    ("pull_ps", pull_ps)):
        if not (np.isfinite(v) and v > 0):
            raise InputError(f"{name}={v} must be a positive number")
    for name, v in (("max_shots", max_shots), ("max_frames", max_frames),
                    ("steps_per_frame", steps_per_frame)):
        if int(v) != v or v < 1:
            raise InputError(f"{name}={v} must be a positive integer")
    if not (np.isfinite(adapt_deg) and adapt_deg >= 0):
        raise InputError(f"adapt_deg={adapt_deg} must be a number >= 0 (degrees)")
    rows = np.array([idx])

    def angle(x):
        return float(dihedral_degrees(x, rows)[0])

    def where(p):
        for lab, (lo, hi) in (("A", range_a), ("B", range_b)):
            if ((p - lo) % 360.0) <= (hi - lo):
                return lab
        return None

    omm = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system.system))
    f = openmm.CustomTorsionForce("0.5*k_dih*d^2; d = min(dt, 2*pi - dt); "
                                  "dt = abs(theta - theta0); pi = 3.141592653589793")
    f.addGlobalParameter("k_dih", 500.0)
    f.addGlobalParameter("theta0", 0.0)
    f.addTorsion(*[int(i) for i in idx], [])
    f.setForceGroup(31)
    omm.addForce(f)
    integ = openmm.LangevinMiddleIntegrator(temperature * u.kelvin,
                                            friction_per_ps / u.picosecond,
                                            timestep_fs * u.femtosecond)
    integ.setRandomNumberSeed(int(seed) % 2**31 + 1)
    plat = openmm.Platform.getPlatformByName(platform)
    ctx = openmm.Context(omm, integ, plat, platform_properties(platform, system=omm))
    if system.box_vectors is not None:
        ctx.setPeriodicBoxVectors(*np.asarray(system.box_vectors))
    ctx.setPositions(system.positions)
    ctx.setVelocitiesToTemperature(temperature * u.kelvin, int(seed))
    start = angle(system.positions)
    delta = (phi_shoot - start + 180.0) % 360.0 - 180.0
    n_pull = max(1, int(round(pull_ps * 1000 / timestep_fs / 50)))
    for s in range(n_pull):
        ctx.setParameter("theta0", np.radians(start + delta * (s + 1) / n_pull))
        integ.step(50)
    integ.step(max(1, int(round(hold_ps * 1000 / timestep_fs))))
    centre = start + delta
    rng = np.random.default_rng(seed)
    n_between = max(1, int(round(between_ps * 1000 / timestep_fs)))

    def positions():
        x = ctx.getState(getPositions=True).getPositions(asNumpy=True)
        return np.asarray(x.value_in_unit(u.nanometer))

    def half(x0, v0):
        ctx.setParameter("k_dih", 0.0)
        ctx.setPositions(x0)
        ctx.setVelocities(v0)
        frames = []
        for _ in range(int(max_frames)):
            integ.step(int(steps_per_frame))
            x = positions()
            frames.append(x)
            end = where(angle(x))
            if end is not None:
                return frames, end
        return frames, None

    for shot in range(1, int(max_shots) + 1):
        ctx.setParameter("k_dih", 500.0)
        integ.step(n_between)
        x0 = positions()
        if where(angle(x0)) is not None:
            continue
        ctx.setVelocitiesToTemperature(temperature * u.kelvin, int(rng.integers(1, 2**31 - 1)))
        ctx.applyVelocityConstraints(1e-6)
        v0 = ctx.getState(getVelocities=True).getVelocities(asNumpy=True)
        fwd, end_f = half(x0, v0)
        bwd, end_b = half(x0, -v0)
        if end_f is None or end_b is None or end_f == end_b:
            ctx.setPositions(x0)
            ctx.setVelocities(v0)
            if end_f == end_b and end_f is not None:  # move the restraint towards the other side
                centre += adapt_deg if end_f == "A" else -adapt_deg
                ctx.setParameter("theta0", np.radians(centre))
            continue
        if end_f == "B":
            frames, shoot = bwd[::-1] + [x0] + fwd, len(bwd)
        else:
            frames, shoot = fwd[::-1] + [x0] + bwd, len(fwd)
        pos = np.stack(frames)
        if not return_info:
            return pos
        return pos, {"shots": shot, "shooting_frame": shoot, "phi_restraint": centre,
                     "frame_ps": steps_per_frame * timestep_fs / 1000.0,
                     "phi": dihedral_degrees(pos, rows)[:, 0]}
    raise SamplingError(f"no {sa.name} -> {sb.name} path in max_shots={max_shots} two-way "
                        f"shots from phi_shoot={phi_shoot}; raise max_shots or max_frames, or "
                        "move phi_shoot closer to the barrier top")

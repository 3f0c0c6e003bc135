"""Na+ Cl- in TIP3P water: the bundled solvated system (OpenMM + numpy only).

Atom 0 is Na+, atom 1 is Cl-, then the waters (O, H1, H2 each). Positions
are in nm; the box is cubic and periodic (PME).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import InputError, InputTypeError
from .nacl_build import (CL_INDEX, NA_INDEX, NACL_CUTOFF_NM, NACL_FORCEFIELD,
                         add_distance_restraint, build_nacl_water, create_nacl_system,
                         minimum_image_distance, pdb_text)
from .states import StateDefinition

__all__ = ["nacl_water", "nacl_initial_path", "NACL_STATES", "NA_INDEX", "CL_INDEX",
           "NACL_FORCEFIELD", "NACL_CUTOFF_NM", "create_nacl_system",
           "add_distance_restraint", "minimum_image_distance"]

# ----------------------------------------------------------------------
# States (ranges from the PMF in mda_rcxai/data/nacl_pmf.txt; see
# docs/nacl.rst). Distances in nm, minimum image in the periodic box.
_CIP_RANGE_NM = (0.0, 0.30)
_SSIP_RANGE_NM = (0.46, 0.56)

_STATES_SOURCE = (
    "Na-Cl distance ranges (nm, minimum image) from the umbrella-sampling "
    "PMF of this box (mda_rcxai/data/nacl_pmf.txt, made by "
    "scripts/nacl_pmf.py): CIP minimum at 2.75 A, barrier at 3.55 A "
    "(4.9 kT above CIP), SSIP minimum at 5.05 A (0.6 kT above CIP). CIP = "
    "r <= 3.0 A (the contact well up to ~1.4 kT above its minimum); SSIP = "
    "4.6-5.6 A (the solvent-separated well within ~0.7 kT of its minimum); "
    "the 3.0-4.6 A gap holds the barrier.")

#: Stable states of the bundled NaCl box: contact (CIP) and
#: solvent-separated (SSIP) ion pair, on the Na-Cl distance in nm.
NACL_STATES = {
    "CIP": StateDefinition("CIP", [("distance", (NA_INDEX, CL_INDEX))],
                           [_CIP_RANGE_NM], description=_STATES_SOURCE),
    "SSIP": StateDefinition("SSIP", [("distance", (NA_INDEX, CL_INDEX))],
                            [_SSIP_RANGE_NM], description=_STATES_SOURCE),
}

_DESCRIPTION = """\
Na+ and Cl- in a cubic box of TIP3P water (OpenMM amber14-all.xml +
amber14/tip3p.xml, Joung-Cheatham ions), PME with a 0.9 nm cutoff, bonds to
H constrained, rigid water; equilibrated at 300 K and 1 bar, then NVT
(scripts/make_nacl_water.py; recipe: mda_rcxai.systems.nacl_build).
Atom 0 is Na+, atom 1 Cl-.
States on the minimum-image Na-Cl distance r: CIP (contact ion pair) and
SSIP (solvent-separated ion pair), chosen from the potential of mean force
w(r) computed for this box by umbrella sampling + WHAM
(scripts/nacl_pmf.py, table mda_rcxai/data/nacl_pmf.txt); a gap is
left around the barrier between them.
Expected from the literature (Geissler, Dellago and Chandler, J. Phys.
Chem. B 103, 3706 (1999)): r alone is not a good reaction coordinate;
configurations at the top of w(r) have committors spread from 0 to 1, and
the solvent (the number of water molecules coordinating the ions, in
particular Na+) decides whether the pair separates. Measured on this box
(scripts/nacl_pmf.py --committor): 20 configurations at r = 3.50-3.59 A
(the PMF top) had p_SSIP from 0.1 to 1.0 (10 shots each). Okada et al.
(arXiv:2512.09468) found water-oxygen coordination of Na+ and the waters
bridging both ions among the decisive descriptors."""


def _description(marks=None):
    text = _DESCRIPTION
    cip = tuple(10 * x for x in _CIP_RANGE_NM)
    ssip = tuple(10 * x for x in _SSIP_RANGE_NM)
    text += (f"\nCIP: r in [{cip[0]:.1f}, {cip[1]:.1f}] A; SSIP: r in "
             f"[{ssip[0]:.1f}, {ssip[1]:.1f}] A.")
    if marks:
        text += (f" PMF: CIP minimum at {marks['r_cip']:.2f} A, barrier at "
                 f"{marks['r_ts']:.2f} A ({marks['barrier_kT']:.1f} kT above "
                 f"CIP), SSIP minimum at {marks['r_ssip']:.2f} A "
                 f"({marks['ssip_kT']:+.1f} kT).")
    return text


def _pmf_marks():
    from ..data import NACL_PMF_TXT
    import os
    if not os.path.exists(NACL_PMF_TXT):
        return None
    from .nacl_pmf import read_table
    t = read_table(NACL_PMF_TXT)
    keys = ("r_cip", "r_ts", "barrier_kT", "r_ssip", "ssip_kT")
    return {k: t[k] for k in keys} if all(k in t for k in keys) else None


def nacl_water(box_nm: float | None = None, *, seed: int = 2026,
               platform: str = "CPU"):
    """Na+ Cl- in TIP3P water (PME, periodic cube) with states CIP and SSIP.

    Parameters
    ----------
    box_nm : float or None
        None (default): the bundled, equilibrated box (245 waters, 737
        atoms, side 1.954 nm, ions in contact). A number: build a new box of
        that side with :func:`mda_rcxai.systems.nacl_build.build_nacl_water`
        (Modeller, minimisation, NVT/NPT/NVT equilibration, about 40 ps of
        MD: minutes on one core); the final side is a few percent smaller
        after NPT. At least 1.95 nm (the 0.9 nm cutoff must stay below half
        the box).
    seed : int
        Seed of the equilibration when ``box_nm`` is given (ignored
        otherwise).
    platform : str
        OpenMM platform for that equilibration ("CPU", "CUDA", ...).

    Returns
    -------
    MolecularSystem
        Name ``"nacl_water"``; ``box_vectors`` (nm), ``description``
        (the system, the states and what the literature expects), states
        ``"CIP"`` and ``"SSIP"`` on the distance between atoms 0 (Na+) and
        1 (Cl-) in nm (see :data:`NACL_STATES`).

    Raises
    ------
    InputError
        ``box_nm`` not a number or too small.

    Examples
    --------
    >>> from mda_rcxai.systems import nacl_water
    >>> s = nacl_water()
    >>> s.n_atoms, s.periodic, sorted(s.states)
    (737, True, ['CIP', 'SSIP'])
    >>> bool(s.states["CIP"].contains(s.positions)[0])
    True
    """
    from ..data import NACL_WATER_PDB
    from .core import from_pdb_and_forcefield
    if box_nm is None:
        s = from_pdb_and_forcefield(NACL_WATER_PDB, list(NACL_FORCEFIELD),
                                    NACL_STATES, nonbonded="PME",
                                    cutoff_nm=NACL_CUTOFF_NM,
                                    constraints="HBonds", name="nacl_water")
        s.source = {"loader": "nacl_water", "pdb": NACL_WATER_PDB,
                    "box_nm": None}
    else:
        if isinstance(box_nm, bool) or not isinstance(
                box_nm, (int, float, np.integer, np.floating)):
            raise InputTypeError(f"box_nm must be a number (nm) or None, "
                                 f"got {type(box_nm).__name__}")
        if not np.isfinite(box_nm) or box_nm < 1.95:
            raise InputError(
                f"box_nm={box_nm} is too small: the 0.9 nm PME cutoff must "
                "stay below half the box after NPT; use box_nm >= 1.95 or "
                "None for the bundled box")
        import os
        import tempfile

        top, pos, info = build_nacl_water(float(box_nm), seed,
                                          platform=platform)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "nacl_water.pdb")
            with open(path, "w") as fh:
                fh.write(pdb_text(top, pos))
            s = from_pdb_and_forcefield(path, list(NACL_FORCEFIELD),
                                        NACL_STATES, nonbonded="PME",
                                        cutoff_nm=NACL_CUTOFF_NM,
                                        constraints="HBonds",
                                        name="nacl_water")
        s.pdb_path = None
        s.source = {"loader": "nacl_water", "box_nm": float(box_nm),
                    "seed": int(seed), "final_box_nm": info["box_nm"],
                    "n_waters": info["n_waters"],
                    "r_nacl_nm": info["r_nacl_nm"],
                    "potential_kj_mol": info["potential_kj_mol"]}
    s.force_field = "amber14-all.xml+amber14/tip3p.xml"
    s.description = _description(_pmf_marks())
    return s


def _r_of(state_a, state_b):
    """The (Na, Cl) atoms and distance ranges (nm) of two distance states."""
    out = []
    for st in (state_a, state_b):
        if not isinstance(st, StateDefinition):
            raise InputTypeError(f"states must be StateDefinition objects, "
                                 f"got {type(st).__name__}")
        if len(st.features) != 1 or st.features[0].kind != "distance":
            raise InputError(
                f"state {st.name!r} is not a single distance range; "
                "nacl_initial_path needs states on one distance (as "
                "NACL_STATES)")
        out.append((st.features[0].atoms, st.ranges[0]))
    if out[0][0] != out[1][0]:
        raise InputError("the two states use different atom pairs; give "
                         "states on the same distance")
    return out[0][0], out[0][1], out[1][1]


def nacl_initial_path(system=None, *, state_A="CIP", state_B="SSIP",
                      temperature: float = 300.0, seed: int = 0,
                      r_shoot_nm: float = 0.36, pull_ps: float = 2.0,
                      hold_ps: float = 2.0, between_ps: float = 0.5,
                      max_shots: int = 40, max_frames: int = 2000,
                      timestep_fs: float = 2.0, steps_per_frame: int = 10,
                      friction_per_ps: float = 1.0, platform: str = "CPU",
                      return_info: bool = False):
    """A CIP -> SSIP transition path of plain MD at ``temperature`` (nm).

    Method (no hot MD: at 1300 K this water box is a supercritical fluid):

    1. Pull: a harmonic restraint (5000 kJ/mol/nm^2) on the Na-Cl distance
       moves from the starting distance to ``r_shoot_nm`` (near the top of
       the PMF barrier) in ``pull_ps`` and holds it there for ``hold_ps``
       (Langevin at ``temperature``).
    2. Two-way shots: from the restrained configuration, fresh
       Maxwell-Boltzmann velocities; unrestrained Langevin MD forward until
       the distance is in ``state_A`` or ``state_B``, and from the same
       configuration with the velocities reversed, likewise. If one half
       ends in A and the other in B, the two halves joined (A first) are
       the path: every frame after the shooting point is unbiased dynamics
       at ``temperature`` (as in two-way TPS shooting). Otherwise the
       restrained run continues for ``between_ps`` and the next shot is
       tried, at most ``max_shots``.

    Parameters
    ----------
    system : MolecularSystem, optional
        Default :func:`nacl_water`. Its states ``state_A`` / ``state_B``
        must be ranges on one distance (as :data:`NACL_STATES`).
    state_A, state_B : str or StateDefinition
    temperature : float
        K.
    seed : int
        Seeds velocities and the thermostat; the same seed gives the same
        path (one CPU thread with deterministic forces, see
        :func:`~mda_rcxai.systems.platform_properties`).
    r_shoot_nm : float
        Distance the pull ends at, nm (the PMF barrier is at ~0.36 nm).
    pull_ps, hold_ps, between_ps : float
        Restrained MD lengths, ps.
    max_shots : int
        Two-way shots to try.
    max_frames : int
        Longest half-path, frames.
    timestep_fs, steps_per_frame, friction_per_ps : float, int, float
        Integrator settings (fs, MD steps per frame, 1/ps).
    platform : str
        OpenMM platform name ("CPU" runs one thread).
    return_info : bool
        Also return a dict with ``shots`` (tried), ``frame_ps``,
        ``shooting_frame`` and ``r_nm`` (distance per frame, minimum image).

    Returns
    -------
    positions : numpy.ndarray
        ``(n_frames, n_atoms, 3)`` in nm, not wrapped into the box
        (molecules whole, continuous in time); frame 0 in ``state_A``, the
        last in ``state_B``, none between in either; frames
        ``steps_per_frame * timestep_fs`` apart.
    info : dict
        Only with ``return_info=True``.

    Raises
    ------
    SamplingError
        No shot joined A and B within ``max_shots``.

    Examples
    --------
    >>> from mda_rcxai.systems.nacl import nacl_initial_path
    >>> x = nacl_initial_path(seed=0)  # doctest: +SKIP
    >>> x.shape  # doctest: +SKIP
    (93, 737, 3)
    """
    import openmm
    import openmm.unit as u

    from ..exceptions import SamplingError
    from .core import platform_properties
    from .states import check_states
    if system is None:
        system = nacl_water()
    sa, sb = check_states(system.states, [state_A, state_B], system.n_atoms)
    (i, j), range_a, range_b = _r_of(sa, sb)
    for name, v in (("temperature", temperature), ("r_shoot_nm", r_shoot_nm),
                    ("timestep_fs", timestep_fs)):
        if not (np.isfinite(v) and v > 0):
            raise InputError(f"{name}={v} must be a positive number")
    for name, v in (("max_shots", max_shots), ("max_frames", max_frames),
                    ("steps_per_frame", steps_per_frame)):
        if int(v) != v or v < 1:
            raise InputError(f"{name}={v} must be a positive integer")
    if not system.periodic:
        raise InputError("system must be periodic (a water box); got a "
                         "system without box_vectors")
    box = np.diag(np.asarray(system.box_vectors))

    def where(r):
        if range_a[0] <= r <= range_a[1]:
            return "A"
        if range_b[0] <= r <= range_b[1]:
            return "B"
        return None

    omm = openmm.XmlSerializer.deserialize(
        openmm.XmlSerializer.serialize(system.system))
    k_idx = add_distance_restraint(omm, i, j, 5000.0, r_shoot_nm)
    omm.getForce(k_idx).setForceGroup(31)
    dt = timestep_fs * u.femtosecond
    integ = openmm.LangevinMiddleIntegrator(temperature * u.kelvin,
                                            friction_per_ps / u.picosecond, dt)
    integ.setRandomNumberSeed(int(seed) % 2**31 + 1)
    plat = openmm.Platform.getPlatformByName(platform)
    ctx = openmm.Context(omm, integ, plat, platform_properties(platform, system=omm))
    ctx.setPeriodicBoxVectors(*np.asarray(system.box_vectors))
    ctx.setPositions(system.positions)
    ctx.setVelocitiesToTemperature(temperature * u.kelvin, int(seed))
    r_start = float(minimum_image_distance(system.positions, i, j, box))
    n_pull = max(1, int(round(pull_ps * 1000 / timestep_fs / 50)))
    for s in range(n_pull):  # move the restraint in 50-step stages
        ctx.setParameter("r0_restraint", r_start + (r_shoot_nm - r_start)
                         * (s + 1) / n_pull)
        integ.step(50)
    integ.step(max(1, int(round(hold_ps * 1000 / timestep_fs))))
    rng = np.random.default_rng(seed)
    n_between = max(1, int(round(between_ps * 1000 / timestep_fs)))

    def half(x0, v0):
        ctx.setParameter("k_restraint", 0.0)
        ctx.setPositions(x0)
        ctx.setVelocities(v0)
        frames = []
        for _ in range(int(max_frames)):
            integ.step(int(steps_per_frame))
            x = ctx.getState(getPositions=True).getPositions(asNumpy=True)
            x = np.asarray(x.value_in_unit(u.nanometer))
            frames.append(x)
            end = where(float(minimum_image_distance(x, i, j, box)))
            if end is not None:
                return frames, end
        return frames, None

    for shot in range(1, int(max_shots) + 1):
        ctx.setParameter("k_restraint", 5000.0)
        ctx.setParameter("r0_restraint", r_shoot_nm)
        integ.step(n_between)
        st = ctx.getState(getPositions=True)
        x0 = np.asarray(st.getPositions(asNumpy=True).value_in_unit(u.nanometer))
        if where(float(minimum_image_distance(x0, i, j, box))) is not None:
            continue
        ctx.setVelocitiesToTemperature(temperature * u.kelvin,
                                       int(rng.integers(1, 2**31 - 1)))
        ctx.applyVelocityConstraints(1e-6)
        v0 = ctx.getState(getVelocities=True).getVelocities(asNumpy=True)
        fwd, end_f = half(x0, v0)
        bwd, end_b = half(x0, -v0)
        if end_f is None or end_b is None or end_f == end_b:
            ctx.setPositions(x0)  # back to the restrained run
            ctx.setVelocities(v0)
            continue
        if end_f == "B":
            frames = bwd[::-1] + [x0] + fwd
            shoot = len(bwd)
        else:
            frames = fwd[::-1] + [x0] + bwd
            shoot = len(fwd)
        pos = np.stack(frames)
        if not return_info:
            return pos
        return pos, {"shots": shot, "shooting_frame": shoot,
                     "frame_ps": steps_per_frame * timestep_fs / 1000.0,
                     "r_nm": minimum_image_distance(pos, i, j, box)}
    raise SamplingError(
        f"no CIP->SSIP path in max_shots={max_shots} two-way shots from "
        f"r_shoot_nm={r_shoot_nm}; raise max_shots or max_frames, or move "
        "r_shoot_nm closer to the barrier top")

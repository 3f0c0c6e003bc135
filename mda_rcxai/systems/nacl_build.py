"""The bundled NaCl-in-water box: its force field, the Na-Cl restraint, and how it was made.

``python scripts/make_nacl_water.py [--box-nm 2.0] [--seed 2026]`` (in the
source tree, outside the package) rewrites ``mda_rcxai/data/nacl_water.pdb``
with :func:`build_nacl_water` and :func:`pdb_text`;
:func:`mda_rcxai.systems.nacl_water` calls them for a box of another size.

Recipe (OpenMM, CPU platform, one thread: the script sets
``OPENMM_CPU_THREADS=1``, because the CPU platform's PME does not follow the
Context's ``Threads`` property and with several threads two runs with the
same seed drift apart within a step, ~1e-10 nm, then chaotically; with one
thread the same seed gives the same file on the same machine):

1. One Na+ (atom 0) and one Cl- (atom 1) on the x axis at the box centre,
   0.28 nm apart (contact), solvated by :class:`openmm.app.Modeller`
   ``addSolvent(model="tip3p", boxSize=(L, L, L), neutralize=False)`` with
   ``amber14-all.xml`` + ``amber14/tip3p.xml`` (TIP3P and the Joung-Cheatham
   2008 ion parameters for TIP3P that ship with that file).
2. PME, 0.9 nm cutoff, ``HBonds`` constraints, rigid water (see
   :func:`mda_rcxai.systems.nacl.create_nacl_system`). A harmonic restraint
   on the Na-Cl distance (minimum image, 0.28 nm, 5000 kJ/mol/nm^2) holds
   the pair in contact during steps 3-5.
3. Energy minimisation; Langevin (LangevinMiddle, 2 fs, 1/ps) NVT at 300 K
   for 5 ps.
4. NPT at 300 K and 1 bar (Monte Carlo barostat every 25 steps) for 30 ps:
   Modeller's water box is ~6 % below TIP3P's density in boxes this small
   (it cannot tile a 2 nm cube with its 1.86 nm pre-equilibrated box). The
   box is then set to the cube of the mean volume of the last 15 ps, the
   molecule centres scaled to it.
5. Minimisation again, NVT 300 K for 20 ps with the restraint and 5 ps
   without it, continued in 0.2 ps pieces (at most 10 ps) until the pair
   is in the contact well (r <= 0.29 nm). The last frame is
   written with molecules whole (``enforcePeriodicBox``), the CRYST1 box and
   OpenMM's CONECT records.

Default ``L = 2.0`` nm: 245 waters, 737 atoms, and after NPT a box of about
1.95 nm, so the 0.9 nm cutoff stays below half the box.

The shipped ``nacl_water.pdb`` (side 1.9541 nm) was made with this recipe
and seed 2026 before the thread count was pinned, so a rebuild gives a
statistically equivalent box (e.g. side 1.9570 nm), not the same bytes; the
PMF and the states belong to the shipped file. Measured there
~1.35x the speed of the 2.2 nm box of issue 13 (331 waters).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import InputError

__all__ = ["NA_INDEX", "CL_INDEX", "NACL_FORCEFIELD", "NACL_CUTOFF_NM", "create_nacl_system",
           "add_distance_restraint", "minimum_image_distance", "build_nacl_water", "pdb_text"]

#: Atom indices of the ions in the bundled box (0-based).
NA_INDEX = 0
CL_INDEX = 1

#: OpenMM force-field files: AMBER14 with TIP3P and its Joung-Cheatham ions.
NACL_FORCEFIELD = ("amber14-all.xml", "amber14/tip3p.xml")

#: Real-space cutoff of PME, nm (must stay below half the box side).
NACL_CUTOFF_NM = 0.9


def create_nacl_system(topology):
    """The OpenMM System of an ion/water topology: PME, 0.9 nm, HBonds, rigid water.

    Parameters
    ----------
    topology : openmm.app.Topology
        With periodic box vectors set.

    Returns
    -------
    openmm.System

    Examples
    --------
    >>> from mda_rcxai.systems import nacl_water
    >>> from mda_rcxai.systems.nacl import create_nacl_system
    >>> s = nacl_water()
    >>> create_nacl_system(s.topology).getNumParticles() == s.n_atoms
    True
    """
    import openmm.app as app
    import openmm.unit as u
    if topology.getPeriodicBoxVectors() is None:
        raise InputError("topology has no periodic box; set it with "
                         "topology.setPeriodicBoxVectors(...) first")
    ff = app.ForceField(*NACL_FORCEFIELD)
    return ff.createSystem(topology, nonbondedMethod=app.PME,
                           nonbondedCutoff=NACL_CUTOFF_NM * u.nanometer,
                           constraints=app.HBonds, rigidWater=True)


def add_distance_restraint(system, i: int, j: int, k_kj_mol_nm2: float,
                           r0_nm: float) -> int:
    """Add a harmonic restraint ``k/2 (r_ij - r0)^2`` on a minimum-image distance.

    A :class:`openmm.CustomBondForce` with periodic boundary conditions;
    ``k`` and ``r0`` are global parameters (``"k_restraint"``,
    ``"r0_restraint"``) so a context can move the restraint
    (``context.setParameter("r0_restraint", 0.35)``).

    Parameters
    ----------
    system : openmm.System
    i, j : int
        Atom indices.
    k_kj_mol_nm2 : float
        Force constant, kJ/mol/nm^2.
    r0_nm : float
        Centre, nm.

    Returns
    -------
    int
        Index of the added force.

    Examples
    --------
    >>> import openmm
    >>> s = openmm.System(); _ = s.addParticle(1.0); _ = s.addParticle(1.0)
    >>> add_distance_restraint(s, 0, 1, 1000.0, 0.3)
    0
    """
    import openmm
    if not (np.isfinite(k_kj_mol_nm2) and k_kj_mol_nm2 >= 0):
        raise InputError(f"k_kj_mol_nm2={k_kj_mol_nm2} must be a finite "
                         "number >= 0")
    if not (np.isfinite(r0_nm) and r0_nm >= 0):
        raise InputError(f"r0_nm={r0_nm} must be a finite distance >= 0 (nm)")
    f = openmm.CustomBondForce("0.5*k_restraint*(r-r0_restraint)^2")
    f.addGlobalParameter("k_restraint", float(k_kj_mol_nm2))
    f.addGlobalParameter("r0_restraint", float(r0_nm))
    f.addBond(int(i), int(j), [])
    f.setUsesPeriodicBoundaryConditions(True)
    return system.addForce(f)


def minimum_image_distance(positions_nm, i: int, j: int, box_nm) -> np.ndarray:
    """Distance between atoms ``i`` and ``j`` in a cubic/orthorhombic box, nm.

    Parameters
    ----------
    positions_nm : array_like
        ``(n_atoms, 3)`` or ``(n_frames, n_atoms, 3)``, nm.
    i, j : int
    box_nm : float or array_like of 3 floats
        Box side(s), nm.

    Returns
    -------
    float or numpy.ndarray
        One distance per frame.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.1, 0, 0], [1.9, 0, 0]])
    >>> round(float(minimum_image_distance(x, 0, 1, 2.0)), 6)
    0.2
    """
    pos = np.asarray(positions_nm, dtype=float)
    box = np.broadcast_to(np.asarray(box_nm, dtype=float), (3,))
    d = pos[..., j, :] - pos[..., i, :]
    d -= box * np.round(d / box)
    return np.linalg.norm(d, axis=-1)


def _run(integrator, context, n_steps, log=None, every=500):
    done = 0
    while done < n_steps:
        k = min(every, n_steps - done)
        integrator.step(k)
        done += k
        if log is not None:
            log(context)


def build_nacl_water(box_nm: float = 2.0, seed: int = 2026, *,
                     platform: str = "CPU", verbose: bool = False):
    """Solvate, minimise and equilibrate Na+ Cl- in TIP3P (see the module doc).

    Parameters
    ----------
    box_nm : float
        Side of the cube that Modeller fills, nm (the box after NPT is a few
        percent smaller). Must leave half the final box above the 0.9 nm
        cutoff: at least 1.95 nm.
    seed : int
        Seeds the velocities, the thermostat and the barostat.
    platform : str
        OpenMM platform name ("CPU" is repeatable when the environment has
        ``OPENMM_CPU_THREADS=1``, as :func:`main` sets it).
    verbose : bool
        Print progress.

    Returns
    -------
    topology : openmm.app.Topology
        With the final periodic box set.
    positions : numpy.ndarray
        ``(n_atoms, 3)``, nm, molecules whole.
    info : dict
        ``box_nm`` (final side), ``n_waters``, ``r_nacl_nm`` (final Na-Cl
        distance, minimum image), ``potential_kj_mol``.

    Examples
    --------
    >>> from mda_rcxai.systems.nacl_build import build_nacl_water
    >>> top, pos, info = build_nacl_water(2.0)  # doctest: +SKIP
    """
    import openmm
    import openmm.app as app
    import openmm.unit as u


    box_nm = float(box_nm)
    if not np.isfinite(box_nm) or box_nm < 2 * NACL_CUTOFF_NM / 0.95 + 0.05:
        raise InputError(
            f"box_nm={box_nm} is too small: the box shrinks ~3 % under NPT "
            f"and half of it must exceed the {NACL_CUTOFF_NM} nm cutoff; use "
            "box_nm >= 1.95")
    say = print if verbose else (lambda *a, **k: None)
    ff = app.ForceField(*NACL_FORCEFIELD)
    top = app.Topology()
    chain = top.addChain("A")
    res = top.addResidue("NA", chain, id="1")
    top.addAtom("NA", app.element.sodium, res)
    res = top.addResidue("CL", chain, id="2")
    top.addAtom("CL", app.element.chlorine, res)
    c = box_nm / 2
    pos = [openmm.Vec3(c - 0.14, c, c), openmm.Vec3(c + 0.14, c, c)]
    modeller = app.Modeller(top, pos * u.nanometer)
    modeller.addSolvent(ff, model="tip3p",
                        boxSize=openmm.Vec3(box_nm, box_nm, box_nm) * u.nanometer,
                        neutralize=False)
    top = modeller.topology
    pos = np.asarray(modeller.getPositions().value_in_unit(u.nanometer))
    n_waters = top.getNumResidues() - 2
    say(f"Modeller: {n_waters} waters in a {box_nm} nm cube")

    plat = openmm.Platform.getPlatformByName(platform)
    props = {"Threads": "1"} if platform == "CPU" else {}

    def make(box, barostat=False, restrained=True):
        top.setPeriodicBoxVectors(np.eye(3) * box * u.nanometer)
        system = create_nacl_system(top)
        if restrained:
            add_distance_restraint(system, 0, 1, 5000.0, 0.28)
        if barostat:
            b = openmm.MonteCarloBarostat(1.0 * u.bar, 300 * u.kelvin, 25)
            b.setRandomNumberSeed(seed + 7)
            system.addForce(b)
        integ = openmm.LangevinMiddleIntegrator(300 * u.kelvin, 1 / u.picosecond,
                                                2 * u.femtosecond)
        integ.setRandomNumberSeed(seed + 1)
        ctx = openmm.Context(system, integ, plat, props)
        return integ, ctx

    # 3. minimise + NVT 5 ps (restrained)
    integ, ctx = make(box_nm)
    ctx.setPositions(pos)
    openmm.LocalEnergyMinimizer.minimize(ctx, 10.0, 2000)
    ctx.setVelocitiesToTemperature(300 * u.kelvin, seed)
    _run(integ, ctx, 2500)
    st = ctx.getState(getPositions=True, getVelocities=True)
    pos = st.getPositions(asNumpy=True).value_in_unit(u.nanometer)
    vel = st.getVelocities(asNumpy=True)
    # 4. NPT 30 ps
    integ, ctx = make(box_nm, barostat=True)
    ctx.setPositions(pos)
    ctx.setVelocities(vel)
    vols = []

    def log_volume(context):
        v = context.getState().getPeriodicBoxVolume().value_in_unit(
            u.nanometer ** 3)
        vols.append(v)

    _run(integ, ctx, 7500)
    _run(integ, ctx, 7500, log=log_volume, every=100)
    st = ctx.getState(getPositions=True, getVelocities=True,
                      enforcePeriodicBox=True)
    box_now = st.getPeriodicBoxVectors(asNumpy=True).value_in_unit(u.nanometer)[0, 0]
    pos = st.getPositions(asNumpy=True).value_in_unit(u.nanometer)
    vel = st.getVelocities(asNumpy=True)
    new_box = float(np.mean(vols)) ** (1 / 3)
    say(f"NPT: mean side {new_box:.4f} nm (last {box_now:.4f}, "
        f"density {(n_waters * 18.015 + 58.44) / 602.214 / np.mean(vols):.3f}"
        " g/cm3)")
    if new_box / 2 <= NACL_CUTOFF_NM:
        raise InputError(f"box_nm={box_nm}: after NPT the box is {new_box:.3f}"
                         f" nm, half of it below the {NACL_CUTOFF_NM} nm "
                         "cutoff; use a larger box_nm")
    scale = new_box / box_now
    for res in top.residues():
        idx = [a.index for a in res.atoms()]
        centre = pos[idx].mean(axis=0)
        pos[idx] += (scale - 1.0) * centre
    # 5. minimise, NVT 20 ps restrained, 5 ps free
    integ, ctx = make(new_box)
    ctx.setPositions(pos)
    openmm.LocalEnergyMinimizer.minimize(ctx, 10.0, 2000)
    ctx.setVelocities(vel)
    _run(integ, ctx, 10000)
    st = ctx.getState(getPositions=True, getVelocities=True)
    pos = st.getPositions(asNumpy=True).value_in_unit(u.nanometer)
    vel = st.getVelocities(asNumpy=True)
    integ, ctx = make(new_box, restrained=False)
    ctx.setPositions(pos)
    ctx.setVelocities(vel)
    _run(integ, ctx, 2500)
    for _ in range(51):  # end in the contact well (r <= 0.29 nm): on in 0.2 ps
        st = ctx.getState(getPositions=True, getEnergy=True,
                          enforcePeriodicBox=True)
        pos = np.asarray(st.getPositions(asNumpy=True).value_in_unit(
            u.nanometer))
        r = float(minimum_image_distance(pos, 0, 1, new_box))
        if r <= 0.29:
            break
        _run(integ, ctx, 100)
    else:
        raise RuntimeError(f"the pair left contact (r = {r:.3f} nm) in the "
                           "free NVT run; try another seed")
    epot = st.getPotentialEnergy().value_in_unit(u.kilojoule_per_mole)
    say(f"final: r(Na-Cl) = {r:.3f} nm, E_pot = {epot:.1f} kJ/mol "
        f"({epot / n_waters:.2f} per water)")
    top.setPeriodicBoxVectors(np.eye(3) * new_box * u.nanometer)
    return top, pos, {"box_nm": new_box, "n_waters": n_waters,
                      "r_nacl_nm": r, "potential_kj_mol": epot,
                      "seed": seed, "box_nm_requested": box_nm}


def pdb_text(topology, positions_nm, remarks=()) -> str:
    """PDB text (CRYST1, CONECT as OpenMM writes them) with REMARK lines."""
    import io

    import openmm.app as app
    import openmm.unit as u
    buf = io.StringIO()
    app.PDBFile.writeFile(topology, np.asarray(positions_nm) * 10.0 * u.angstrom,
                          buf, keepIds=True)
    lines = buf.getvalue().splitlines(keepends=True)
    if lines and lines[0].startswith("REMARK   1 CREATED WITH OPENMM"):
        lines = lines[1:]  # it carries the date: the file would not repeat
    rem = [f"REMARK   1 {r}\n" for r in remarks]
    return "".join(rem) + "".join(lines)

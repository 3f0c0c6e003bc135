"""Replicas of an isolated molecule in one OpenMM Context.

Committor shooting of a small molecule in vacuum is dominated by per-step
and per-frame overhead (one OpenMM ``step`` call, one ``getState`` and one
state test per frame), not by force evaluation. :func:`build_replica_system`
puts ``K`` non-interacting copies of the molecule into one
:class:`openmm.System`; :class:`ReplicaBatch` integrates them together with
a per-shot-noise Langevin integrator (:func:`per_shot_langevin`) and plugs
into the one run-until-a-state loop of
:func:`mda_rcxai.sampling.core.run_until_state`.

Only isolated molecules qualify: no periodic box, no cutoff, and only
forces whose per-molecule terms can be copied (harmonic bonds and angles,
periodic / Ryckaert-Bellemans / CMAP torsions, ``Custom{Bond,Angle,
Torsion}Force`` and a ``NonbondedForce`` with ``NoCutoff``). Anything else
(solvent, PME, implicit solvent, ...) is refused with a pointer to the
per-configuration routes.

Units: positions nm, velocities nm/ps, masses Da, energies kJ/mol,
temperature K, time step fs, friction 1/ps.
"""

from __future__ import annotations

import numpy as np
import openmm
import openmm.unit as unit

from ..exceptions import InputError, InputTypeError
from ..systems import MolecularSystem
from .core import (EngineSettings, create_context,
                   maxwell_boltzmann, state_arrays, velocity_sigma)

__all__ = ["build_replica_system", "ReplicaBatch", "per_shot_langevin",
           "shot_rng", "COULOMB_CONSTANT"]

#: OpenMM's ONE_4PI_EPS0, kJ nm / (mol e^2) (the value in its kernels).
COULOMB_CONSTANT = 138.93545764438198

_PAIR_ENERGY = ("{kc}*qq/r + 4*eps*(sr6*sr6 - sr6); sr6 = (sig/r)^6"
                .format(kc=repr(COULOMB_CONSTANT)))

_OPS_HINT = ("batched shooting handles isolated molecules only; for this "
             "system use method='lean' or 'ops' of "
             "mda_rcxai.sampling.run_committor (parallel on Dask workers)")


# ----------------------------------------------------------------------
# the replica System
def _copy_bonded(force, n_atoms, n_replicas):
    """A copy of a bonded force holding the terms of every replica."""
    kind = type(force).__name__
    if kind == "HarmonicBondForce":
        new = openmm.HarmonicBondForce()
        terms = [force.getBondParameters(b) for b in range(force.getNumBonds())]
        for k in range(n_replicas):
            o = k * n_atoms
            for i, j, r0, kb in terms:
                new.addBond(i + o, j + o, r0, kb)
    elif kind == "HarmonicAngleForce":
        new = openmm.HarmonicAngleForce()
        terms = [force.getAngleParameters(a)
                 for a in range(force.getNumAngles())]
        for k in range(n_replicas):
            o = k * n_atoms
            for i, j, l, a0, ka in terms:
                new.addAngle(i + o, j + o, l + o, a0, ka)
    elif kind == "PeriodicTorsionForce":
        new = openmm.PeriodicTorsionForce()
        terms = [force.getTorsionParameters(t)
                 for t in range(force.getNumTorsions())]
        for k in range(n_replicas):
            o = k * n_atoms
            for i, j, l, m, per, ph, kt in terms:
                new.addTorsion(i + o, j + o, l + o, m + o, per, ph, kt)
    elif kind == "RBTorsionForce":
        new = openmm.RBTorsionForce()
        terms = [force.getTorsionParameters(t)
                 for t in range(force.getNumTorsions())]
        for k in range(n_replicas):
            o = k * n_atoms
            for t in terms:
                new.addTorsion(*[a + o for a in t[:4]], *t[4:])
    elif kind == "CMAPTorsionForce":
        new = openmm.CMAPTorsionForce()
        for m in range(force.getNumMaps()):
            size, energy = force.getMapParameters(m)
            new.addMap(size, energy)
        terms = [force.getTorsionParameters(t)
                 for t in range(force.getNumTorsions())]
        for k in range(n_replicas):
            o = k * n_atoms
            for t in terms:
                new.addTorsion(t[0], *[a + o for a in t[1:]])
    elif kind in ("CustomBondForce", "CustomAngleForce",
                  "CustomTorsionForce"):
        if force.getNumTabulatedFunctions() if hasattr(
                force, "getNumTabulatedFunctions") else 0:
            return None
        if force.getNumEnergyParameterDerivatives():
            return None
        new = getattr(openmm, kind)(force.getEnergyFunction())
        for p in range(force.getNumPerBondParameters() if kind ==
                       "CustomBondForce" else
                       force.getNumPerAngleParameters() if kind ==
                       "CustomAngleForce" else
                       force.getNumPerTorsionParameters()):
            name = (force.getPerBondParameterName(p) if kind ==
                    "CustomBondForce" else
                    force.getPerAngleParameterName(p) if kind ==
                    "CustomAngleForce" else
                    force.getPerTorsionParameterName(p))
            (new.addPerBondParameter if kind == "CustomBondForce" else
             new.addPerAngleParameter if kind == "CustomAngleForce" else
             new.addPerTorsionParameter)(name)
        for g in range(force.getNumGlobalParameters()):
            new.addGlobalParameter(force.getGlobalParameterName(g),
                                   force.getGlobalParameterDefaultValue(g))
        n_atoms_term = {"CustomBondForce": 2, "CustomAngleForce": 3,
                        "CustomTorsionForce": 4}[kind]
        get, add, count = {
            "CustomBondForce": (force.getBondParameters, new.addBond,
                                force.getNumBonds()),
            "CustomAngleForce": (force.getAngleParameters, new.addAngle,
                                 force.getNumAngles()),
            "CustomTorsionForce": (force.getTorsionParameters,
                                   new.addTorsion, force.getNumTorsions()),
        }[kind]
        terms = [get(t) for t in range(count)]
        for k in range(n_replicas):
            o = k * n_atoms
            for t in terms:
                add(*[a + o for a in t[:n_atoms_term]], t[n_atoms_term])
    else:
        return None
    if force.usesPeriodicBoundaryConditions():
        return None
    new.setForceGroup(force.getForceGroup())
    new.setName(force.getName())
    return new


def _pair_table(nb, n_atoms):
    """Intramolecular nonbonded pairs ``(i, j, chargeProd, sigma, epsilon)``.

    Excluded pairs (exceptions with chargeProd = epsilon = 0) are dropped;
    exceptions (1-4 pairs) keep their own parameters; all other pairs use
    the Lorentz-Berthelot rules of :class:`openmm.NonbondedForce`.
    Units: e^2, nm, kJ/mol.
    """
    u = unit
    q = np.empty(n_atoms)
    sig = np.empty(n_atoms)
    eps = np.empty(n_atoms)
    for a in range(n_atoms):
        qa, sa, ea = nb.getParticleParameters(a)
        q[a] = qa.value_in_unit(u.elementary_charge)
        sig[a] = sa.value_in_unit(u.nanometer)
        eps[a] = ea.value_in_unit(u.kilojoule_per_mole)
    exc = {}
    for e in range(nb.getNumExceptions()):
        i, j, qq, s, ep = nb.getExceptionParameters(e)
        exc[(min(i, j), max(i, j))] = (
            qq.value_in_unit(u.elementary_charge ** 2),
            s.value_in_unit(u.nanometer), ep.value_in_unit(u.kilojoule_per_mole))
    pairs = []
    for i in range(n_atoms):
        for j in range(i + 1, n_atoms):
            if (i, j) in exc:
                qq, s, ep = exc[(i, j)]
            else:
                qq, s, ep = (q[i] * q[j], 0.5 * (sig[i] + sig[j]),
                             np.sqrt(eps[i] * eps[j]))
            if qq == 0.0 and ep == 0.0:
                continue
            pairs.append((i, j, qq, s, ep))
    return pairs


def build_replica_system(system, n_replicas: int):
    """One :class:`openmm.System` holding ``n_replicas`` non-interacting copies.

    Atom ``a`` of copy ``k`` is particle ``k * n_atoms + a``. Bonded forces,
    masses and constraints are copied per copy; the molecule's nonbonded
    interactions (Coulomb and Lennard-Jones of every intramolecular pair,
    with excluded pairs dropped, 1-4 exceptions at their own chargeProd /
    sigma / epsilon and all other pairs by the Lorentz-Berthelot rules)
    become one :class:`openmm.CustomBondForce` over the pairs of all copies,
    with the Coulomb constant 138.93545764438198 kJ nm/(mol e^2) that
    OpenMM uses. Copies never see each other, so each one moves exactly as
    the single molecule would.

    Parameters
    ----------
    system : MolecularSystem or openmm.System
        An isolated molecule: not periodic, ``NonbondedForce`` with
        ``NoCutoff``, no virtual sites. A ``CMMotionRemover`` is dropped
        (it would act on all copies together).
    n_replicas : int
        Number of copies ``K`` (>= 1).

    Returns
    -------
    openmm.System
        ``K * n_atoms`` particles.

    Raises
    ------
    InputError
        For a periodic system, a cutoff, virtual sites or a force that
        cannot be copied per molecule (implicit solvent, custom nonbonded
        forces, ...); the message names it and points to the OPS engine.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> big = build_replica_system(s, 8)
    >>> big.getNumParticles(), big.getNumConstraints()
    (176, 96)
    >>> sorted(type(f).__name__ for f in big.getForces())   # doctest: +NORMALIZE_WHITESPACE
    ['CustomBondForce', 'HarmonicAngleForce', 'HarmonicBondForce',
     'PeriodicTorsionForce']
    """
    if isinstance(system, MolecularSystem):
        omm = system.system
    elif isinstance(system, openmm.System):
        omm = system
    else:
        raise InputTypeError(f"system must be a MolecularSystem (see "
                             f"mda_rcxai.systems) or an openmm.System, got "
                             f"{type(system).__name__}")
    if isinstance(n_replicas, bool) or int(n_replicas) != n_replicas \
            or n_replicas < 1:
        raise InputError(f"n_replicas={n_replicas!r} must be a positive "
                         "integer")
    n_replicas = int(n_replicas)
    n = omm.getNumParticles()
    if omm.usesPeriodicBoundaryConditions():
        raise InputError(f"system is periodic; {_OPS_HINT}")
    for a in range(n):
        if omm.isVirtualSite(a):
            raise InputError(f"system has virtual sites (particle {a}); "
                             f"{_OPS_HINT}")
    new = openmm.System()
    masses = [omm.getParticleMass(a) for a in range(n)]
    for _ in range(n_replicas):
        for m in masses:
            new.addParticle(m)
    cons = [omm.getConstraintParameters(c)
            for c in range(omm.getNumConstraints())]
    for k in range(n_replicas):
        o = k * n
        for i, j, d in cons:
            new.addConstraint(i + o, j + o, d)
    for f in omm.getForces():
        kind = type(f).__name__
        if kind == "CMMotionRemover":
            continue
        if kind == "NonbondedForce":
            if f.getNonbondedMethod() != openmm.NonbondedForce.NoCutoff:
                raise InputError(
                    "system's NonbondedForce uses a cutoff (method "
                    f"{f.getNonbondedMethod()}); replicas need NoCutoff. "
                    f"{_OPS_HINT}")
            if f.getNumParticleParameterOffsets() \
                    or f.getNumExceptionParameterOffsets():
                raise InputError("system's NonbondedForce has parameter "
                                 f"offsets, which are not copied; {_OPS_HINT}")
            pairs = _pair_table(f, n)
            cb = openmm.CustomBondForce(_PAIR_ENERGY)
            for p in ("qq", "sig", "eps"):
                cb.addPerBondParameter(p)
            for k in range(n_replicas):
                o = k * n
                for i, j, qq, s, ep in pairs:
                    cb.addBond(i + o, j + o, [qq, s, ep])
            cb.setForceGroup(f.getForceGroup())
            cb.setName("ReplicaNonbonded")
            new.addForce(cb)
            continue
        copy = _copy_bonded(f, n, n_replicas)
        if copy is None:
            raise InputError(f"system has a {kind} that cannot be copied per "
                             f"molecule; {_OPS_HINT}")
        new.addForce(copy)
    return new


# ----------------------------------------------------------------------
# the batch
def shot_rng(seed, config, shot) -> np.random.Generator:
    """The Generator of one shot: its initial velocities, then its noise.

    Depends on ``(seed, config, shot)`` only, where ``config`` is the
    configuration's global index (the caller's, not a chunk's).

    Examples
    --------
    >>> float(shot_rng(0, 3, 1).random()) == float(shot_rng(0, 3, 1).random())
    True
    """
    return np.random.default_rng(np.random.SeedSequence(
        [int(seed), int(config), int(shot)]))


def per_shot_langevin(settings: EngineSettings):
    """``LangevinMiddleIntegrator`` as a CustomIntegrator with given noise.

    The same splitting as OpenMM's LangevinMiddle (V, constrain
    velocities, R/2, O, R/2, constrain positions, velocity correction),
    but the random velocity of the O step, ``b sqrt(kT/m) z``
    (``b = sqrt(1 - a^2)``, ``a = exp(-friction dt)``), is the per-DOF
    variable ``noise``, which :class:`ReplicaBatch` fills from each shot's
    own Generator before every step, so a shot's trajectory does not depend
    on the other replicas in the Context.

    Returns
    -------
    callable
        ``f() -> openmm.CustomIntegrator`` (a new one per call).

    Examples
    --------
    >>> integ = per_shot_langevin(EngineSettings())()
    >>> round(integ.getStepSize().value_in_unit(unit.femtosecond), 6)
    2.0
    """
    dt = settings.timestep_fs * 1e-3                     # ps
    a = float(np.exp(-settings.friction_per_ps * dt))
    b = float(np.sqrt(1 - a * a))

    def make():
        integ = openmm.CustomIntegrator(dt * unit.picosecond)
        integ.addGlobalVariable("a", a)
        integ.addGlobalVariable("b", b)
        integ.addGlobalVariable("kT", settings.kT)
        integ.addPerDofVariable("x1", 0)
        integ.addPerDofVariable("noise", 0)
        integ.addUpdateContextState()
        integ.addComputePerDof("v", "v + dt*f/m")
        integ.addConstrainVelocities()
        # R/2, O, R/2 in two expressions: x sees the old and the new v
        integ.addComputePerDof("x", "x + 0.5*dt*(v + a*v + noise)")
        integ.addComputePerDof("v", "a*v + noise")
        integ.addComputePerDof("x1", "x")
        integ.addConstrainPositions()
        integ.addComputePerDof("v", "v + (x-x1)/dt")
        return integ
    return make


class ReplicaBatch:
    """K copies of a molecule integrated together in one Context.

    The batch of :func:`mda_rcxai.sampling.core.run_until_state`:
    ``active`` and ``frames`` per slot, :meth:`advance` one frame for all,
    :meth:`start` new shots in some slots. With ``noise="per-shot"`` each
    slot's Gaussian noise comes from the Generator of the shot it runs
    (:func:`per_shot_langevin`), so no random draw depends on which shots
    run together; ``noise="context"`` uses OpenMM's native integrator
    (faster, not reproducible across batch sizes).

    Parameters
    ----------
    system : MolecularSystem
        An isolated molecule (see :func:`build_replica_system`).
    n_replicas : int
    settings : EngineSettings
    platform : str
        OpenMM platform name; ``threads`` the CPU threads.
    seed : int
        Seed of the native integrator (``noise="context"``) and of the
        placeholder velocities of idle slots.
    noise : {"per-shot", "context"}

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> b = ReplicaBatch(alanine_dipeptide(), 4, EngineSettings(), "Reference")
    >>> b.positions.shape, b.active.any()
    ((4, 22, 3), False)
    """

    def __init__(self, system: MolecularSystem, n_replicas: int,
                 settings: EngineSettings, platform: str, threads: int = 1,
                 seed: int = 0, noise: str = "per-shot"):
        from .core import make_integrator
        self.mol = system
        self.n_atoms = system.n_atoms
        self.n_replicas = int(n_replicas)
        self.settings = settings
        self.spf = settings.steps_per_frame
        self.noise = noise
        self.platform, self.threads, self.seed = platform, threads, seed
        self.system = build_replica_system(system, self.n_replicas)
        integ = (per_shot_langevin(settings)() if noise == "per-shot" else
                 make_integrator(settings, seed))
        self.context = create_context(self.system, integ, platform, threads)
        self.integrator = self.context.getIntegrator()
        self.tolerance = self.integrator.getConstraintTolerance()
        self.sigma = velocity_sigma(system.system, settings.temperature)
        a = np.exp(-settings.friction_per_ps * settings.timestep_fs * 1e-3)
        #: b sqrt(kT/m) per atom of one copy, nm/ps (the O step's scale)
        self.noise_scale = np.sqrt(1 - a * a) * self.sigma
        #: per slot: the Generator of the shot it runs (None: idle)
        self.rngs = [None] * self.n_replicas
        self.active = np.zeros(self.n_replicas, dtype=bool)
        self.frames = np.zeros(self.n_replicas, dtype=np.int64)
        self.n_steps = 0
        self.replica_steps = 0
        self.positions = np.tile(np.asarray(system.positions, float),
                                 (self.n_replicas, 1, 1))
        self.context.setPositions(self.positions.reshape(-1, 3))
        self.context.setVelocitiesToTemperature(settings.temperature,
                                                int(seed) + 1)

    def start(self, slots, positions, rngs):
        """Start new shots in ``slots``: positions, Maxwell-Boltzmann velocities.

        Each slot's velocities come from its own Generator
        (:func:`~mda_rcxai.sampling.core.maxwell_boltzmann`); the
        constraints are then applied to positions and velocities, which act
        on every replica, so the other replicas get their positions and
        velocities back exactly.
        """
        n, K = self.n_atoms, self.n_replicas
        slots = list(slots)
        pos, vel = (a.reshape(K, n, 3) for a in state_arrays(
            self.context.getState(getPositions=True, getVelocities=True),
            velocities=True))
        new_pos, new_vel = pos.copy(), vel.copy()
        for s, x, rng in zip(slots, positions, rngs):
            new_pos[s] = x
            new_vel[s] = maxwell_boltzmann(rng, self.sigma)
            self.rngs[s] = rng
        self.context.setPositions(new_pos.reshape(-1, 3))
        self.context.setVelocities(new_vel.reshape(-1, 3))
        self.context.applyConstraints(self.tolerance)
        self.context.applyVelocityConstraints(self.tolerance)
        x, v = state_arrays(self.context.getState(getPositions=True,
                                                  getVelocities=True),
                            velocities=True)
        pos[slots] = x.reshape(K, n, 3)[slots]
        vel[slots] = v.reshape(K, n, 3)[slots]
        self.context.setPositions(pos.reshape(-1, 3))
        self.context.setVelocities(vel.reshape(-1, 3))
        self.positions = pos
        self.active[slots] = True
        self.frames[slots] = 1

    def _noise(self, n_steps):
        n, K = self.n_atoms, self.n_replicas
        z = np.zeros((n_steps, K, n, 3))
        for s, rng in enumerate(self.rngs):
            if rng is not None and self.active[s]:
                z[:, s] = rng.standard_normal((n_steps, n, 3)) \
                    * self.noise_scale
        return z.reshape(n_steps, K * n, 3)

    def advance(self) -> np.ndarray:
        """One frame for every replica; positions ``(K, n_atoms, 3)`` nm."""
        integ = self.integrator
        if self.noise != "per-shot":
            integ.step(self.spf)
        else:
            for z in self._noise(self.spf):
                integ.setPerDofVariableByName("noise", z)
                integ.step(1)
        self.n_steps += self.spf
        self.replica_steps += self.spf * self.n_replicas
        self.frames[self.active] += 1
        self.positions = state_arrays(self.context.getState(
            getPositions=True)).reshape(self.n_replicas, self.n_atoms, 3)
        return self.positions

    def velocities(self) -> np.ndarray:
        """Current velocities, ``(K, n_atoms, 3)`` nm/ps."""
        return state_arrays(self.context.getState(
            getPositions=True, getVelocities=True), velocities=True)[1] \
            .reshape(self.n_replicas, self.n_atoms, 3)

    def compact(self) -> np.ndarray:
        """Move the running shots into a smaller batch (in place).

        Positions, velocities, Generators and frame counts of the active
        slots move into a new Context of that many replicas, so that idle
        replicas stop costing force evaluations in the tail of long shots.

        Returns
        -------
        numpy.ndarray
            The old slot of each new slot.
        """
        keep = np.flatnonzero(self.active)
        pos, vel = self.positions[keep], self.velocities()[keep]
        rngs = [self.rngs[s] for s in keep]
        frames = self.frames[keep]
        K = len(keep)
        counts = self.n_steps, self.replica_steps
        self.__init__(self.mol, K, self.settings, self.platform, self.threads,
                      self.seed + 7919, self.noise)
        self.n_steps, self.replica_steps = counts
        self.positions = np.array(pos)
        self.context.setPositions(self.positions.reshape(-1, 3))
        self.context.setVelocities(np.asarray(vel).reshape(-1, 3))
        self.rngs = rngs
        self.frames[:] = frames
        self.active[:] = True
        return keep

"""Batched committor shooting: many replicas of a small molecule in one Context.

Committor shooting of a 22-atom molecule is dominated by per-step and
per-frame overhead (one OpenMM ``step`` call, one ``getState`` per frame, one
state test per frame), not by force evaluation. This module puts ``K``
non-interacting copies of the molecule into one :class:`openmm.System`
(:func:`build_replica_system`), integrates them together and tests all of
them against the stable states with one vectorised call per frame
(:func:`shoot_batched`). A replica that reaches a state is counted and at
once re-seeded with the next pending shot, so the batch stays full until
the pool of shots empties.

Only isolated molecules qualify: no periodic box, no cutoff, and only
forces whose per-molecule terms can be copied (harmonic bonds and angles,
periodic / Ryckaert-Bellemans / CMAP torsions, ``Custom{Bond,Angle,
Torsion}Force`` and a ``NonbondedForce`` with ``NoCutoff``). Anything else
(solvent, PME, implicit solvent, ...) is refused with a pointer to the
OpenPathSampling engine, which can be parallelised with Dask workers.

:func:`shoot_plain` is the reference: the same shooting rules with one
single-molecule OpenMM Context, one shot at a time.

Units: positions in nm, velocities in nm/ps, masses in Da, energies in
kJ/mol, temperature in K, time step in fs, friction in 1/ps.
"""

from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np

from ..exceptions import InputError, InputTypeError, SamplingError
from ..systems import MolecularSystem, check_states, platform_properties

__all__ = ["build_replica_system", "shoot_batched", "shoot_plain",
           "COULOMB_CONSTANT", "BOLTZMANN_KJ_PER_MOL_K"]

logger = logging.getLogger(__name__)

#: OpenMM's ONE_4PI_EPS0, kJ nm / (mol e^2) (the value in its kernels).
COULOMB_CONSTANT = 138.93545764438198
#: Boltzmann constant times Avogadro's number, kJ / (mol K) (as OpenMM).
BOLTZMANN_KJ_PER_MOL_K = 0.00831446261815324

_PAIR_ENERGY = ("{kc}*qq/r + 4*eps*(sr6*sr6 - sr6); sr6 = (sig/r)^6"
                .format(kc=repr(COULOMB_CONSTANT)))

_OPS_HINT = ("batched shooting handles isolated molecules only; for this "
             "system use the OpenPathSampling engine "
             "(mda_rcxai.sampling.run_committor, parallel on Dask workers)")


# ----------------------------------------------------------------------
# the replica System
def _copy_bonded(force, n_atoms, n_replicas):
    """A copy of a bonded force holding the terms of every replica."""
    import openmm
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
    import openmm.unit as u
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
    import openmm
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
# platforms and the batch of replicas
def _platform_names():
    import openmm
    return [openmm.Platform.getPlatform(i).getName()
            for i in range(openmm.Platform.getNumPlatforms())]


def _make_context(omm_system, make_integrator, platform, threads):
    """Context on ``platform`` ("auto": the fastest one that works)."""
    import openmm
    names = _platform_names()
    if platform == "auto":
        cands = sorted(names, key=lambda nm: -openmm.Platform
                       .getPlatformByName(nm).getSpeed())
    else:
        if platform not in names:
            raise InputError(f"platform={platform!r} is not available; this "
                             f"OpenMM has {names} (or use 'auto')")
        cands = [platform]
    errors = []
    for name in cands:
        plat = openmm.Platform.getPlatformByName(name)
        props = platform_properties(name, threads, omm_system)
        try:
            integ = make_integrator()
            return openmm.Context(omm_system, integ, plat, props), name
        except Exception as err:  # OpenMMException: no device, no driver
            errors.append(f"{name}: {err}")
    raise SamplingError("could not create an OpenMM Context on "
                        f"platform={platform!r}: " + "; ".join(errors))


def _langevin(temperature, friction_per_ps, timestep_fs, seed):
    import openmm
    import openmm.unit as u

    def make():
        integ = openmm.LangevinMiddleIntegrator(
            temperature * u.kelvin, friction_per_ps / u.picosecond,
            timestep_fs * u.femtosecond)
        # OpenMM treats seed 0 as "pick one at random": map it to 1
        integ.setRandomNumberSeed(int(seed) % 2 ** 31 or 1)
        return integ
    return make


def _velocity_sigma(omm, temperature):
    """sqrt(kT/m) per particle, nm/ps (0 for massless particles)."""
    import openmm.unit as u
    m = np.array([omm.getParticleMass(a).value_in_unit(u.dalton)
                  for a in range(omm.getNumParticles())])
    kt = BOLTZMANN_KJ_PER_MOL_K * temperature    # kJ/mol; kJ/g = (nm/ps)^2
    with np.errstate(divide="ignore"):
        return np.where(m > 0, np.sqrt(kt / np.where(m > 0, m, 1.0)), 0.0)


def _shot_rng(seed, config, shot):
    """The Generator of one shot: its initial velocities, then its noise.

    Depends on ``(seed, config, shot)`` only, where ``config`` is the
    configuration's global index (the caller's, not a chunk's).
    """
    return np.random.default_rng(np.random.SeedSequence(
        [int(seed), int(config), int(shot)]))


def _per_shot_langevin(temperature, friction_per_ps, timestep_fs,
                       steps_per_frame=None):
    """``LangevinMiddleIntegrator`` as a CustomIntegrator with given noise.

    The same splitting as OpenMM's LangevinMiddle (V, constrain
    velocities, R/2, O, R/2, constrain positions, velocity correction),
    but the random velocity of the O step, ``b sqrt(kT/m) z``
    (``b = sqrt(1 - a^2)``, ``a = exp(-friction dt)``), is the per-DOF
    variable ``noise``, which the caller fills from each shot's own
    Generator before every step (:meth:`_ReplicaBatch.noise_scale`), so a shot's trajectory does not depend on the other replicas in
    the Context. (One variable set before each ``step(1)`` measured 1.2x
    the native integrator's time per frame on CPU for K = 64; ten
    variables selected in the expression by a step counter, 2x.)
    """
    import openmm
    import openmm.unit as u
    dt = timestep_fs * 1e-3                            # ps
    a = float(np.exp(-friction_per_ps * dt))
    b = float(np.sqrt(1 - a * a))
    kt = BOLTZMANN_KJ_PER_MOL_K * temperature

    def make():
        integ = openmm.CustomIntegrator(dt * u.picosecond)
        integ.addGlobalVariable("a", a)
        # b * sqrt(kT/m), nm/ps, multiplies the standard normal noise
        # (set per particle by the caller: noise = b sqrt(kT/m) z)
        integ.addGlobalVariable("b", b)
        integ.addGlobalVariable("kT", kt)
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


class _ReplicaBatch:
    """K copies of a molecule integrated together in one Context.

    Internal; used by :func:`shoot_batched` and the tests. ``positions``
    holds the latest positions read from the Context, ``(K, n_atoms, 3)``
    nm.
    """

    def __init__(self, system: MolecularSystem, n_replicas, temperature,
                 timestep_fs, friction_per_ps, seed, platform, threads,
                 steps_per_frame=10, noise="per-shot"):
        self.n_atoms = system.n_atoms
        self.n_replicas = int(n_replicas)
        self.spf = int(steps_per_frame)
        self.noise = noise
        self.system = build_replica_system(system, self.n_replicas)
        make = (_per_shot_langevin(temperature, friction_per_ps, timestep_fs)
                if noise == "per-shot" else
                _langevin(temperature, friction_per_ps, timestep_fs, seed))
        self.context, self.platform = _make_context(self.system, make,
                                                    platform, threads)
        #: per slot: the Generator of the shot it runs (None: idle)
        self.rngs = [None] * self.n_replicas
        a = np.exp(-friction_per_ps * timestep_fs * 1e-3)
        #: b sqrt(kT/m) per atom of one copy, nm/ps (the O step's scale)
        self.noise_scale = np.sqrt(1 - a * a) * _velocity_sigma(
            system.system, temperature)[:, None]
        self.integrator = self.context.getIntegrator()
        self.tolerance = self.integrator.getConstraintTolerance()
        self.sigma = _velocity_sigma(system.system, temperature)
        self.positions = np.tile(np.asarray(system.positions, float),
                                 (self.n_replicas, 1, 1))
        self.context.setPositions(self.positions.reshape(-1, 3))
        self.context.setVelocitiesToTemperature(temperature, int(seed) + 1)

    def reseed(self, slots, positions, rngs):
        """Put new configurations with fresh velocities into ``slots``.

        Each replica gets Maxwell-Boltzmann velocities from its own
        Generator; constraints are then applied to positions and velocities
        (``Context.applyConstraints`` and ``applyVelocityConstraints``,
        which act on every replica). The other replicas get their positions
        and velocities back exactly: the velocities of
        ``LangevinMiddleIntegrator`` are half a step behind the positions,
        and projecting them on the constraints at the current positions
        changes them by up to ~0.2 nm/ps. (That projection is absorbed by
        the integrator's own velocity constraint in its next step, so
        counts came out identical, but restoring keeps every running shot
        exact whatever the integrator.)
        """
        n, K = self.n_atoms, self.n_replicas
        slots = list(slots)
        st = self.context.getState(getPositions=True, getVelocities=True)
        pos = st.getPositions(asNumpy=True)._value.reshape(K, n, 3)
        vel = st.getVelocities(asNumpy=True)._value.reshape(K, n, 3)
        new_pos, new_vel = pos.copy(), vel.copy()
        for s, x, rng in zip(slots, positions, rngs):
            new_pos[s] = x
            new_vel[s] = rng.standard_normal((n, 3)) * self.sigma[:, None]
            self.rngs[s] = rng
        self.context.setPositions(new_pos.reshape(-1, 3))
        self.context.setVelocities(new_vel.reshape(-1, 3))
        self.context.applyConstraints(self.tolerance)
        self.context.applyVelocityConstraints(self.tolerance)
        st = self.context.getState(getPositions=True, getVelocities=True)
        pos[slots] = st.getPositions(asNumpy=True)._value.reshape(
            K, n, 3)[slots]
        vel[slots] = st.getVelocities(asNumpy=True)._value.reshape(
            K, n, 3)[slots]
        self.context.setPositions(pos.reshape(-1, 3))
        self.context.setVelocities(vel.reshape(-1, 3))
        self.positions = pos

    def _noise(self, n_steps):
        """Noise of the next steps from each slot's Generator (idle: 0)."""
        n, K = self.n_atoms, self.n_replicas
        z = np.zeros((n_steps, K, n, 3))
        for s, rng in enumerate(self.rngs):
            if rng is not None:
                z[:, s] = rng.standard_normal((n_steps, n, 3)) \
                    * self.noise_scale
        return z.reshape(n_steps, K * n, 3)

    def advance(self, n_steps):
        """Integrate ``n_steps`` and read positions, ``(K, n_atoms, 3)`` nm.

        Each slot's Gaussian noise comes from ``self.rngs[slot]``, drawn
        ``steps_per_frame`` steps at a time.
        """
        n_steps = int(n_steps)
        integ = self.integrator
        if self.noise != "per-shot":
            integ.step(n_steps)
            n_steps = 0
        while n_steps > 0:
            k = min(n_steps, self.spf)
            for z in self._noise(k):
                integ.setPerDofVariableByName("noise", z)
                integ.step(1)
            n_steps -= k
        self.positions = self.context.getState(getPositions=True) \
            .getPositions(asNumpy=True)._value.reshape(
                self.n_replicas, self.n_atoms, 3)
        return self.positions

    def set_state(self, positions, velocities):
        """Set all positions (nm) and velocities (nm/ps), ``(K, n_atoms, 3)``."""
        self.positions = np.array(positions, dtype=float)
        self.context.setPositions(self.positions.reshape(-1, 3))
        self.context.setVelocities(np.asarray(velocities).reshape(-1, 3))

    def velocities(self):
        """Current velocities, ``(K, n_atoms, 3)`` nm/ps."""
        return self.context.getState(getVelocities=True).getVelocities(
            asNumpy=True)._value.reshape(self.n_replicas, self.n_atoms, 3)


# ----------------------------------------------------------------------
# shooting
def _check_args(system, configurations_nm, n_shots, state_A, state_B,
                temperature, timestep_fs, steps_per_frame, friction_per_ps,
                max_frames, seed, platform, threads, skip, on_config_done):
    from .engine import EngineSettings
    if not isinstance(system, MolecularSystem):
        raise InputTypeError(f"system must be a MolecularSystem (see "
                             f"mda_rcxai.systems), got {type(system).__name__}")
    try:
        x = np.asarray(configurations_nm, dtype=float)
    except (TypeError, ValueError):
        raise InputTypeError("configurations_nm must be an array of "
                             "positions in nm, (n_configurations, n_atoms, 3)"
                             ) from None
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != (system.n_atoms, 3):
        raise InputError(f"configurations_nm has shape {x.shape}; want "
                         f"(n_configurations, {system.n_atoms}, 3) in nm")
    if not np.all(np.isfinite(x)):
        raise InputError("configurations_nm contains NaN or inf")
    n_conf = x.shape[0]
    shots = np.asarray(n_shots)
    if shots.ndim == 0:
        shots = np.full(n_conf, shots)
    if shots.shape != (n_conf,) or not np.issubdtype(shots.dtype, np.integer) \
            and not np.all(np.mod(shots, 1) == 0):
        raise InputError(f"n_shots={n_shots!r} must be an integer or one "
                         f"integer per configuration ({n_conf})")
    shots = shots.astype(int)
    if np.any(shots < 0):
        raise InputError(f"n_shots={n_shots!r} must be >= 0")
    settings = EngineSettings.make(
        temperature=temperature, timestep_fs=timestep_fs,
        steps_per_frame=steps_per_frame, friction_per_ps=friction_per_ps,
        platform=platform, threads=threads, n_frames_max=max_frames)
    if platform != "auto" and platform not in _platform_names():
        raise InputError(f"platform={platform!r} is not available; this "
                         f"OpenMM has {_platform_names()} (or use 'auto')")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise InputError(f"seed={seed!r} must be a non-negative integer")
    skip = set() if skip is None else {int(i) for i in skip}
    bad = [i for i in skip if not 0 <= i < n_conf]
    if bad:
        raise InputError(f"skip has indices {sorted(bad)} outside 0.."
                         f"{n_conf - 1}")
    if on_config_done is not None and not callable(on_config_done):
        raise InputTypeError("on_config_done must be callable as "
                             "f(i, n_A_i, n_B_i) or None")
    sA, sB = check_states(system.states, [state_A, state_B], system.n_atoms)
    return x, shots, settings, int(seed), skip, sA, sB


def shoot_batched(system: MolecularSystem, configurations_nm, n_shots, *,
                  state_A="C7eq", state_B="C7ax", temperature: float = 300.0,
                  timestep_fs: float = 2.0, steps_per_frame: int = 10,
                  friction_per_ps: float = 1.0, max_frames: int = 2000,
                  n_replicas: int = 64, seed: int = 0, platform: str = "CPU",
                  threads: int = 1, on_config_done=None, skip=None,
                  verbose: bool = True, info: dict | None = None,
                  config_ids=None, noise: str = "per-shot"):
    """Committor shooting with many replicas in one OpenMM Context.

    Every shot starts at its configuration with fresh Maxwell-Boltzmann
    velocities and runs forward under Langevin dynamics
    (``LangevinMiddleIntegrator``, as the OPS engine of
    :func:`mda_rcxai.sampling.make_engine`) until it enters ``state_A`` or
    ``state_B``. All pending shots of all configurations form one pool;
    ``n_replicas`` of them integrate together in a replica System
    (:func:`build_replica_system`). Every ``steps_per_frame`` steps the
    positions of all replicas are read once and tested against both states
    at once; a finished replica is counted and immediately re-seeded with
    the next shot from the pool (its configuration, new velocities, then
    constraints), so the batch stays full until the pool empties. Once the
    pool is empty and at most a quarter of the replicas still run (and
    ``K > 8``), the running shots move, positions and velocities, into a
    smaller batch, so that the tail of long shots does not pay for idle
    replicas.

    A configuration already inside a state counts all its shots for that
    state without integrating (frame 0 is tested, as in OPS). A shot that
    has not reached a state within ``max_frames`` frames (counting the
    starting frame, as OPS ``n_frames_max``) counts as undecided.

    Parameters
    ----------
    system : MolecularSystem
        An isolated molecule (see :func:`build_replica_system`) with states.
    configurations_nm : array_like
        ``(n_configurations, n_atoms, 3)`` (or one ``(n_atoms, 3)``)
        starting positions, nm.
    n_shots : int or array_like of int
        Shots per configuration (one number, or one per configuration).
    state_A, state_B : str or StateDefinition
        Names in ``system.states`` or definitions.
    temperature : float
        K (thermostat and initial velocities).
    timestep_fs : float
        Time step, fs.
    steps_per_frame : int
        MD steps between state tests.
    friction_per_ps : float
        Langevin friction, 1/ps.
    max_frames : int
        Longest shot, frames (including the start); longer shots count as
        undecided.
    n_replicas : int
        Replicas integrated together, ``K`` (capped at the number of
        pending shots). 64 is a good choice on one CPU core; use hundreds
        or thousands on a GPU.
    seed : int
        Shot ``j`` of configuration ``i`` draws its initial velocities and
        then the Gaussian noise of every Langevin step from its own
        ``numpy.random.default_rng(SeedSequence([seed, config_ids[i],
        j]))`` (the integrator is ``LangevinMiddleIntegrator``'s scheme as
        an OpenMM ``CustomIntegrator`` fed that noise), so no random draw
        depends on ``n_replicas``, on which replicas run together, or on
        how the configurations are split into calls. Counts are then the
        same for any ``K`` and chunking up to one coupling that is not
        random: OpenMM's constraint solver (CCMA) iterates until *all*
        constraints of the Context converge, so a shot's positions can
        differ in the last bits between batches of different content, and
        chaotic dynamics may grow that into a different outcome for a
        rare shot (see the tests and docs/development.rst).
    noise : {"per-shot", "context"}
        "per-shot" (default): the noise just described, reproducible
        whatever ``K`` and chunking; it costs ~1.3-2x the time per
        replica-step on the CPU platform (OpenMM's CustomIntegrator there
        is not vectorised) and a host-to-device copy per step on a GPU.
        "context": OpenMM's native ``LangevinMiddleIntegrator`` with one
        random stream seeded by ``seed`` for the whole Context (faster;
        counts then depend on ``K`` and on which shots run together).
    config_ids : array_like of int, optional
        Global index of each configuration (default ``0 .. n-1``): pass
        the indices into the whole set when shooting a chunk of it.
    platform : str
        OpenMM platform ("CPU", "Reference", "CUDA", "OpenCL") or "auto"
        (the fastest that can create a Context).
    threads : int
        Threads of the CPU platform.
    on_config_done : callable, optional
        ``on_config_done(i, n_A_i, n_B_i)`` is called as soon as all shots
        of configuration ``i`` are finished (for resumable datasets).
    skip : set of int, optional
        Configurations already done: not shot, counts returned as 0.
    verbose : bool
        Progress bar (shots) naming the platform and ``K``.
    info : dict, optional
        Filled with ``platform``, ``n_replicas`` (K at the start),
        ``n_steps`` (integrator steps), ``replica_steps`` (steps x
        replicas), ``wall_s``, ``n_shots`` and ``batch_sizes`` (K after
        each shrink of the tail).

    Returns
    -------
    n_A, n_B, n_undecided : numpy.ndarray of int
        Per configuration, shape ``(n_configurations,)``.

    Raises
    ------
    InputError, InputTypeError, StateError
        Bad arguments or a system that cannot be replicated.
    SamplingError
        No Context could be created, or a replica's positions became NaN.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> n_A, n_B, n_U = shoot_batched(s, s.positions, 4, n_replicas=4,
    ...                               verbose=False)
    >>> n_A.tolist(), n_B.tolist(), n_U.tolist()   # starts inside C7eq
    ([4], [0], [0])
    """
    if isinstance(n_replicas, bool) or not isinstance(
            n_replicas, (int, np.integer)) or n_replicas < 1:
        raise InputError(f"n_replicas={n_replicas!r} must be a positive "
                         "integer")
    x, shots, settings, seed, skip, sA, sB = _check_args(
        system, configurations_nm, n_shots, state_A, state_B, temperature,
        timestep_fs, steps_per_frame, friction_per_ps, max_frames, seed,
        platform, threads, skip, on_config_done)
    if noise not in ("per-shot", "context"):
        raise InputError(f"noise={noise!r} is not known; use 'per-shot' "
                         "(reproducible for any n_replicas) or 'context' "
                         "(faster)")
    n_conf = x.shape[0]
    if config_ids is None:
        ids = np.arange(n_conf)
    else:
        ids = np.asarray(config_ids)
        if ids.shape != (n_conf,) or not np.issubdtype(ids.dtype, np.integer) \
                or np.any(ids < 0) or len(set(ids.tolist())) != n_conf:
            raise InputError(f"config_ids must be {n_conf} distinct "
                             "non-negative integers, one per configuration")
    n_A = np.zeros(n_conf, dtype=np.int64)
    n_B = np.zeros(n_conf, dtype=np.int64)
    n_U = np.zeros(n_conf, dtype=np.int64)
    remaining = np.where([i in skip for i in range(n_conf)], 0, shots)

    # frame 0: configurations already inside a state
    in_A0 = sA.contains(x)
    in_B0 = sB.contains(x)
    pool = deque()
    for i in range(n_conf):
        if remaining[i] == 0:
            continue
        if in_A0[i] or in_B0[i]:
            (n_A if in_A0[i] else n_B)[i] = remaining[i]
            remaining[i] = 0
            if on_config_done is not None:
                on_config_done(i, int(n_A[i]), int(n_B[i]))
            continue
        pool.extend((i, j) for j in range(int(remaining[i])))
    total = len(pool)
    stats = {"platform": None, "n_replicas": 0, "n_steps": 0,
             "replica_steps": 0, "wall_s": 0.0, "n_shots": total,
             "batch_sizes": []}
    if info is not None:
        info.update(stats)
    if total == 0:
        return n_A, n_B, n_U

    K = min(int(n_replicas), total)
    t0 = time.perf_counter()
    batch = _ReplicaBatch(system, K, settings["temperature"],
                          settings["timestep_fs"],
                          settings["friction_per_ps"], seed,
                          settings["platform"], settings["threads"],
                          settings["steps_per_frame"], noise)
    logger.info("batched shooting: %d shots of %d configurations, K=%d "
                "replicas on %s", total, n_conf, K, batch.platform)
    from .tps import progress_bar
    bar = progress_bar(verbose, total=total, unit="shot",
                desc=f"batched shooting (K={K}, {batch.platform})")

    task = [None] * K           # (config, shot) per slot, None = idle
    frames = np.zeros(K, dtype=np.int64)
    n_max = settings["n_frames_max"]
    spf = settings["steps_per_frame"]

    def fill(slots):
        picked = []
        for s in slots:
            if not pool:
                break
            task[s] = pool.popleft()
            frames[s] = 1
            picked.append(s)
        if picked:
            batch.reseed(picked, [x[task[s][0]] for s in picked],
                         [_shot_rng(seed, ids[task[s][0]], task[s][1])
                          for s in picked])

    def finish(s, outcome):
        i = task[s][0]
        (n_A, n_B, n_U)[outcome][i] += 1
        task[s] = None
        batch.rngs[s] = None
        remaining[i] -= 1
        bar.update(1)
        if remaining[i] == 0 and on_config_done is not None:
            on_config_done(i, int(n_A[i]), int(n_B[i]))

    n_steps = replica_steps = 0
    sizes = [K]
    try:
        fill(range(K))
        while any(t is not None for t in task):
            if not pool and K > 8:
                act = [s for s in range(K) if task[s] is not None]
                if len(act) <= K // 4:
                    # the tail: move the running shots into a smaller batch
                    # so that idle replicas stop costing force evaluations
                    vel = batch.velocities()[act]
                    pos = batch.positions[act]
                    rngs = [batch.rngs[s] for s in act]
                    K = len(act)
                    batch = _ReplicaBatch(
                        system, K, settings["temperature"],
                        settings["timestep_fs"], settings["friction_per_ps"],
                        seed + 7919 * len(sizes), batch.platform,
                        settings["threads"], settings["steps_per_frame"],
                        noise)
                    batch.set_state(pos, vel)
                    batch.rngs = rngs
                    task = [task[s] for s in act]
                    frames = frames[act]
                    sizes.append(K)
            pos = batch.advance(spf)
            n_steps += spf
            replica_steps += spf * K
            frames += 1
            active = np.array([t is not None for t in task])
            if not np.all(np.isfinite(pos[active])):
                bad = [task[s] for s in np.flatnonzero(active)
                       if not np.all(np.isfinite(pos[s]))]
                raise SamplingError(
                    f"positions became NaN in shots (configuration, shot) "
                    f"{bad[:5]}; check the configurations and the time step "
                    f"(timestep_fs={settings['timestep_fs']})")
            inA = sA.contains(pos) & active
            inB = sB.contains(pos) & active
            late = active & ~inA & ~inB & (frames >= n_max)
            done = np.flatnonzero(inA | inB | late)
            for s in done:
                finish(s, 0 if inA[s] else 1 if inB[s] else 2)
            if len(done):
                fill(done)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    stats.update(platform=batch.platform, n_replicas=sizes[0],
                 n_steps=n_steps, replica_steps=replica_steps, wall_s=wall,
                 batch_sizes=sizes)
    if info is not None:
        info.update(stats)
    return n_A, n_B, n_U


def shoot_plain(system: MolecularSystem, configurations_nm, n_shots, *,
                state_A="C7eq", state_B="C7ax", temperature: float = 300.0,
                timestep_fs: float = 2.0, steps_per_frame: int = 10,
                friction_per_ps: float = 1.0, max_frames: int = 2000,
                seed: int = 0, platform: str = "CPU", threads: int = 1,
                verbose: bool = False, info: dict | None = None):
    """Reference shooting loop: one single-molecule Context, one shot at a time.

    Same rules and initial velocities as :func:`shoot_batched` but with
    the original System (including its ``CMMotionRemover``), OpenMM's own
    ``LangevinMiddleIntegrator`` (its internal noise, seeded by ``seed``),
    one ``getState`` and one state test per frame per shot. Used to
    validate (same p_B within binomial error) and benchmark
    :func:`shoot_batched`.

    Returns
    -------
    n_A, n_B, n_undecided : numpy.ndarray of int

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> [c.tolist() for c in shoot_plain(s, s.positions, 3)]
    [[3], [0], [0]]
    """
    x, shots, settings, seed, _, sA, sB = _check_args(
        system, configurations_nm, n_shots, state_A, state_B, temperature,
        timestep_fs, steps_per_frame, friction_per_ps, max_frames, seed,
        platform, threads, None, None)
    n_conf = x.shape[0]
    out = np.zeros((3, n_conf), dtype=np.int64)
    in_A0, in_B0 = sA.contains(x), sB.contains(x)
    stats = {"platform": None, "n_steps": 0, "wall_s": 0.0,
             "n_shots": int(shots.sum())}
    t0 = time.perf_counter()
    context, name = _make_context(
        system.system, _langevin(settings["temperature"],
                                 settings["friction_per_ps"],
                                 settings["timestep_fs"], seed),
        settings["platform"], settings["threads"])
    integ = context.getIntegrator()
    tol = integ.getConstraintTolerance()
    sigma = _velocity_sigma(system.system, settings["temperature"])
    spf, n_max = settings["steps_per_frame"], settings["n_frames_max"]
    from .tps import progress_bar
    bar = progress_bar(verbose, total=int(shots.sum()), unit="shot",
                desc=f"plain shooting ({name})")
    n_steps = 0
    for i in range(n_conf):
        if in_A0[i] or in_B0[i]:
            out[0 if in_A0[i] else 1, i] = shots[i]
            bar.update(int(shots[i]))
            continue
        for j in range(shots[i]):
            rng = _shot_rng(seed, i, j)
            context.setPositions(x[i])
            context.setVelocities(rng.standard_normal(x[i].shape)
                                  * sigma[:, None])
            context.applyConstraints(tol)
            context.applyVelocityConstraints(tol)
            outcome = 2
            for _ in range(n_max - 1):
                integ.step(spf)
                n_steps += spf
                pos = context.getState(getPositions=True).getPositions(
                    asNumpy=True)._value
                if sA.contains(pos)[0]:
                    outcome = 0
                    break
                if sB.contains(pos)[0]:
                    outcome = 1
                    break
            out[outcome, i] += 1
            bar.update(1)
    bar.close()
    stats.update(platform=name, n_steps=n_steps,
                 wall_s=time.perf_counter() - t0)
    if info is not None:
        info.update(stats)
    return out[0], out[1], out[2]

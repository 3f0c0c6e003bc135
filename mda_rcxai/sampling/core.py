"""The dynamics core: every piece of sampling that integrates OpenMM dynamics.

TPS (both routes), the initial paths (hot MD, the NaCl pull), and committor
shooting (lean, batched, plain reference) are built on these pieces and on
nothing else that touches a Context:

* :class:`EngineSettings` -- the frozen, typed engine settings (temperature
  K, time step fs, friction 1/ps, MD steps per frame, longest trajectory in
  frames, integrator, platform, threads);
* :func:`make_integrator` and :func:`create_context` -- one integrator
  factory and one Context factory (platform properties from
  :func:`mda_rcxai.systems.platform_properties`, periodic box set);
* :func:`choose_platform` -- the platform *measured*, not assumed: each
  available OpenMM platform (CPU with one thread and with every allowed
  thread, Reference, CUDA/OpenCL/HIP where a device answers) runs the actual
  system for a fraction of a second and the fastest wins;
* :func:`velocity_sigma`, :func:`maxwell_boltzmann`, :func:`start_trajectory`
  -- the one Maxwell-Boltzmann velocity draw, with the constraints applied
  to positions and velocities;
* :class:`StateTest` -- the one minimum-image test of which state a frame
  (or a batch of replica frames) is in, and :class:`OneMolecule` and
  :func:`run_until_state` -- the one run-until-a-state loop, serving a
  single-molecule Context and a batch of replicas
  (:class:`mda_rcxai.sampling.replicas.ReplicaBatch`) alike; these live in
  :mod:`mda_rcxai.sampling.loop` (numpy only) and are imported here.

Units: positions nm, velocities nm/ps, masses Da, energies kJ/mol,
temperature K, time step fs, friction 1/ps. The Boltzmann constant comes
from :mod:`openmm.unit` (:data:`KB_KJ_PER_MOL_K`).

(Just over 600 lines: the settings, the Context factory and the platform
measurement belong together, and most of the length is their docstrings.)
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import openmm
import openmm.unit as unit

from ..exceptions import InputError, InputTypeError, SamplingError
from ..systems import platform_properties
from .loop import (OneMolecule, StateTest, frame_state, run_until_state,
                   state_arrays)

__all__ = ["EngineSettings", "as_settings", "KB_KJ_PER_MOL_K", "make_integrator",
           "create_context", "platform_names", "check_platform",
           "PlatformChoice", "choose_platform", "measure_steps_per_s",
           "velocity_sigma", "maxwell_boltzmann", "start_trajectory",
           "StateTest", "frame_state", "OneMolecule", "run_until_state",
           "state_arrays", "allowed_threads"]

#: Boltzmann's constant times Avogadro's number, kJ/(mol K), from openmm.unit.
KB_KJ_PER_MOL_K = (unit.BOLTZMANN_CONSTANT_kB * unit.AVOGADRO_CONSTANT_NA
                   ).value_in_unit(unit.kilojoule_per_mole / unit.kelvin)

INTEGRATORS = ("langevin_middle", "langevin", "vvvr")
PLATFORMS = ("auto", "CPU", "Reference", "CUDA", "OpenCL", "HIP")


@dataclass(frozen=True)
class EngineSettings:
    """How the dynamics of sampling run (frozen; one object travels everywhere).

    Parameters
    ----------
    temperature : float
        Thermostat and shooting-velocity temperature, K.
    timestep_fs : float
        Integration time step, fs (0 < dt <= 10).
    friction_per_ps : float
        Langevin friction, 1/ps (0 gives deterministic dynamics with
        ``langevin_middle``).
    steps_per_frame : int
        MD steps between frames (state tests, saved TPS frames).
    n_frames_max : int
        Longest trajectory (a TPS half or a committor shot), frames,
        counting the start (OPS ``n_frames_max``).
    integrator : {"langevin_middle", "langevin", "vvvr"}
        OpenMM ``LangevinMiddleIntegrator`` (default), ``LangevinIntegrator``
        or openmmtools' VVVR (needs openmmtools).
    platform : str
        ``"auto"`` (measured: :func:`choose_platform`) or an OpenMM
        platform name, which is always honoured.
    threads : int or None
        CPU-platform threads; None lets ``"auto"`` measure 1 and all
        allowed threads (an explicit ``"CPU"`` then uses 1).

    Examples
    --------
    >>> s = EngineSettings(temperature=310, steps_per_frame=5)
    >>> s.frame_time_ps, round(s.kT, 4)
    (0.01, 2.5775)
    >>> s.replace(platform="Reference").platform
    'Reference'
    >>> EngineSettings(timestep_fs=0)
    Traceback (most recent call last):
    ...
    mda_rcxai.exceptions.InputError: timestep_fs=0.0 must be in (0, 10] fs
    """

    temperature: float = 300.0
    timestep_fs: float = 2.0
    friction_per_ps: float = 1.0
    steps_per_frame: int = 10
    n_frames_max: int = 2000
    integrator: str = "langevin_middle"
    platform: str = "auto"
    threads: int | None = None

    def __post_init__(self):
        def number(name):
            v = getattr(self, name)
            if isinstance(v, bool):
                raise InputTypeError(f"{name}={v!r} must be a number")
            try:
                object.__setattr__(self, name, float(v))
            except (TypeError, ValueError):
                raise InputTypeError(f"{name}={v!r} must be a number"
                                     ) from None

        def integer(name, low):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer,
                                                         np.floating)) \
                    or int(v) != v or v < low:
                raise InputError(f"{name}={v!r} must be an integer >= {low}")
            object.__setattr__(self, name, int(v))

        for name in ("temperature", "timestep_fs", "friction_per_ps"):
            number(name)
        if not self.temperature > 0:
            raise InputError(f"temperature={self.temperature} K must be > 0")
        if not 0 < self.timestep_fs <= 10:
            raise InputError(f"timestep_fs={self.timestep_fs} must be in "
                             "(0, 10] fs")
        if not self.friction_per_ps >= 0:
            raise InputError(f"friction_per_ps={self.friction_per_ps} must "
                             "be >= 0 (1/ps)")
        integer("steps_per_frame", 1)
        integer("n_frames_max", 2)
        if self.integrator not in INTEGRATORS:
            raise InputError(f"integrator={self.integrator!r} is not known; "
                             f"use one of {INTEGRATORS}")
        if not isinstance(self.platform, str):
            raise InputTypeError(f"platform={self.platform!r} must be a "
                                 "string: 'auto' or an OpenMM platform name")
        if self.threads is not None:
            integer("threads", 1)

    # ------------------------------------------------------------------
    @property
    def frame_time_ps(self) -> float:
        """Time between frames, ps."""
        return self.timestep_fs * 1e-3 * self.steps_per_frame

    @property
    def kT(self) -> float:
        """k_B T, kJ/mol."""
        return KB_KJ_PER_MOL_K * self.temperature

    def replace(self, **changes) -> "EngineSettings":
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain dict (metadata, JSON, worker processes)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d) -> "EngineSettings":
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        if isinstance(d, EngineSettings):
            return d
        names = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(d) - names)
        if extra:
            raise InputError(f"engine settings have unknown keys {extra}; "
                             f"known: {sorted(names)}")
        return cls(**dict(d))

    def dynamics_key(self) -> dict:
        """The fields that decide a trajectory (not where it runs)."""
        d = self.to_dict()
        d.pop("platform")
        d.pop("threads")
        return d


def as_settings(settings=None, **changes) -> EngineSettings:
    """``settings`` (an EngineSettings, a dict of its fields or None) with changes.

    The public sampling functions take ``settings=`` and, as shorthands,
    its fields as keywords (``temperature=310``, ``platform="CPU"``,
    ``n_frames_max=500``). Keywords left at None change nothing.

    ``max_frames=``, the old spelling of ``n_frames_max=``, still works for
    one release with a :class:`DeprecationWarning` (this is the one place
    every public sampling function folds it); giving both is an error.

    Parameters
    ----------
    settings : EngineSettings, dict or None
        The base settings; None: ``EngineSettings()``.
    **changes
        Fields of :class:`EngineSettings` to change.

    Returns
    -------
    EngineSettings

    Raises
    ------
    InputError
        A keyword that is not a field (named, with the fields listed), or
        both ``max_frames`` and ``n_frames_max``.

    Examples
    --------
    >>> as_settings(None, temperature=310).temperature
    310.0
    >>> as_settings(EngineSettings(steps_per_frame=5), n_frames_max=99).n_frames_max
    99
    >>> as_settings(None, temprature=310)
    Traceback (most recent call last):
    ...
    mda_rcxai.exceptions.InputError: unknown engine setting temprature=310; the settings are ['friction_per_ps', 'integrator', 'n_frames_max', 'platform', 'steps_per_frame', 'temperature', 'threads', 'timestep_fs']
    """
    if settings is None:
        settings = EngineSettings()
    elif isinstance(settings, dict):
        settings = EngineSettings.from_dict(settings)
    elif not isinstance(settings, EngineSettings):
        raise InputTypeError(f"settings must be an EngineSettings, got "
                             f"{type(settings).__name__}")
    if "max_frames" in changes:
        v = changes.pop("max_frames")
        if changes.get("n_frames_max") is not None and v is not None:
            raise InputError(f"max_frames={v!r} and n_frames_max={changes['n_frames_max']!r} "
                             "given; give n_frames_max only (max_frames is its old name)")
        warnings.warn("max_frames= is deprecated; use n_frames_max= (the same engine "
                      "setting, EngineSettings.n_frames_max)", DeprecationWarning,
                      stacklevel=3)
        if changes.get("n_frames_max") is None:
            changes["n_frames_max"] = v
    names = {f.name for f in dataclasses.fields(EngineSettings)}
    for k, v in changes.items():
        if k not in names:
            raise InputError(f"unknown engine setting {k}={v!r}; the settings "
                             f"are {sorted(names)}")
    changes = {k: v for k, v in changes.items() if v is not None}
    return settings.replace(**changes) if changes else settings


# ----------------------------------------------------------------------
# integrator and Context
def make_integrator(settings: EngineSettings, seed: int | None = None):
    """The integrator of ``settings`` with its random stream seeded.

    OpenMM takes seed 0 as "choose at random", so a seed is mapped to
    ``seed % 2**31 or 1``; ``seed=None`` leaves OpenMM's random choice.

    Examples
    --------
    >>> make_integrator(EngineSettings(), seed=3).getRandomNumberSeed()
    3
    """
    t = settings.temperature * unit.kelvin
    gamma = settings.friction_per_ps / unit.picosecond
    dt = settings.timestep_fs * unit.femtosecond
    if settings.integrator == "langevin_middle":
        integ = openmm.LangevinMiddleIntegrator(t, gamma, dt)
    elif settings.integrator == "langevin":
        integ = openmm.LangevinIntegrator(t, gamma, dt)
    else:
        try:
            from openmmtools.integrators import VVVRIntegrator
        except ImportError:
            raise InputError("integrator='vvvr' needs openmmtools; use "
                             "'langevin_middle' (the default)") from None
        integ = VVVRIntegrator(t, gamma, dt)
    if seed is not None:
        integ.setRandomNumberSeed(int(seed) % 2 ** 31 or 1)
    return integ


def platform_names() -> list:
    """OpenMM platforms this installation has (plugins that loaded).

    Examples
    --------
    >>> "Reference" in platform_names()
    True
    """
    return [openmm.Platform.getPlatform(i).getName()
            for i in range(openmm.Platform.getNumPlatforms())]


def check_platform(platform: str) -> str:
    """``platform`` if this OpenMM has it (or ``"auto"``), else a one-line error.

    Examples
    --------
    >>> check_platform("Reference")
    'Reference'
    >>> check_platform("Metal")
    Traceback (most recent call last):
    ...
    mda_rcxai.exceptions.InputError: platform='Metal' is not available; this OpenMM has [...] (or use 'auto')
    """
    if not isinstance(platform, str):
        raise InputTypeError(f"platform={platform!r} must be a string: "
                             "'auto' or an OpenMM platform name")
    names = platform_names()
    if platform != "auto" and platform not in names:
        raise InputError(f"platform={platform!r} is not available; this "
                         f"OpenMM has {names} (or use 'auto')")
    return platform


def allowed_threads() -> int:
    """CPU cores this process may use (affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def create_context(omm_system, integrator, platform: str, threads: int = 1,
                   *, box=None, positions=None):
    """One OpenMM Context on ``platform`` (an explicit name, not "auto").

    Parameters
    ----------
    omm_system : openmm.System
    integrator : openmm.Integrator
        Used by this Context only.
    platform : str
        OpenMM platform name.
    threads : int
        CPU-platform threads.
    box : array_like, optional
        ``(3, 3)`` periodic box vectors, nm.
    positions : array_like, optional
        ``(n_atoms, 3)`` starting positions, nm.

    Raises
    ------
    SamplingError
        The platform cannot create a Context here (no device or driver).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> ctx = create_context(s.system, make_integrator(EngineSettings()),
    ...                      "Reference", positions=s.positions)
    >>> ctx.getPlatform().getName()
    'Reference'
    """
    check_platform(platform)
    if platform == "auto":
        raise InputError("create_context needs a platform name; choose one "
                         "with choose_platform()")
    props = platform_properties(platform, threads or 1, omm_system)
    try:
        ctx = openmm.Context(omm_system, integrator,
                             openmm.Platform.getPlatformByName(platform),
                             props)
    except Exception as err:  # OpenMMException: no device, no driver
        msg = (str(err).strip().splitlines() or [""])[0]
        raise SamplingError(f"could not create an OpenMM Context on "
                            f"platform={platform!r}: {msg}") from None
    if box is not None:
        ctx.setPeriodicBoxVectors(*np.asarray(box, dtype=float))
    if positions is not None:
        ctx.setPositions(np.asarray(positions, dtype=float))
    return ctx


# ----------------------------------------------------------------------
# the platform, measured
@dataclass(frozen=True)
class PlatformChoice:
    """Where the dynamics run, and the measurement behind the choice.

    Attributes
    ----------
    platform : str
        OpenMM platform name.
    threads : int
        CPU threads (1 for other platforms).
    kind : str
        ``"single"`` (one molecule per Context) or ``"batched"``
        (replicas).
    steps_per_s : dict
        Measured MD steps per second (replica-steps for ``"batched"``) of
        each candidate, keyed ``"CPU/1"``, ``"CPU/2"``, ``"Reference"``, ...
        (empty when the platform was given, not measured).
    reason : str
        One sentence for logs and the report.

    Examples
    --------
    >>> c = PlatformChoice("Reference", 1, "single", {"Reference": 4e4, "CPU/1": 2e3}, "")
    >>> c.label, c.best_steps_per_s, round(c.speedup_over("CPU/1"), 1)
    ('Reference', 40000.0, 20.0)
    """

    platform: str
    threads: int
    kind: str
    steps_per_s: dict = field(default_factory=dict)
    reason: str = ""

    @property
    def label(self) -> str:
        """``"CPU/<threads>"`` or the platform name."""
        return _label(self.platform, self.threads)

    @property
    def best_steps_per_s(self) -> float | None:
        """Steps/s of the chosen candidate (None if not measured)."""
        return self.steps_per_s.get(self.label)

    def speedup_over(self, label: str) -> float:
        """Measured speed of the choice over candidate ``label``."""
        return self.steps_per_s[self.label] / self.steps_per_s[label]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _label(platform, threads):
    return f"CPU/{threads}" if platform == "CPU" else platform


_CHOICES: dict = {}


def measure_steps_per_s(omm_system, integrator, platform, threads, positions,
                        velocities, steps_per_frame, seconds=0.25, box=None,
                        n_copies=1):
    """MD steps per second of one candidate, as the sampling loops run.

    A frame is ``integrator.step(steps_per_frame)`` plus one ``getState``
    of the positions (what every run-until-a-state loop does). One frame
    is run first to warm the Context up; then frames until ``seconds``
    have passed (at least one). ``n_copies`` multiplies the rate (replica
    steps of a batch).

    Returns
    -------
    float
        Steps (times ``n_copies``) per second; raises
        :class:`SamplingError` if the Context cannot be created.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> st = EngineSettings()
    >>> v = maxwell_boltzmann(np.random.default_rng(0), velocity_sigma(s.system, 300))
    >>> measure_steps_per_s(s.system, make_integrator(st, 1), "Reference", 1,
    ...                     s.positions, v, 10, seconds=0.05) > 0
    True
    """
    ctx = create_context(omm_system, integrator, platform, threads, box=box,
                         positions=positions)
    ctx.setVelocities(velocities)
    integ = ctx.getIntegrator()
    t0 = time.perf_counter()
    integ.step(steps_per_frame)
    state_arrays(ctx.getState(getPositions=True))
    warm = time.perf_counter() - t0
    if warm > 4 * seconds:  # a slow candidate: one frame says enough
        return n_copies * steps_per_frame / warm
    frames = 0
    t0 = time.perf_counter()
    while True:
        integ.step(steps_per_frame)
        state_arrays(ctx.getState(getPositions=True))
        frames += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            break
    del ctx
    return n_copies * frames * steps_per_frame / dt


def choose_platform(omm_system, settings: EngineSettings, positions, *,
                    kind: str = "single", max_threads: int | None = None,
                    box=None, integrator_factory=None, n_copies: int = 1,
                    seconds: float = 0.25, cache_key=None) -> PlatformChoice:
    """The platform (and CPU thread count) that runs this system fastest here.

    With ``settings.platform == "auto"`` every candidate -- CPU with one
    thread and with ``max_threads`` threads, Reference, and CUDA, OpenCL or
    HIP where a device answers -- integrates the actual system as the
    sampling loops do (:func:`measure_steps_per_s`, ``seconds`` each in two
    interleaved halves whose faster counts, from Maxwell-Boltzmann
    velocities) and the fastest wins. On a 2-vCPU
    virtual machine the CPU platform ran one 22-atom molecule at 1-6k
    steps/s and Reference at ~40k (each CPU step hands work to a thread);
    elsewhere the order flips: it is measured, not assumed. An explicit
    platform is honoured without measuring (``threads`` default 1).

    Parameters
    ----------
    omm_system : openmm.System
        The System the loops will integrate (the replica System for
        batched shooting).
    settings : EngineSettings
    positions : array_like
        ``(n_particles, 3)`` nm, a sensible configuration.
    kind : {"single", "batched"}
        Recorded in the choice (and in the cache key).
    max_threads : int, optional
        Most CPU threads one Context may use (default: the cores this
        process may use, or ``settings.threads``); pass ``cores // workers``
        when several processes run at once.
    box : array_like, optional
        Periodic box, nm.
    integrator_factory : callable, optional
        ``f() -> openmm.Integrator`` (default: :func:`make_integrator`).
    n_copies : int
        Replicas in the System (rates are replica-steps/s).
    seconds : float
        Measuring time per candidate.
    cache_key : hashable, optional
        Reuse a choice made earlier in this process for the same key.

    Returns
    -------
    PlatformChoice

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> c = choose_platform(s.system, EngineSettings(), s.positions, seconds=0.05)
    >>> c.platform in platform_names() and c.label in c.steps_per_s
    True
    >>> choose_platform(s.system, EngineSettings(platform="Reference"), s.positions).reason
    'requested (platform="Reference")'
    """
    if kind not in ("single", "batched"):
        raise InputError(f"kind={kind!r} must be 'single' or 'batched'")
    name = check_platform(settings.platform)
    if name != "auto":
        return PlatformChoice(name, settings.threads or 1, kind, {},
                              f'requested (platform="{name}")')
    key = None
    if cache_key is not None:
        key = (cache_key, kind, n_copies, max_threads, settings.threads,
               tuple(sorted(settings.dynamics_key().items())))
        if key in _CHOICES:
            return _CHOICES[key]
    n_cpu = settings.threads or max_threads or allowed_threads()
    make = integrator_factory or (lambda: make_integrator(settings, 1))
    sigma = velocity_sigma(omm_system, settings.temperature)
    v = maxwell_boltzmann(np.random.default_rng(12345), sigma)
    cands = []
    for plat in platform_names():
        if plat == "CPU":
            threads = sorted({1, n_cpu}) if settings.threads is None \
                else [settings.threads]
            cands += [("CPU", t) for t in threads]
        else:
            cands.append((plat, 1))
    rates, errors = {}, {}
    for _ in range(2):  # two interleaved rounds, the faster of each counts
        for plat, threads in cands:
            label = _label(plat, threads)
            if label in errors:
                continue
            try:
                r = measure_steps_per_s(
                    omm_system, make(), plat, threads, positions, v,
                    settings.steps_per_frame, seconds / 2, box, n_copies)
            except SamplingError as err:  # no device / driver for this plugin
                errors[label] = str(err)
                continue
            rates[label] = max(rates.get(label, 0.0), r)
    if not rates:
        raise SamplingError("no OpenMM platform could create a Context: "
                            + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    best = max(rates, key=rates.get)
    plat, _, th = best.partition("/")
    others = ", ".join(f"{k} {r:,.0f}" for k, r in
                       sorted(rates.items(), key=lambda kv: -kv[1]))
    unit_ = "replica-steps/s" if n_copies > 1 else "steps/s"
    choice = PlatformChoice(
        plat, int(th) if th else 1, kind, {k: float(r) for k, r in rates.items()},
        f"measured fastest of {len(rates)} candidates ({others} {unit_})")
    if key is not None:
        _CHOICES[key] = choice
    return choice


# ----------------------------------------------------------------------
# velocities
def velocity_sigma(omm_system, temperature: float) -> np.ndarray:
    """``sqrt(kT / m)`` per particle, ``(n_particles, 1)`` nm/ps (0 if massless).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = velocity_sigma(alanine_dipeptide().system, 300.0)
    >>> s.shape, round(float(s[0, 0]), 4)    # a hydrogen, 1.008 Da
    ((22, 1), 1.5731)
    """
    m = np.array([omm_system.getParticleMass(a).value_in_unit(unit.dalton)
                  for a in range(omm_system.getNumParticles())])
    kt = KB_KJ_PER_MOL_K * float(temperature)  # kJ/mol; kJ/g = (nm/ps)^2
    with np.errstate(divide="ignore"):
        return np.where(m > 0, np.sqrt(kt / np.where(m > 0, m, 1.0)),
                        0.0)[:, None]


def maxwell_boltzmann(rng: np.random.Generator, sigma) -> np.ndarray:
    """Velocities ``(n, 3)`` nm/ps: ``sigma * N(0, 1)`` from ``rng``.

    Examples
    --------
    >>> maxwell_boltzmann(np.random.default_rng(0), np.ones((4, 1))).shape
    (4, 3)
    """
    sigma = np.asarray(sigma)
    return rng.standard_normal((sigma.shape[0], 3)) * sigma


def start_trajectory(context, positions, velocities):
    """Set positions and velocities, apply the constraints to both, read back.

    The constraint tolerance is the integrator's. This is what OPS'
    ``RandomVelocities`` followed by the engine's ``apply_constraints``
    does to a shooting point.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Constrained positions (nm) and velocities (nm/ps).
    """
    tol = context.getIntegrator().getConstraintTolerance()
    context.setPositions(positions)
    context.setVelocities(velocities)
    context.applyConstraints(tol)
    context.applyVelocityConstraints(tol)
    return state_arrays(context.getState(getPositions=True,
                                         getVelocities=True), velocities=True)

"""OpenPathSampling engine, volumes and velocity randomizer for a system.

Units: OpenMM/OPS work in nm and ps; positions going in and out of this
module are numpy arrays in nm unless a name says ``_angstrom``.
"""

from __future__ import annotations

import contextlib
import random
import warnings

import numpy as np

from ..exceptions import InputError, InputTypeError, StateError
from ..systems import MolecularSystem, StateDefinition, platform_properties

__all__ = [
    "make_engine",
    "make_volume",
    "make_randomizer",
    "beta_for",
    "snapshot_from_positions",
    "ops_topology",
    "seed_everything",
    "seeded",
    "resolve_platform",
    "import_ops",
    "EngineSettings",
]

PLATFORMS = ("auto", "CPU", "CUDA", "OpenCL", "Reference", "HIP")
_RESOLVED: dict = {}

_INTEGRATORS = ("langevin_middle", "langevin", "vvvr")


def import_ops():
    """Import OpenPathSampling (and its OpenMM engines) with its deprecation chatter silenced.

    Returns
    -------
    module
        ``openpathsampling``.

    Examples
    --------
    >>> import_ops().__name__
    'openpathsampling'
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import openpathsampling as paths
        import openpathsampling.engines.openmm  # noqa: F401
    return paths


class EngineSettings(dict):
    """The engine arguments, as a plain dict (kept in metadata, sent to workers).

    Examples
    --------
    >>> EngineSettings.make(300, 2.0, 10)["temperature"]
    300.0
    """

    @classmethod
    def make(cls, temperature=300.0, timestep_fs=2.0, steps_per_frame=10,
             friction_per_ps=1.0, integrator="langevin_middle",
             platform="CPU", threads=1, n_frames_max=5000):
        try:
            temperature = float(temperature)
            timestep_fs = float(timestep_fs)
            friction_per_ps = float(friction_per_ps)
        except (TypeError, ValueError):
            raise InputTypeError("temperature, timestep_fs and friction_per_ps "
                                 "must be numbers (K, fs, 1/ps)") from None
        if not temperature > 0:
            raise InputError(f"temperature={temperature} K must be > 0")
        if not 0 < timestep_fs <= 10:
            raise InputError(f"timestep_fs={timestep_fs} must be in (0, 10] fs")
        if friction_per_ps < 0:
            raise InputError(f"friction_per_ps={friction_per_ps} must be >= 0")
        if int(steps_per_frame) != steps_per_frame or steps_per_frame < 1:
            raise InputError(f"steps_per_frame={steps_per_frame} must be a "
                             "positive integer")
        if int(n_frames_max) != n_frames_max or n_frames_max < 2:
            raise InputError(f"n_frames_max={n_frames_max} must be an integer "
                             ">= 2")
        if integrator not in _INTEGRATORS:
            raise InputError(f"integrator={integrator!r} is not known; use "
                             f"one of {_INTEGRATORS}")
        if int(threads) != threads or threads < 1:
            raise InputError(f"threads={threads} must be a positive integer")
        return cls(temperature=temperature, timestep_fs=timestep_fs,
                   steps_per_frame=int(steps_per_frame),
                   friction_per_ps=friction_per_ps, integrator=integrator,
                   platform=platform, threads=int(threads),
                   n_frames_max=int(n_frames_max))


def platform_names() -> list:
    """OpenMM platforms this installation has (plugins that loaded)."""
    import openmm
    return [openmm.Platform.getPlatform(i).getName()
            for i in range(openmm.Platform.getNumPlatforms())]


#: Below this many atoms ``resolve_platform("auto", n_atoms=...)`` picks the
#: CPU platform: one small molecule's trajectory (TPS shooting) runs faster
#: there than on a GPU, whose per-step launch latency dominates.
SMALL_SYSTEM_ATOMS = 5000


def resolve_platform(platform: str = "auto", n_atoms: int | None = None) -> str:
    """The OpenMM platform name to use; ``"auto"``: the fastest that works.

    ``"auto"`` tries the platforms in OpenMM's speed order (CUDA, OpenCL,
    CPU, Reference ...) with a one-particle Context and keeps the first one
    that starts (a CUDA plugin without a GPU fails here, not later). With
    ``n_atoms`` below :data:`SMALL_SYSTEM_ATOMS` it is ``"CPU"`` when this
    OpenMM has it (the policy of the single-trajectory TPS chains).

    Raises
    ------
    InputError
        A platform this OpenMM does not have (the message lists those it
        has).

    Examples
    --------
    >>> resolve_platform("CPU")
    'CPU'
    >>> resolve_platform("auto") in platform_names()
    True
    >>> resolve_platform("auto", n_atoms=22)
    'CPU'
    """
    import openmm
    if not isinstance(platform, str):
        raise InputTypeError(f"platform={platform!r} must be a string: 'auto' "
                             "or an OpenMM platform name")
    names = platform_names()
    if platform != "auto":
        if platform not in names:
            raise InputError(f"platform={platform!r} is not available; this "
                             f"OpenMM has {names} (or use 'auto')")
        return platform
    if n_atoms is not None and n_atoms < SMALL_SYSTEM_ATOMS and "CPU" in names:
        return "CPU"
    if "auto" in _RESOLVED:
        return _RESOLVED["auto"]
    for name in sorted(names, key=lambda nm: -openmm.Platform
                       .getPlatformByName(nm).getSpeed()):
        try:
            sysm = openmm.System()
            sysm.addParticle(1.0)
            ctx = openmm.Context(sysm, openmm.VerletIntegrator(0.001),
                                 openmm.Platform.getPlatformByName(name))
            del ctx
        except Exception:  # no device / driver for this plugin
            continue
        _RESOLVED["auto"] = name
        return name
    raise InputError(f"platform='auto': no OpenMM platform of {names} could "
                     "create a Context")


@contextlib.contextmanager
def seeded(seed):
    """Seed what OpenPathSampling draws from, and restore it afterwards.

    Inside the block OPS' module generator, the legacy global
    :mod:`numpy.random` state and :mod:`random` are seeded from ``seed``;
    on exit all three are put back as they were, so the caller's global
    random state is unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> before = np.random.get_state()[1].copy()
    >>> with seeded(3):
    ...     _ = np.random.rand()
    >>> bool((np.random.get_state()[1] == before).all())
    True
    """
    import openpathsampling.rng as ops_rng
    saved = (np.random.get_state(), random.getstate(),
             ops_rng.DEFAULT_RNG.bit_generator.state)
    try:
        seed_everything(seed)
        yield
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])
        ops_rng.DEFAULT_RNG.bit_generator.state = saved[2]


def seed_everything(seed):
    """Seed the generators OpenPathSampling draws from.

    OPS 1.7 takes shooting points and acceptance from one module-level
    :class:`numpy.random.Generator` (``openpathsampling.rng``), velocities
    in :class:`~openpathsampling.RandomVelocities` from the legacy global
    numpy RNG and a few choices from :mod:`random`; all three are reset.
    This changes global state: prefer :func:`seeded`, which puts it back.

    Examples
    --------
    >>> with seeded(3):
    ...     pass
    """
    if seed is None:
        return
    if int(seed) != seed or seed < 0:
        raise InputError(f"seed={seed!r} must be a non-negative integer")
    seed = int(seed)
    import openpathsampling.rng as ops_rng
    ops_rng.DEFAULT_RNG.bit_generator.state = np.random.default_rng(
        seed).bit_generator.state
    np.random.seed(seed % 2**32)
    random.seed(seed)


def ops_topology(system: MolecularSystem):
    """OPS (mdtraj-based) topology of a :class:`MolecularSystem`.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> ops_topology(alanine_dipeptide()).n_atoms
    22
    """
    import_ops()
    import mdtraj as md
    from openpathsampling.engines.topology import MDTrajTopology
    return MDTrajTopology(md.Topology.from_openmm(system.topology))


def beta_for(temperature):
    """1/kT per particle, in the units of OPS snapshot masses.

    OPS 1.7 snapshot masses are ``dalton / mole`` (per-particle masses), so
    a beta in plain energy units fails with "Exponents in Unit.sqrt() must
    be even". Here ``beta = 1 / (k_B T in Da mol nm^2 / ps^2)``, which makes
    ``1 / (beta * m)`` a squared velocity in nm^2/ps^2.

    Parameters
    ----------
    temperature : float
        Kelvin.

    Examples
    --------
    >>> import openmm.unit as u
    >>> kt = (1 / beta_for(300.0)) * u.AVOGADRO_CONSTANT_NA
    >>> round(kt.value_in_unit(u.kilojoule_per_mole), 4)
    2.4943
    """
    import openmm.unit as u
    kt = (float(temperature) * u.kelvin * u.BOLTZMANN_CONSTANT_kB)
    kt = kt.in_units_of(u.dalton * u.mole * u.nanometer ** 2
                        / u.picosecond ** 2)
    return 1.0 / kt


def make_integrator(settings, seed):
    import openmm
    import openmm.unit as u
    t = settings["temperature"] * u.kelvin
    gamma = settings["friction_per_ps"] / u.picosecond
    dt = settings["timestep_fs"] * u.femtosecond
    kind = settings["integrator"]
    if kind == "langevin_middle":
        integ = openmm.LangevinMiddleIntegrator(t, gamma, dt)
    elif kind == "langevin":
        integ = openmm.LangevinIntegrator(t, gamma, dt)
    else:  # vvvr, as OPS' examples use, from openmmtools if installed
        try:
            from openmmtools.integrators import VVVRIntegrator
        except ImportError:
            raise InputError("integrator='vvvr' needs openmmtools; use "
                             "'langevin_middle' (the default)") from None
        integ = VVVRIntegrator(t, gamma, dt)
    if seed is not None:
        integ.setRandomNumberSeed(int(seed) % 2**31 or 1)
    return integ


def make_engine(system: MolecularSystem, temperature: float = 300.0,
                timestep_fs: float = 2.0, steps_per_frame: int = 10, *,
                friction_per_ps: float = 1.0,
                integrator: str = "langevin_middle", platform: str = "CPU",
                threads: int = 1, n_frames_max: int = 5000, seed: int | None = 0):
    """An OpenPathSampling OpenMM engine for ``system``.

    Parameters
    ----------
    system : MolecularSystem
        From :mod:`mda_rcxai.systems`.
    temperature : float
        Thermostat temperature, K.
    timestep_fs : float
        Integration time step, fs.
    steps_per_frame : int
        MD steps between saved frames (OPS ``n_steps_per_frame``).
    friction_per_ps : float
        Langevin friction, 1/ps.
    integrator : {"langevin_middle", "langevin", "vvvr"}
        OpenMM's ``LangevinMiddleIntegrator`` (default), ``LangevinIntegrator``
        or openmmtools' VVVR (as in the OPS examples; needs openmmtools).
    platform : {"CPU", "CUDA", "OpenCL", "Reference", "auto"}
        OpenMM platform; "auto" = the fastest that works here (see
        :func:`resolve_platform`). A missing platform is an error naming
        the available ones.
    threads : int
        CPU threads for the CPU platform (1 is fastest for small molecules;
        parallelise with processes instead).
    n_frames_max : int
        Longest trajectory the engine returns, frames.
    seed : int or None
        Seed of the integrator's random stream (None: OpenMM picks one).

    Returns
    -------
    openpathsampling.engines.openmm.Engine
        Initialised (its OpenMM Context exists). Its ``apply_constraints``
        is replaced on this instance by one that returns the constrained
        snapshot (OPS 1.7 returns the cached pre-constraint one).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> engine = make_engine(alanine_dipeptide(), temperature=300)
    >>> engine.n_steps_per_frame, engine.platform
    (10, 'CPU')
    """
    if not isinstance(system, MolecularSystem):
        raise InputTypeError(f"system must be a MolecularSystem (see "
                             f"mda_rcxai.systems), got {type(system).__name__}")
    settings = EngineSettings.make(temperature, timestep_fs, steps_per_frame,
                                   friction_per_ps, integrator, platform,
                                   threads, n_frames_max)
    return engine_from_settings(system, settings, seed)


def engine_from_settings(system, settings, seed):
    paths = import_ops()
    settings = dict(settings)
    settings["platform"] = resolve_platform(settings["platform"])
    integ = make_integrator(settings, seed)
    props = platform_properties(settings["platform"], settings["threads"], system)
    engine = paths.engines.openmm.Engine(
        topology=ops_topology(system), system=system.system,
        integrator=integ, openmm_properties=props,
        options={"n_steps_per_frame": settings["steps_per_frame"],
                 "n_frames_max": settings["n_frames_max"]})
    engine.initialize(settings["platform"])
    _patch_apply_constraints(engine)
    engine.mda_rcxai_settings = dict(settings)
    # NVT: the box is constant; snapshots made here carry it
    engine.mda_rcxai_box = (None if system.box_vectors is None else
                            np.array(system.box_vectors, dtype=float))
    if system.box_vectors is not None:
        import openmm.unit as u
        engine.simulation.context.setPeriodicBoxVectors(
            *[v * u.nanometer for v in np.asarray(system.box_vectors)])
    return engine


def _patch_apply_constraints(engine):
    """Make ``engine.apply_constraints`` return the constrained snapshot."""

    def apply_constraints(snapshot=None, position_tol=None,
                          velocity_tol=1e-5):
        context = engine.simulation.context
        if snapshot is not None:
            engine.current_snapshot = snapshot
        if position_tol is None:
            position_tol = context.getIntegrator().getConstraintTolerance()
        context.applyConstraints(position_tol)
        context.applyVelocityConstraints(velocity_tol)
        # rebuild from the context (positions and velocities only: OPS'
        # own rebuild also computes the energy, which costs a force call)
        state = context.getState(getPositions=True, getVelocities=True)
        snap = engine.base_snapshot_type.construct(
            coordinates=state.getPositions(asNumpy=True),
            box_vectors=state.getPeriodicBoxVectors(asNumpy=True),
            velocities=state.getVelocities(asNumpy=True), engine=engine)
        engine._current_snapshot = snap
        return snap

    engine.apply_constraints = apply_constraints


def snapshot_from_positions(engine, positions_nm, velocities=None,
                            box_vectors=None):
    """An OPS snapshot (of ``engine``) at ``positions_nm`` (n_atoms, 3), nm.

    Velocities default to zero (nm/ps). The box (``(3, 3)`` nm) defaults
    to the system's for an engine from :func:`make_engine` (None for a
    non-periodic system).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> snap = snapshot_from_positions(make_engine(s), s.positions)
    >>> snap.xyz.shape
    (22, 3)
    """
    paths = import_ops()
    import openmm.unit as u
    pos = np.asarray(positions_nm, dtype=float)
    if pos.shape != (engine.topology.n_atoms, 3):
        raise InputError(f"positions have shape {pos.shape}; the engine has "
                         f"{engine.topology.n_atoms} atoms (want (n_atoms, 3) "
                         "in nm)")
    vel = np.zeros_like(pos) if velocities is None else np.asarray(velocities)
    if box_vectors is None:
        box_vectors = getattr(engine, "mda_rcxai_box", None)
    box = (None if box_vectors is None else
           u.Quantity(np.asarray(box_vectors, dtype=float), u.nanometer))
    return paths.engines.openmm.Snapshot.construct(
        coordinates=u.Quantity(pos, u.nanometer), box_vectors=box,
        velocities=u.Quantity(vel, u.nanometer / u.picosecond),
        engine=engine)


def in_box(x, features, ranges, box=None):
    """True if positions ``x`` (n_atoms, 3) nm lie in the box of a state.

    ``features``: ``[[kind, atoms], ...]``; ``ranges``: ``[[lo, hi], ...]``
    (degrees / nm, dihedral ranges normalised as in StateDefinition);
    ``box``: ``(3, 3)`` nm box vectors (reduced form) or None: bond
    vectors are taken at their minimum image. Scalar numpy, for one frame.
    """
    def vec(i, j):
        d = x[i] - x[j]
        if box is not None:
            for k in (2, 1, 0):
                d = d - np.round(d[k] / box[k][k]) * box[k]
        return d

    for (kind, atoms), (lo, hi) in zip(features, ranges):
        if kind == "dihedral":
            b0 = vec(atoms[0], atoms[1])
            b1 = vec(atoms[2], atoms[1])
            b2 = vec(atoms[3], atoms[2])
            b1 = b1 / np.sqrt(b1.dot(b1))
            v = b0 - b0.dot(b1) * b1
            w = b2 - b2.dot(b1) * b1
            y = ((b1[1] * v[2] - b1[2] * v[1]) * w[0]
                 + (b1[2] * v[0] - b1[0] * v[2]) * w[1]
                 + (b1[0] * v[1] - b1[1] * v[0]) * w[2])  # (b1 x v) . w
            val = np.degrees(np.arctan2(y, v.dot(w)))
            if (val - lo) % 360.0 > hi - lo:
                return False
        elif kind == "distance":
            d = vec(atoms[0], atoms[1])
            val = np.sqrt(d.dot(d))
            if val < lo or val > hi:
                return False
        else:
            a = vec(atoms[0], atoms[1])
            b = vec(atoms[2], atoms[1])
            c = a.dot(b) / np.sqrt(a.dot(a) * b.dot(b))
            val = np.degrees(np.arccos(min(1.0, max(-1.0, c))))
            if val < lo or val > hi:
                return False
    return True


def _state_indicator(snapshot, features, ranges, box=None):
    """1.0 if the snapshot is inside the box, else 0.0 (OPS-storable)."""
    import numpy as np

    from mda_rcxai.sampling.engine import in_box
    x = np.asarray(snapshot.xyz, dtype=float)
    bx = None if box is None else np.asarray(box, dtype=float)
    return 1.0 if in_box(x, features, ranges, bx) else 0.0


def make_volume(state: StateDefinition, box_vectors=None):
    """An OPS volume for a :class:`~mda_rcxai.systems.StateDefinition`.

    A ``CVDefinedVolume`` on a numpy ``FunctionCV`` (the box indicator);
    cheap enough to check every frame, and storable in OPS files (the
    function imports what it needs and gets the box as keyword arguments).

    Parameters
    ----------
    state : StateDefinition
    box_vectors : array_like or MolecularSystem, optional
        ``(3, 3)`` periodic box in nm (``system.box_vectors``, or the
        system itself; NVT, so constant): distances, angles and dihedrals
        then use minimum-image bond vectors. None (or a non-periodic
        system) for plain differences.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> vol = make_volume(s.states["C7eq"])
    >>> vol.name
    'C7eq'
    """
    if not isinstance(state, StateDefinition):
        raise StateError(f"expected a StateDefinition, got "
                         f"{type(state).__name__}")
    paths = import_ops()
    kw = {}
    if isinstance(box_vectors, MolecularSystem):
        box_vectors = box_vectors.box_vectors
    if box_vectors is not None:
        box = np.asarray(box_vectors, dtype=float)
        if box.shape != (3, 3):
            raise InputError(f"box_vectors must be (3, 3) in nm, got shape "
                             f"{box.shape}")
        kw["box"] = box.tolist()
    cv = paths.FunctionCV(
        "in_" + state.name, _state_indicator,
        features=[[f.kind, list(f.atoms)] for f in state.features],
        ranges=[list(r) for r in state.ranges], **kw)
    return paths.CVDefinedVolume(cv, 0.5, 1.5).named(state.name)


def make_randomizer(engine, temperature: float):
    """OPS ``RandomVelocities`` at ``temperature`` (K) with constraints.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> engine = make_engine(s)
    >>> snap = make_randomizer(engine, 300.0)(snapshot_from_positions(engine, s.positions))
    >>> bool(abs(snap.velocities._value).sum() > 0)
    True
    """
    paths = import_ops()
    return paths.RandomVelocities(beta=beta_for(temperature), engine=engine)

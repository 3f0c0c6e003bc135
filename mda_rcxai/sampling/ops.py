"""OpenPathSampling glue: engine, volumes, velocity randomizer, trajectories, storage.

The OPS engine integrates with the integrator and platform of the dynamics
core (:mod:`mda_rcxai.sampling.core`) and its volumes test states with the
core's state test, so the OPS routes and the fast routes run the same
dynamics and stop on the same frames (the replay tests check it).

Units: OpenMM/OPS work in nm and ps; positions going in and out of this
module are numpy arrays in nm.
"""

from __future__ import annotations

import contextlib
import gc
import random
import warnings

import numpy as np

from ..exceptions import InputError, InputTypeError, StateError
from ..fileio import atomic_write
from ..systems import MolecularSystem, StateDefinition, platform_properties
from .core import StateTest, as_settings, choose_platform, make_integrator

__all__ = [
    "patch_apply_constraints",
    "save_trajectories",
    "load_all",
    "materialize",
    "make_engine",
    "make_volume",
    "make_randomizer",
    "beta_for",
    "snapshot_from_positions",
    "trajectory",
    "ops_topology",
    "seed_everything",
    "seeded",
    "import_ops",
    "close_storage",
]


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


def make_engine(system: MolecularSystem, settings=None, seed: int | None = 0,
                **engine):
    """An OpenPathSampling OpenMM engine for ``system``.

    Parameters
    ----------
    system : MolecularSystem
        From :mod:`mda_rcxai.systems`.
    settings : EngineSettings, optional
        Temperature, time step, friction, steps per frame (OPS
        ``n_steps_per_frame``), longest trajectory (OPS ``n_frames_max``),
        integrator and platform ("auto" is measured on this system,
        :func:`~mda_rcxai.sampling.core.choose_platform`). Its fields are
        also accepted as keywords.
    seed : int or None
        Seed of the integrator's random stream (None: OpenMM picks one).

    Returns
    -------
    openpathsampling.engines.openmm.Engine
        Initialised (its OpenMM Context exists). Its ``apply_constraints``
        is replaced on this instance by one that returns the constrained
        snapshot (OPS 1.7 returns the cached pre-constraint one). The
        settings used are in ``engine.mda_rcxai_settings`` (an
        EngineSettings with the platform name) and the platform choice in
        ``engine.mda_rcxai_platform``.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> engine = make_engine(alanine_dipeptide(), temperature=300, platform="Reference")
    >>> engine.n_steps_per_frame, engine.platform
    (10, 'Reference')
    """
    if not isinstance(system, MolecularSystem):
        raise InputTypeError(f"system must be a MolecularSystem (see "
                             f"mda_rcxai.systems), got {type(system).__name__}")
    settings = as_settings(settings, **engine)
    paths = import_ops()
    choice = choose_platform(system.system, settings, system.positions,
                             box=system.box_vectors,
                             cache_key=system.fingerprint())
    settings = settings.replace(platform=choice.platform,
                                threads=choice.threads)
    integ = make_integrator(settings, seed)
    props = platform_properties(settings.platform, settings.threads, system)
    engine = paths.engines.openmm.Engine(
        topology=ops_topology(system), system=system.system,
        integrator=integ, openmm_properties=props,
        options={"n_steps_per_frame": settings.steps_per_frame,
                 "n_frames_max": settings.n_frames_max})
    engine.initialize(settings.platform)
    patch_apply_constraints(engine)
    engine.mda_rcxai_settings = settings
    engine.mda_rcxai_platform = choice
    # NVT: the box is constant; snapshots made here carry it
    engine.mda_rcxai_box = (None if system.box_vectors is None else
                            np.array(system.box_vectors, dtype=float))
    if system.box_vectors is not None:
        import openmm.unit as u
        engine.simulation.context.setPeriodicBoxVectors(
            *[v * u.nanometer for v in np.asarray(system.box_vectors)])
    return engine


def patch_apply_constraints(engine):
    """Make ``engine.apply_constraints`` return the constrained snapshot, and
    frames cost no energy evaluation.

    OPS 1.7's ``apply_constraints`` returns the cached pre-constraint
    snapshot; and its ``_build_current_snapshot`` (every frame) asks the
    Context for the energy, which the snapshot never stores: one extra
    force evaluation per frame, ~10 % of a 10-step frame with PME. Both are
    replaced on this engine instance.
    """

    def build_current_snapshot():
        state = engine.simulation.context.getState(getPositions=True,
                                                   getVelocities=True)
        return engine.base_snapshot_type.construct(
            coordinates=state.getPositions(asNumpy=True),
            box_vectors=state.getPeriodicBoxVectors(asNumpy=True),
            velocities=state.getVelocities(asNumpy=True), engine=engine)

    engine._build_current_snapshot = build_current_snapshot

    def apply_constraints(snapshot=None, position_tol=None,
                          velocity_tol=1e-5):
        context = engine.simulation.context
        if snapshot is not None:
            engine.current_snapshot = snapshot
        if position_tol is None:
            position_tol = context.getIntegrator().getConstraintTolerance()
        context.applyConstraints(position_tol)
        context.applyVelocityConstraints(velocity_tol)
        snap = build_current_snapshot()
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
    >>> snap = snapshot_from_positions(make_engine(s, platform="Reference"), s.positions)
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


def _state_indicator(snapshot, features, boxes, box=None):
    """1.0 if the snapshot is inside the state, else 0.0 (OPS-storable:
    imports inside, arguments plain lists)."""
    import numpy as np

    from mda_rcxai.sampling.core import frame_state
    return float(frame_state(np.asarray(snapshot.xyz, dtype=float), features,
                             boxes, box))


def make_volume(state: StateDefinition, box_vectors=None):
    """An OPS volume for a :class:`~mda_rcxai.systems.StateDefinition`.

    A ``CVDefinedVolume`` on a ``FunctionCV`` whose function is the state
    test of the dynamics core (:func:`~mda_rcxai.sampling.core.frame_state`,
    the same code that stops the fast routes' trajectories); cheap enough
    to check every frame, and storable in OPS files (the function imports
    what it needs and gets plain lists as keyword arguments).

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
    spec = StateTest(state, state, kw.get("box")).spec(0)
    cv = paths.FunctionCV("in_" + state.name, _state_indicator, **spec)
    return paths.CVDefinedVolume(cv, 0.5, 1.5).named(state.name)


_FAST_RANDOMIZER = None


def _fast_randomizer_class():
    """OPS' ``RandomVelocities`` with its per-atom loop done by numpy.

    OPS 1.7 draws each atom's velocity in a Python loop with unit
    arithmetic (~0.2 s a shot for a 1000-atom water box, as long as the MD
    of a short committor shot). This subclass makes the same draws from the
    same generator (``np.random.normal``, atom after atom, three components
    each: one call of shape ``(n_atoms, 3)`` consumes numpy's legacy stream
    identically) with each atom's sigma ``sqrt(1 / (beta m))`` computed by
    OPS' own unit arithmetic once per distinct mass, then applies the
    engine's constraints as OPS does. A subset mask falls back to OPS' loop.
    """
    global _FAST_RANDOMIZER
    if _FAST_RANDOMIZER is None:
        paths = import_ops()

        class FastRandomVelocities(paths.RandomVelocities):
            __doc__ = _fast_randomizer_class.__doc__

            def _default_random_velocities(self, snapshot, beta, subset):
                if subset is not None or self.subset_mask is not None \
                        or self.beta is None:
                    return super()._default_random_velocities(
                        snapshot, beta, subset)
                vel = snapshot.velocities
                masses = snapshot.masses
                m = np.asarray(masses._value, dtype=float)
                sig_of = {}
                for k in np.unique(m):
                    where = int(np.flatnonzero(m == k)[0])
                    sig_of[k] = (1.0 / (self.beta * masses[where])).sqrt() \
                        .value_in_unit(vel.unit)
                sigma = np.array([sig_of[k] for k in m])
                z = np.random.normal(size=(len(m), 3))
                new = snapshot.copy_with_replacement(
                    velocities=(sigma[:, None] * z) * vel.unit)
                engine = self.engine if self.engine is not None \
                    else new.engine
                apply = getattr(engine, "apply_constraints", None)
                return apply(new) if apply is not None else new

        _FAST_RANDOMIZER = FastRandomVelocities
    return _FAST_RANDOMIZER


def make_randomizer(engine, temperature: float | None = None):
    """OPS ``RandomVelocities`` at ``temperature`` (K) with constraints.

    The per-atom loop of OPS' draw runs in numpy (the same numbers from the
    same generator; see the tests), which matters for solvated boxes.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> engine = make_engine(s, platform="Reference")
    >>> snap = make_randomizer(engine)(snapshot_from_positions(engine, s.positions))
    >>> bool(abs(snap.velocities._value).sum() > 0)
    True
    """
    paths = import_ops()
    if temperature is None:
        temperature = engine.mda_rcxai_settings.temperature
    return _fast_randomizer_class()(beta=beta_for(temperature), engine=engine)


def trajectory(engine, x, v):
    """An OPS Trajectory of ``engine`` snapshots (positions nm, velocities nm/ps).

    Snapshots carry the engine's box (NVT).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> len(trajectory(make_engine(s, platform="Reference"), [s.positions] * 3,
    ...                np.zeros((3, 22, 3))))
    3
    """
    paths = import_ops()
    return paths.Trajectory([snapshot_from_positions(engine, xi, vi)
                             for xi, vi in zip(x, v)])


def save_trajectories(storage, trajectories, final_path):
    """Accepted paths (and the final path) as trajectories in an OPS file."""
    paths = import_ops()
    # copies (new snapshot objects): the returned paths stay untied to the
    # file, which is closed and freed below
    copies = [materialize(t) for t in trajectories]
    final = materialize(final_path)

    def write(tmp):
        store = paths.Storage(tmp, "w", template=final[0])
        try:
            for t in copies:
                store.save(t)
            store.tag["final_path"] = final
            store.sync_all()
        finally:
            close_storage(store)
    atomic_write(storage, write)


def close_storage(storage):
    """Close an OPS storage and free it now, while the interpreter is whole.

    An OPS ``Storage`` (a ``netCDF4.Dataset``) and its stores refer to each
    other; the cycle outlived ``gc.collect()`` here, so the Dataset was
    deallocated during interpreter shutdown, where netCDF4 prints "Error in
    sys.excepthook ... Original exception was:". Emptying the stores'
    attributes breaks the cycle and the file object goes at once.
    """
    try:
        storage.close()
    except Exception:  # already closed
        pass
    seen = set()

    def clear(obj, depth=0):
        if id(obj) in seen or depth > 3:
            return
        seen.add(id(obj))
        attrs = getattr(obj, "__dict__", None)
        if not isinstance(attrs, dict):
            return
        for v in list(attrs.values()):
            if getattr(v, "storage", None) is storage:
                clear(v, depth + 1)
        attrs.clear()
    clear(storage)
    gc.collect()


def load_all(traj):
    """The trajectory with every snapshot loaded from its open OPS storage.

    (The same snapshot objects: copies made here left the storage's
    objects to be freed at interpreter exit, where netCDF4 complains.)
    """
    paths = import_ops()
    snaps = [traj[i] for i in range(len(traj))]
    for snap in snaps:
        snap.coordinates, snap.velocities  # noqa: B018 - force lazy loading
    return paths.Trajectory(snaps)


def materialize(traj, engine=None):
    """A fresh in-memory copy of a trajectory read from an open OPS storage.

    New snapshot objects (same positions, velocities and engine), so that
    nothing returned is tied to a storage that is closed afterwards.
    """
    snaps = [traj[i] for i in range(len(traj))]
    x = np.array([np.asarray(s.coordinates._value, dtype=float)
                  for s in snaps])
    v = np.array([np.asarray(s.velocities._value, dtype=float)
                  for s in snaps])
    return trajectory(engine or snaps[0].engine, x, v)

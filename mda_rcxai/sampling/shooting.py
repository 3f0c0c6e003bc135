"""Committor shots on the dynamics core: one configuration at a time, or batched.

* :class:`Shooter` and :func:`shoot_configuration` -- the lean route: one
  single-molecule Context per process, reused for every configuration
  (every system, periodic boxes included);
* :func:`shoot_batched` -- many replicas of an isolated molecule in one
  Context (:class:`~mda_rcxai.sampling.replicas.ReplicaBatch`), refilled as
  shots finish;
* :func:`shoot_plain` -- the reference: the same shots as
  :func:`shoot_batched` (same initial velocities) one at a time with
  OpenMM's own ``LangevinMiddleIntegrator``.

Every shot: Maxwell-Boltzmann velocities at the temperature
(:func:`~mda_rcxai.sampling.core.maxwell_boltzmann`), constraints on
positions and velocities, then frames until a state or ``n_frames_max``
frames (:func:`~mda_rcxai.sampling.core.run_until_state`): what OPS'
``CommittorSimulation`` does with ``RandomVelocities`` and the engine's
``apply_constraints`` (the replay tests compare them shot by shot).

Units: positions nm, velocities nm/ps, temperature K.
"""

from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np

from ..exceptions import InputError, InputTypeError
from ..systems import MolecularSystem, check_states
from .core import (EngineSettings, OneMolecule, StateTest, as_settings,
                   check_platform, choose_platform, create_context,
                   make_integrator, maxwell_boltzmann, run_until_state,
                   start_trajectory, velocity_sigma)
from .replicas import ReplicaBatch, build_replica_system, per_shot_langevin, shot_rng

__all__ = ["Shooter", "shoot_configuration", "shoot_batched", "shoot_plain",
           "two_states", "OUTCOME"]

logger = logging.getLogger(__name__)

#: run_until_state code -> index into (n_A, n_B, n_undecided)
OUTCOME = {1: 0, 2: 1, -1: 2}


def two_states(system, state_A=None, state_B=None):
    """The two StateDefinitions to sample between, checked.

    ``None`` takes the system's first (for A) or second (for B) state.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> [s.name for s in two_states(alanine_dipeptide())]
    ['C7eq', 'C7ax']
    """
    if not isinstance(system, MolecularSystem):
        raise InputTypeError(f"system must be a MolecularSystem (see "
                             f"mda_rcxai.systems), got {type(system).__name__}")
    if state_A is None or state_B is None:
        names = list(system.states)
        if len(names) < 2:
            raise InputError(f"system has states {names}; give it two "
                             "states or pass state_A and state_B")
        state_A = names[0] if state_A is None else state_A
        state_B = names[1] if state_B is None else state_B
    return check_states(system.states, [state_A, state_B], system.n_atoms)


class Shooter:
    """One single-molecule Context, reused for every configuration in a process.

    Parameters
    ----------
    system : MolecularSystem
    settings : EngineSettings
        ``settings.platform`` must be a platform name here (the caller
        measures "auto" once, :func:`~mda_rcxai.sampling.core.choose_platform`).
    state_A, state_B : StateDefinition

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> sh = Shooter(s, EngineSettings(platform="Reference"), *two_states(s))
    >>> sh.platform
    'Reference'
    """

    def __init__(self, system, settings: EngineSettings, state_A, state_B):
        self.settings = settings
        self.platform = settings.platform
        self.context = create_context(
            system.system, make_integrator(settings, 1), settings.platform,
            settings.threads or 1, box=system.box_vectors,
            positions=system.positions)
        self.box = system.box_vectors
        self.sigma = velocity_sigma(system.system, settings.temperature)
        self.test = StateTest(state_A, state_B, system.box_vectors)
        self.one = OneMolecule(self.context, settings.steps_per_frame)
        self.n_atoms = system.n_atoms

    def shoot(self, x_nm, rng) -> tuple:
        """One shot from ``x_nm`` with velocities from ``rng``: (code, frames)."""
        v = maxwell_boltzmann(rng, self.sigma)
        self.one.start(*start_trajectory(self.context, x_nm, v),
                       in_context=True)
        _, codes = next(run_until_state(self.one, self.test,
                                        self.settings.n_frames_max))
        return int(codes[0]), int(self.one.frames[0]) - 1


def shoot_configuration(shooter: Shooter, x_nm, n_shots: int, seeds):
    """Shoot ``n_shots`` times from one configuration (lean route).

    The integrator is re-seeded with ``seeds[0]`` (OpenMM reads the seed
    when the Context initialises: one ``reinitialize`` per configuration);
    velocities of shot ``k`` are the ``k``-th draw of
    ``numpy.random.default_rng(seeds[1])``. Global random state is not
    touched.

    Parameters
    ----------
    shooter : Shooter
    x_nm : numpy.ndarray
        ``(n_atoms, 3)`` configuration, nm.
    n_shots : int
    seeds : sequence of two int
        Integrator seed, velocity seed (from ``SeedSequence([seed, i])``).

    Returns
    -------
    tuple
        ``(n_A, n_B, n_undecided, n_frames)``; ``n_frames`` frames were
        integrated (``steps_per_frame`` MD steps each).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> sh = Shooter(s, EngineSettings(platform="Reference"), *two_states(s))
    >>> shoot_configuration(sh, s.positions, 3, (1, 2))[:3]   # starts in C7eq
    (3, 0, 0)
    """
    ctx = shooter.context
    ctx.getIntegrator().setRandomNumberSeed(int(seeds[0]) % 2 ** 31 or 1)
    ctx.reinitialize(preserveState=False)
    if shooter.box is not None:
        ctx.setPeriodicBoxVectors(*np.asarray(shooter.box, dtype=float))
    rng = np.random.default_rng(int(seeds[1]))
    counts = [0, 0, 0]
    frames = 0
    x = np.asarray(x_nm, dtype=float)
    for _ in range(int(n_shots)):
        code, fr = shooter.shoot(x, rng)
        counts[OUTCOME[code]] += 1
        frames += fr
    return counts[0], counts[1], counts[2], frames


def _check_configurations(system, configurations_nm):
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
    return x


def _shots_per_config(n_shots, n_conf):
    shots = np.asarray(n_shots)
    if shots.ndim == 0:
        shots = np.full(n_conf, shots)
    if shots.shape != (n_conf,) or not np.all(np.mod(shots, 1) == 0):
        raise InputError(f"n_shots={n_shots!r} must be an integer or one "
                         f"integer per configuration ({n_conf})")
    shots = shots.astype(int)
    if np.any(shots < 0):
        raise InputError(f"n_shots={n_shots!r} must be >= 0")
    return shots


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or seed < 0:
        raise InputError(f"seed={seed!r} must be a non-negative integer")
    return int(seed)


def shoot_batched(system: MolecularSystem, configurations_nm, n_shots, *,
                  state_A=None, state_B=None, settings=None,
                  n_replicas: int = 64, seed: int = 0, on_config_done=None,
                  skip=None, verbose: bool = True, info: dict | None = None,
                  config_ids=None, noise: str = "per-shot", **engine):
    """Committor shooting with many replicas in one OpenMM Context.

    Every shot starts at its configuration with fresh Maxwell-Boltzmann
    velocities and runs forward under Langevin dynamics
    (``LangevinMiddleIntegrator``'s scheme) until it enters ``state_A`` or
    ``state_B``. All pending shots form one pool; ``n_replicas`` of them
    integrate together in a replica System
    (:func:`~mda_rcxai.sampling.replicas.build_replica_system`). Every frame
    the positions of all replicas are read once and tested at once; a
    finished replica is counted and immediately refilled with the next shot
    from the pool, so the batch stays full until the pool empties. Once the
    pool is empty and at most a quarter of the replicas still run (and
    ``K > 8``), the running shots move into a smaller batch.

    A configuration already inside a state counts all its shots for that
    state without integrating (frame 0 is tested, as in OPS). A shot that
    has not reached a state within ``settings.n_frames_max`` frames
    (counting the start) is undecided.

    Parameters
    ----------
    system : MolecularSystem
        An isolated molecule with states.
    configurations_nm : array_like
        ``(n_configurations, n_atoms, 3)`` (or one ``(n_atoms, 3)``), nm.
    n_shots : int or array_like of int
        Shots per configuration (one number, or one per configuration).
    state_A, state_B : str or StateDefinition, optional
        Default: the system's two states.
    settings : EngineSettings, optional
        Temperature, time step, friction, steps per frame, longest shot;
        ``platform="auto"`` measures the platforms on the replica System
        (:func:`~mda_rcxai.sampling.core.choose_platform`, kind
        "batched"). Its fields are also accepted as keywords.
    n_replicas : int
        Replicas integrated together, ``K`` (capped at the number of
        pending shots). 64 suits one CPU core; use thousands on a GPU.
    seed : int
        Shot ``j`` of configuration ``i`` draws its initial velocities and
        then the Gaussian noise of every step from
        ``default_rng(SeedSequence([seed, config_ids[i], j]))``
        (:func:`~mda_rcxai.sampling.replicas.shot_rng`), so no random draw
        depends on ``n_replicas`` or on how configurations are split into
        calls. (OpenMM's constraint solver iterates until *all* constraints
        of the Context converge, so a shot's positions can differ in the
        last bits between batches of different content; chaotic dynamics
        may grow that into a different outcome for a rare shot.)
    on_config_done : callable, optional
        ``on_config_done(i, n_A_i, n_B_i)`` as soon as all shots of
        configuration ``i`` are finished.
    skip : set of int, optional
        Configurations already done: not shot, counts returned as 0.
    verbose : bool
        Progress bar (shots) naming the platform and ``K``.
    info : dict, optional
        Filled with ``platform`` (and ``platform_choice``), ``n_replicas``
        (K at the start), ``n_steps``, ``replica_steps``, ``wall_s``,
        ``n_shots`` and ``batch_sizes``.
    config_ids : array_like of int, optional
        Global index of each configuration (default ``0 .. n-1``).
    noise : {"per-shot", "context"}
        "per-shot" (default): reproducible whatever ``K`` and chunking;
        "context": OpenMM's native integrator with one stream (faster,
        counts then depend on ``K``).

    Returns
    -------
    n_A, n_B, n_undecided : numpy.ndarray of int
        Per configuration.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> n_A, n_B, n_U = shoot_batched(s, s.positions, 4, n_replicas=4,
    ...                               platform="Reference", verbose=False)
    >>> n_A.tolist(), n_B.tolist(), n_U.tolist()   # starts inside C7eq
    ([4], [0], [0])
    """
    settings = as_settings(settings, **engine)
    if isinstance(n_replicas, bool) or not isinstance(
            n_replicas, (int, np.integer)) or n_replicas < 1:
        raise InputError(f"n_replicas={n_replicas!r} must be a positive "
                         "integer")
    if noise not in ("per-shot", "context"):
        raise InputError(f"noise={noise!r} is not known; use 'per-shot' "
                         "(reproducible for any n_replicas) or 'context' "
                         "(faster)")
    x = _check_configurations(system, configurations_nm)
    n_conf = x.shape[0]
    shots = _shots_per_config(n_shots, n_conf)
    seed = _check_seed(seed)
    check_platform(settings.platform)
    sA, sB = two_states(system, state_A, state_B)
    skip = set() if skip is None else {int(i) for i in skip}
    bad = [i for i in skip if not 0 <= i < n_conf]
    if bad:
        raise InputError(f"skip has indices {sorted(bad)} outside 0.."
                         f"{n_conf - 1}")
    if on_config_done is not None and not callable(on_config_done):
        raise InputTypeError("on_config_done must be callable as "
                             "f(i, n_A_i, n_B_i) or None")
    ids = np.arange(n_conf) if config_ids is None else np.asarray(config_ids)
    if ids.shape != (n_conf,) or not np.issubdtype(ids.dtype, np.integer) \
            or np.any(ids < 0) or len(set(ids.tolist())) != n_conf:
        raise InputError(f"config_ids must be {n_conf} distinct "
                         "non-negative integers, one per configuration")
    build_replica_system(system, 1)  # refuses what it cannot copy, up front
    test = StateTest(sA, sB)
    counts = np.zeros((3, n_conf), dtype=np.int64)
    remaining = np.where([i in skip for i in range(n_conf)], 0, shots)
    codes0 = test.codes(x)             # frame 0: already inside a state
    pool = deque()
    for i in range(n_conf):
        if remaining[i] == 0:
            continue
        if codes0[i]:
            counts[OUTCOME[int(codes0[i])], i] = remaining[i]
            remaining[i] = 0
            if on_config_done is not None:
                on_config_done(i, int(counts[0, i]), int(counts[1, i]))
            continue
        pool.extend((i, j) for j in range(int(remaining[i])))
    total = len(pool)
    stats = {"platform": None, "n_replicas": 0, "n_steps": 0,
             "replica_steps": 0, "wall_s": 0.0, "n_shots": total,
             "batch_sizes": []}
    if info is not None:
        info.update(stats)
    if total == 0:
        return counts[0], counts[1], counts[2]

    K = min(int(n_replicas), total)
    choice = choose_platform(
        build_replica_system(system, K), settings,
        np.tile(system.positions, (K, 1)), kind="batched", n_copies=K,
        integrator_factory=per_shot_langevin(settings)
        if noise == "per-shot" else None,
        cache_key=(system.fingerprint(), noise))
    t0 = time.perf_counter()
    batch = ReplicaBatch(system, K, settings, choice.platform, choice.threads,
                         seed, noise)
    logger.info("batched shooting: %d shots of %d configurations, K=%d "
                "replicas on %s (%s)", total, n_conf, K, choice.label,
                choice.reason)
    from .progress import progress_bar
    bar = progress_bar(verbose, total=total, unit="shot",
                       desc=f"batched shooting (K={K}, {choice.label})")
    task = [None] * K           # (config, shot) per slot, None = idle
    sizes = [K]

    def fill(slots):
        picked = []
        for s in slots:
            if not pool:
                break
            task[s] = pool.popleft()
            picked.append(s)
        if picked:
            batch.start(picked, [x[task[s][0]] for s in picked],
                        [shot_rng(seed, ids[task[s][0]], task[s][1])
                         for s in picked])

    try:
        fill(range(K))
        for done, codes in run_until_state(batch, test, settings.n_frames_max):
            for s, code in zip(done, codes):
                i = task[s][0]
                counts[OUTCOME[int(code)], i] += 1
                task[s] = None
                batch.rngs[s] = None
                remaining[i] -= 1
                bar.update(1)
                if remaining[i] == 0 and on_config_done is not None:
                    on_config_done(i, int(counts[0, i]), int(counts[1, i]))
            fill(done)
            n_act = int(batch.active.sum())
            if not pool and batch.n_replicas > 8 and \
                    0 < n_act <= batch.n_replicas // 4:
                keep = batch.compact()   # the tail: drop the idle replicas
                task = [task[s] for s in keep]
                sizes.append(batch.n_replicas)
    finally:
        bar.close()
    stats.update(platform=choice.platform, platform_choice=choice.to_dict(),
                 n_replicas=sizes[0], n_steps=batch.n_steps,
                 replica_steps=batch.replica_steps,
                 wall_s=time.perf_counter() - t0, batch_sizes=sizes)
    if info is not None:
        info.update(stats)
    return counts[0], counts[1], counts[2]


def shoot_plain(system: MolecularSystem, configurations_nm, n_shots, *,
                state_A=None, state_B=None, settings=None, seed: int = 0,
                verbose: bool = False, info: dict | None = None, **engine):
    """Reference shooting: one single-molecule Context, one shot at a time.

    The same shots as :func:`shoot_batched` (initial velocities of shot
    ``j`` of configuration ``i`` from ``shot_rng(seed, i, j)``) with the
    original System and OpenMM's own ``LangevinMiddleIntegrator`` (its
    internal noise, seeded by ``seed``). Used to validate (same p_B within
    binomial error) and benchmark :func:`shoot_batched`.

    Returns
    -------
    n_A, n_B, n_undecided : numpy.ndarray of int

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> [c.tolist() for c in shoot_plain(s, s.positions, 3, platform="Reference")]
    [[3], [0], [0]]
    """
    settings = as_settings(settings, **engine)
    x = _check_configurations(system, configurations_nm)
    shots = _shots_per_config(n_shots, x.shape[0])
    seed = _check_seed(seed)
    sA, sB = two_states(system, state_A, state_B)
    choice = choose_platform(system.system, settings, system.positions,
                             box=system.box_vectors,
                             cache_key=system.fingerprint())
    t0 = time.perf_counter()
    sh = Shooter(system, settings.replace(platform=choice.platform,
                                          threads=choice.threads), sA, sB)
    sh.context.getIntegrator().setRandomNumberSeed(seed % 2 ** 31 or 1)
    sh.context.reinitialize(preserveState=True)
    counts = np.zeros((3, x.shape[0]), dtype=np.int64)
    codes0 = sh.test.codes(x)
    from .progress import progress_bar
    bar = progress_bar(verbose, total=int(shots.sum()), unit="shot",
                       desc=f"plain shooting ({choice.label})")
    frames = 0
    for i in range(x.shape[0]):
        if codes0[i]:
            counts[OUTCOME[int(codes0[i])], i] = shots[i]
            bar.update(int(shots[i]))
            continue
        for j in range(shots[i]):
            code, fr = sh.shoot(x[i], shot_rng(seed, i, j))
            counts[OUTCOME[code], i] += 1
            frames += fr
            bar.update(1)
    bar.close()
    if info is not None:
        info.update(platform=choice.platform, platform_choice=choice.to_dict(),
                    n_steps=frames * settings.steps_per_frame,
                    wall_s=time.perf_counter() - t0,
                    n_shots=int(shots.sum()))
    return counts[0], counts[1], counts[2]

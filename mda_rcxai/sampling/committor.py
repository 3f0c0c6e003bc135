"""Committor shooting: the dispatcher and its three routes, resumable into one dataset.

Routes (:func:`choose_method` picks one for ``method="auto"``):

``method="lean"`` (per configuration; every system, periodic ones too)
    One OpenMM Context per process, reused for every configuration
    (:class:`~mda_rcxai.sampling.shooting.Shooter` on the dynamics core:
    Maxwell-Boltzmann velocities with constraints, frames until a state).
    Counts go straight into the dataset; shot trajectories are not kept.
    Serial, or parallel on Dask (a ``LocalCluster`` with one
    single-threaded process per worker, a running scheduler by address, or
    your ``Client``).
``method="batched"``
    Many replicas of an isolated molecule in one Context
    (:func:`~mda_rcxai.sampling.shooting.shoot_batched`); non-periodic
    systems only.
``method="ops"``
    OPS' own ``CommittorSimulation`` on the OPS engine, every shot in OPS
    storage files (one per chunk of configurations, beside ``out``),
    counted with OPS' ``ShootingPointAnalysis``; chunks run serially or on
    Dask workers, and a killed run resumes from the finished chunks.

The platform is measured once in the calling process
(:func:`~mda_rcxai.sampling.core.choose_platform`, one thread per worker)
and the choice is sent to every worker and recorded in the dataset's
metadata (``engine.platform_choice``).

Reproducibility (lean route): configuration ``i`` gets its own seeds from
``numpy.random.SeedSequence([seed, i])`` for the velocities (shot ``k``
takes the ``k``-th draw of a local generator) and for the integrator's
random stream (the OpenMM context is re-initialised with it once per
configuration), so its counts depend only on ``(seed, i, k)``: not on the
order, the chunking, the number of workers, the worker that ran it or on
whether the run was resumed (same platform). Global ``numpy.random`` and
``random`` state is never touched. The batched route seeds every shot from
``(seed, i, k)`` too (:func:`~mda_rcxai.sampling.batched.shoot_batched`
with ``config_ids``), so its counts do not depend on ``n_replicas`` or the
chunking either.

Resuming: after every finished configuration the dataset file ``out`` is
rewritten atomically (temporary file, then rename) with a ``done`` mask.
Started again with the same arguments, the run skips the configurations
already done; a file from another system or with other arguments is
refused.

(About 700 lines: the dispatcher, its argument checks and resume logic,
and the three routes' drivers share the dataset record; the shooting
itself lives in :mod:`~mda_rcxai.sampling.shooting` and the Dask plumbing in
:mod:`~mda_rcxai.sampling.dask_driver`.)
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import json
import os
import tempfile
import threading
import time
import warnings

import numpy as np

from ..exceptions import (DatasetError, InputError, InputTypeError,
                          SamplingError, StateError)
from ..systems import MolecularSystem, StateDefinition
from .core import (EngineSettings, OneMolecule, StateTest, allowed_threads,
                   as_settings, choose_platform, create_context,
                   make_integrator, maxwell_boltzmann, start_trajectory,
                   velocity_sigma)
from .dask_driver import dask_client, sigint_flag, submit_all
from .dataset import (CommittorDataset, box_dimensions,
                      remove_stale_temporaries, versions)
from .initial import measured_settings
from .ops import (close_storage, import_ops, make_engine, make_randomizer,
                  make_volume, seeded, snapshot_from_positions)
from .progress import progress_bar
from .replicas import build_replica_system
from .shooting import Shooter, shoot_batched, shoot_configuration, two_states
from .tps import OPS_OVERHEAD_LIMIT

__all__ = ["run_committor", "choose_method", "config_seeds", "measure_routes",
           "ops_shot_overhead"]

NM_PER_ANGSTROM = 0.1

# per-process cache of (key -> Shooter) for Dask workers and serial runs
_SHOOTERS: dict = {}


def config_seeds(seed: int, n: int) -> np.ndarray:
    """Two 32-bit seeds per configuration (integrator, velocities), ``(n, 2)``.

    Configuration ``i`` gets ``SeedSequence([seed, i]).generate_state(2)``.

    Examples
    --------
    >>> config_seeds(0, 3).shape
    (3, 2)
    """
    return np.array([np.random.SeedSequence([int(seed), i]).generate_state(2)
                     for i in range(n)], dtype=np.uint32).reshape(n, 2)


def _shooter(spec) -> Shooter:
    key = spec["key"]
    sh = _SHOOTERS.get(key)
    if sh is None:
        _SHOOTERS.clear()  # one system per process at a time
        sh = Shooter(spec["system"], EngineSettings.from_dict(spec["settings"]),
                     StateDefinition.from_dict(spec["state_A"]),
                     StateDefinition.from_dict(spec["state_B"]))
        _SHOOTERS[key] = sh
    return sh


def _shoot_chunk(spec, indices, xs_nm, n_shots, seeds):
    """Worker task: shoot a few configurations; one row per configuration."""
    sh = _shooter(spec)
    out = []
    for i, x, s in zip(indices, xs_nm, seeds):
        t0 = time.perf_counter()
        nA, nB, nU, fr = shoot_configuration(sh, x, n_shots, s)
        out.append((int(i), nA, nB, nU, fr, time.perf_counter() - t0))
    return out


def _run_key(system, x_nm, n_shots, seed, settings, state_A, state_B,
             method) -> dict:
    return {
        "system_fingerprint": system.fingerprint(),
        "configurations_sha256": hashlib.sha256(
            np.ascontiguousarray(np.round(x_nm, 6)).tobytes()).hexdigest(),
        "n_configurations": int(x_nm.shape[0]),
        "n_shots": int(n_shots),
        "seed": int(seed),
        "engine": {k: v for k, v in settings.dynamics_key().items()
                   if k != "n_frames_max"},
        "state_A": json.loads(state_A.key()),
        "state_B": json.loads(state_B.key()),
        "max_frames": int(settings.n_frames_max),
        "method": method,
    }


def _diff(a, b, prefix=""):
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
                out += _diff(a[k], b[k], prefix + k + ".")
            else:
                out.append(f"{prefix}{k}: file {a.get(k)!r} vs now "
                           f"{b.get(k)!r}")
    return out


def choose_method(system: MolecularSystem, method: str = "auto",
                  settings=None, frames_per_shot: int = 20):
    """Which committor route runs for ``system``, and why.

    Parameters
    ----------
    system : MolecularSystem
    method : {"auto", "lean", "batched", "ops"}
        ``"auto"``: ``"batched"`` (K replicas of the molecule in one OpenMM
        context) where it is valid -- a non-periodic system whose forces the
        batched engine can copy without coupling the copies (no cutoff, no
        virtual sites, no implicit solvent, known forces) -- and measured
        faster: 64 replicas must run at least :data:`BATCH_ADVANTAGE` times
        the replica-steps/s of one molecule on its fastest platform
        (:func:`measure_routes`; on a VM whose CPU platform is slow for one
        molecule the batch wins, where Reference runs one molecule fast it
        does not), else ``"lean"``. A periodic box
        runs ``"ops"`` where OPS' measured bookkeeping per shot is at most
        :data:`~mda_rcxai.sampling.tps.OPS_OVERHEAD_LIMIT` of the MD
        (:func:`ops_shot_overhead`: a real ``CommittorSimulation`` shot of
        ``frames_per_shot`` frames beside the lean loop's; OPS' per-shot
        costs -- velocities, the move, storage -- weigh more the shorter the
        shots), else ``"lean"``. Anything else runs
        ``"lean"`` (one configuration at a time per process). An explicit
        method is checked and returned.
    settings : EngineSettings, optional
        The dynamics the measurement uses (periodic systems).
    frames_per_shot : int
        The typical shot length the periodic measurement uses, frames (a
        study passes half its median transition path length).

    Returns
    -------
    tuple of str
        ``(method, reason)``; the reason is one sentence for logs and the
        report.

    Raises
    ------
    InputError
        Unknown method, or ``"batched"`` for a system it cannot copy.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> choose_method(alanine_dipeptide())[0] in ("batched", "lean")
    True
    >>> choose_method(alanine_dipeptide(), "lean")
    ('lean', 'requested (method="lean")')
    """
    if not isinstance(system, MolecularSystem):
        raise InputTypeError(f"system must be a MolecularSystem (see "
                             f"mda_rcxai.systems), got {type(system).__name__}")
    if method not in ("lean", "batched", "ops", "auto"):
        raise InputError(f"method={method!r} is not known; use 'auto', "
                         "'lean', 'batched' or 'ops'")
    if method == "batched" and system.periodic:
        raise InputError(
            "method='batched' cannot run a periodic system (the replicas "
            "would share one box and feel each other); use method='lean', "
            "'ops' or 'auto'")
    if method == "batched":
        build_replica_system(system, 1)  # refuses what it cannot copy
    if method != "auto":
        return method, f'requested (method="{method}")'
    if system.periodic:
        t_ops, t_md, choice = ops_shot_overhead(system, as_settings(settings),
                                                frames_per_shot)
        over = t_ops / t_md - 1.0
        what = (f"periodic box; a {int(frames_per_shot)}-frame shot costs "
                f"{1e3 * t_ops:.0f} ms through OPS' CommittorSimulation (its "
                f"velocities, MD and storage), {1e3 * t_md:.0f} ms on the "
                f"lean loop, on {choice.label} (bookkeeping {100 * over:.0f} "
                "% of the MD)")
        if over <= OPS_OVERHEAD_LIMIT:
            return "ops", what + ": OPS' CommittorSimulation shoots"
        return "lean", what + ": the per-configuration route shoots"
    try:
        build_replica_system(system, 1)
    except InputError as err:
        why = (str(err).strip().splitlines() or [""])[0].split("; ")[0]
        return "lean", ("the batched engine does not apply to this system "
                        f"({why}); per-configuration route over Dask workers")
    one, many = measure_routes(system, settings)
    what = (f"one molecule {one.best_steps_per_s:,.0f} steps/s on "
            f"{one.label}, {BATCH_K} replicas {many.best_steps_per_s:,.0f} "
            f"replica-steps/s on {many.label}")
    if many.best_steps_per_s >= BATCH_ADVANTAGE * one.best_steps_per_s:
        return "batched", (f"measured {what}: many replicas integrated in one "
                           "OpenMM context")
    return "lean", (f"measured {what}: below {BATCH_ADVANTAGE:g}x, so one "
                    "configuration at a time per process (the batched "
                    "engine's refills and tail would eat its gain)")


_SHOT_OVERHEADS: dict = {}


def ops_shot_overhead(system, settings=None, frames_per_shot: int = 20,
                      seed: int = 0, n_shots: int = 2):
    """Measured seconds per shot: OPS' CommittorSimulation and the lean loop.

    Both shoot ``frames_per_shot``-frame trajectories (frames counting the
    start) from ``system.positions`` on the same measured platform: OPS with
    its own ``CommittorSimulation`` (velocities from :func:`make_randomizer`,
    the engine, an MC step saved to a storage file; two volumes no frame can
    enter, so every shot runs its full length), the lean route with the
    dynamics core (Maxwell-Boltzmann velocities with constraints, frame by
    frame with the state test). After one warm-up shot each, ``n_shots``
    shots per route in two interleaved rounds; the faster round of each
    counts. Cached per system and settings in this process.

    Returns
    -------
    (float, float, PlatformChoice)
        Seconds per shot through OPS, seconds per shot of the lean loop,
        and the platform both ran on.
    """
    settings = as_settings(settings).replace(
        n_frames_max=max(2, int(frames_per_shot)))
    key = (system.fingerprint(), tuple(sorted(settings.to_dict().items())),
           int(seed), int(n_shots))
    if key not in _SHOT_OVERHEADS:
        _SHOT_OVERHEADS[key] = _measure_shots(system, settings, seed, n_shots)
    return _SHOT_OVERHEADS[key]


def _measure_shots(system, settings, seed, n_shots):
    paths = import_ops()
    engine = make_engine(system, settings, seed=seed)
    engine.options["on_max_length"] = "stop"
    engine.interrupter = contextlib.nullcontext
    st = engine.mda_rcxai_settings
    n_frames = st.n_frames_max
    snap = snapshot_from_positions(engine, system.positions)
    never = [paths.EmptyVolume().named("never A"),
             paths.EmptyVolume().named("never B")]
    ctx = create_context(system.system, make_integrator(st, seed + 1),
                         st.platform, st.threads, box=system.box_vectors,
                         positions=system.positions)
    one = OneMolecule(ctx, st.steps_per_frame)
    states = list(system.states.values())[:2]
    test = StateTest(states[0], states[-1], system.box_vectors)
    sigma = velocity_sigma(system.system, st.temperature)
    rng = np.random.default_rng(seed)

    def lean(n):
        for _ in range(n):
            x0, v0 = start_trajectory(ctx, system.positions,
                                      maxwell_boltzmann(rng, sigma))
            one.start(x0, v0, in_context=True)
            for _ in range(n_frames - 1):
                test(one.advance()[0])
    old_default = paths.EngineMover.default_engine
    t_ops = t_lean = float("inf")
    with tempfile.TemporaryDirectory() as folder:
        store = paths.Storage(os.path.join(folder, "measure.nc"), "w",
                              template=snap)
        try:
            sim = paths.CommittorSimulation(
                storage=store, engine=engine, states=never,
                randomizer=make_randomizer(engine), initial_snapshots=[snap],
                direction=1)
            sim.output_stream = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), seeded(seed):
                sim.run(n_per_snapshot=1)
                lean(1)
                for _ in range(2):
                    t0 = time.perf_counter()
                    sim.run(n_per_snapshot=int(n_shots))
                    t_ops = min(t_ops, (time.perf_counter() - t0) / n_shots)
                    t0 = time.perf_counter()
                    lean(int(n_shots))
                    t_lean = min(t_lean, (time.perf_counter() - t0) / n_shots)
        finally:
            paths.EngineMover.default_engine = old_default
            close_storage(store)
            gc.collect()
    return t_ops, t_lean, engine.mda_rcxai_platform


#: Replicas in the measurement of :func:`measure_routes`.
BATCH_K = 64
#: ``method="auto"`` takes the batched engine when its measured replica-steps/s
#: are at least this multiple of one molecule's steps/s (refilling replicas and
#: the tail of long shots cost what the plain measurement does not see).
BATCH_ADVANTAGE = 1.5


def measure_routes(system, settings=None):
    """Measured steps/s of one molecule and of 64 replicas on their fastest platforms.

    Returns
    -------
    (PlatformChoice, PlatformChoice)
        Single-molecule choice and batched choice (cached per process).
    """
    from .replicas import per_shot_langevin
    settings = as_settings(settings).replace(platform="auto")
    one = choose_platform(system.system, settings, system.positions,
                          max_threads=1, cache_key=system.fingerprint())
    many = choose_platform(
        build_replica_system(system, BATCH_K), settings,
        np.tile(system.positions, (BATCH_K, 1)), kind="batched",
        n_copies=BATCH_K, max_threads=1,
        integrator_factory=per_shot_langevin(settings),
        cache_key=(system.fingerprint(), "per-shot"))
    return one, many


def run_committor(system: MolecularSystem, configurations, n_shots: int,
                  out=None, seed: int = 0, n_workers: int = 1, client=None,
                  verbose: bool = True, *, state_A=None, state_B=None,
                  settings=None, method: str = "auto", storage=None,
                  chunk_size: int | None = None, n_replicas: int = 64,
                  scheduler: str | None = None,
                  **engine) -> CommittorDataset:
    """Measure the committor p_B of each configuration by shooting.

    From each configuration, ``n_shots`` trajectories start with
    Maxwell-Boltzmann velocities at the temperature (constraints applied)
    and run forward under Langevin dynamics until they enter ``state_A`` or
    ``state_B``, tested every frame; ``p_B = n_B / (n_A + n_B)``.

    Parameters
    ----------
    system : MolecularSystem
    configurations : array_like or CommittorDataset
        ``(n, n_atoms, 3)`` positions in **Angstrom** (as from
        :func:`harvest`), or a dataset whose positions to reuse.
    n_shots : int
        Shots per configuration (>= 1).
    out : str, optional
        Dataset file (``.npz``); written after every finished configuration
        (chunk, for the OPS route) and resumed from if it exists (same
        arguments required).
    seed : int
        Seeds of configuration ``i``: ``SeedSequence([seed, i])``.
    n_workers : int
        1: serial in this process. >1: a Dask ``LocalCluster`` with that
        many single-threaded worker processes (``0`` or None: one per CPU
        core). In a script, call under ``if __name__ == "__main__":``.
    client : dask.distributed.Client, optional
        Use this cluster instead.
    verbose : bool
        tqdm progress bar.
    state_A, state_B : str or StateDefinition, optional
        Default: the system's two states.
    settings : EngineSettings, optional
        Temperature (K), time step (fs), friction (1/ps), steps per frame,
        longest shot (``n_frames_max`` frames, counting the start; longer
        shots are undecided; ``max_frames=`` is accepted too) and platform
        ("auto": measured once here). Its fields are also accepted as
        keywords.
    method : {"auto", "lean", "batched", "ops"}
        See :func:`choose_method`; the choice and its reason go into
        ``metadata["method"]``.
    storage : str, optional
        ``method="ops"``: a folder in which to keep OPS' storage files, one
        per chunk (~85 MB each: OPS reserves that much per file). Without
        it the files are written beside ``out`` (``<out>_ops/``), analysed
        by OPS and deleted.
    chunk_size : int, optional
        Configurations per Dask task.
    n_replicas : int
        Replicas per batched engine (``method="batched"``).
    scheduler : str, optional
        Address of a running Dask scheduler (``"tcp://host:port"``).

    Returns
    -------
    CommittorDataset
        Positions in Angstrom, ``n_A``, ``n_B``, ``n_undecided``, ``p_B``,
        metadata (temperature, force field, states, seeds, versions, run
        arguments, engine settings with the measured platform choice,
        timing).

    Raises
    ------
    StateError
        Unknown or overlapping states, or a configuration inside a state.
    DatasetError
        ``out`` exists but is not a dataset, or is from another system or
        run.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> from mda_rcxai.sampling import run_committor
    >>> system = alanine_dipeptide()
    >>> ds = run_committor(system, configs, 10, out="shots.npz", seed=0,
    ...                    n_workers=2)                        # doctest: +SKIP
    >>> ds.p_B                                                 # doctest: +SKIP
    """
    t_start = time.perf_counter()
    settings = as_settings(settings, **engine)
    if not isinstance(system, MolecularSystem):
        raise InputTypeError(f"system must be a MolecularSystem (see "
                             f"mda_rcxai.systems), got {type(system).__name__}")
    if isinstance(configurations, CommittorDataset):
        configurations = configurations.positions
    try:
        x = np.asarray(configurations, dtype=float)
    except (TypeError, ValueError):
        raise InputTypeError("configurations must be an array (n, n_atoms, 3)"
                             " in Angstrom") from None
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != (system.n_atoms, 3):
        raise InputError(f"configurations have shape {x.shape}; want (n, "
                         f"{system.n_atoms}, 3) in Angstrom")
    if x.shape[0] == 0:
        raise InputError("configurations is empty")
    if not np.all(np.isfinite(x)):
        raise InputError("configurations contain NaN or inf")
    if isinstance(n_shots, bool) or not isinstance(n_shots, (int, np.integer)):
        raise InputTypeError(f"n_shots={n_shots!r} must be an int")
    if n_shots < 1:
        raise InputError(f"n_shots={n_shots} must be >= 1: no shots, no "
                         "committor")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise InputError(f"seed={seed!r} must be a non-negative integer")
    requested = method
    method, reason = choose_method(system, method, settings)
    if method == "batched" and int(n_replicas) < 1:
        raise InputError(f"n_replicas={n_replicas} must be >= 1")
    if scheduler is not None:
        if client is not None:
            raise InputError("give either client= or scheduler=, not both")
        if not isinstance(scheduler, str) or "://" not in scheduler:
            raise InputError(f"scheduler={scheduler!r} must be a Dask "
                             "scheduler address like 'tcp://host:8786'")
    if chunk_size is not None and (isinstance(chunk_size, bool) or
                                   int(chunk_size) != chunk_size or
                                   chunk_size < 1):
        raise InputError(f"chunk_size={chunk_size!r} must be a positive "
                         "integer")
    st_A, st_B = two_states(system, state_A, state_B)
    x_nm = x * NM_PER_ANGSTROM
    in_A = st_A.contains(x_nm, system.box_vectors)
    in_B = st_B.contains(x_nm, system.box_vectors)
    if in_A.any() or in_B.any():
        bad = np.flatnonzero(in_A | in_B)
        raise StateError(
            f"configurations {bad[:10].tolist()}{' ...' if len(bad) > 10 else ''}"
            f" ({len(bad)} in all) are inside state {st_A.name!r} or "
            f"{st_B.name!r}; their committor is known (0 or 1). Drop them "
            "(harvest(..., system=system) does)")
    parallel = client is not None or scheduler is not None or (
        n_workers is None or int(n_workers) != 1)
    n_procs = allowed_threads() if n_workers in (None, 0) else int(n_workers)
    if out is not None:
        out = os.fspath(out)
        d = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(d):
            raise InputError(f"out={out!r}: folder {d!r} does not exist")
    keep_storage = storage is not None
    if method == "ops":
        if storage is None and out is None:
            raise InputError("method='ops' needs storage= (a folder for the "
                             "OPS files) or out=")
        storage = os.fspath(storage) if storage is not None else \
            os.path.splitext(out)[0] + "_ops"
    n = x.shape[0]
    key = _run_key(system, x_nm, n_shots, seed, settings, st_A, st_B, method)
    choice = None
    if method != "batched":  # batched measures on its replica System
        settings, choice = measured_settings(
            system, settings, max_threads=max(1, allowed_threads() // max(
                1, n_procs if parallel else 1)))
    meta = {
        "temperature": settings.temperature,
        "force_field": system.force_field,
        "system_name": system.name,
        "system_fingerprint": system.fingerprint(),
        "states": [st_A.name, st_B.name],
        "state_definitions": [st_A.to_dict(), st_B.to_dict()],
        "seed": int(seed),
        "n_shots": int(n_shots),
        "engine": dict(settings.to_dict(), platform_choice=None if choice
                       is None else choice.to_dict()),
        "versions": versions(),
        "units": {"positions": "angstrom", "temperature": "K",
                  "timestep": "fs"},
        "run": key,
        "method": {"name": method, "reason": reason, "requested": requested},
        "box_vectors_nm": (None if system.box_vectors is None else
                           np.asarray(system.box_vectors).tolist()),
    }
    topo = system.topology_arrays()
    ds = None
    if out is not None:  # a run killed while saving left its temporary file
        remove_stale_temporaries(out)
    if out is not None and os.path.exists(out):
        ds = CommittorDataset.load(out)  # DatasetError if not a dataset
        old = ds.metadata.get("run", {})
        if old != key:
            diffs = _diff(old, key)
            raise DatasetError(
                f"{out!r} belongs to another run ({'; '.join(diffs[:5])}); "
                "use another out= or the same arguments to resume")
        if ds.positions.shape != x.shape or not np.allclose(ds.positions, x,
                                                            atol=1e-4):
            raise DatasetError(f"{out!r} holds other configurations; use "
                               "another out= to start a new run")
        ds.metadata.update({k: v for k, v in meta.items()
                            if k not in ("run",)})
    if ds is None:
        ds = CommittorDataset(x, np.zeros(n, int), np.zeros(n, int), topo,
                              meta, np.zeros(n, int), np.zeros(n, bool),
                              box=_box_angstrom(system))
        ds.metadata["frames"] = 0
        ds.metadata["shoot_seconds"] = 0.0
        if out is not None:
            ds.save(out)
    todo = np.flatnonzero(~ds.done)
    seeds = config_seeds(seed, n)
    spec = {"key": hashlib.sha256(json.dumps(
                [key["system_fingerprint"], settings.to_dict(),
                 key["state_A"], key["state_B"]], sort_keys=True).encode()
            ).hexdigest(),
            "system": system, "settings": settings.to_dict(),
            "state_A": st_A.to_dict(), "state_B": st_B.to_dict()}
    bar = progress_bar(verbose, total=n, initial=n - len(todo),
                       desc=f"committor {n_shots} shots ({method})")
    frames = int(ds.metadata.get("frames", 0))
    shoot_s = float(ds.metadata.get("shoot_seconds", 0.0))

    def record(rows):
        nonlocal frames, shoot_s
        for i, nA, nB, nU, fr, sec in rows:
            ds.n_A[i], ds.n_B[i], ds.n_undecided[i] = nA, nB, nU
            ds.done[i] = True
            frames += fr
            shoot_s += sec
        ds.metadata["frames"] = frames
        ds.metadata["shoot_seconds"] = shoot_s
        if out is not None:
            ds.save(out)
        bar.update(len(rows))
        if interrupted[0]:  # a Ctrl-C whose KeyboardInterrupt was swallowed
            raise KeyboardInterrupt

    t_shoot = time.perf_counter()
    info: dict = {}
    try:
        with sigint_flag() as interrupted:
            if len(todo):
                if method == "batched":
                    _run_batched(system, spec, todo, x_nm, n_shots, seed,
                                 client, n_workers, chunk_size, n_replicas,
                                 parallel, record, scheduler, info)
                elif method == "ops":
                    _run_ops(system, spec, todo, x_nm, n_shots, seeds,
                             storage, keep_storage, client, n_workers,
                             chunk_size,
                             parallel, record, scheduler)
                elif not parallel:
                    sh = _shooter(spec)
                    for i in todo:
                        t0 = time.perf_counter()
                        r = shoot_configuration(sh, x_nm[i], n_shots,
                                                seeds[i])
                        record([(i, *r, time.perf_counter() - t0)])
                else:
                    _run_dask(spec, todo, x_nm, n_shots, seeds, client,
                              n_workers, chunk_size, record, scheduler)
    finally:
        bar.close()
    if info.get("platform_choice"):
        ds.metadata["engine"]["platform"] = info["platform"]
        ds.metadata["engine"]["platform_choice"] = info["platform_choice"]
    if len(todo):
        wall = time.perf_counter() - t_shoot
        steps = frames * settings.steps_per_frame
        ds.metadata["md_steps_per_s_last_call"] = (
            info["replica_steps"] / wall if info.get("replica_steps")
            else steps / wall if steps else None)
    ds.metadata["wall_seconds_last_call"] = time.perf_counter() - t_start
    ds.metadata["frames"] = frames
    if method == "ops" and keep_storage:
        ds.metadata["ops_storage"] = os.path.abspath(storage)
    if out is not None:
        ds.save(out)
    return ds


def _box_angstrom(system):
    """MDAnalysis dimensions [lx, ly, lz, alpha, beta, gamma] (Angstrom,
    degrees) of a periodic system, or None."""
    if system.box_vectors is None:
        return None
    return box_dimensions(system.box_vectors)


def _chunks(todo, chunk_size, n_w, per_worker, most):
    if chunk_size is None:
        chunk_size = int(max(1, min(most, np.ceil(len(todo) /
                                                  (per_worker * n_w)))))
    return [todo[k:k + int(chunk_size)]
            for k in range(0, len(todo), int(chunk_size))]


def _run_dask(spec, todo, x_nm, n_shots, seeds, client, n_workers,
              chunk_size, record, scheduler=None):
    with dask_client(client, n_workers, scheduler) as (client, n_w):
        spec_f = client.scatter(spec, broadcast=True)
        idxs = _chunks(todo, chunk_size, n_w, 4, 8)
        submit_all(client, _shoot_chunk,
                   [(spec_f, idx.tolist(), x_nm[idx], n_shots, seeds[idx])
                    for idx in idxs], record)


def _batched_chunk(system, spec, idx, x_nm, n_shots, seed, n_replicas,
                   on_done=None, info=None):
    """Shoot configurations ``idx`` with one batched engine; rows as ``record`` wants."""
    rows = []
    t0 = [time.perf_counter()]

    def done(k, nA, nB):
        now = time.perf_counter()
        row = (int(idx[k]), int(nA), int(nB), int(n_shots - nA - nB), 0,
               now - t0[0])
        t0[0] = now
        rows.append(row)
        if on_done is not None:
            on_done([row])

    # per-shot seeds from (seed, global configuration index, shot): counts do
    # not depend on the chunking, n_replicas or the number of workers
    shoot_batched(system, x_nm, n_shots,
                  state_A=StateDefinition.from_dict(spec["state_A"]),
                  state_B=StateDefinition.from_dict(spec["state_B"]),
                  settings=EngineSettings.from_dict(spec["settings"]),
                  n_replicas=int(n_replicas), seed=int(seed),
                  config_ids=np.asarray(idx, dtype=int), on_config_done=done,
                  verbose=False, info=info)
    return rows


def _run_batched(system, spec, todo, x_nm, n_shots, seed, client, n_workers,
                 chunk_size, n_replicas, parallel, record, scheduler, info):
    if not parallel:
        # one engine for all pending configurations; counts recorded as each
        # finishes
        _batched_chunk(system, spec, todo, x_nm[todo], n_shots, seed,
                       n_replicas, on_done=record, info=info)
        return
    with dask_client(client, n_workers, scheduler) as (client, n_w):
        idxs = _chunks(todo, chunk_size, n_w, 3, len(todo))
        submit_all(client, _batched_chunk,
                   [(system, spec, idx, x_nm[idx], n_shots, seed, n_replicas)
                    for idx in idxs], record)


# ----------------------------------------------------------------------
# the OPS route
def _ops_chunk(spec, indices, xs_nm, n_shots, seeds, folder, keep=True):
    """Worker task: OPS CommittorSimulation of a few configurations.

    One storage file per chunk (``ops_<first index>_<last>.nc``, written
    under a temporary name and renamed when complete; deleted after the
    analysis unless ``keep``); configuration ``i``
    is shot by its own ``CommittorSimulation`` with the integrator re-seeded
    from ``seeds[i][0]`` and OPS' generators seeded from ``seeds[i][1]``, so
    its counts depend on ``(seed, i)`` only. Counted with OPS'
    ``ShootingPointAnalysis``.
    """
    paths = import_ops()
    system = spec["system"]
    settings = EngineSettings.from_dict(spec["settings"])
    st_A = StateDefinition.from_dict(spec["state_A"])
    st_B = StateDefinition.from_dict(spec["state_B"])
    engine = make_engine(system, settings, seed=int(seeds[0][0]))
    engine.options["on_max_length"] = "stop"
    if threading.current_thread() is not threading.main_thread():
        # OPS delays Ctrl-C with a SIGINT handler around every trajectory,
        # which Python allows in the main thread only (a Dask worker runs
        # tasks in a thread); the driver handles Ctrl-C there
        engine.interrupter = contextlib.nullcontext
    vol_A = make_volume(st_A, system.box_vectors)
    vol_B = make_volume(st_B, system.box_vectors)
    randomizer = make_randomizer(engine)
    name = os.path.join(folder, f"ops_{indices[0]:06d}_{indices[-1]:06d}.nc")
    tmp = os.path.join(folder, f".{os.path.basename(name)}.tmp{os.getpid()}.nc")
    snaps = [snapshot_from_positions(engine, x) for x in xs_nm]
    store = paths.Storage(tmp, "w", template=snaps[0])
    # CommittorSimulation sets the class attribute EngineMover.default_engine;
    # left there, it keeps the engine and the closed storage alive
    old_default = paths.EngineMover.default_engine
    rows, spans = [], []
    ctx = engine.simulation.context
    try:
        for i, snap, s in zip(indices, snaps, seeds):
            t0 = time.perf_counter()
            store.sync_all()
            first = len(store.steps)
            ctx.getIntegrator().setRandomNumberSeed(int(s[0]) % 2 ** 31 or 1)
            ctx.reinitialize(preserveState=True)
            sim = paths.CommittorSimulation(
                storage=store, engine=engine, states=[vol_A, vol_B],
                randomizer=randomizer, initial_snapshots=[snap], direction=1)
            sim.output_stream = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), seeded(int(s[1])):
                sim.run(n_per_snapshot=int(n_shots))
            store.sync_all()
            spans.append((first, len(store.steps)))
            rows.append([int(i), time.perf_counter() - t0])
        by_config, frames = [], 0
        for first, last in spans:
            # OPS' own analysis of this configuration's steps only (its
            # results are keyed by the constrained shooting snapshot)
            steps = [store.steps[k] for k in range(first, last)]
            with contextlib.redirect_stderr(io.StringIO()), \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")  # undecided shots
                spa = paths.ShootingPointAnalysis(steps=None,
                                                  states=[vol_A, vol_B],
                                                  error_if_no_state=False)
                spa.analyze(steps)
            by_config.append((sum(int(c.get(vol_A, 0)) for c in spa.values()),
                              sum(int(c.get(vol_B, 0)) for c in spa.values())))
            frames += sum(len(step.change.trials[0].trajectory) - 1
                          for step in steps if step.change is not None
                          and step.change.trials)
    finally:
        paths.EngineMover.default_engine = old_default
        close_storage(store)
        gc.collect()
    if keep:
        os.replace(tmp, name)
    else:  # OPS reserves ~85 MB per storage file: kept only when asked
        os.remove(tmp)
    out = []
    for (i, sec), (nA, nB) in zip(rows, by_config):
        if nA + nB > int(n_shots):
            raise SamplingError(
                f"OPS' analysis counted {nA + nB} decided shots for "
                f"configuration {i}, which had {n_shots}; please report it")
        out.append((i, nA, nB, int(n_shots) - nA - nB,
                    frames if i == rows[-1][0] else 0, sec))
    return out


def _run_ops(system, spec, todo, x_nm, n_shots, seeds, folder, keep, client,
             n_workers, chunk_size, parallel, record, scheduler):
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):  # left by a killed chunk
        if f.startswith(".ops_") and ".tmp" in f:
            os.remove(os.path.join(folder, f))
    if not parallel:
        for idx in _chunks(todo, chunk_size or 4, 1, 1, 4):
            record(_ops_chunk(spec, idx.tolist(), x_nm[idx], n_shots,
                              seeds[idx], folder, keep))
        return
    with dask_client(client, n_workers, scheduler) as (client, n_w):
        spec_f = client.scatter(spec, broadcast=True)
        idxs = _chunks(todo, chunk_size, n_w, 4, 8)
        submit_all(client, _ops_chunk,
                   [(spec_f, idx.tolist(), x_nm[idx], n_shots, seeds[idx],
                     folder, keep) for idx in idxs], record)

"""Committor shooting with the OPS engine, volumes and velocity randomizer.

Two routes:

``method="lean"`` (default)
    For every shot: OPS ``RandomVelocities`` draws Maxwell-Boltzmann
    velocities (constraints applied) for the configuration, the OPS OpenMM
    engine's context integrates ``steps_per_frame`` steps at a time, and
    after each frame the OPS volumes of both states (numpy ``FunctionCV``
    box indicators) are tested until one of them holds. Counts go straight
    into the dataset; shot trajectories are not kept. Serial, or parallel
    on Dask (a ``LocalCluster`` with one single-threaded process per
    worker, or your ``Client``).
``method="ops"``
    OPS' own ``CommittorSimulation`` writing every shot to an OPS storage
    file, counted with ``ShootingPointAnalysis`` (serial; slower, but the
    full OPS record).

Reproducibility: configuration ``i`` gets its own seed from
``numpy.random.SeedSequence([seed, i])`` for both the velocities and the
integrator's random stream (the OpenMM context is re-initialised with it),
so its counts do not depend on the order, on the worker that ran it or on
whether the run was resumed.

Resuming: after every finished configuration the dataset file ``out`` is
rewritten atomically (temporary file, then rename) with a ``done`` mask.
Started again with the same arguments, the run skips the configurations
already done; a file from another system or with other arguments is
refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time

import numpy as np

from ..exceptions import DatasetError, InputError, InputTypeError, StateError
from ..systems import MolecularSystem, StateDefinition, check_states
from .dataset import CommittorDataset, versions
from .engine import (EngineSettings, _engine_from_settings, _quiet_ops,
                     make_randomizer, make_volume, snapshot_from_positions)

__all__ = ["run_committor", "shoot_configuration"]

NM_PER_ANGSTROM = 0.1

# per-process cache of (key -> engine bundle) for Dask workers and serial runs
_ENGINES: dict = {}


def _config_seeds(seed: int, n: int) -> np.ndarray:
    """Two 32-bit seeds per configuration: integrator, velocities."""
    return np.array([np.random.SeedSequence([int(seed), i]).generate_state(2)
                     for i in range(n)], dtype=np.uint32).reshape(n, 2)


class _Bundle:
    """Engine, volumes and randomizer for one (system, settings, states)."""

    def __init__(self, system, settings, state_A, state_B):
        self.engine = _engine_from_settings(system, settings, seed=1)
        self.vol_A = make_volume(state_A)
        self.vol_B = make_volume(state_B)
        self.randomizer = make_randomizer(self.engine, settings["temperature"])
        self.spf = settings["steps_per_frame"]
        paths = _quiet_ops()
        self._Snapshot = paths.engines.openmm.Snapshot


def _bundle(spec) -> _Bundle:
    key = spec["key"]
    b = _ENGINES.get(key)
    if b is None:
        from ..systems import StateDefinition
        b = _Bundle(spec["system"], spec["settings"],
                    StateDefinition.from_dict(spec["state_A"]),
                    StateDefinition.from_dict(spec["state_B"]))
        _ENGINES.clear()  # one system per process at a time
        _ENGINES[key] = b
    return b


def shoot_configuration(bundle: _Bundle, x_nm, n_shots: int, seeds,
                        max_frames: int):
    """Shoot ``n_shots`` times from one configuration (lean route).

    Returns
    -------
    tuple
        ``(n_A, n_B, n_undecided, n_frames)``; ``n_frames`` is the number of
        frames integrated (``steps_per_frame`` MD steps each).
    """
    engine = bundle.engine
    sim = engine.simulation
    ctx = sim.context
    integ = sim.integrator
    integ.setRandomNumberSeed(int(seeds[0]) % 2**31 or 1)
    ctx.reinitialize(preserveState=False)
    engine._current_snapshot = None
    np.random.seed(int(seeds[1]))  # OPS RandomVelocities draws from here
    start = snapshot_from_positions(engine, x_nm)
    vol_A, vol_B = bundle.vol_A, bundle.vol_B
    Snapshot = bundle._Snapshot
    spf = bundle.spf
    n_A = n_B = n_U = frames = 0
    for _ in range(int(n_shots)):
        engine.current_snapshot = bundle.randomizer(start)
        outcome = None
        for _ in range(int(max_frames) - 1):
            integ.step(spf)
            frames += 1
            pos = ctx.getState(getPositions=True).getPositions(asNumpy=True)
            snap = Snapshot.construct(coordinates=pos, box_vectors=None,
                                      velocities=None, engine=engine)
            if vol_A(snap):
                outcome = "A"
                break
            if vol_B(snap):
                outcome = "B"
                break
        if outcome == "A":
            n_A += 1
        elif outcome == "B":
            n_B += 1
        else:
            n_U += 1
        engine._current_snapshot = None
    return n_A, n_B, n_U, frames


def _shoot_chunk(spec, indices, xs_nm, n_shots, seeds, max_frames):
    """Worker task: shoot a few configurations; returns one row per config."""
    b = _bundle(spec)
    out = []
    for i, x, s in zip(indices, xs_nm, seeds):
        t0 = time.perf_counter()
        nA, nB, nU, fr = shoot_configuration(b, x, n_shots, s, max_frames)
        out.append((int(i), nA, nB, nU, fr, time.perf_counter() - t0))
    return out


def _run_key(system, x_nm, n_shots, seed, settings, state_A, state_B,
             max_frames, method) -> dict:
    return {
        "system_fingerprint": system.fingerprint(),
        "configurations_sha256": hashlib.sha256(
            np.ascontiguousarray(np.round(x_nm, 6)).tobytes()).hexdigest(),
        "n_configurations": int(x_nm.shape[0]),
        "n_shots": int(n_shots),
        "seed": int(seed),
        "engine": {k: settings[k] for k in ("temperature", "timestep_fs",
                                            "steps_per_frame",
                                            "friction_per_ps", "integrator")},
        "state_A": json.loads(state_A.key()),
        "state_B": json.loads(state_B.key()),
        "max_frames": int(max_frames),
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


def run_committor(system: MolecularSystem, configurations, n_shots: int,
                  out=None, seed: int = 0, n_workers: int = 1, client=None,
                  temperature: float = 300.0, verbose: bool = True, *,
                  state_A="C7eq", state_B="C7ax", timestep_fs: float = 2.0,
                  steps_per_frame: int = 10, friction_per_ps: float = 1.0,
                  max_frames: int = 2000, platform: str = "CPU",
                  method: str = "lean", storage=None,
                  chunk_size: int | None = None,
                  n_replicas: int = 64) -> CommittorDataset:
    """Measure the committor p_B of each configuration by shooting.

    From each configuration, ``n_shots`` trajectories start with
    Maxwell-Boltzmann velocities at ``temperature`` (OPS
    ``RandomVelocities``) and run forward under Langevin dynamics (the OPS
    OpenMM engine) until they enter ``state_A`` or ``state_B`` (OPS
    volumes, tested every frame); ``p_B = n_B / (n_A + n_B)``.

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
        and resumed from if it exists (same arguments required).
    seed : int
        Seeds of configuration ``i``: ``SeedSequence([seed, i])``.
    n_workers : int
        1: serial in this process. >1: a Dask ``LocalCluster`` with that
        many single-threaded worker processes (``0`` or None: one per CPU
        core). Worker processes are spawned: in a script, call
        ``run_committor`` under ``if __name__ == "__main__":``.
    client : dask.distributed.Client, optional
        Use this cluster instead (``n_workers`` is then ignored).
    temperature : float
        K.
    verbose : bool
        tqdm progress bar.
    state_A, state_B : str or StateDefinition
    timestep_fs, steps_per_frame, friction_per_ps : engine settings
        fs, MD steps per frame, 1/ps.
    max_frames : int
        A shot that has not reached a state after this many frames
        (counting the start, as OPS ``n_frames_max``) is undecided.
    platform : str
        OpenMM platform (one thread per process on "CPU").
    method : {"lean", "batched", "ops", "auto"}
        "auto": "batched" when the system allows it (vacuum, no cutoff, no
        virtual sites, known forces), else "lean".
        "lean": the OPS OpenMM engine, volumes and velocity randomizer, one
        shot at a time per process. "batched": ``n_replicas`` copies of the
        molecule integrated together in one OpenMM context
        (:func:`mda_rcxai.sampling.batched.shoot_batched`; vacuum /
        non-periodic systems only; about 5-10x the shots per core of a
        plain loop on alanine dipeptide), one batched engine per Dask
        worker when ``n_workers > 1``. "ops": OPS ``CommittorSimulation``
        with every shot in an OPS storage file ``storage`` (serial, not
        resumable).
    storage : str, optional
        OPS storage file for ``method="ops"`` (default: ``out`` with
        ``.nc``).
    chunk_size : int, optional
        Configurations per Dask task (default: about 4 tasks per worker,
        at most 8 configurations each; "batched": about 3 tasks per worker).
    n_replicas : int
        Replicas per batched engine (``method="batched"``).

    Returns
    -------
    CommittorDataset
        Positions in Angstrom, ``n_A``, ``n_B``, ``n_undecided``, ``p_B``,
        metadata (temperature, force field, states, seeds, versions, run
        arguments, timing).

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
    if int(max_frames) != max_frames or max_frames < 2:
        raise InputError(f"max_frames={max_frames!r} must be an integer >= 2")
    if method not in ("lean", "batched", "ops", "auto"):
        raise InputError(f"method={method!r} is not known; use 'auto', 'lean', "
                         "'batched' or 'ops'")
    if method == "auto":  # the fastest engine that is valid for this system
        from .batched import build_replica_system
        try:
            build_replica_system(system, 1)
            method = "batched"
        except InputError:  # periodic, cutoffs, virtual sites, unknown forces
            method = "lean"
    if method == "batched":
        from .batched import build_replica_system
        build_replica_system(system, 1)  # refuses periodic systems clearly, up front
        if int(n_replicas) < 1:
            raise InputError(f"n_replicas={n_replicas} must be >= 1")
    settings = EngineSettings.make(temperature, timestep_fs, steps_per_frame,
                                   friction_per_ps, "langevin_middle",
                                   platform, 1, int(max_frames))
    st_A, st_B = check_states(system.states, [state_A, state_B],
                              system.n_atoms)
    x_nm = x * NM_PER_ANGSTROM
    in_A = st_A.contains(x_nm)
    in_B = st_B.contains(x_nm)
    if in_A.any() or in_B.any():
        bad = np.flatnonzero(in_A | in_B)
        raise StateError(
            f"configurations {bad[:10].tolist()}{' ...' if len(bad) > 10 else ''}"
            f" ({len(bad)} in all) are inside state {st_A.name!r} or "
            f"{st_B.name!r}; their committor is known (0 or 1). Drop them "
            "(harvest(..., system=system) does)")
    n = x.shape[0]
    key = _run_key(system, x_nm, n_shots, seed, settings, st_A, st_B,
                   max_frames, method)
    meta = {
        "temperature": settings["temperature"],
        "force_field": system.force_field,
        "system_name": system.name,
        "system_fingerprint": system.fingerprint(),
        "states": [st_A.name, st_B.name],
        "state_definitions": [st_A.to_dict(), st_B.to_dict()],
        "seed": int(seed),
        "n_shots": int(n_shots),
        "engine": dict(settings),
        "versions": versions(),
        "units": {"positions": "angstrom", "temperature": "K",
                  "timestep": "fs"},
        "run": key,
    }
    topo = system.topology_arrays()
    if out is not None:
        out = os.fspath(out)
        d = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(d):
            raise InputError(f"out={out!r}: folder {d!r} does not exist")
    if method == "ops":
        return _run_ops(system, x, x_nm, n_shots, seed, settings, st_A, st_B,
                        meta, topo, out, storage, verbose, t_start)

    ds = None
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
                              meta, np.zeros(n, int), np.zeros(n, bool))
        ds.metadata["frames"] = 0
        ds.metadata["shoot_seconds"] = 0.0
        if out is not None:
            ds.save(out)
    todo = np.flatnonzero(~ds.done)
    seeds = _config_seeds(seed, n)
    spec = {"key": hashlib.sha256(json.dumps(
                [key["system_fingerprint"], key["engine"], key["state_A"],
                 key["state_B"], platform], sort_keys=True).encode()
            ).hexdigest(),
            "system": system, "settings": dict(settings),
            "state_A": st_A.to_dict(), "state_B": st_B.to_dict()}

    from .tps import _tqdm
    bar = _tqdm(verbose, total=n, initial=n - len(todo),
                desc=f"committor {n_shots} shots")
    frames = int(ds.metadata.get("frames", 0))

    def record(rows):
        nonlocal frames
        for i, nA, nB, nU, fr, _sec in rows:
            ds.n_A[i], ds.n_B[i], ds.n_undecided[i] = nA, nB, nU
            ds.done[i] = True
            frames += fr
        ds.metadata["frames"] = frames
        if out is not None:
            ds.save(out)
        bar.update(len(rows))

    try:
        if len(todo):
            parallel = client is not None or (n_workers is None or
                                              int(n_workers) != 1)
            if method == "batched":
                _run_batched(system, spec, todo, x_nm, n_shots, seed, max_frames,
                             client, n_workers, chunk_size, n_replicas, parallel,
                             record)
            elif not parallel:
                b = _bundle(spec)
                for i in todo:
                    t0 = time.perf_counter()
                    r = shoot_configuration(b, x_nm[i], n_shots, seeds[i],
                                            max_frames)
                    record([(i, *r, time.perf_counter() - t0)])
            else:
                _run_dask(spec, todo, x_nm, n_shots, seeds, max_frames,
                          client, n_workers, chunk_size, record)
    finally:
        bar.close()
    ds.metadata["wall_seconds_last_call"] = time.perf_counter() - t_start
    ds.metadata["frames"] = frames
    if out is not None:
        ds.save(out)
    return ds


@contextlib.contextmanager
def _dask_client(client, n_workers):
    """The user's Client, or a LocalCluster of single-threaded worker processes
    (closed on exit); yields (client, number of workers)."""
    from dask.distributed import Client, LocalCluster
    own = None
    if client is None:
        if n_workers is None or int(n_workers) < 1:
            n_workers = os.cpu_count() or 1
        import logging
        for name in ("distributed", "distributed.scheduler", "distributed.core",
                     "distributed.nanny", "distributed.http.proxy"):
            logging.getLogger(name).setLevel(logging.WARNING)
        cluster = LocalCluster(n_workers=int(n_workers), threads_per_worker=1,
                               processes=True, dashboard_address=":0",
                               silence_logs=logging.WARNING)
        client = own = Client(cluster)
    elif not isinstance(client, Client):
        raise InputTypeError("client must be a dask.distributed.Client")
    try:
        yield client, max(1, len(client.scheduler_info().get("workers", {})) or 1)
    finally:
        if own is not None:
            cluster = own.cluster
            own.close()
            cluster.close()


def _submit_all(client, fn, chunks, record):
    """Submit ``fn(*args)`` per chunk and record results as they complete."""
    from dask.distributed import as_completed
    futures = [client.submit(fn, *args, pure=False) for args in chunks]
    for fut in as_completed(futures):
        record(fut.result())


def _run_dask(spec, todo, x_nm, n_shots, seeds, max_frames, client,
              n_workers, chunk_size, record):
    with _dask_client(client, n_workers) as (client, n_w):
        if chunk_size is None:
            chunk_size = int(max(1, min(8, np.ceil(len(todo) / (4 * n_w)))))
        if int(chunk_size) < 1:
            raise InputError(f"chunk_size={chunk_size} must be >= 1")
        spec_f = client.scatter(spec, broadcast=True)
        idxs = [todo[k:k + int(chunk_size)] for k in range(0, len(todo), int(chunk_size))]
        _submit_all(client, _shoot_chunk,
                    [(spec_f, idx.tolist(), x_nm[idx], n_shots, seeds[idx], max_frames)
                     for idx in idxs], record)


def _batched_chunk(system, spec, idx, x_nm, n_shots, seed, max_frames,
                   n_replicas, on_done=None):
    """Shoot configurations ``idx`` with one batched engine; rows as ``record`` wants."""
    from .batched import shoot_batched
    st = spec["settings"]
    rows = []

    def done(k, nA, nB):
        row = (int(idx[k]), int(nA), int(nB), int(n_shots - nA - nB), 0, 0.0)
        rows.append(row)
        if on_done is not None:
            on_done([row])

    # the chunk's seed depends on its first configuration, so reruns repeat it
    shoot_batched(system, x_nm, n_shots, state_A=StateDefinition.from_dict(spec["state_A"]),
                  state_B=StateDefinition.from_dict(spec["state_B"]),
                  temperature=st["temperature"], timestep_fs=st["timestep_fs"],
                  steps_per_frame=st["steps_per_frame"],
                  friction_per_ps=st["friction_per_ps"], max_frames=max_frames,
                  n_replicas=int(n_replicas), seed=int(seed) * 100003 + int(idx[0]),
                  platform=st.get("platform", "CPU"), on_config_done=done,
                  verbose=False)
    return rows


def _run_batched(system, spec, todo, x_nm, n_shots, seed, max_frames, client,
                 n_workers, chunk_size, n_replicas, parallel, record):
    if not parallel:
        # one engine for all pending configurations; counts recorded as each finishes
        _batched_chunk(system, spec, todo, x_nm[todo], n_shots, seed, max_frames,
                       n_replicas, on_done=record)
        return
    with _dask_client(client, n_workers) as (client, n_w):
        if chunk_size is None:
            chunk_size = int(max(1, np.ceil(len(todo) / (3 * n_w))))
        idxs = [todo[k:k + int(chunk_size)] for k in range(0, len(todo), int(chunk_size))]
        _submit_all(client, _batched_chunk,
                    [(system, spec, idx, x_nm[idx], n_shots, seed, max_frames, n_replicas)
                     for idx in idxs], record)


def _run_ops(system, x, x_nm, n_shots, seed, settings, st_A, st_B, meta, topo,
             out, storage, verbose, t_start):
    """OPS' own CommittorSimulation into an OPS storage file."""
    import contextlib
    import io
    from .engine import seed_everything
    paths = _quiet_ops()
    if storage is None:
        if out is None:
            raise InputError("method='ops' needs storage= (an OPS .nc file) "
                             "or out=")
        storage = os.path.splitext(out)[0] + ".nc"
    storage = os.fspath(storage)
    seed_everything(seed)
    engine = _engine_from_settings(system, settings, seed=seed)
    engine.options["on_max_length"] = "stop"
    vol_A, vol_B = make_volume(st_A), make_volume(st_B)
    snaps = [snapshot_from_positions(engine, xi) for xi in x_nm]
    store = paths.Storage(storage, "w", template=snaps[0])
    try:
        sim = paths.CommittorSimulation(
            storage=store, engine=engine, states=[vol_A, vol_B],
            randomizer=make_randomizer(engine, settings["temperature"]),
            initial_snapshots=snaps, direction=1)
        sim.output_stream = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()):
            sim.run(n_per_snapshot=int(n_shots))
        store.sync_all()
    finally:
        store.close()
    ds = CommittorDataset.from_ops_storage(storage, system, st_A.name,
                                           st_B.name)
    # order as the input configurations (match on positions, float32 in OPS)
    order = []
    for xi in x:
        d = np.abs(ds.positions - xi).reshape(len(ds), -1).max(axis=1)
        order.append(int(np.argmin(d)))
    ds = CommittorDataset(x, ds.n_A[order], ds.n_B[order], topo, meta,
                          ds.n_undecided[order])
    ds.metadata["ops_storage"] = os.path.abspath(storage)
    ds.metadata["wall_seconds_last_call"] = time.perf_counter() - t_start
    if out is not None:
        ds.save(out)
    return ds

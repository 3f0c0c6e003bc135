"""Committor shooting with the OPS engine, volumes and velocity randomizer.

Routes (:func:`choose_method` picks one for ``method="auto"``):

``method="lean"`` (per configuration; every system, periodic ones too)
    One OpenMM Context per process, reused for every configuration (the
    integrator of the OPS engine: ``LangevinMiddleIntegrator``). For every
    shot, Maxwell-Boltzmann velocities drawn in numpy from the masses
    (then ``Context.applyVelocityConstraints``); ``steps_per_frame`` steps
    at a time, and after each frame both state boxes are tested in numpy
    (the function behind the OPS volumes of :func:`make_volume`, minimum
    image in a periodic box) until one of them holds. Counts go straight
    into the dataset; shot trajectories are not kept. Serial, or parallel
    on Dask (a ``LocalCluster`` with one single-threaded process per
    worker, a running scheduler by address, or your ``Client``).
``method="batched"``
    Many replicas of an isolated molecule in one Context
    (:mod:`mda_rcxai.sampling.batched`); non-periodic systems only.
``method="ops"``
    OPS' own ``CommittorSimulation`` writing every shot to an OPS storage
    file, counted with ``ShootingPointAnalysis`` (serial; slower, but the
    full OPS record).

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
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time

import numpy as np

from ..exceptions import DatasetError, InputError, InputTypeError, StateError
from ..systems import (MolecularSystem, StateDefinition, check_states,
                       platform_properties)
from .dataset import CommittorDataset, versions
from .engine import (EngineSettings, engine_from_settings, make_integrator,
                     import_ops, make_randomizer,
                     make_volume, resolve_platform, seeded,
                     snapshot_from_positions)

__all__ = ["run_committor", "shoot_configuration", "choose_method"]

NM_PER_ANGSTROM = 0.1

#: How long to try to reach a scheduler given by address.
SCHEDULER_TIMEOUT = "20s"

# per-process cache of (key -> engine bundle) for Dask workers and serial runs
_ENGINES: dict = {}


def _config_seeds(seed: int, n: int) -> np.ndarray:
    """Two 32-bit seeds per configuration: integrator, velocities."""
    return np.array([np.random.SeedSequence([int(seed), i]).generate_state(2)
                     for i in range(n)], dtype=np.uint32).reshape(n, 2)


class _Bundle:
    """One OpenMM Context (reused for every configuration), the masses and
    the state boxes, for one (system, settings, states) in one process."""

    def __init__(self, system, settings, state_A, state_B):
        import openmm
        import openmm.unit as u
        self.platform = resolve_platform(settings.get("platform", "CPU"))
        self.integ = make_integrator(settings, seed=1)
        self.context = openmm.Context(
            system.system, self.integ,
            openmm.Platform.getPlatformByName(self.platform),
            platform_properties(self.platform, settings.get("threads", 1), system))
        self.box = (None if system.box_vectors is None else
                    np.array(system.box_vectors, dtype=float))
        self._box_q = (None if self.box is None else
                       [openmm.Vec3(*v) * u.nanometer for v in self.box])
        m = np.array([system.system.getParticleMass(i).value_in_unit(u.dalton)
                      for i in range(system.n_atoms)])
        kT = 0.00831446261815324 * float(settings["temperature"])  # kJ/mol
        # sqrt(kT / m) in nm/ps; massless particles (virtual sites) stay at 0
        self.sigma = np.where(m > 0, np.sqrt(kT / np.where(m > 0, m, 1.0)),
                              0.0)[:, None]
        self.spf = int(settings["steps_per_frame"])
        self.tests = [([[f.kind, list(f.atoms)] for f in st.features],
                       [list(r) for r in st.ranges]) for st in (state_A,
                                                                 state_B)]
        self.n_atoms = system.n_atoms


def _bundle(spec) -> _Bundle:
    key = spec["key"]
    b = _ENGINES.get(key)
    if b is None:
        from ..systems import StateDefinition
        _ENGINES.clear()  # one system per process at a time
        b = _Bundle(spec["system"], spec["settings"],
                    StateDefinition.from_dict(spec["state_A"]),
                    StateDefinition.from_dict(spec["state_B"]))
        _ENGINES[key] = b
    return b


def shoot_configuration(bundle: _Bundle, x_nm, n_shots: int, seeds,
                        max_frames: int):
    """Shoot ``n_shots`` times from one configuration (lean route).

    The Context of ``bundle`` is reused: the integrator is re-seeded with
    ``seeds[0]`` (OpenMM reads the seed when the Context initialises, so
    one ``reinitialize`` per configuration, not per shot); velocities of
    shot ``k`` are the ``k``-th draw of ``numpy.random.default_rng(
    seeds[1])`` (Maxwell-Boltzmann from the masses, then
    ``Context.applyVelocityConstraints``). Global random state is not
    touched. Positions are read every ``steps_per_frame`` steps and both
    state boxes tested in numpy (minimum image in a periodic box).

    Parameters
    ----------
    bundle : _Bundle
        Context, masses and state boxes (one per process).
    x_nm : numpy.ndarray
        ``(n_atoms, 3)`` configuration, nm.
    n_shots : int
    seeds : sequence of two int
        Integrator seed, velocity seed (from ``SeedSequence([seed, i])``).
    max_frames : int
        Frames per shot, counting the start (as OPS ``n_frames_max``).

    Returns
    -------
    tuple
        ``(n_A, n_B, n_undecided, n_frames)``; ``n_frames`` is the number of
        frames integrated (``steps_per_frame`` MD steps each).
    """
    from .engine import in_box
    ctx, integ = bundle.context, bundle.integ
    integ.setRandomNumberSeed(int(seeds[0]) % 2**31 or 1)
    ctx.reinitialize(preserveState=False)
    if bundle._box_q is not None:
        ctx.setPeriodicBoxVectors(*bundle._box_q)
    ctx.setPositions(np.asarray(x_nm, dtype=float))
    ctx.applyConstraints(1e-5)
    x0 = ctx.getState(getPositions=True).getPositions(asNumpy=True)
    rng = np.random.default_rng(int(seeds[1]))
    (fA, rA), (fB, rB) = bundle.tests
    box = bundle.box
    sigma, spf = bundle.sigma, bundle.spf
    n_A = n_B = n_U = frames = 0
    for _ in range(int(n_shots)):
        ctx.setPositions(x0)
        ctx.setVelocities(sigma * rng.standard_normal((bundle.n_atoms, 3)))
        ctx.applyVelocityConstraints(1e-5)
        outcome = None
        for _ in range(int(max_frames) - 1):
            integ.step(spf)
            frames += 1
            pos = ctx.getState(getPositions=True).getPositions(
                asNumpy=True)._value
            if in_box(pos, fA, rA, box):
                outcome = "A"
                break
            if in_box(pos, fB, rB, box):
                outcome = "B"
                break
        if outcome == "A":
            n_A += 1
        elif outcome == "B":
            n_B += 1
        else:
            n_U += 1
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


def choose_method(system: MolecularSystem, method: str = "auto"):
    """Which committor route runs for ``system``, and why.

    Parameters
    ----------
    system : MolecularSystem
    method : {"auto", "lean", "batched", "ops"}
        ``"auto"``: ``"batched"`` (K replicas of the molecule in one OpenMM
        context) where it is valid: a non-periodic system whose forces the
        batched engine can copy without coupling the copies (no cutoff, no
        virtual sites, no implicit solvent, known forces); otherwise
        ``"lean"`` (one configuration at a time per process, over Dask
        workers). An explicit method is checked and returned.

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
    >>> choose_method(alanine_dipeptide())[0]
    'batched'
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
            "would share one box and feel each other); use method='lean' "
            "or 'auto'")
    if method == "batched":
        from .batched import build_replica_system
        build_replica_system(system, 1)  # refuses what it cannot copy
    if method != "auto":
        return method, f'requested (method="{method}")'
    if system.periodic:
        return "lean", (
            "periodic box: the batched engine cannot hold replicas of a "
            "solvated box, so each configuration is shot on its own "
            "(per-configuration route over Dask workers)")
    from .batched import build_replica_system
    try:
        build_replica_system(system, 1)
    except InputError as err:
        why = (str(err).strip().splitlines() or [""])[0].split("; ")[0]
        return "lean", ("the batched engine does not apply to this system "
                        f"({why}); per-configuration route over Dask workers")
    return "batched", ("non-periodic system whose forces the batched engine "
                       "can copy: many replicas integrated in one OpenMM "
                       "context")


def run_committor(system: MolecularSystem, configurations, n_shots: int,
                  out=None, seed: int = 0, n_workers: int = 1, client=None,
                  temperature: float = 300.0, verbose: bool = True, *,
                  state_A="C7eq", state_B="C7ax", timestep_fs: float = 2.0,
                  steps_per_frame: int = 10, friction_per_ps: float = 1.0,
                  max_frames: int = 2000, platform: str = "CPU",
                  method: str = "lean", storage=None,
                  chunk_size: int | None = None,
                  n_replicas: int = 64,
                  scheduler: str | None = None) -> CommittorDataset:
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
    scheduler : str, optional
        Address of a running Dask scheduler (``"tcp://host:port"``): the
        shots go to its workers instead of a LocalCluster (``n_workers``
        is then ignored). The system travels to the workers as OpenMM XML
        (no file of this machine is needed there); the workers need
        mda_rcxai installed.
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
    platform : {"CPU", "CUDA", "OpenCL", "Reference", "auto"}
        OpenMM platform (one thread per process on "CPU"); "auto" picks
        the fastest that works on each worker. A missing platform is an
        error naming the available ones.
    method : {"lean", "batched", "ops", "auto"}
        "auto": see :func:`choose_method` ("batched" when the system allows
        it: non-periodic, no cutoff, no virtual sites, known forces; else
        "lean"); the choice and its reason go into
        ``metadata["method"]``.
        "lean": per configuration, one reused OpenMM Context per process
        (the OPS engine's integrator and settings), Maxwell-Boltzmann
        velocities drawn in numpy with the constraints applied, both state
        boxes tested in numpy every frame (minimum image in a periodic
        box); valid for every system, periodic ones included. "batched": ``n_replicas`` copies of the
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
    requested = method
    method, reason = choose_method(system, method)
    if method == "batched" and int(n_replicas) < 1:
        raise InputError(f"n_replicas={n_replicas} must be >= 1")
    if scheduler is not None:
        if client is not None:
            raise InputError("give either client= or scheduler=, not both")
        if not isinstance(scheduler, str) or "://" not in scheduler:
            raise InputError(f"scheduler={scheduler!r} must be a Dask "
                             "scheduler address like 'tcp://host:8786'")
    if platform != "auto":
        resolve_platform(platform)  # a missing platform fails here, up front
    settings = EngineSettings.make(temperature, timestep_fs, steps_per_frame,
                                   friction_per_ps, "langevin_middle",
                                   platform, 1, int(max_frames))
    st_A, st_B = check_states(system.states, [state_A, state_B],
                              system.n_atoms)
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
        "method": {"name": method, "reason": reason, "requested": requested},
        "box_vectors_nm": (None if system.box_vectors is None else
                           np.asarray(system.box_vectors).tolist()),
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
    if out is not None:  # a run killed while saving left its temporary file
        from .dataset import remove_stale_temporaries
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
    seeds = _config_seeds(seed, n)
    spec = {"key": hashlib.sha256(json.dumps(
                [key["system_fingerprint"], key["engine"], key["state_A"],
                 key["state_B"], platform], sort_keys=True).encode()
            ).hexdigest(),
            "system": system, "settings": dict(settings),
            "state_A": st_A.to_dict(), "state_B": st_B.to_dict()}

    from .tps import progress_bar
    bar = progress_bar(verbose, total=n, initial=n - len(todo),
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
        if interrupted[0]:  # a Ctrl-C whose KeyboardInterrupt was swallowed
            raise KeyboardInterrupt

    try:
        with _sigint_flag() as interrupted:
            if len(todo):
                parallel = client is not None or scheduler is not None or (
                    n_workers is None or int(n_workers) != 1)
                if method == "batched":
                    _run_batched(system, spec, todo, x_nm, n_shots, seed, max_frames,
                                 client, n_workers, chunk_size, n_replicas, parallel,
                                 record, scheduler)
                elif not parallel:
                    b = _bundle(spec)
                    for i in todo:
                        t0 = time.perf_counter()
                        r = shoot_configuration(b, x_nm[i], n_shots, seeds[i],
                                                max_frames)
                        record([(i, *r, time.perf_counter() - t0)])
                else:
                    _run_dask(spec, todo, x_nm, n_shots, seeds, max_frames,
                              client, n_workers, chunk_size, record, scheduler)
    finally:
        bar.close()
    ds.metadata["wall_seconds_last_call"] = time.perf_counter() - t_start
    ds.metadata["frames"] = frames
    if out is not None:
        ds.save(out)
    return ds


def _box_angstrom(system):
    """MDAnalysis dimensions [lx, ly, lz, alpha, beta, gamma] (Angstrom,
    degrees) of a periodic system, or None."""
    if system.box_vectors is None:
        return None
    from .paths import box_dimensions
    return box_dimensions(system.box_vectors)


@contextlib.contextmanager
def _sigint_handler(handler):
    """Install ``handler`` for SIGINT in this block (main thread only: elsewhere
    Python cannot set handlers, and the block runs unchanged); the previous
    handler is restored after. Yields whether it was installed."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    old = signal.signal(signal.SIGINT, handler)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def _sigint_flag():
    """Yield ``[False]``, set to ``[True]`` by a Ctrl-C (SIGINT) in this block.

    The handler still raises KeyboardInterrupt at once, as Python's own does.
    The flag is for the case where that exception is swallowed: a signal that
    lands while a finaliser runs (dask ``Future.__del__`` runs in this thread
    as results are collected) is printed as "Exception ignored in ..." and
    the run would go on to the end as if no Ctrl-C had come; ``record``
    raises it again after the next finished configuration. Installed only in
    the main thread and only over Python's default handler.
    """
    import signal
    flag = [False]
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield flag
        return

    def handler(signum, frame):
        flag[0] = True
        raise KeyboardInterrupt

    with _sigint_handler(handler):
        yield flag


def _ignore_sigint():
    """Run in each worker of our own LocalCluster: Ctrl-C in the terminal
    reaches the whole process group; the caller stops the workers, which
    must not print a KeyboardInterrupt traceback of their own."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return os.getpid()


@contextlib.contextmanager
def _sigint_ignored_by_children():
    """Ignore SIGINT while worker processes start: they inherit the ignored
    disposition (kept across exec, and Python then installs no handler), so
    a Ctrl-C during start-up prints no worker traceback either. Restored
    for this process right after."""
    import signal
    with _sigint_handler(signal.SIG_IGN):
        yield


def _quiet_dask_logs():
    import logging
    for name in ("distributed", "distributed.scheduler", "distributed.core",
                 "distributed.nanny", "distributed.worker",
                 "distributed.client", "distributed.comm",
                 "distributed.batched", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def _dask_client(client, n_workers, scheduler=None):
    """The user's Client, a Client of the scheduler at ``scheduler``, or a
    LocalCluster of single-threaded worker processes (closed on exit, also
    on Ctrl-C); yields (client, number of workers)."""
    from dask.distributed import Client, LocalCluster
    own = cluster = None
    if client is None and scheduler is not None:
        try:
            client = own = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except Exception as err:  # OSError / TimeoutError
            msg = str(err).strip().splitlines()
            raise InputError(
                f"scheduler={scheduler!r}: could not connect "
                f"({msg[0] if msg else type(err).__name__}); start it with "
                "'dask scheduler' and its workers with 'dask worker "
                "ADDRESS', or leave scheduler unset for a local cluster"
                ) from None
    elif client is None:
        if n_workers is None or int(n_workers) < 1:
            n_workers = os.cpu_count() or 1
        import logging
        _quiet_dask_logs()
        with _sigint_ignored_by_children():
            cluster = LocalCluster(n_workers=int(n_workers),
                                   threads_per_worker=1, processes=True,
                                   dashboard_address=":0",
                                   silence_logs=logging.ERROR)
        client = own = Client(cluster)
        client.run(_ignore_sigint)
    elif not isinstance(client, Client):
        raise InputTypeError("client must be a dask.distributed.Client")
    try:
        n_w = len(client.scheduler_info().get("workers", {}))
        if scheduler is not None and n_w == 0:
            client.wait_for_workers(1, timeout=60)
            n_w = len(client.scheduler_info().get("workers", {}))
        yield client, max(1, n_w)
    finally:
        if own is not None:
            _quiet_dask_logs()
            with contextlib.suppress(Exception):
                own.close()
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()


def _submit_all(client, fn, chunks, record):
    """Submit ``fn(*args)`` per chunk and record results as they complete;
    on Ctrl-C (or any error) the pending tasks are cancelled first."""
    from dask.distributed import as_completed
    futures = [client.submit(fn, *args, pure=False) for args in chunks]
    try:
        for fut in as_completed(futures):
            record(fut.result())
    except BaseException:
        _quiet_dask_logs()
        with contextlib.suppress(Exception):
            client.cancel(futures)
        raise


def _run_dask(spec, todo, x_nm, n_shots, seeds, max_frames, client,
              n_workers, chunk_size, record, scheduler=None):
    with _dask_client(client, n_workers, scheduler) as (client, n_w):
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

    # per-shot seeds from (seed, global configuration index, shot): counts do
    # not depend on the chunking, n_replicas or the number of workers
    shoot_batched(system, x_nm, n_shots, state_A=StateDefinition.from_dict(spec["state_A"]),
                  state_B=StateDefinition.from_dict(spec["state_B"]),
                  temperature=st["temperature"], timestep_fs=st["timestep_fs"],
                  steps_per_frame=st["steps_per_frame"],
                  friction_per_ps=st["friction_per_ps"], max_frames=max_frames,
                  n_replicas=int(n_replicas), seed=int(seed),
                  config_ids=np.asarray(idx, dtype=int),
                  platform=st.get("platform", "CPU"), on_config_done=done,
                  verbose=False)
    return rows


def _run_batched(system, spec, todo, x_nm, n_shots, seed, max_frames, client,
                 n_workers, chunk_size, n_replicas, parallel, record,
                 scheduler=None):
    if not parallel:
        # one engine for all pending configurations; counts recorded as each finishes
        _batched_chunk(system, spec, todo, x_nm[todo], n_shots, seed, max_frames,
                       n_replicas, on_done=record)
        return
    with _dask_client(client, n_workers, scheduler) as (client, n_w):
        if chunk_size is None:
            chunk_size = int(max(1, np.ceil(len(todo) / (3 * n_w))))
        idxs = [todo[k:k + int(chunk_size)] for k in range(0, len(todo), int(chunk_size))]
        _submit_all(client, _batched_chunk,
                    [(system, spec, idx, x_nm[idx], n_shots, seed, max_frames, n_replicas)
                     for idx in idxs], record)


def _ops_shoot(paths, system, x_nm, n_shots, seed, settings, st_A, st_B,
               storage):
    import contextlib
    import io
    engine = engine_from_settings(system, settings, seed=seed)
    engine.options["on_max_length"] = "stop"
    vol_A = make_volume(st_A, system.box_vectors)
    vol_B = make_volume(st_B, system.box_vectors)
    snaps = [snapshot_from_positions(engine, xi) for xi in x_nm]
    store = paths.Storage(storage, "w", template=snaps[0])
    # CommittorSimulation sets the class attribute EngineMover.default_engine;
    # left there, it keeps the engine, its snapshots and the closed storage
    # alive until interpreter exit, where netCDF4 then complains
    old_default = paths.EngineMover.default_engine
    try:
        sim = paths.CommittorSimulation(
            storage=store, engine=engine, states=[vol_A, vol_B],
            randomizer=make_randomizer(engine, settings["temperature"]),
            initial_snapshots=snaps, direction=1)
        sim.output_stream = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), seeded(seed):
            sim.run(n_per_snapshot=int(n_shots))
        store.sync_all()
    finally:
        paths.EngineMover.default_engine = old_default
        store.close()


def _run_ops(system, x, x_nm, n_shots, seed, settings, st_A, st_B, meta, topo,
             out, storage, verbose, t_start):
    """OPS' own CommittorSimulation into an OPS storage file."""
    paths = import_ops()
    if storage is None:
        if out is None:
            raise InputError("method='ops' needs storage= (an OPS .nc file) "
                             "or out=")
        storage = os.path.splitext(out)[0] + ".nc"
    storage = os.fspath(storage)
    _ops_shoot(paths, system, x_nm, n_shots, seed, settings, st_A, st_B,
               storage)
    import gc
    gc.collect()  # free OPS/netCDF objects now, not at interpreter exit
    ds = CommittorDataset.from_ops_storage(storage, system, st_A.name,
                                           st_B.name)
    # order as the input configurations (match on positions, float32 in OPS)
    order = []
    for xi in x:
        d = np.abs(ds.positions - xi).reshape(len(ds), -1).max(axis=1)
        order.append(int(np.argmin(d)))
    ds = CommittorDataset(x, ds.n_A[order], ds.n_B[order], topo, meta,
                          ds.n_undecided[order], box=_box_angstrom(system))
    ds.metadata["ops_storage"] = os.path.abspath(storage)
    ds.metadata["wall_seconds_last_call"] = time.perf_counter() - t_start
    if out is not None:
        ds.save(out)
    return ds

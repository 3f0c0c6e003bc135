"""Initial path, transition path sampling (OPS) and harvesting configurations.

Units: OPS trajectories hold positions in nm; :func:`harvest` returns
Angstrom (the MDAnalysis unit), as does :meth:`TPSResult.path_positions`
with ``angstrom=True``.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from ..exceptions import InputError, InputTypeError, SamplingError, StateError
from ..systems import MolecularSystem, check_states
from .engine import (import_ops, make_engine, make_randomizer, make_volume,
                     resolve_platform, seed_everything, snapshot_from_positions)

__all__ = ["initial_path", "run_tps", "harvest", "TPSResult",
           "trajectory_positions"]

NM_TO_ANGSTROM = 10.0


def progress_bar(verbose, **kw):
    import sys
    from tqdm.auto import tqdm
    if not sys.stderr.isatty():  # a log file: a line every 15 s, not every step
        kw.setdefault("mininterval", 15.0)
    return tqdm(disable=not verbose, **kw)


def trajectory_positions(trajectory, angstrom: bool = False) -> np.ndarray:
    """Positions of an OPS trajectory, ``(n_frames, n_atoms, 3)``.

    Parameters
    ----------
    trajectory : openpathsampling.Trajectory
    angstrom : bool
        False: nm (OPS' unit); True: Angstrom (MDAnalysis' unit).

    Examples
    --------
    >>> import openpathsampling as paths  # doctest: +SKIP
    >>> trajectory_positions(path, angstrom=True).shape  # doctest: +SKIP
    (57, 22, 3)
    """
    x = np.asarray(trajectory.xyz, dtype=float)
    return x * NM_TO_ANGSTROM if angstrom else x


def _states(system, state_A, state_B):
    if not isinstance(system, MolecularSystem):
        raise InputTypeError(f"system must be a MolecularSystem (see "
                             f"mda_rcxai.systems), got {type(system).__name__}")
    return check_states(system.states, [state_A, state_B], system.n_atoms)


@dataclass
class TPSResult:
    """What :func:`run_tps` returns.

    Attributes
    ----------
    accepted_paths : list of openpathsampling.Trajectory
        Every accepted trial path, in order (the initial path not included).
    acceptance : float
        Accepted / attempted shooting moves.
    path_lengths : numpy.ndarray
        Lengths of the accepted paths, frames (``frame_time_ps`` apart).
    active_lengths : numpy.ndarray
        Length of the current path after each move, frames.
    n_steps, n_accepted : int
    final_path : openpathsampling.Trajectory
    storage : str or None
        OPS storage file, if one was written.
    frame_time_ps : float
        Time between frames, ps.
    states : tuple of str
        (initial, final) state names.
    seed : int or None
    shooting : str
    extra : dict
        Fast route: ``method``, ``n_chains``, ``n_workers``, ``platform``,
        ``accepted`` (bool per move, chain after chain), ``md_steps``,
        ``wall_s``, ``chain_of_path`` (chain of each accepted path),
        ``moves_per_chain``, ``resumed_from`` (moves read from each
        chain's checkpoint) and ``checkpoint`` (the files).

    Examples
    --------
    >>> result = run_tps(system, path, 100)   # doctest: +SKIP
    >>> print(result.summary())               # doctest: +SKIP
    """

    accepted_paths: list
    acceptance: float
    path_lengths: np.ndarray
    active_lengths: np.ndarray
    n_steps: int
    n_accepted: int
    final_path: object
    storage: str | None
    frame_time_ps: float
    states: tuple = ()
    seed: int | None = None
    shooting: str = "two-way"
    extra: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One line: moves, acceptance and path-length statistics."""
        if len(self.path_lengths):
            pl = (f"accepted path length {self.path_lengths.mean():.1f} +- "
                  f"{self.path_lengths.std():.1f} frames (min "
                  f"{self.path_lengths.min()}, max {self.path_lengths.max()};"
                  f" {self.frame_time_ps:g} ps/frame)")
        else:
            pl = "no accepted paths"
        return (f"TPS {self.states[0]}->{self.states[1]} ({self.shooting}): "
                f"{self.n_steps} moves, {self.n_accepted} accepted "
                f"({100 * self.acceptance:.1f}%), {pl}")

    def path_positions(self, angstrom: bool = True) -> list:
        """Positions of each accepted path (Angstrom by default)."""
        return [trajectory_positions(t, angstrom) for t in self.accepted_paths]


# ----------------------------------------------------------------------
def _make_scheme(paths, network, engine, shooting, temperature):
    if shooting == "one-way":
        return paths.OneWayShootingMoveScheme(
            network, selector=paths.UniformSelector(), engine=engine)
    if shooting == "two-way":
        scheme = paths.MoveScheme(network)
        scheme.append(paths.strategies.TwoWayShootingStrategy(
            modifier=make_randomizer(engine, temperature),
            selector=paths.UniformSelector(), engine=engine))
        scheme.append(paths.strategies.OrganizeByMoveGroupStrategy())
        return scheme
    raise InputError(f"shooting={shooting!r} is not known; use 'two-way' or "
                     "'one-way'")


def _check_storage(storage):
    """``storage`` as a str (or None); its folder must exist."""
    if storage is None:
        return None
    storage = os.fspath(storage)
    d = os.path.dirname(os.path.abspath(storage))
    if not os.path.isdir(d):
        raise InputError(f"storage={storage!r}: folder {d!r} does not "
                         "exist")
    return storage


def _as_path(path):
    """The OPS Trajectory of ``path`` (a TPSResult continues from its final path), checked."""
    paths = import_ops()
    if isinstance(path, TPSResult):
        path = path.final_path
    if not isinstance(path, paths.Trajectory):
        raise InputTypeError(f"path must be an OPS Trajectory (from "
                             f"initial_path or run_tps), got "
                             f"{type(path).__name__}")
    if len(path) < 3:
        raise InputError(f"path has {len(path)} frames; a transition path "
                         "needs at least 3")
    return path


def _check_path(path, vol_A, vol_B, name_A, name_B):
    path = _as_path(path)
    if not vol_A(path[0]):
        raise StateError(f"path does not start in state {name_A!r}")
    if not vol_B(path[-1]):
        raise StateError(f"path does not end in state {name_B!r}")
    for k, snap in enumerate(path[1:-1], 1):
        if vol_A(snap) or vol_B(snap):
            raise StateError(f"frame {k} of path is inside a state; a "
                             "transition path touches the states only at "
                             "its ends (use initial_path to make one)")
    return path


def _run_steps(sampler, n_steps, verbose, desc, stop_after_accepted=None):
    """Run OPS MC steps with a progress bar; return per-step records."""
    accepted, lengths, new_paths = [], [], []
    sampler.run_hooks("before_simulation", sim=sampler, n_steps=n_steps)
    hook_state = None
    bar = progress_bar(verbose, total=n_steps, desc=desc)
    try:
        for i in range(n_steps):
            hook_state, mcstep = sampler.run_one_step((i, n_steps),
                                                      hook_state)
            acc = bool(mcstep.change.canonical.accepted)
            traj = mcstep.active[0].trajectory
            accepted.append(acc)
            lengths.append(len(traj))
            if acc:
                new_paths.append(traj)
            bar.update(1)
            bar.set_postfix(acc=f"{np.mean(accepted):.2f}", L=len(traj), refresh=False)
            if stop_after_accepted and len(new_paths) >= stop_after_accepted:
                break
    finally:
        bar.close()
        sampler.run_hooks("after_simulation", sim=sampler,
                          hook_state=hook_state)
    return accepted, lengths, new_paths


def run_tps(system: MolecularSystem, path, n_steps: int, storage=None,
            seed: int | None = 0, *, state_A="C7eq", state_B="C7ax",
            shooting: str = "two-way", temperature: float = 300.0,
            timestep_fs: float = 2.0, steps_per_frame: int = 10,
            friction_per_ps: float = 1.0, n_frames_max: int = 2000,
            engine=None, verbose: bool = True, method: str = "auto",
            n_chains: int = 1, n_workers: int | None = None,
            checkpoint=None, checkpoint_interval_s: float = 5.0,
            platform: str = "auto",
            _stop_after_accepted: int | None = None,
            _keep_trials: bool = False) -> TPSResult:
    """Transition path sampling: OPS' two-way shooting on its TPS ensemble.

    A flexible-length TPS network between two states of ``system``
    (OPS ``TPSNetwork``: paths start in ``state_A``, end in ``state_B``
    and touch neither in between), uniform shooting-point selection and
    two-way shooting (Maxwell-Boltzmann velocities at ``temperature``) or
    one-way shooting.

    Two routes run it:

    * ``method="fast"`` (the default for two-way shooting): the move of
      OPS' ``TwoWayShootingMover`` with ``UniformSelector`` and
      ``RandomVelocities`` on the same ensemble and with the same
      acceptance ``min(1, (L_old - 2) / (L_new - 2))``, driven directly on
      one OpenMM Context per chain with a cheap state test per frame (see
      :mod:`mda_rcxai.sampling.tps_fast`; ~3x OPS' pace for a small
      molecule). Accepted paths are kept in memory (and in ``checkpoint``);
      ``storage`` additionally saves them as OPS trajectories in an OPS
      netCDF file at the end. Several independent chains (``n_chains``,
      same initial path, seeds ``(seed, chain)``) share the ``n_steps``
      moves and run in ``n_workers`` processes.
    * ``method="ops"``: OPS ``PathSampling`` with its move scheme (also for
      one-way shooting or a given ``engine``); ``storage`` is then OPS'
      full netCDF record of the simulation.

    Parameters
    ----------
    system : MolecularSystem
    path : openpathsampling.Trajectory or TPSResult
        A path from ``state_A`` to ``state_B`` (e.g. :func:`initial_path`;
        a TPSResult continues from its final path).
    n_steps : int
        Shooting moves.
    storage : str or None
        OPS storage file to write (netCDF, overwritten); None keeps all in
        memory.
    seed : int or None
        Seeds OPS' generators and the integrator.
    state_A, state_B : str or StateDefinition
    shooting : {"two-way", "one-way"}
    temperature : float
        K.
    timestep_fs, steps_per_frame, friction_per_ps : engine settings
        (fs, MD steps per frame, 1/ps); see :func:`make_engine`.
    n_frames_max : int
        Trial paths longer than this (frames) are rejected.
    engine : OPS engine, optional
        Use this engine instead of building one (OPS route).
    verbose : bool
        tqdm progress bar.
    method : {"auto", "fast", "ops"}
        "auto": "fast" for two-way shooting without ``engine``, else "ops".
    n_chains : int
        Independent chains (fast route); chain ``k`` does
        ``n_steps // n_chains`` moves (the first ``n_steps % n_chains``
        chains one more). Accepted paths are listed chain by chain.
    n_workers : int or None
        Processes running the chains (default ``min(n_chains, cpu
        count)``; 1 runs them one after the other in this process).
        Worker processes are started with ``spawn``: a script calling
        ``run_tps`` with workers needs ``if __name__ == "__main__":``.
    checkpoint : str or path, optional
        Fast route: a ``.npz`` file (one per chain, see
        :func:`~mda_rcxai.sampling.tps_fast.checkpoint_files`) written
        atomically every ``checkpoint_interval_s`` seconds and at the end
        with the chain's state. If it exists, the run resumes from its last
        completed move; with an integer ``seed`` the result equals an
        uninterrupted run on the same machine and platform. A checkpoint
        of other arguments is refused (:class:`InputError`).
    checkpoint_interval_s : float
        Seconds between checkpoint writes.
    platform : str
        OpenMM platform of the fast route: "CPU", "CUDA", "OpenCL",
        "Reference" or "auto" (CPU below 5000 atoms, else the fastest).
        A platform this OpenMM lacks raises :class:`InputError` naming the
        available ones.

    Returns
    -------
    TPSResult

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> from mda_rcxai.sampling import initial_path, run_tps
    >>> system = alanine_dipeptide()
    >>> path = initial_path(system, seed=1)                 # doctest: +SKIP
    >>> result = run_tps(system, path, 200, seed=1)         # doctest: +SKIP
    >>> print(result.summary())                             # doctest: +SKIP
    """
    st_A, st_B = _states(system, state_A, state_B)
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
        raise InputError(f"n_steps={n_steps!r} must be a positive integer")
    if shooting not in ("two-way", "one-way"):
        raise InputError(f"shooting={shooting!r} is not known; use 'two-way' "
                         "or 'one-way'")
    if method not in ("auto", "fast", "ops"):
        raise InputError(f"method={method!r} is not known; use 'auto', "
                         "'fast' or 'ops'")
    if method == "auto":
        method = "fast" if shooting == "two-way" and engine is None else "ops"
    if method == "fast" and (shooting != "two-way" or engine is not None):
        raise InputError("method='fast' runs two-way shooting on its own "
                         "OpenMM Context; for one-way shooting or a given "
                         "engine use method='ops'")
    if method == "fast":
        return _run_tps_fast(
            system, path, int(n_steps), storage, seed, st_A, st_B,
            temperature=temperature, timestep_fs=timestep_fs,
            steps_per_frame=steps_per_frame, friction_per_ps=friction_per_ps,
            n_frames_max=n_frames_max, verbose=verbose, n_chains=n_chains,
            n_workers=n_workers, checkpoint=checkpoint,
            checkpoint_interval_s=checkpoint_interval_s, platform=platform,
            stop_after_accepted=_stop_after_accepted,
            keep_trials=_keep_trials)
    if checkpoint is not None or n_chains != 1:
        raise InputError("checkpoint and n_chains > 1 need method='fast' "
                         "(OPS' PathSampling here runs one chain without "
                         "resume)")
    # OPS draws from numpy's and Python's global generators: they are
    # seeded for the run and the caller's states given back afterwards
    import random
    saved = (np.random.get_state(), random.getstate())
    try:
        return _run_tps_ops(system, path, n_steps, storage, seed, st_A, st_B,
                            shooting, temperature, timestep_fs,
                            steps_per_frame, friction_per_ps, n_frames_max,
                            engine, verbose, _stop_after_accepted)
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])


def _run_tps_ops(system, path, n_steps, storage, seed, st_A, st_B, shooting,
                 temperature, timestep_fs, steps_per_frame, friction_per_ps,
                 n_frames_max, engine, verbose, _stop_after_accepted):
    paths = import_ops()
    if engine is None:
        engine = make_engine(system, temperature, timestep_fs,
                             steps_per_frame, friction_per_ps=friction_per_ps,
                             n_frames_max=n_frames_max, seed=seed)
    vol_A, vol_B = make_volume(st_A, system), make_volume(st_B, system)
    path = _check_path(path, vol_A, vol_B, st_A.name, st_B.name)
    if storage is not None:
        # OPS storage turns the snapshots it saves into lazy proxies of the
        # file, which is closed at the end: run on a copy so that the
        # caller's path stays readable ("NetCDF: Not a valid ID" otherwise)
        px, pv = _path_arrays(path, st_A, st_B, system)
        path = _trajectory(engine, px, pv, system)
    # the path may come from another engine (e.g. high temperature): make
    # its snapshots this engine's so that shooting uses this engine
    network = paths.TPSNetwork(vol_A, vol_B)
    scheme = _make_scheme(paths, network, engine, shooting, temperature)
    with contextlib.redirect_stdout(io.StringIO()):  # OPS prints a report
        init = scheme.initial_conditions_from_trajectories(path)
        scheme.assert_initial_conditions(init)
    store = None
    storage = _check_storage(storage)
    if storage is not None:
        store = paths.Storage(storage, "w", template=path[0])
    seed_everything(seed)
    sampler = None
    try:
        sampler = paths.PathSampling(storage=store, move_scheme=scheme,
                                     sample_set=init)
        sampler.output_stream = io.StringIO()
        sampler.live_visualizer = None
        accepted, lengths, new_paths = _run_steps(
            sampler, int(n_steps), verbose, f"TPS {st_A.name}->{st_B.name}",
            _stop_after_accepted)
        final_path = sampler.sample_set[0].trajectory
        if store is not None:
            store.sync_all()
            # storage evicts snapshots from its cache and later loads them
            # lazily: load every one now, while the file is open
            new_paths = [_load_all(paths, t) for t in new_paths]
            final_path = _load_all(paths, final_path)
    finally:
        if store is not None:
            if sampler is not None:
                sampler.storage = None
            _close_storage(store)
            del store
    dt_ps = timestep_fs * 1e-3 * steps_per_frame
    if engine is not None and hasattr(engine, "mda_rcxai_settings"):
        s = engine.mda_rcxai_settings
        dt_ps = s["timestep_fs"] * 1e-3 * s["steps_per_frame"]
    n_done = len(accepted)
    return TPSResult(
        accepted_paths=new_paths,
        acceptance=float(np.mean(accepted)) if n_done else 0.0,
        path_lengths=np.array([len(t) for t in new_paths], dtype=int),
        active_lengths=np.array(lengths, dtype=int), n_steps=n_done,
        n_accepted=int(np.sum(accepted)), final_path=final_path, storage=storage, frame_time_ps=dt_ps,
        states=(st_A.name, st_B.name), seed=seed, shooting=shooting)


def _path_arrays(path, st_A, st_B, system=None):
    """Positions and velocities (nm, nm/ps) of the initial path, checked."""
    path = _as_path(path)
    x = trajectory_positions(path)
    try:
        v = np.array([np.asarray(s.velocities._value, dtype=float)
                      for s in path])
        if v.shape != x.shape or not np.all(np.isfinite(v)):
            raise ValueError
    except Exception:
        v = np.zeros_like(x)
    box = getattr(system, "box_vectors", None)
    in_A, in_B = st_A.contains(x, box=box), st_B.contains(x, box=box)
    if not in_A[0]:
        raise StateError(f"path does not start in state {st_A.name!r}")
    if not in_B[-1]:
        raise StateError(f"path does not end in state {st_B.name!r}")
    bad = np.flatnonzero(in_A[1:-1] | in_B[1:-1])
    if len(bad):
        raise StateError(f"frame {bad[0] + 1} of path is inside a state; a "
                         "transition path touches the states only at its "
                         "ends (use initial_path to make one)")
    return x, v


def _run_tps_fast(system, path, n_steps, storage, seed, st_A, st_B, *,
                  temperature, timestep_fs, steps_per_frame, friction_per_ps,
                  n_frames_max, verbose, n_chains, n_workers, checkpoint,
                  checkpoint_interval_s, platform, stop_after_accepted,
                  keep_trials):
    from .engine import EngineSettings
    from .tps_fast import chain_worker, checkpoint_files
    EngineSettings.make(temperature, timestep_fs, steps_per_frame,
                        friction_per_ps, n_frames_max=n_frames_max)
    if seed is not None and (isinstance(seed, bool) or int(seed) != seed
                             or seed < 0):
        raise InputError(f"seed={seed!r} must be a non-negative integer or "
                         "None")
    if isinstance(n_chains, bool) or int(n_chains) != n_chains or \
            not 1 <= n_chains <= n_steps:
        raise InputError(f"n_chains={n_chains!r} must be an integer in 1.."
                         f"n_steps ({n_steps})")
    n_chains = int(n_chains)
    cpus = os.cpu_count() or 1
    if n_workers is None:
        n_workers = min(n_chains, cpus)
    if isinstance(n_workers, bool) or int(n_workers) != n_workers or \
            n_workers < 1:
        raise InputError(f"n_workers={n_workers!r} must be a positive "
                         "integer")
    n_workers = min(int(n_workers), n_chains)
    if not checkpoint_interval_s >= 0:
        raise InputError(f"checkpoint_interval_s={checkpoint_interval_s!r} "
                         "must be >= 0 (seconds)")
    platform = resolve_platform(platform, n_atoms=system.n_atoms)
    files = checkpoint_files(checkpoint, n_chains)
    for f in files:
        if f is not None and not os.path.isdir(
                os.path.dirname(os.path.abspath(f))):
            raise InputError(f"checkpoint={checkpoint!r}: its folder does "
                             "not exist")
    storage = _check_storage(storage)
    px, pv = _path_arrays(path, st_A, st_B, system)
    shares = [n_steps // n_chains + (k < n_steps % n_chains)
              for k in range(n_chains)]
    jobs = [dict(system=system, state_A=st_A, state_B=st_B, path_x=px,
                 path_v=pv, n_moves=shares[k], seed=seed, chain=k,
                 temperature=float(temperature),
                 timestep_fs=float(timestep_fs),
                 steps_per_frame=int(steps_per_frame),
                 friction_per_ps=float(friction_per_ps),
                 n_frames_max=int(n_frames_max), platform=platform,
                 checkpoint=files[k],
                 checkpoint_interval_s=float(checkpoint_interval_s),
                 key_extra={"n_chains": n_chains},
                 stop_after_accepted=stop_after_accepted,
                 keep_trials=keep_trials) for k in range(n_chains)]
    desc = f"TPS {st_A.name}->{st_B.name}"
    bar = progress_bar(verbose, total=n_steps, desc=desc)
    results = []
    try:
        if n_workers == 1:
            stats = {"n": 0, "acc": 0}

            def progress(acc, length):
                stats["n"] += 1
                stats["acc"] += acc
                bar.update(1)
                bar.set_postfix(acc=f"{stats['acc'] / stats['n']:.2f}",
                                L=length, refresh=False)
            for job in jobs:
                results.append(chain_worker(dict(job, progress=progress)))
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(n_workers, mp_context=ctx) as pool:
                futs = [pool.submit(chain_worker,
                                    dict(job, parent_pid=os.getpid()))
                        for job in jobs]
                for fut, k in zip(futs, range(n_chains)):
                    results.append(fut.result())
                    bar.update(shares[k])
    finally:
        bar.close()
    accepted = np.concatenate([r["accepted"] for r in results])
    lengths = np.concatenate([r["lengths"] for r in results])
    engine = make_engine(system, temperature, timestep_fs, steps_per_frame,
                         friction_per_ps=friction_per_ps,
                         n_frames_max=n_frames_max, seed=seed)
    new_paths, chain_of = [], []
    for r in results:
        for x, v in zip(r["acc_x"], r["acc_v"]):
            new_paths.append(_trajectory(engine, x, v, system))
            chain_of.append(r["chain"])
    final_path = _trajectory(engine, results[0]["final_x"],
                             results[0]["final_v"], system)
    if storage is not None:
        _save_ops_storage(storage, new_paths, final_path, system)
    dt_ps = timestep_fs * 1e-3 * steps_per_frame
    n_done = len(accepted)
    wall = max(r["wall_s"] for r in results)
    extra = {"method": "fast", "n_chains": n_chains, "n_workers": n_workers,
             "accepted": accepted,
             "platform": results[0]["platform"],
             "md_steps": int(sum(r["md_steps"] for r in results)),
             "wall_s": float(wall),
             "chain_of_path": np.array(chain_of, dtype=int),
             "moves_per_chain": [len(r["accepted"]) for r in results],
             "resumed_from": [r["resumed_from"] for r in results],
             "checkpoint": files if checkpoint is not None else None}
    if keep_trials:
        extra["trials"] = [r["trials"] for r in results]
    return TPSResult(
        accepted_paths=new_paths,
        acceptance=float(np.mean(accepted)) if n_done else 0.0,
        path_lengths=np.array([len(t) for t in new_paths], dtype=int),
        active_lengths=lengths.astype(int), n_steps=n_done,
        n_accepted=int(np.sum(accepted)), final_path=final_path,
        storage=storage, frame_time_ps=dt_ps, states=(st_A.name, st_B.name),
        seed=seed, shooting="two-way", extra=extra)


def _trajectory(engine, x, v, system):
    """An OPS Trajectory of ``engine`` snapshots (positions nm, velocities nm/ps)."""
    paths = import_ops()
    import inspect
    kw = {}
    box = getattr(system, "box_vectors", None)
    if box is not None and "box_vectors" in inspect.signature(
            snapshot_from_positions).parameters:
        kw["box_vectors"] = box
    return paths.Trajectory([snapshot_from_positions(engine, xi, vi, **kw)
                             for xi, vi in zip(x, v)])


def _save_ops_storage(storage, trajectories, final_path, system=None):
    """Accepted paths (and the final path) as trajectories in an OPS file."""
    paths = import_ops()
    d = os.path.dirname(os.path.abspath(storage))
    tmp = os.path.join(d, f".{os.path.basename(storage)}.{os.getpid()}.tmp")
    # copies (new snapshot objects): the returned paths stay untied to the
    # file, which is closed and freed below
    copies = [_materialize(paths, t, system) for t in trajectories]
    final = _materialize(paths, final_path, system)
    store = paths.Storage(tmp, "w", template=final[0])
    try:
        for t in copies:
            store.save(t)
        store.tag["final_path"] = final
        store.sync_all()
    finally:
        _close_storage(store)
        del store
    os.replace(tmp, storage)


def _close_storage(storage):
    """Close an OPS storage and free it now, while the interpreter is whole.

    An OPS ``Storage`` (a ``netCDF4.Dataset``) and its stores refer to each
    other; the cycle outlived ``gc.collect()`` here, so the Dataset was
    deallocated during interpreter shutdown, where netCDF4 prints "Error in
    sys.excepthook ... Original exception was:". Emptying the stores'
    attributes breaks the cycle and the file object goes at once.
    """
    import gc
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


def _load_all(paths, trajectory):
    """The trajectory with every snapshot loaded from its open OPS storage.

    (The same snapshot objects: copies made here left the storage's
    objects to be freed at interpreter exit, where netCDF4 complains.)
    """
    snaps = [trajectory[i] for i in range(len(trajectory))]
    for snap in snaps:
        snap.coordinates, snap.velocities  # noqa: B018 - force lazy loading
    return paths.Trajectory(snaps)


def _materialize(paths, trajectory, system=None, engine=None):
    """A fresh in-memory copy of a trajectory read from an open OPS storage.

    New snapshot objects (same positions, velocities and engine), so that
    nothing returned is tied to a storage that is closed afterwards.
    """
    snaps = [trajectory[i] for i in range(len(trajectory))]
    x = np.array([np.asarray(s.coordinates._value, dtype=float)
                  for s in snaps])
    v = np.array([np.asarray(s.velocities._value, dtype=float)
                  for s in snaps])
    return _trajectory(engine or snaps[0].engine, x, v, system)


# ----------------------------------------------------------------------
def initial_path(system: MolecularSystem, state_A="C7eq", state_B="C7ax",
                 temperature: float = 300.0, seed: int | None = 0, *,
                 high_temperature: float = 1300.0, max_frames: int = 20000,
                 relax_moves: int = 40, max_attempts: int = 5,
                 hot_steps_per_frame: int = 2, timestep_fs: float = 2.0,
                 steps_per_frame: int = 10, friction_per_ps: float = 1.0,
                 n_frames_max: int = 2000, verbose: bool = True,
                 platform: str = "auto"):
    """A first transition path from ``state_A`` to ``state_B`` at ``temperature``.

    Method (as in the OPS alanine dipeptide examples, plus a relaxation):

    1. Langevin MD at ``high_temperature`` from ``system.positions``
       (LangevinMiddle on an OpenMM Context, Maxwell-Boltzmann start
       velocities from ``SeedSequence([seed, attempt, 1])``, frames
       every ``hot_steps_per_frame`` MD steps so that the barrier region
       is resolved) until it has been in ``state_A`` and
       then reaches ``state_B``, at most ``max_frames`` frames; the piece
       from the last frame in A to the first frame in B is a valid but hot
       A->B path.
    2. Relaxation: two-way TPS shooting at ``temperature`` until a move is
       accepted, at most ``relax_moves`` moves. An accepted two-way move
       replaces the whole path by dynamics at ``temperature`` (fresh
       Maxwell-Boltzmann velocities, both halves integrated at the target
       temperature), so the returned path is a true ``temperature`` path.

    If step 2 fails (a hot path can cross where no frame lies near the
    barrier top), steps 1-2 are repeated with new random velocities, at
    most ``max_attempts`` times. Total effort is bounded by
    ``max_attempts * (max_frames * hot_steps_per_frame + relax_moves *
    n_frames_max * steps_per_frame)`` MD steps. Decorrelate the path with
    :func:`run_tps` before harvesting.

    Parameters
    ----------
    system : MolecularSystem
    state_A, state_B : str or StateDefinition
        Names in ``system.states`` (or the definitions).
    temperature : float
        Target temperature, K.
    seed : int or None
    high_temperature : float
        Temperature of step 1, K.
    max_frames : int
        Bound on step 1 per attempt, frames.
    relax_moves : int
        Bound on step 2 per attempt, shooting moves.
    max_attempts : int
        Attempts of steps 1-2.
    hot_steps_per_frame : int
        MD steps per frame in step 1.
    timestep_fs, steps_per_frame, friction_per_ps, n_frames_max
        Engine settings at ``temperature`` (fs, steps, 1/ps, longest trial
        path in frames).
    verbose : bool
    platform : str
        OpenMM platform of both steps ("CPU", "CUDA", "OpenCL",
        "Reference" or "auto": CPU below 5000 atoms, else the fastest); a
        missing one raises :class:`InputError` naming those available.

    Returns
    -------
    openpathsampling.Trajectory
        Starts in A, ends in B, no frame in between inside A or B; frames
        ``steps_per_frame * timestep_fs`` apart.

    Raises
    ------
    SamplingError
        If no attempt gives an accepted path at ``temperature``.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> path = initial_path(alanine_dipeptide(), seed=1)    # doctest: +SKIP
    >>> len(path) > 2                                        # doctest: +SKIP
    True
    """
    import_ops()  # OPS imported (quietly) before anything prints
    st_A, st_B = _states(system, state_A, state_B)
    for name, val, low in (("max_frames", max_frames, 2),
                           ("relax_moves", relax_moves, 1),
                           ("max_attempts", max_attempts, 1),
                           ("hot_steps_per_frame", hot_steps_per_frame, 1)):
        if int(val) != val or val < low:
            raise InputError(f"{name}={val!r} must be an integer >= {low}")
    if bool(st_B.contains(system.positions, box=getattr(system, "box_vectors", None))[0]):
        raise StateError(f"system.positions are inside the final state "
                         f"{st_B.name!r}; start from a structure in or near "
                         f"{st_A.name!r}")
    from .tps_fast import TPSChain, run_chain
    platform = resolve_platform(platform, n_atoms=system.n_atoms)
    engine = make_engine(system, temperature, timestep_fs, steps_per_frame,
                         friction_per_ps=friction_per_ps,
                         n_frames_max=n_frames_max, seed=seed)
    box = system.box_vectors

    def in_A(x):
        return st_A.contains(x, box=box)

    def in_B(x):
        return st_B.contains(x, box=box)
    log = []
    for attempt in range(int(max_attempts)):
        # hot MD directly on an OpenMM Context (no per-frame OPS objects):
        # Maxwell-Boltzmann velocities at high_temperature from the seeded
        # chain Generator, constraints, then frames until B after A
        hot = TPSChain(system, st_A, st_B, temperature=high_temperature,
                       timestep_fs=timestep_fs,
                       steps_per_frame=hot_steps_per_frame,
                       friction_per_ps=friction_per_ps,
                       n_frames_max=int(max_frames), seed=seed,
                       chain=(attempt, 1), platform=platform)
        ctx, integ, test = hot.context, hot.integrator, hot.test
        ctx.setPositions(system.positions)
        ctx.setVelocities(hot.rng.standard_normal((system.n_atoms, 3))
                          * hot.sigma)
        ctx.applyConstraints(hot.tolerance)
        ctx.applyVelocityConstraints(hot.tolerance)
        x0, v0 = hot._state()
        xs, vs = [x0], [v0]
        seen_A = bool(in_A(system.positions)[0])
        bar = progress_bar(verbose, total=int(max_frames),
                    desc=f"hot MD {high_temperature:g} K (try {attempt + 1})")
        found = False
        try:
            while len(xs) < int(max_frames):
                integ.step(hot.spf)
                x, v = hot._state()
                xs.append(x)
                vs.append(v)
                bar.update(1)
                code = test(x)
                if code == 1:
                    seen_A = True
                elif code == 2 and seen_A:
                    found = True
                    break
        finally:
            bar.close()
        del hot, ctx, integ
        if not found:
            log.append(f"try {attempt + 1}: no transition in {max_frames} "
                       f"frames at {high_temperature:g} K")
            continue
        x = np.array(xs)
        i_b = int(np.flatnonzero(in_B(x))[-1])
        i_a = int(np.flatnonzero(in_A(x[:i_b]))[-1])
        hot_path = _trajectory(engine, x[i_a:i_b + 1],
                               np.array(vs[i_a:i_b + 1]), system)
        # relaxation: fast two-way shooting at temperature until a move is
        # accepted; seeds SeedSequence([seed, attempt, 2]) (hot MD: [seed,
        # attempt, 1]; TPS chains: [seed, chain]) never meet another study's
        relax = run_chain(system, st_A, st_B, x[i_a:i_b + 1],
                          np.array(vs[i_a:i_b + 1]), int(relax_moves),
                          seed=seed, chain=(attempt, 2),
                          temperature=temperature, timestep_fs=timestep_fs,
                          steps_per_frame=steps_per_frame,
                          friction_per_ps=friction_per_ps,
                          n_frames_max=n_frames_max, stop_after_accepted=1,
                          platform=platform)
        if len(relax["acc_x"]):
            return _trajectory(engine, relax["acc_x"][0], relax["acc_v"][0],
                               system)
        log.append(f"try {attempt + 1}: hot path of {len(hot_path)} frames, "
                   f"0 of {relax_moves} shooting moves at {temperature:g} K "
                   "accepted")
    raise SamplingError(
        f"no {st_A.name}->{st_B.name} path at {temperature:g} K after "
        f"{max_attempts} attempts ({'; '.join(log)}). Raise max_frames, "
        "relax_moves, max_attempts or high_temperature, or check the state "
        "definitions")


# ----------------------------------------------------------------------
def _pool(paths_in, system):
    """Unique interior frames: (positions Angstrom, fraction along path)."""
    ops = import_ops()
    if isinstance(paths_in, TPSResult):
        # no move accepted: the chain's path is still the (valid) initial path
        paths_in = paths_in.accepted_paths or [paths_in.final_path]
    if isinstance(paths_in, ops.Trajectory):
        paths_in = [paths_in]
    if isinstance(paths_in, np.ndarray) and paths_in.ndim == 3:
        paths_in = [paths_in]
    try:
        paths_in = list(paths_in)
    except TypeError:
        raise InputTypeError("paths must be a TPSResult, OPS Trajectories or "
                             "arrays (n_frames, n_atoms, 3) in Angstrom"
                             ) from None
    if not paths_in:
        raise InputError("paths is empty: no accepted paths to harvest from")
    seen = set()
    xs, fr = [], []
    for p in paths_in:
        if isinstance(p, ops.Trajectory):
            keys = [id(s) for s in p]
            # snapshots are shared between paths (two-way shooting keeps the
            # shooting point, one-way half the old path): dedupe by object;
            # the ends are inside the states by construction
            pos = trajectory_positions(p, angstrom=True)
            interior = range(1, len(p) - 1)
        else:
            pos = np.asarray(p, dtype=float)
            if pos.ndim != 3 or pos.shape[-1] != 3:
                raise InputError(f"a path array must be (n_frames, n_atoms, 3)"
                                 f" in Angstrom, got shape {pos.shape}")
            keys = [hash(f.tobytes()) for f in pos]
            interior = range(len(pos))
        n = len(pos)
        for k in interior:
            key = keys[k]
            h = hash(pos[k].astype(np.float32).tobytes())
            if key in seen or h in seen:
                continue
            seen.add(key)
            seen.add(h)
            xs.append(pos[k])
            fr.append(k / max(n - 1, 1))
    if not xs:
        raise InputError("the paths have no interior frames to harvest")
    x = np.array(xs)
    frac = np.array(fr)
    if system is not None:
        inside = np.zeros(len(x), dtype=bool)
        for st in system.states.values():
            inside |= st.contains(x / NM_TO_ANGSTROM,
                                  box=getattr(system, "box_vectors", None))
        x, frac = x[~inside], frac[~inside]
    return x, frac


def harvest(paths, n_configurations: int, seed: int | None = 0,
            predict_pB=None, window=(0.1, 0.9), *, system=None,
            verbose: bool = False) -> np.ndarray:
    """Pick shooting configurations from transition paths.

    Without ``predict_pB``: the unique interior frames of all paths (frames
    shared by several paths count once; path ends, which lie in the states,
    are dropped) are sorted by their fractional position along their path
    and split into ``n_configurations`` equal strata; one frame is drawn at
    random from each, so the picks spread from the A end to the B end.

    With ``predict_pB`` (any callable positions -> p_B, e.g. a trained
    model's ``predict_proba`` composed with features): only frames
    predicted inside ``window`` are kept, and ``n_configurations`` of them
    are drawn at random -- later rounds of shooting where the model is least
    sure.

    Parameters
    ----------
    paths : TPSResult, OPS Trajectory, list of Trajectories, or arrays
        Arrays are ``(n_frames, n_atoms, 3)`` in **Angstrom** and are used
        whole (no ends dropped).
    n_configurations : int
        How many to return. If fewer unique frames qualify, all of them are
        returned with a warning.
    seed : int or None
    predict_pB : callable, optional
        ``f(positions) -> p_B`` with positions ``(n, n_atoms, 3)`` in
        Angstrom and p_B ``(n,)`` in [0, 1].
    window : (float, float)
        Keep ``lo <= p_B <= hi`` (only with ``predict_pB``).
    system : MolecularSystem, optional
        If given, frames inside any of its states are dropped too.
    verbose : bool

    Returns
    -------
    numpy.ndarray
        ``(n, n_atoms, 3)`` positions in **Angstrom**.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.sampling import harvest
    >>> fake_path = np.random.default_rng(0).normal(size=(50, 22, 3))
    >>> harvest([fake_path], 10, seed=0).shape
    (10, 22, 3)
    >>> harvest([fake_path], 5, predict_pB=lambda x: np.full(len(x), 0.5)).shape
    (5, 22, 3)
    """
    if int(n_configurations) != n_configurations or n_configurations < 1:
        raise InputError(f"n_configurations={n_configurations!r} must be a "
                         "positive integer")
    n = int(n_configurations)
    rng = np.random.default_rng(seed)
    x, frac = _pool(paths, system)
    if predict_pB is not None:
        if not callable(predict_pB):
            raise InputTypeError("predict_pB must be a callable positions "
                                 "(n, n_atoms, 3) Angstrom -> p_B (n,)")
        lo, hi = (float(w) for w in window)
        if not 0.0 <= lo < hi <= 1.0:
            raise InputError(f"window={window!r} must be (lo, hi) with "
                             "0 <= lo < hi <= 1")
        p = np.asarray(predict_pB(x.copy()), dtype=float).reshape(-1)
        if p.shape != (len(x),):
            raise InputError(f"predict_pB returned shape {p.shape}; expected "
                             f"({len(x)},), one p_B per configuration")
        if np.any(~np.isfinite(p)) or p.min() < 0 or p.max() > 1:
            raise InputError("predict_pB returned values outside [0, 1]")
        keep = (p >= lo) & (p <= hi)
        x = x[keep]
        if len(x) == 0:
            raise SamplingError(f"no configuration has predicted p_B in "
                                f"{window}; widen the window or sample more "
                                "paths")
        if len(x) <= n:
            if len(x) < n:
                warnings.warn(f"only {len(x)} configurations have predicted "
                              f"p_B in {window}; returning all of them",
                              stacklevel=2)
            return x[rng.permutation(len(x))]
        return x[np.sort(rng.choice(len(x), n, replace=False))]
    if len(x) <= n:
        if len(x) < n:
            warnings.warn(f"only {len(x)} unique interior frames in the paths;"
                          f" returning all of them (asked {n})", stacklevel=2)
        return x[np.argsort(frac, kind="stable")]
    order = np.argsort(frac, kind="stable")
    strata = np.array_split(order, n)
    pick = np.array([s[rng.integers(len(s))] for s in strata])
    return x[pick]

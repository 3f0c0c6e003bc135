"""Transition path sampling: the dispatcher, its result, and the fast route's driver.

:func:`run_tps` runs two-way (or one-way) shooting on OPS' TPS ensemble by
one of two routes (:func:`choose_route` says which for ``method="auto"``):

* ``"ops"`` -- OpenPathSampling's ``PathSampling`` with its move scheme and
  storage (:mod:`mda_rcxai.sampling.tps_ops`);
* ``"fast"`` -- the same two-way move on the dynamics core, one OpenMM
  Context per chain (:mod:`mda_rcxai.sampling.tps_fast`), with chains in
  worker processes and checkpoints.

Units: OPS trajectories hold positions in nm; :meth:`TPSResult.path_positions`
gives Angstrom (the MDAnalysis unit) by default.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..exceptions import InputError, StateError
from ..systems import MolecularSystem
from .core import (allowed_threads, as_settings,
                   create_context, make_integrator, maxwell_boltzmann,
                   start_trajectory, velocity_sigma)
from .ops import (make_engine, make_volume, save_trajectories,
                  snapshot_from_positions, trajectory)
from .progress import progress_bar
from .shooting import two_states
from .tps_fast import chain_worker, checkpoint_files
from .tps_ops import as_ops_path, check_storage, run_tps_ops

__all__ = ["run_tps", "TPSResult", "trajectory_positions", "choose_route",
           "ops_overhead", "OPS_OVERHEAD_LIMIT"]

NM_TO_ANGSTROM = 10.0

#: ``method="auto"`` runs OPS where its measured bookkeeping per frame is at
#: most this fraction of the MD per frame.
OPS_OVERHEAD_LIMIT = 0.25


def trajectory_positions(trajectory, angstrom: bool = False) -> np.ndarray:
    """Positions of an OPS trajectory, ``(n_frames, n_atoms, 3)``.

    Parameters
    ----------
    trajectory : openpathsampling.Trajectory
    angstrom : bool
        False: nm (OPS' unit); True: Angstrom (MDAnalysis' unit).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> from mda_rcxai.sampling import make_engine
    >>> s = alanine_dipeptide()
    >>> t = trajectory(make_engine(s, platform="Reference"), [s.positions] * 2,
    ...                np.zeros((2, 22, 3)))
    >>> trajectory_positions(t, angstrom=True).shape
    (2, 22, 3)
    """
    x = np.asarray(trajectory.xyz, dtype=float)
    return x * NM_TO_ANGSTROM if angstrom else x


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
        ``method`` ("fast" or "ops"), ``route_reason``, ``platform``,
        ``platform_choice`` (measured steps/s per candidate), ``accepted``
        (bool per move); fast route also ``n_chains``, ``n_workers``,
        ``md_steps``, ``wall_s``, ``md_steps_per_s``, ``chain_of_path``,
        ``moves_per_chain``, ``resumed_from`` and ``checkpoint``; OPS route
        ``resumed_from`` (steps found in the storage).

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


_OVERHEADS: dict = {}


def ops_overhead(system, settings, seed=0, n_frames=20):
    """Measured seconds per frame: OPS ``engine.generate`` and the plain loop.

    OPS' engine (with the state volumes tested every frame, as its TPS
    ensembles do) and the plain dynamics-core loop each run ``n_frames``
    frames of ``system`` on the same measured platform. Cached per system
    and settings in this process.

    Returns
    -------
    (float, float, PlatformChoice)
        Seconds per frame through OPS, seconds per frame of the plain loop,
        and the platform both ran on.
    """
    settings = settings.replace(n_frames_max=n_frames + 2)
    key = (system.fingerprint(), tuple(sorted(settings.to_dict().items())))
    if key not in _OVERHEADS:
        _OVERHEADS[key] = _measure_overhead(system, settings, seed, n_frames)
    return _OVERHEADS[key]


def _measure_overhead(system, settings, seed, n_frames):
    engine = make_engine(system, settings, seed=seed)
    st = engine.mda_rcxai_settings
    rng = np.random.default_rng(seed)
    v = maxwell_boltzmann(rng, velocity_sigma(system.system, st.temperature))
    vols = [make_volume(s, system) for s in system.states.values()][:2]

    def running(traj, trusted=False):  # what TPS ensembles test per frame
        for vol in vols:
            vol(traj[-1])
        return len(traj) < n_frames
    snap = snapshot_from_positions(engine, system.positions, v)
    engine.generate(snap, running=[lambda t, trusted=False: len(t) < 2])
    ctx = create_context(system.system, make_integrator(st, seed + 1),
                         st.platform, st.threads, box=system.box_vectors,
                         positions=system.positions)
    start_trajectory(ctx, system.positions, v)
    integ = ctx.getIntegrator()
    integ.step(st.steps_per_frame)
    # three rounds, interleaved; the fastest of each counts (a load spike on
    # a shared machine slows one round, not the minimum)
    t_ops = t_md = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        traj = engine.generate(snap, running=[running])
        n = max(len(traj) - 1, 1)
        t_ops = min(t_ops, (time.perf_counter() - t0) / n)
        t0 = time.perf_counter()
        for _ in range(n):
            integ.step(st.steps_per_frame)
            ctx.getState(getPositions=True, getVelocities=True)
        t_md = min(t_md, (time.perf_counter() - t0) / n)
    del ctx
    return t_ops, t_md, engine.mda_rcxai_platform


def choose_route(system, settings=None, shooting="two-way", engine=None,
                 method="auto", fast_only=False, **engine_kw):
    """Which TPS route runs, and why (measured for ``method="auto"``).

    ``"auto"``: one-way shooting or a given OPS engine need OPS;
    ``fast_only`` (checkpoints or several chains asked for) the fast route.
    Otherwise
    OPS' engine runs a few frames of the actual system (``engine.generate``
    with the state volumes tested every frame, as TPS does) beside the plain
    dynamics loop on the same platform; OPS runs the study where its
    bookkeeping costs at most :data:`OPS_OVERHEAD_LIMIT` of the MD per frame
    (solvated boxes with PME), the fast route where it dominates (a small
    molecule in vacuum).

    Returns
    -------
    method : {"fast", "ops"}
    reason : str
        One sentence for logs and the report, with the measured times.
    measured : dict
        ``ops_s_per_frame``, ``md_s_per_frame``, ``overhead`` (fraction),
        ``platform`` (empty when nothing was measured).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> choose_route(alanine_dipeptide(), method="ops")[:2]
    ('ops', 'requested (method="ops")')
    """
    if method not in ("auto", "fast", "ops"):
        raise InputError(f"method={method!r} is not known; use 'auto', "
                         "'fast' or 'ops'")
    if method != "auto":
        if method == "fast" and (shooting != "two-way" or engine is not None):
            raise InputError("method='fast' runs two-way shooting on its own "
                             "OpenMM Context; for one-way shooting or a given "
                             "engine use method='ops'")
        return method, f'requested (method="{method}")', {}
    if shooting != "two-way":
        return "ops", "one-way shooting runs through OPS", {}
    if engine is not None:
        return "ops", "an OPS engine was given", {}
    if fast_only:
        return "fast", "checkpoints or several chains were asked for (fast " \
            "route only)", {}
    settings = as_settings(settings, **engine_kw)
    t_ops, t_md, choice = ops_overhead(system, settings)
    over = t_ops / t_md - 1.0
    measured = {"ops_s_per_frame": t_ops, "md_s_per_frame": t_md,
                "overhead": over, "platform": choice.label}
    what = (f"OPS costs {1e3 * t_ops:.2f} ms a frame, the plain MD "
            f"{1e3 * t_md:.2f} ms on {choice.label}: bookkeeping "
            f"{100 * over:.0f} % of the MD")
    if over <= OPS_OVERHEAD_LIMIT:
        return "ops", what + f" (<= {100 * OPS_OVERHEAD_LIMIT:.0f} %): OPS " \
            "PathSampling runs it", measured
    return "fast", what + f" (> {100 * OPS_OVERHEAD_LIMIT:.0f} %): the fast " \
        "route runs the same move on the dynamics core", measured


def run_tps(system: MolecularSystem, path, n_steps: int, storage=None,
            seed: int | None = 0, *, state_A=None, state_B=None,
            settings=None, shooting: str = "two-way", engine=None,
            verbose: bool = True, method: str = "auto", n_chains: int = 1,
            n_workers: int | None = None, checkpoint=None,
            checkpoint_interval_s: float = 5.0,
            stop_after_accepted: int | None = None,
            keep_trials: bool = False, **engine_kw) -> TPSResult:
    """Transition path sampling: two-way shooting on OPS' TPS ensemble.

    A flexible-length TPS network between two states of ``system`` (OPS
    ``TPSNetwork``: paths start in ``state_A``, end in ``state_B`` and touch
    neither in between), uniform shooting-point selection and two-way
    shooting (Maxwell-Boltzmann velocities) or one-way shooting.

    Routes (``method``; :func:`choose_route` decides "auto" by measuring
    OPS' bookkeeping beside the MD on this system):

    * ``"ops"``: OPS ``PathSampling`` with its move scheme; ``storage`` is
      OPS' full netCDF record of the simulation and an existing storage is
      resumed (:mod:`~mda_rcxai.sampling.tps_ops`).
    * ``"fast"``: the move of OPS' ``TwoWayShootingMover`` (``UniformSelector``,
      ``RandomVelocities``) on the same ensemble with the same acceptance
      ``min(1, (L_old - 2) / (L_new - 2))``, on the dynamics core with one
      Context per chain (:mod:`~mda_rcxai.sampling.tps_fast`); the replay
      tests show it gives OPS' trial, frame by frame, from the same
      velocities. Several chains (``n_chains``, seeds ``(seed, chain)``)
      share the ``n_steps`` moves in ``n_workers`` processes; ``checkpoint``
      resumes a killed run exactly. ``storage`` saves the accepted paths as
      OPS trajectories at the end.

    Parameters
    ----------
    system : MolecularSystem
    path : openpathsampling.Trajectory or TPSResult
        A path from ``state_A`` to ``state_B`` (e.g. :func:`initial_path`;
        a TPSResult continues from its final path).
    n_steps : int
        Shooting moves.
    storage : str or None
        OPS storage file (netCDF).
    seed : int or None
    state_A, state_B : str or StateDefinition, optional
        Default: the system's two states.
    settings : EngineSettings, optional
        Temperature (K), time step (fs), friction (1/ps), steps per frame,
        longest trial path (``n_frames_max``, frames), integrator, platform
        ("auto": measured). Its fields are also accepted as keywords.
    shooting : {"two-way", "one-way"}
    engine : OPS engine, optional
        Use this engine (OPS route).
    verbose : bool
    method : {"auto", "fast", "ops"}
    n_chains, n_workers : int
        Fast route: independent chains and the processes running them
        (default ``min(n_chains, cores)``; spawned: a script needs
        ``if __name__ == "__main__":``).
    checkpoint : str or path, optional
        Fast route: ``.npz`` file(s) written atomically every
        ``checkpoint_interval_s`` seconds; an existing one resumes.
    checkpoint_interval_s : float
    stop_after_accepted : int, optional
        Stop a chain after this many accepted moves.
    keep_trials : bool
        Fast route: keep every trial's record in ``extra["trials"]``.

    Returns
    -------
    TPSResult
        ``extra`` holds ``method``, ``route_reason``, ``platform`` and
        ``platform_choice`` (the measured steps/s), and the route's
        bookkeeping.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> from mda_rcxai.sampling import initial_path, run_tps
    >>> system = alanine_dipeptide()
    >>> path = initial_path(system, seed=1)                 # doctest: +SKIP
    >>> result = run_tps(system, path, 200, seed=1)         # doctest: +SKIP
    >>> print(result.summary())                             # doctest: +SKIP
    """
    settings = as_settings(settings, **engine_kw)
    st_A, st_B = two_states(system, state_A, state_B)
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
        raise InputError(f"n_steps={n_steps!r} must be a positive integer")
    if shooting not in ("two-way", "one-way"):
        raise InputError(f"shooting={shooting!r} is not known; use 'two-way' "
                         "or 'one-way'")
    if seed is not None and (isinstance(seed, bool) or int(seed) != seed
                             or seed < 0):
        raise InputError(f"seed={seed!r} must be a non-negative integer or "
                         "None")
    method, reason, measured = choose_route(
        system, settings, shooting, engine, method,
        fast_only=checkpoint is not None or n_chains != 1)
    if method == "fast":
        res = _run_tps_fast(
            system, path, int(n_steps), storage, seed, st_A, st_B, settings,
            verbose=verbose, n_chains=n_chains, n_workers=n_workers,
            checkpoint=checkpoint,
            checkpoint_interval_s=checkpoint_interval_s,
            stop_after_accepted=stop_after_accepted,
            keep_trials=keep_trials)
    else:
        if checkpoint is not None or n_chains != 1:
            raise InputError("checkpoint and n_chains > 1 need method='fast' "
                             "(OPS' PathSampling runs one chain and resumes "
                             "from its storage)")
        px, pv = _path_arrays(path, st_A, st_B, system)
        accepted, lengths, new_paths, final_path, info = run_tps_ops(
            system, path, int(n_steps), settings, st_A, st_B, seed=seed,
            shooting=shooting, storage=storage, engine=engine,
            verbose=verbose, stop_after_accepted=stop_after_accepted,
            path_arrays=(px, pv))
        n_done = len(accepted)
        st = getattr(engine, "mda_rcxai_settings", settings)
        res = TPSResult(
            accepted_paths=new_paths,
            acceptance=float(np.mean(accepted)) if n_done else 0.0,
            path_lengths=np.array([len(t) for t in new_paths], dtype=int),
            active_lengths=np.array(lengths, dtype=int), n_steps=n_done,
            n_accepted=int(np.sum(accepted)), final_path=final_path,
            storage=storage, frame_time_ps=st.frame_time_ps,
            states=(st_A.name, st_B.name), seed=seed, shooting=shooting,
            extra={"method": "ops", "accepted": np.array(accepted, bool),
                   **info})
    res.extra.update(route_reason=reason, route_measured=measured)
    return res


def _path_arrays(path, st_A, st_B, system=None):
    """Positions and velocities (nm, nm/ps) of the initial path, checked."""
    path = as_ops_path(path, TPSResult)
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


def _run_tps_fast(system, path, n_steps, storage, seed, st_A, st_B, settings,
                  *, verbose, n_chains, n_workers, checkpoint,
                  checkpoint_interval_s, stop_after_accepted, keep_trials):
    from .initial import measured_settings
    if isinstance(n_chains, bool) or int(n_chains) != n_chains or \
            not 1 <= n_chains <= n_steps:
        raise InputError(f"n_chains={n_chains!r} must be an integer in 1.."
                         f"n_steps ({n_steps})")
    n_chains = int(n_chains)
    cpus = allowed_threads()
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
    files = checkpoint_files(checkpoint, n_chains)
    for f in files:
        if f is not None and not os.path.isdir(
                os.path.dirname(os.path.abspath(f))):
            raise InputError(f"checkpoint={checkpoint!r}: its folder does "
                             "not exist")
    storage = check_storage(storage)
    px, pv = _path_arrays(path, st_A, st_B, system)
    # the platform is measured once, here, for every chain (each worker gets
    # the cores left to it)
    settings, choice = measured_settings(system, settings,
                                         max(1, cpus // n_workers))
    shares = [n_steps // n_chains + (k < n_steps % n_chains)
              for k in range(n_chains)]
    jobs = [dict(system=system, state_A=st_A, state_B=st_B, path_x=px,
                 path_v=pv, n_moves=shares[k], settings=settings.to_dict(),
                 seed=seed, chain=k, checkpoint=files[k],
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
    engine = make_engine(system, settings, seed=seed)
    new_paths, chain_of = [], []
    for r in results:
        for x, v in zip(r["acc_x"], r["acc_v"]):
            new_paths.append(trajectory(engine, x, v))
            chain_of.append(r["chain"])
    final_path = trajectory(engine, results[0]["final_x"],
                            results[0]["final_v"])
    if storage is not None:
        save_trajectories(storage, new_paths, final_path)
    n_done = len(accepted)
    wall = max(r["wall_s"] for r in results)
    md_steps = int(sum(r["md_steps"] for r in results))
    extra = {"method": "fast", "n_chains": n_chains, "n_workers": n_workers,
             "accepted": accepted, "platform": settings.platform,
             "platform_choice": choice.to_dict(), "md_steps": md_steps,
             "wall_s": float(wall),
             # the pace of the moves themselves (set-up and spawning excluded)
             "md_steps_per_s": sum(r["loop_md_steps"] for r in results)
             / max(sum(r["loop_s"] for r in results), 1e-9),
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
        storage=storage, frame_time_ps=settings.frame_time_ps,
        states=(st_A.name, st_B.name), seed=seed, shooting="two-way",
        extra=extra)

"""TPS through OpenPathSampling itself: ``PathSampling`` with its move scheme and storage.

The OPS route of :func:`mda_rcxai.sampling.run_tps`: a ``TPSNetwork``
between the two states' volumes (:func:`~mda_rcxai.sampling.make_volume`,
the dynamics core's state test), a two-way shooting strategy with
``UniformSelector`` and ``RandomVelocities`` (or OPS' one-way shooting
scheme) on the OPS OpenMM engine (:func:`~mda_rcxai.sampling.make_engine`,
the core's integrator and measured platform), and ``PathSampling`` writing
every Monte Carlo step to an OPS netCDF storage.

Resuming: when ``storage`` exists, the simulation stored in it is
continued from its last step (OPS ``PathSampling.restart_at_step``) until
``n_steps`` moves are done in all; accepted paths, acceptance and lengths
are read back from the stored steps (OPS' own record). A resumed chain is a
valid continuation of the Markov chain but does not repeat the random
numbers an uninterrupted run would have drawn.

Units: positions nm, velocities nm/ps.
"""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np

from ..exceptions import InputError, InputTypeError, SamplingError, StateError
from .ops import (close_storage, import_ops, load_all, make_engine, materialize,
                  make_randomizer, make_volume, patch_apply_constraints,
                  seeded, trajectory)
from .progress import progress_bar

__all__ = ["run_tps_ops", "check_storage", "as_ops_path"]


def make_scheme(paths, network, engine, shooting):
    """The OPS move scheme: two-way (RandomVelocities) or one-way shooting."""
    if shooting == "one-way":
        return paths.OneWayShootingMoveScheme(
            network, selector=paths.UniformSelector(), engine=engine)
    scheme = paths.MoveScheme(network)
    scheme.append(paths.strategies.TwoWayShootingStrategy(
        modifier=make_randomizer(engine),
        selector=paths.UniformSelector(), engine=engine))
    scheme.append(paths.strategies.OrganizeByMoveGroupStrategy())
    return scheme


def check_storage(storage):
    """``storage`` as a str (or None); its folder must exist.

    Examples
    --------
    >>> check_storage(None) is None
    True
    """
    if storage is None:
        return None
    storage = os.fspath(storage)
    d = os.path.dirname(os.path.abspath(storage))
    if not os.path.isdir(d):
        raise InputError(f"storage={storage!r}: folder {d!r} does not "
                         "exist")
    return storage


def as_ops_path(path, tps_result_type=None):
    """The OPS Trajectory of ``path`` (a TPS result continues from its final path)."""
    paths = import_ops()
    if tps_result_type is not None and isinstance(path, tps_result_type):
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


def _run_steps(sampler, first, n_steps, verbose, desc, stop_after_accepted):
    """Run OPS MC steps ``first .. n_steps-1`` with a progress bar; the steps."""
    accepted, steps = [], []
    sampler.run_hooks("before_simulation", sim=sampler, n_steps=n_steps)
    hook_state = None
    bar = progress_bar(verbose, total=n_steps, initial=first, desc=desc)
    n_acc = 0
    try:
        for i in range(first, n_steps):
            hook_state, mcstep = sampler.run_one_step((i, n_steps),
                                                      hook_state)
            steps.append(mcstep)
            acc = bool(mcstep.change.canonical.accepted)
            accepted.append(acc)
            n_acc += acc
            bar.update(1)
            bar.set_postfix(acc=f"{np.mean(accepted):.2f}",
                            L=len(mcstep.active[0].trajectory),
                            refresh=False)
            if stop_after_accepted and n_acc >= stop_after_accepted:
                break
    finally:
        bar.close()
        sampler.run_hooks("after_simulation", sim=sampler,
                          hook_state=hook_state)
    return steps


def _record(steps):
    """Accepted flags, current lengths and accepted paths of stored MC steps."""
    accepted, lengths, new_paths = [], [], []
    for step in steps:
        if step.change is None or step.mccycle == 0:
            continue  # the initial conditions
        acc = bool(step.change.canonical.accepted)
        traj = step.active[0].trajectory
        accepted.append(acc)
        lengths.append(len(traj))
        if acc:
            new_paths.append(traj)
    return accepted, lengths, new_paths


def run_tps_ops(system, path, n_steps, settings, st_A, st_B, *, seed=0,
                shooting="two-way", storage=None, engine=None, verbose=True,
                stop_after_accepted=None, path_arrays=None):
    """TPS with OPS ``PathSampling``; returns ``(accepted, lengths, new_paths, final_path, info)``.

    ``path_arrays`` (positions nm, velocities nm/ps of ``path``) re-create
    the initial path on this engine (paths from another engine, or from a
    storage that is closed). With ``storage`` every step is saved, and an
    existing ``storage`` is resumed (see the module docstring).
    """
    # OPS draws from numpy's and Python's global generators: they are
    # seeded for the run and the caller's states given back afterwards
    with seeded(seed):
        return _run_tps_ops(system, path, n_steps, settings, st_A, st_B,
                            seed, shooting, storage, engine, verbose,
                            stop_after_accepted, path_arrays)


def _run_tps_ops(system, path, n_steps, settings, st_A, st_B, seed, shooting,
                 storage, engine, verbose, stop_after_accepted, path_arrays):
    paths = import_ops()
    storage = check_storage(storage)
    if storage is not None and os.path.exists(storage):
        return _resume(paths, system, n_steps, settings, storage, seed,
                       verbose, stop_after_accepted)
    if engine is None:
        engine = make_engine(system, settings, seed=seed)
    vol_A, vol_B = make_volume(st_A, system), make_volume(st_B, system)
    if path_arrays is not None:
        path = trajectory(engine, *path_arrays)
    path = _check_path(as_ops_path(path), vol_A, vol_B, st_A.name, st_B.name)
    network = paths.TPSNetwork(vol_A, vol_B)
    scheme = make_scheme(paths, network, engine, shooting)
    with contextlib.redirect_stdout(io.StringIO()):  # OPS prints a report
        init = scheme.initial_conditions_from_trajectories(path)
        scheme.assert_initial_conditions(init)
    store = None
    if storage is not None:
        store = paths.Storage(storage, "w", template=path[0])
    sampler = None
    try:
        with seeded(seed):
            sampler = paths.PathSampling(storage=store, move_scheme=scheme,
                                         sample_set=init)
            sampler.output_stream = io.StringIO()
            sampler.live_visualizer = None
            sampler.save_frequency = 1
            steps = _run_steps(sampler, 0, int(n_steps), verbose,
                       f"TPS {st_A.name}->{st_B.name} (OPS)",
                       stop_after_accepted)
        if store is not None:
            store.sync_all()
            steps = list(store.steps)
        accepted, lengths, new_paths = _record(steps)
        final_path = sampler.sample_set[0].trajectory
        if store is not None:
            # storage turns snapshots into lazy proxies of the file, which
            # is closed below: load every one now
            new_paths = [load_all(t) for t in new_paths]
            final_path = load_all(final_path)
    finally:
        if store is not None:
            if sampler is not None:
                sampler.storage = None
            close_storage(store)
    info = {"platform": engine.mda_rcxai_settings.platform
            if hasattr(engine, "mda_rcxai_settings") else None,
            "platform_choice": engine.mda_rcxai_platform.to_dict()
            if hasattr(engine, "mda_rcxai_platform") else None,
            "resumed_from": 0}
    return accepted, lengths, new_paths, final_path, info


def _resume(paths, system, n_steps, settings, storage, seed, verbose,
            stop_after_accepted):
    try:
        store = paths.Storage(storage, "a")
        sampler = store.pathsimulators[-1]
        last = store.steps[-1]
    except Exception as err:
        raise InputError(
            f"storage={storage!r} cannot be resumed ({type(err).__name__}: "
            f"{str(err).strip()[:120]}); it may have been cut short by a "
            "kill while writing: delete it to start TPS again") from None
    try:
        done = int(last.mccycle)
        # the stored engines are not initialised; give them the platform
        # measured here and the patched apply_constraints
        fresh = make_engine(system, settings, seed=seed)
        for eng in store.engines:
            if getattr(eng, "_simulation", None) is None and hasattr(
                    eng, "initialize"):
                eng.initialize(fresh.mda_rcxai_settings.platform)
                patch_apply_constraints(eng)
                eng.mda_rcxai_settings = fresh.mda_rcxai_settings
                eng.mda_rcxai_box = fresh.mda_rcxai_box
        sampler.restart_at_step(last)
        sampler.output_stream = io.StringIO()
        sampler.live_visualizer = None
        with seeded(int(seed) + 7919 * (done + 1)):
            if done < int(n_steps):
                _run_steps(sampler, done, int(n_steps), verbose,
                           "TPS (OPS, resumed)", stop_after_accepted)
        store.sync_all()
        accepted, lengths, new_paths = _record(list(store.steps))
        # snapshots read back from the file are lazy proxies of it: copy them
        # onto this process' engine before the file is closed
        new_paths = [materialize(t, fresh) for t in new_paths]
        final_path = materialize(sampler.sample_set[0].trajectory, fresh)
    except SamplingError:
        raise
    finally:
        sampler.storage = None
        close_storage(store)
    info = {"platform": fresh.mda_rcxai_settings.platform,
            "platform_choice": fresh.mda_rcxai_platform.to_dict(),
            "resumed_from": done}
    return accepted, lengths, new_paths, final_path, info

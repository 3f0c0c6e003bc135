"""Initial transition paths from what the user already has.

* :func:`path_from_trajectory` -- the first A->B excursion of any
  trajectory MDAnalysis reads (DCD, XTC, TRR, NetCDF, multi-model PDB ...)
  with the system's atoms;
* :func:`path_from_ops_storage` -- the last accepted path of an
  OpenPathSampling storage file (e.g. from a TPS study run before).

Both return an OPS :class:`~openpathsampling.Trajectory` whose snapshots
belong to this system's engine (:func:`~mda_rcxai.sampling.make_engine`),
which is what :func:`~mda_rcxai.sampling.run_tps` takes as ``path``.
Units: MDAnalysis positions are Angstrom, converted here to nm.
"""

from __future__ import annotations

import os

import numpy as np

from ..exceptions import InputError, InputTypeError, StateError
from ..systems import MolecularSystem, check_states
from .dataset import box_dimensions, universe_from_system

__all__ = ["path_from_trajectory", "path_from_ops_storage", "box_dimensions"]

NM_PER_ANGSTROM = 0.1


def _engine(system, engine):
    from .ops import make_engine
    return make_engine(system) if engine is None else engine


def _trajectory(engine, frames_nm, box):
    from .ops import import_ops, snapshot_from_positions
    paths = import_ops()
    return paths.Trajectory([snapshot_from_positions(engine, x, box_vectors=box)
                             for x in frames_nm])


def _states(system, state_A, state_B):
    if not isinstance(system, MolecularSystem):
        raise InputTypeError(f"system must be a MolecularSystem (see "
                             f"mda_rcxai.systems), got {type(system).__name__}")
    return check_states(system.states, [state_A, state_B], system.n_atoms)


def _universe(system, trajectory):
    """A Universe from a Universe, a trajectory file, or (topology, traj...)."""
    import MDAnalysis as mda
    if hasattr(trajectory, "trajectory") and hasattr(trajectory, "atoms"):
        return trajectory
    if isinstance(trajectory, (str, os.PathLike)):
        files = [os.fspath(trajectory)]
    elif isinstance(trajectory, (list, tuple)) and trajectory and all(
            isinstance(f, (str, os.PathLike)) for f in trajectory):
        files = [os.fspath(f) for f in trajectory]
    else:
        raise InputTypeError(
            "trajectory must be an MDAnalysis Universe, a trajectory file "
            "name or a list [topology, trajectory, ...] of file names, got "
            f"{type(trajectory).__name__}")
    for f in files:
        if not os.path.isfile(f):
            raise InputError(f"trajectory: {f!r}: no such file")
    import gc
    import sys
    failure = None
    hook = sys.unraisablehook
    try:
        if len(files) == 1:  # a bare trajectory: the system's own topology
            u = universe_from_system(system)
            u.load_new(files[0])
        else:
            u = mda.Universe(*files)
    except Exception as err:
        msg = str(err).strip().splitlines()
        failure = msg[0] if msg else type(err).__name__
        # a reader that failed half-way complains in __del__ (MDAnalysis
        # 2.11: "Exception ignored in ReaderBase.__del__"); keep it quiet
        sys.unraisablehook = lambda unraisable: None
    if failure is not None:
        try:
            gc.collect()
        finally:
            sys.unraisablehook = hook
        raise InputError(f"trajectory {files!r} could not be read by "
                         f"MDAnalysis ({failure}); give a format MDAnalysis "
                         "reads (DCD, XTC, TRR, NetCDF, PDB ...) or "
                         "[topology, trajectory]")
    return u


def path_from_trajectory(system: MolecularSystem, trajectory,
                         state_A="C7eq", state_B="C7ax", *, engine=None):
    """The first A->B transition in a trajectory, as an OPS path.

    Scans the frames in order and cuts out the first excursion from
    ``state_A`` to ``state_B``: the last frame in A, the frames outside
    both states, and the first frame in B. An excursion needs at least one
    frame between the states (save frames more often if the trajectory
    jumps straight from A to B).

    Parameters
    ----------
    system : MolecularSystem
        The atoms of the trajectory, in the same order.
    trajectory : MDAnalysis.Universe, str or list of str
        A Universe, a trajectory file with the system's atoms (read on top
        of the system's topology) or ``[topology, trajectory, ...]`` file
        names; anything MDAnalysis reads. Positions in Angstrom.
    state_A, state_B : str or StateDefinition
        From ``system.states`` (minimum image in a periodic box).
    engine : OPS engine, optional
        Engine whose snapshots to make (default:
        ``make_engine(system)``).

    Returns
    -------
    openpathsampling.Trajectory
        Positions in nm, velocities zero (shooting draws new ones), the
        system's box; starts in A, ends in B, what
        :func:`~mda_rcxai.sampling.run_tps` takes as ``path``.

    Raises
    ------
    InputError
        Unreadable file, wrong number of atoms.
    StateError
        No A->B excursion in the trajectory.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> path = path_from_trajectory(alanine_dipeptide(), "run.dcd")  # doctest: +SKIP
    >>> run_tps(alanine_dipeptide(), path, 100)                     # doctest: +SKIP
    """
    st_A, st_B = _states(system, state_A, state_B)
    u = _universe(system, trajectory)
    if len(u.atoms) != system.n_atoms:
        raise InputError(f"trajectory has {len(u.atoms)} atoms but the system "
                         f"has {system.n_atoms}; give a trajectory of the "
                         "system's atoms in its order")
    x = np.array([u.atoms.positions for _ in u.trajectory],
                 dtype=float) * NM_PER_ANGSTROM
    if len(x) == 0:
        raise InputError("trajectory has no frames")
    box = system.box_vectors
    in_A = st_A.contains(x, box)
    in_B = st_B.contains(x, box)
    last_A = None
    for k in range(len(x)):
        if in_A[k]:
            last_A = k
        elif in_B[k]:
            if last_A is not None and k - last_A >= 2:
                return _trajectory(_engine(system, engine),
                                   x[last_A:k + 1], box)
            last_A = None
    raise StateError(
        f"the trajectory ({len(x)} frames; {int(in_A.sum())} in "
        f"{st_A.name!r}, {int(in_B.sum())} in {st_B.name!r}) has no "
        f"transition from {st_A.name!r} to {st_B.name!r} with a frame "
        "between the states; give one that crosses (or swap the states, or "
        "save frames more often)")


def path_from_ops_storage(filename, system: MolecularSystem, *,
                          engine=None, state_A=None, state_B=None):
    """The last accepted path of an OpenPathSampling storage file.

    The path of the last Monte Carlo step's sample set (the accepted path
    after the last move) is read, its positions are loaded before the
    storage is closed (OPS hands back lazy proxies otherwise), and it is
    rebuilt with this system's engine.

    Parameters
    ----------
    filename : str or path
        OPS netCDF storage (``.nc``) of a path sampling run.
    system : MolecularSystem
        The same atoms, in the same order.
    engine : OPS engine, optional
        Engine whose snapshots to make (default ``make_engine(system)``).
    state_A, state_B : str or StateDefinition, optional
        If given, the path must start in A and end in B.

    Returns
    -------
    openpathsampling.Trajectory
        Positions in nm, velocities zero, the system's box.

    Raises
    ------
    InputError
        Missing or unreadable file, no path sampling steps, wrong atoms.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> path = path_from_ops_storage("tps.nc", alanine_dipeptide())  # doctest: +SKIP
    """
    from .ops import import_ops
    paths = import_ops()
    if not isinstance(filename, (str, os.PathLike)):
        raise InputTypeError(f"filename must be a path, got "
                             f"{type(filename).__name__}")
    filename = os.fspath(filename)
    if not os.path.isfile(filename):
        raise InputError(f"filename={filename!r}: no such OPS storage file")
    if not isinstance(system, MolecularSystem):
        raise InputTypeError(f"system must be a MolecularSystem, got "
                             f"{type(system).__name__}")
    try:
        storage = paths.Storage(filename, "r")
    except Exception as err:
        msg = str(err).strip().splitlines()
        raise InputError(f"filename={filename!r} is not an OPS storage file "
                         f"({msg[0] if msg else type(err).__name__})") from None
    try:
        traj = None
        n_steps = len(storage.steps)
        for k in range(n_steps - 1, -1, -1):
            active = storage.steps[k].active
            if active is not None and len(active) > 0:
                traj = active[0].trajectory
                break
        if traj is None:
            raise InputError(f"filename={filename!r} holds no path sampling "
                             f"steps with a sample set ({n_steps} steps); "
                             "give the storage of a TPS run")
        x = np.array([np.asarray(s.xyz, dtype=float) for s in traj])
    finally:
        storage.close()
    del storage, traj
    import gc
    gc.collect()  # free OPS/netCDF objects now, not at interpreter exit
    if x.shape[1] != system.n_atoms:
        raise InputError(f"the path in {filename!r} has {x.shape[1]} atoms but "
                         f"the system has {system.n_atoms}")
    if state_A is not None and state_B is not None:
        st_A, st_B = _states(system, state_A, state_B)
        box = system.box_vectors
        if not st_A.contains(x[0], box)[0] or not st_B.contains(x[-1], box)[0]:
            raise StateError(f"the last accepted path in {filename!r} does not "
                             f"go from {st_A.name!r} to {st_B.name!r}")
    return _trajectory(_engine(system, engine), x, system.box_vectors)

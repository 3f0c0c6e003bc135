"""Shooting configurations from transition paths (stratified, or where a model is unsure).

Units: paths given as arrays and the configurations returned are in
Angstrom (MDAnalysis' unit); OPS trajectories are read in nm and converted.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._deprecation import renamed_keywords
from ..exceptions import InputError, InputTypeError, SamplingError
from .ops import import_ops
from .tps import NM_TO_ANGSTROM, TPSResult, trajectory_positions

__all__ = ["harvest", "unique_frames"]


def unique_frames(paths_in, system=None):
    """Unique interior frames of paths: (positions Angstrom, fraction along path).

    Frames shared by several paths count once; the ends of OPS paths (in
    the states) are dropped, and with ``system`` every frame inside one of
    its states.

    Examples
    --------
    >>> x, frac = unique_frames([np.zeros((3, 2, 3)) + np.arange(3)[:, None, None]])
    >>> x.shape, frac.tolist()
    ((3, 2, 3), [0.0, 0.5, 1.0])
    """
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


@renamed_keywords(predict_pB="predict_p_B")
def harvest(paths, n_configurations: int, seed: int | None = 0,
            predict_p_B=None, window=(0.1, 0.9), *, system=None,
            verbose: bool = False) -> np.ndarray:
    """Pick shooting configurations from transition paths.

    Without ``predict_p_B``: the unique interior frames of all paths (frames
    shared by several paths count once; path ends, which lie in the states,
    are dropped) are sorted by their fractional position along their path
    and split into ``n_configurations`` equal strata; one frame is drawn at
    random from each, so the picks spread from the A end to the B end.

    With ``predict_p_B`` (any callable positions -> p_B, e.g. a trained
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
    predict_p_B : callable, optional
        ``f(positions) -> p_B`` with positions ``(n, n_atoms, 3)`` in
        Angstrom and p_B ``(n,)`` in [0, 1]. (``predict_pB=``, the old
        spelling, still works with a DeprecationWarning.)
    window : (float, float)
        Keep ``lo <= p_B <= hi`` (only with ``predict_p_B``).
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
    >>> harvest([fake_path], 5, predict_p_B=lambda x: np.full(len(x), 0.5)).shape
    (5, 22, 3)
    """
    if int(n_configurations) != n_configurations or n_configurations < 1:
        raise InputError(f"n_configurations={n_configurations!r} must be a "
                         "positive integer")
    n = int(n_configurations)
    rng = np.random.default_rng(seed)
    x, frac = unique_frames(paths, system)
    if predict_p_B is not None:
        if not callable(predict_p_B):
            raise InputTypeError("predict_p_B must be a callable positions "
                                 "(n, n_atoms, 3) Angstrom -> p_B (n,)")
        lo, hi = (float(w) for w in window)
        if not 0.0 <= lo < hi <= 1.0:
            raise InputError(f"window={window!r} must be (lo, hi) with "
                             "0 <= lo < hi <= 1")
        p = np.asarray(predict_p_B(x.copy()), dtype=float).reshape(-1)
        if p.shape != (len(x),):
            raise InputError(f"predict_p_B returned shape {p.shape}; expected "
                             f"({len(x)},), one p_B per configuration")
        if np.any(~np.isfinite(p)) or p.min() < 0 or p.max() > 1:
            raise InputError("predict_p_B returned values outside [0, 1]")
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

"""The one run-until-a-state loop of the dynamics core, and the one state test.

Part of the dynamics core (:mod:`mda_rcxai.sampling.core` imports these
names): :func:`frame_state` / :class:`StateTest` say which state a frame (or
a batch of replica frames) is in, at the minimum image of a periodic box;
:class:`OneMolecule` presents a single-molecule Context as a batch of one;
:func:`run_until_state` advances any batch frame by frame until each
replica reaches a state. numpy and the standard library only: no OpenMM
import here (a Context is handed in).

Units: positions nm; angles and dihedrals in degrees.
"""

from __future__ import annotations

import math

import numpy as np

from ..exceptions import SamplingError

__all__ = ["StateTest", "frame_state", "OneMolecule", "run_until_state",
           "state_arrays"]


# ----------------------------------------------------------------------
# reading a frame
def state_arrays(state, velocities: bool = False):
    """Positions (and velocities) of an :class:`openmm.State` as float64 arrays.

    The numbers of ``state.getPositions(asNumpy=True)`` (nm) and
    ``state.getVelocities(asNumpy=True)`` (nm/ps) without the unit
    wrapping: OpenMM's public getter looks its cache up with ``dir()`` and
    multiplies by a unit, which costs about as much as ten MD steps of a
    22-atom molecule on the Reference platform (~8 us a call), and the
    loops read every frame. The array is filled by the State's own copy
    routine (``_getVectorAsNumpy``, the one the public getter calls); where
    an OpenMM build lacks it, the public getter is used.

    Parameters
    ----------
    state : openmm.State
        Holding positions (and velocities when asked).
    velocities : bool
        Also return the velocities.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        ``(n_particles, 3)`` positions, nm (and velocities, nm/ps).

    Examples
    --------
    >>> import openmm
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> ctx = openmm.Context(s.system, openmm.VerletIntegrator(0.001),
    ...                      openmm.Platform.getPlatformByName("Reference"))
    >>> ctx.setPositions(s.positions)
    >>> st = ctx.getState(getPositions=True)
    >>> x = state_arrays(st)
    >>> bool((x == st.getPositions(asNumpy=True)._value).all()), x.shape
    (True, (22, 3))
    """
    get = getattr(state, "_getVectorAsNumpy", None)
    if get is None:                                   # pragma: no cover
        x = np.asarray(state.getPositions(asNumpy=True)._value)
        if not velocities:
            return x
        return x, np.asarray(state.getVelocities(asNumpy=True)._value)
    n = state._getNumParticles()
    x = np.empty((n, 3))
    get(type(state).Positions, x)
    if not velocities:
        return x
    v = np.empty((n, 3))
    get(type(state).Velocities, v)
    return x, v


# ----------------------------------------------------------------------
# which state a frame is in
def _sub(a, b, box):
    d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
    if box is not None:
        for k in (2, 1, 0):
            n = round(d[k] / box[k][k])
            if n:
                d = [d[0] - n * box[k][0], d[1] - n * box[k][1],
                     d[2] - n * box[k][2]]
    return d


def _value(kind, p, box):
    """Dihedral / angle (degrees) or distance (nm) of points ``p``, pure Python."""
    if kind == "dihedral":
        b0 = _sub(p[0], p[1], box)
        b1 = _sub(p[2], p[1], box)
        b2 = _sub(p[3], p[2], box)
        n = math.sqrt(b1[0] * b1[0] + b1[1] * b1[1] + b1[2] * b1[2])
        b1 = (b1[0] / n, b1[1] / n, b1[2] / n)
        d0 = b0[0] * b1[0] + b0[1] * b1[1] + b0[2] * b1[2]
        d2 = b2[0] * b1[0] + b2[1] * b1[1] + b2[2] * b1[2]
        v = (b0[0] - d0 * b1[0], b0[1] - d0 * b1[1], b0[2] - d0 * b1[2])
        w = (b2[0] - d2 * b1[0], b2[1] - d2 * b1[1], b2[2] - d2 * b1[2])
        x = v[0] * w[0] + v[1] * w[1] + v[2] * w[2]
        c = (b1[1] * v[2] - b1[2] * v[1], b1[2] * v[0] - b1[0] * v[2],
             b1[0] * v[1] - b1[1] * v[0])
        y = c[0] * w[0] + c[1] * w[1] + c[2] * w[2]
        return math.degrees(math.atan2(y, x))
    if kind == "distance":
        d = _sub(p[0], p[1], box)
        return math.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
    u = _sub(p[0], p[1], box)
    v = _sub(p[2], p[1], box)
    cc = (u[0] * v[0] + u[1] * v[1] + u[2] * v[2]) / math.sqrt(
        (u[0] * u[0] + u[1] * u[1] + u[2] * u[2])
        * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]))
    return math.degrees(math.acos(min(1.0, max(-1.0, cc))))


def frame_state(positions, features, boxes, box=None) -> int:
    """Which box a single frame is in: 0 none, 1 the first, 2 the second, ...

    Pure Python arithmetic on the few atoms involved (~10 us a frame,
    where two vectorised ``StateDefinition.contains`` calls cost ~300 us):
    the per-frame test of every single-molecule loop, and the function
    behind the OPS volumes of :func:`mda_rcxai.sampling.make_volume`.

    Parameters
    ----------
    positions : array_like
        ``(n_atoms, 3)`` nm.
    features : list of (kind, atoms)
        Distinct internal coordinates.
    boxes : list of list of (feature index, periodic, lo, hi)
        One list per state, ranges in degrees / nm.
    box : list of list, optional
        ``(3, 3)`` periodic box (OpenMM's reduced form), nm: bond vectors
        at their minimum image.
    """
    pos = positions
    vals = [_value(kind, [pos[a].tolist() for a in atoms], box)
            for kind, atoms in features]
    for code, states_box in enumerate(boxes, 1):
        for k, periodic, lo, hi in states_box:
            x = vals[k]
            if periodic:
                if not (x - lo) % 360.0 <= hi - lo:  # NaN is outside
                    break
            elif not lo <= x <= hi:
                break
        else:
            return code
    return 0


class StateTest:
    """Which of two states frames are in, at the minimum image of ``box``.

    ``test(x)`` takes one frame (pure Python, :func:`frame_state`);
    ``test.codes(xs)`` a batch of frames ``(K, n_atoms, 3)`` (vectorised,
    :meth:`~mda_rcxai.systems.StateDefinition.contains`, the definition
    itself). Both give 0 (neither), 1 (in A), 2 (in B), with the range
    rules of :class:`~mda_rcxai.systems.StateDefinition` (dihedrals in
    degrees with periodic ranges, angles in degrees, distances in nm).
    They agree except for values within rounding (~1e-12 degrees) of an
    edge.

    Parameters
    ----------
    state_A, state_B : StateDefinition
    box : array_like, optional
        ``(3, 3)`` box vectors in nm (OpenMM's reduced form).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> test = StateTest(s.states["C7eq"], s.states["C7ax"])
    >>> test(s.positions), test.codes(s.positions[None]).tolist()
    (1, [1])
    """

    def __init__(self, state_A, state_B, box=None):
        self.state_A, self.state_B = state_A, state_B
        self.box_array = None if box is None else np.asarray(box, float)
        self.box = None if box is None else self.box_array.tolist()
        feats, boxes = [], []
        for st in (state_A, state_B):
            b = []
            for f, (lo, hi) in zip(st.features, st.ranges):
                key = (f.kind, tuple(int(a) for a in f.atoms))
                if key not in feats:
                    feats.append(key)
                b.append((feats.index(key), bool(f.periodic), float(lo),
                          float(hi)))
            boxes.append(b)
        self.features = feats
        self.boxes = boxes

    def spec(self, which: int) -> dict:
        """Plain keyword arguments of :func:`frame_state` for one state
        (``which`` 0 for A, 1 for B): storable in an OPS FunctionCV."""
        return {"features": [[k, list(a)] for k, a in self.features],
                "boxes": [[list(t) for t in self.boxes[which]]],
                "box": self.box}

    def __call__(self, positions) -> int:
        return frame_state(positions, self.features, self.boxes, self.box)

    def codes(self, positions) -> np.ndarray:
        """Codes ``(K,)`` of a batch of frames ``(K, n_atoms, 3)`` nm."""
        in_A = self.state_A.contains(positions, box=self.box_array)
        in_B = self.state_B.contains(positions, box=self.box_array)
        return np.where(in_A, 1, np.where(in_B, 2, 0))


# ----------------------------------------------------------------------
# the run-until-a-state loop
_SLOT0 = np.zeros(1, dtype=np.int64)


class OneMolecule:
    """One single-molecule Context as a batch of one, for :func:`run_until_state`.

    Parameters
    ----------
    context : openmm.Context
    steps_per_frame : int
    record : bool
        Keep every frame's positions and velocities (``self.xs``,
        ``self.vs``; a TPS half), else only positions of the last frame.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> from mda_rcxai.sampling.core import (EngineSettings, create_context,
    ...     make_integrator, maxwell_boltzmann, start_trajectory, velocity_sigma)
    >>> s = alanine_dipeptide()
    >>> st = EngineSettings(platform="Reference")
    >>> ctx = create_context(s.system, make_integrator(st, 1), "Reference")
    >>> one = OneMolecule(ctx, st.steps_per_frame, record=True)
    >>> v = maxwell_boltzmann(np.random.default_rng(0), velocity_sigma(s.system, 300))
    >>> one.start(*start_trajectory(ctx, s.positions, v))
    >>> test = StateTest(s.states["C7eq"], s.states["C7ax"])
    >>> slots, codes = next(run_until_state(one, test, 100))
    >>> codes.tolist(), len(one.xs) == one.frames[0]
    ([1], True)
    """

    n_replicas = 1

    def __init__(self, context, steps_per_frame, record=False):
        self.context = context
        self.integrator = context.getIntegrator()
        self.spf = int(steps_per_frame)
        self.record = record
        self.active = np.zeros(1, dtype=bool)
        self.frames = np.zeros(1, dtype=np.int64)
        self.md_steps = 0
        self.xs, self.vs = [], []

    def start(self, positions, velocities, in_context=False):
        """Begin a trajectory at (already constrained) positions and velocities.

        ``in_context=True``: the Context holds them already (as after
        :func:`start_trajectory`), so they are not set again.
        """
        if not in_context:
            self.context.setPositions(positions)
            self.context.setVelocities(velocities)
        self.active[0] = True
        self.frames[0] = 1
        if self.record:
            self.xs, self.vs = [positions], [velocities]

    def advance(self) -> np.ndarray:
        """One frame; positions ``(1, n_atoms, 3)`` nm."""
        self.integrator.step(self.spf)
        self.md_steps += self.spf
        self.frames[0] += 1
        if self.record:
            x, v = state_arrays(self.context.getState(
                getPositions=True, getVelocities=True), velocities=True)
            self.xs.append(x)
            self.vs.append(v)
        else:
            x = state_arrays(self.context.getState(getPositions=True))
        return x[None]


def run_until_state(replicas, test, n_frames_max: int):
    """Advance replicas frame by frame until each one reaches a state.

    The one loop of the sampling layer: TPS halves, committor shots (lean,
    plain and batched) and the initial paths all run through it.

    ``replicas`` has ``n_replicas``, boolean ``active`` and integer
    ``frames`` arrays (frames so far of each running trajectory, counting
    its start) and ``advance()`` (one frame for every replica; returns
    positions ``(n_replicas, n_atoms, 3)`` nm and counts the frames of the
    active ones). After each frame the active replicas are tested: a
    replica in state A (code 1) or B (code 2), or one that reached
    ``n_frames_max`` frames without a state (code -1), is made inactive and
    reported. The caller may start new trajectories in the reported slots
    (batched shooting refills them) before the loop goes on; the loop ends
    when no replica is active.

    Parameters
    ----------
    replicas : OneMolecule or ReplicaBatch
    test : callable or StateTest
        ``test(x)`` for one frame (``n_replicas == 1``); ``test.codes(xs)``
        for a batch.
    n_frames_max : int
        Longest trajectory, frames (counting its start).

    Yields
    ------
    slots, codes : numpy.ndarray
        The replicas that just finished and their codes (1, 2 or -1).

    Raises
    ------
    SamplingError
        Positions became NaN or infinite (found when a trajectory runs out
        of frames).
    """
    if replicas.n_replicas == 1:
        # one molecule: plain Python scalars per frame (numpy calls on
        # one-element arrays cost ~10 % of a 22-atom frame on Reference)
        active, frames = replicas.active, replicas.frames
        while active[0]:
            pos = replicas.advance()
            code = test(pos[0])
            if not code and frames[0] >= n_frames_max:
                if not np.all(np.isfinite(pos)):
                    raise SamplingError(
                        "positions became NaN during a trajectory; check the "
                        "configuration and the time step")
                code = -1
            if code:
                active[0] = False
                yield _SLOT0, np.array([code])
        return
    while replicas.active.any():
        pos = replicas.advance()
        active = replicas.active
        codes = np.where(active, test.codes(pos), 0)
        late = active & (codes == 0) & (replicas.frames >= n_frames_max)
        if late.any():
            if not np.all(np.isfinite(pos[late])):
                raise SamplingError(
                    "positions became NaN during a trajectory; check the "
                    "configuration and the time step")
            codes[late] = -1
        done = np.flatnonzero(codes)
        if done.size:
            replicas.active[done] = False
            yield done, codes[done]

"""Two-way shooting TPS at the pace of the MD engine (OpenMM directly).

OpenPathSampling's TPS (:func:`mda_rcxai.sampling.run_tps` with
``method="ops"``) spends most of its time outside the dynamics: every frame
becomes an OPS snapshot, every frame is tested by the path ensemble's
``can_append`` through CV objects, and every move is bookkept in storage.
For a 22-atom molecule that is ~3x the cost of the MD itself. This module
runs the *same* Monte Carlo move as OPS' ``TwoWayShootingMover`` on the
*same* path ensemble (``TPSNetwork(A, B)``: starts in A, ends in B, no
frame in between inside A or B) with one OpenMM Context per chain, a
cheap state test per frame and no per-frame objects:

1. shooting index ``i`` uniform on ``1 .. L-2`` (OPS ``UniformSelector``,
   ``pad_start = pad_end = 1``);
2. forward-first or backward-first with probability 1/2 (OPS
   ``TwoWayShootingMover`` = random choice of ``ForwardFirst`` and
   ``BackwardFirst`` movers);
3. fresh Maxwell-Boltzmann velocities at the shooting point, then
   constraints on positions and velocities (OPS ``RandomVelocities`` with
   the engine's ``apply_constraints``); the backward half starts from the
   reversed velocities;
4. each half runs frame by frame (``steps_per_frame`` MD steps) until a
   frame lies in A or B; a half longer than ``n_frames_max`` frames fails
   the move (OPS ``EngineMaxLengthError``); when the first half ends in the
   wrong state the second half is not run (the trial cannot be in the
   ensemble: OPS' ``can_prepend``/``can_append`` also stop at once);
5. a trial in the ensemble is accepted with probability
   ``min(1, (L_old - 2) / (L_new - 2))``, the ratio of OPS
   ``UniformSelector.probability_ratio`` (``RandomVelocities`` is
   symmetric, bias 1).

Each chain's random draws come from ``numpy.random.default_rng(
SeedSequence([seed, chain]))`` (shooting point, direction, velocities,
acceptance, in that order per move) and the integrator's stream from a
seed derived from the same pair. A checkpoint (``.npz``, written
atomically) holds the current path, the Generator's state, the OpenMM
Context checkpoint (which includes the integrator's random state) and all
accepted paths, so a killed chain resumes from its last completed move and
continues exactly as an uninterrupted one would (same platform, same
machine: OpenMM checkpoints are platform-specific).

Units: positions nm, velocities nm/ps, time step fs, temperature K.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time

import numpy as np

from ..exceptions import InputError, SamplingError
from ..systems import platform_properties
from .engine import resolve_platform

__all__ = ["FastStateTest", "TPSChain", "acceptance_probability",
           "checkpoint_files", "CHECKPOINT_VERSION"]

CHECKPOINT_VERSION = 1
BOLTZMANN_KJ_PER_MOL_K = 0.00831446261815324


def acceptance_probability(old_length: int, new_length: int) -> float:
    """Metropolis acceptance of a two-way shooting trial in the ensemble.

    ``min(1, (L_old - 2) / (L_new - 2))``: OPS ``UniformSelector`` (padding
    1 at both ends) picks the shooting point with probability
    ``1 / (L - 2)``, and ``RandomVelocities`` is symmetric.

    Parameters
    ----------
    old_length, new_length : int
        Frames of the current and of the trial path (>= 3).

    Examples
    --------
    >>> acceptance_probability(12, 22)
    0.5
    >>> acceptance_probability(22, 12)
    1.0
    """
    return min(1.0, (old_length - 2) / (new_length - 2))


# ----------------------------------------------------------------------
class FastStateTest:
    """Which of two states a single frame is in, in pure Python arithmetic.

    Computes each distinct internal coordinate of the two
    :class:`~mda_rcxai.systems.StateDefinition` boxes once per frame with
    :mod:`math` (no numpy call overhead: ~10 us instead of ~300 us for the
    two vectorised ``contains`` calls). Same formulas and range rules as
    ``StateDefinition.contains`` (dihedrals in degrees, IUPAC sign,
    periodic ranges; angles in degrees; distances in nm; bond vectors at
    the minimum image of ``box``, OpenMM's reduced form, when given);
    results agree except for values within rounding (~1e-12 degrees) of a
    box edge.

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> FastStateTest(s.states["C7eq"], s.states["C7ax"])(s.positions)
    1
    """

    def __init__(self, state_A, state_B, box=None):
        self.box = None if box is None else np.asarray(box, float).tolist()
        feats = []
        boxes = []
        for st in (state_A, state_B):
            box = []
            for f, (lo, hi) in zip(st.features, st.ranges):
                key = (f.kind, tuple(int(a) for a in f.atoms))
                if key not in feats:
                    feats.append(key)
                box.append((feats.index(key), f.periodic, float(lo),
                            float(hi)))
            boxes.append(box)
        self.features = feats
        self.boxes = boxes
        self.atoms = sorted({a for _, atoms in feats for a in atoms})

    def _d(self, a, b):
        """a - b, at the minimum image when there is a box (reduced form)."""
        d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
        box = self.box
        if box is not None:
            for k in (2, 1, 0):
                n = round(d[k] / box[k][k])
                if n:
                    d = [d[0] - n * box[k][0], d[1] - n * box[k][1],
                         d[2] - n * box[k][2]]
        return d

    def _value(self, kind, p):
        if kind == "dihedral":
            b0 = self._d(p[0], p[1])
            b1 = self._d(p[2], p[1])
            b2 = self._d(p[3], p[2])
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
            d = self._d(p[0], p[1])
            return math.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
        u = self._d(p[0], p[1])
        v = self._d(p[2], p[1])
        cc = sum(u[k] * v[k] for k in range(3)) / math.sqrt(
            sum(x * x for x in u) * sum(x * x for x in v))
        return math.degrees(math.acos(min(1.0, max(-1.0, cc))))

    def __call__(self, positions) -> int:
        """0: in neither state, 1: in A, 2: in B (positions (n_atoms, 3) nm)."""
        pos = positions
        vals = [self._value(kind, [pos[a].tolist() for a in atoms])
                for kind, atoms in self.features]
        for code, box in ((1, self.boxes[0]), (2, self.boxes[1])):
            inside = True
            for k, periodic, lo, hi in box:
                x = vals[k]
                if periodic:
                    if (x - lo) % 360.0 > hi - lo:
                        inside = False
                        break
                elif x < lo or x > hi:
                    inside = False
                    break
            if inside:
                return code
        return 0


# ----------------------------------------------------------------------
def checkpoint_files(checkpoint, n_chains: int = 1) -> list:
    """The checkpoint file of each chain.

    One chain writes ``checkpoint`` itself; with ``n_chains > 1`` chain
    ``k`` writes ``<checkpoint without .npz>.chain<k>.npz``.

    Examples
    --------
    >>> checkpoint_files("run/tps_checkpoint.npz", 2)
    ['run/tps_checkpoint.chain0.npz', 'run/tps_checkpoint.chain1.npz']
    """
    if checkpoint is None:
        return [None] * n_chains
    checkpoint = os.fspath(checkpoint)
    if n_chains == 1:
        return [checkpoint]
    stem = checkpoint[:-4] if checkpoint.endswith(".npz") else checkpoint
    return [f"{stem}.chain{k}.npz" for k in range(n_chains)]


def _chain_seeds(seed, chain):
    if seed is None:
        ss = np.random.SeedSequence()
    else:
        chain = [int(c) for c in chain] if isinstance(chain, (tuple, list)) \
            else [int(chain)]
        ss = np.random.SeedSequence([int(seed), *chain])
    integ_seed = int(ss.spawn(1)[0].generate_state(1)[0]) % 2 ** 31 or 1
    return np.random.default_rng(ss), integ_seed


class TPSChain:
    """One two-way shooting TPS chain on one OpenMM Context.

    Parameters
    ----------
    system : MolecularSystem
    state_A, state_B : StateDefinition
    temperature : float
        K (thermostat and shooting velocities).
    timestep_fs, steps_per_frame, friction_per_ps : engine settings
        fs, MD steps per frame, 1/ps (``LangevinMiddleIntegrator``, as
        :func:`mda_rcxai.sampling.make_engine`).
    n_frames_max : int
        Longest half trajectory, frames (OPS ``n_frames_max``).
    seed : int or None
    chain : int
        Chain index (enters the seeds).
    platform : str
        OpenMM platform or "auto".

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> s = alanine_dipeptide()
    >>> c = TPSChain(s, s.states["C7eq"], s.states["C7ax"])
    >>> c.platform
    'CPU'
    """

    def __init__(self, system, state_A, state_B, *, temperature=300.0,
                 timestep_fs=2.0, steps_per_frame=10, friction_per_ps=1.0,
                 n_frames_max=2000, seed=0, chain=0, platform="auto",
                 threads=1):
        import openmm
        import openmm.unit as u
        self.system = system
        self.state_A, self.state_B = state_A, state_B
        self.test = FastStateTest(state_A, state_B,
                                  getattr(system, "box_vectors", None))
        self.spf = int(steps_per_frame)
        self.n_frames_max = int(n_frames_max)
        self.n_atoms = system.n_atoms
        self.rng, integ_seed = _chain_seeds(seed, chain)
        self.platform = resolve_platform(platform, n_atoms=system.n_atoms)
        integ = openmm.LangevinMiddleIntegrator(
            temperature * u.kelvin, friction_per_ps / u.picosecond,
            timestep_fs * u.femtosecond)
        integ.setRandomNumberSeed(integ_seed)
        props = platform_properties(self.platform, threads, system)
        try:
            self.context = openmm.Context(
                system.system, integ,
                openmm.Platform.getPlatformByName(self.platform), props)
        except Exception as err:  # OpenMMException: no device or driver
            raise SamplingError(f"could not create an OpenMM Context on "
                                f"platform={self.platform!r}: {err}") from None
        if getattr(system, "box_vectors", None) is not None:
            self.context.setPeriodicBoxVectors(*np.asarray(system.box_vectors))
        self.context.setPositions(system.positions)
        self.integrator = integ
        self.tolerance = integ.getConstraintTolerance()
        m = np.array([system.system.getParticleMass(a).value_in_unit(u.dalton)
                      for a in range(self.n_atoms)])
        kt = BOLTZMANN_KJ_PER_MOL_K * float(temperature)
        with np.errstate(divide="ignore"):
            self.sigma = np.where(m > 0, np.sqrt(kt / np.where(m > 0, m, 1)),
                                  0.0)[:, None]
        self.md_steps = 0

    # ------------------------------------------------------------------
    def _state(self, pos=True, vel=True):
        st = self.context.getState(getPositions=pos, getVelocities=vel)
        x = st.getPositions(asNumpy=True)._value if pos else None
        v = st.getVelocities(asNumpy=True)._value if vel else None
        return x, v

    def half(self, x0, v0):
        """Run from ``(x0, v0)`` until a state: frames, velocities, end code.

        End code 1 (A), 2 (B) or -1 (longer than ``n_frames_max`` frames).
        Frame 0 is the start.
        """
        ctx, integ, test, spf = (self.context, self.integrator, self.test,
                                 self.spf)
        ctx.setPositions(x0)
        ctx.setVelocities(v0)
        xs, vs = [x0], [v0]
        n_max = self.n_frames_max
        while True:
            integ.step(spf)
            self.md_steps += spf
            st = ctx.getState(getPositions=True, getVelocities=True)
            x = st.getPositions(asNumpy=True)._value
            xs.append(x)
            vs.append(st.getVelocities(asNumpy=True)._value)
            code = test(x)
            if code:
                return xs, vs, code
            if len(xs) >= n_max:
                if not np.all(np.isfinite(x)):
                    raise SamplingError("positions became NaN during a TPS "
                                        "trial; check the time step")
                return xs, vs, -1

    def move(self, path_x, path_v):
        """One two-way shooting move; returns a dict (trial, accepted, ...)."""
        rng = self.rng
        L = len(path_x)
        idx = int(rng.integers(1, L - 1))
        forward_first = bool(rng.random() < 0.5)
        v = rng.standard_normal((self.n_atoms, 3)) * self.sigma
        ctx = self.context
        ctx.setPositions(path_x[idx])
        ctx.setVelocities(v)
        ctx.applyConstraints(self.tolerance)
        ctx.applyVelocityConstraints(self.tolerance)
        x0, v0 = self._state()
        fx = fv = bx = bv = None
        ok = False
        if forward_first:
            fx, fv, end_f = self.half(x0, v0)
            if end_f == 2:
                bx, bv, end_b = self.half(x0, -v0)
                ok = end_b == 1
        else:
            bx, bv, end_b = self.half(x0, -v0)
            if end_b == 1:
                fx, fv, end_f = self.half(x0, v0)
                ok = end_f == 2
        out = {"shooting_index": idx, "forward_first": forward_first,
               "in_ensemble": ok, "accepted": False, "p_accept": 0.0}
        if ok:
            # backward frames in forward time: reversed order, velocities
            # negated (OPS snapshot.reversed)
            tx = bx[::-1] + fx[1:]
            tv = [-w for w in bv[::-1]] + fv[1:]
            p = acceptance_probability(L, len(tx))
            out.update(trial_x=tx, trial_v=tv, p_accept=p,
                       accepted=bool(rng.random() < p), trial_length=len(tx))
        return out

    # ------------------------------------------------------------------
    def checkpoint_bytes(self) -> bytes:
        """The OpenMM Context checkpoint (positions, velocities, RNG state)."""
        return self.context.createCheckpoint()

    def restore(self, omm_checkpoint: bytes, rng_state: dict):
        self.context.loadCheckpoint(omm_checkpoint)
        self.rng.bit_generator.state = rng_state


# ----------------------------------------------------------------------
def run_key(**kw) -> str:
    """Digest of the arguments that determine a chain (for checkpoints)."""
    return hashlib.sha256(json.dumps(kw, sort_keys=True, default=str)
                          .encode()).hexdigest()[:16]


def _write_checkpoint(fname, key, move, path_x, path_v, chain, rec, md_steps,
                      wall_s):
    d = os.path.dirname(os.path.abspath(fname))
    tmp = os.path.join(d, f".{os.path.basename(fname)}.{os.getpid()}.tmp")
    acc_x = rec["acc_x"]
    with open(tmp, "wb") as fh:
        np.savez(
            fh, version=CHECKPOINT_VERSION, key=key, move=move,
            path_x=np.asarray(path_x), path_v=np.asarray(path_v),
            rng=json.dumps(chain.rng.bit_generator.state),
            omm=np.frombuffer(chain.checkpoint_bytes(), dtype=np.uint8),
            accepted=np.array(rec["accepted"], dtype=bool),
            active_lengths=np.array(rec["lengths"], dtype=np.int64),
            acc_lengths=np.array([len(p) for p in acc_x], dtype=np.int64),
            acc_moves=np.array(rec["acc_moves"], dtype=np.int64),
            acc_x=(np.concatenate(acc_x) if acc_x else
                   np.zeros((0, chain.n_atoms, 3))),
            acc_v=(np.concatenate(rec["acc_v"]) if acc_x else
                   np.zeros((0, chain.n_atoms, 3))),
            md_steps=md_steps, wall_s=wall_s)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, fname)


def _read_checkpoint(fname, key):
    try:
        with np.load(fname, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
    except Exception as err:
        raise InputError(f"checkpoint={fname!r} cannot be read ({err}); "
                         "delete it to start TPS again") from None
    if int(data.get("version", -1)) != CHECKPOINT_VERSION or \
            str(data["key"]) != key:
        raise InputError(f"checkpoint={fname!r} belongs to a TPS run with "
                         "other arguments (system, states, path, seed, "
                         "engine settings or n_steps); delete it or pass "
                         "another checkpoint file")
    return data


def run_chain(system, state_A, state_B, path_x, path_v, n_moves, *, seed=0,
              chain=0, temperature=300.0, timestep_fs=2.0, steps_per_frame=10,
              friction_per_ps=1.0, n_frames_max=2000, platform="auto",
              checkpoint=None, checkpoint_interval_s=5.0, key_extra=None,
              stop_after_accepted=None, progress=None, parent_pid=None,
              keep_trials=False):
    """Run (or resume) one chain of ``n_moves`` moves; returns a dict.

    Keys: ``accepted`` (bool per move), ``lengths`` (current path length
    after each move), ``acc_x``/``acc_v`` (accepted paths), ``acc_moves``
    (move index of each), ``final_x``/``final_v``, ``md_steps``,
    ``wall_s``, ``platform``, ``resumed_from`` (moves loaded from the
    checkpoint), ``trials`` (with ``keep_trials``).
    """
    t0 = time.perf_counter()
    tps = TPSChain(system, state_A, state_B, temperature=temperature,
                   timestep_fs=timestep_fs, steps_per_frame=steps_per_frame,
                   friction_per_ps=friction_per_ps, n_frames_max=n_frames_max,
                   seed=seed, chain=chain, platform=platform)
    path_x = [np.asarray(x, dtype=float) for x in path_x]
    path_v = [np.asarray(v, dtype=float) for v in path_v]
    key = run_key(system=system.fingerprint(), A=state_A.to_dict(),
                  B=state_B.to_dict(), path=hashlib.sha256(
                      np.ascontiguousarray(path_x).tobytes()).hexdigest(),
                  seed=seed, chain=chain, T=temperature, dt=timestep_fs,
                  spf=steps_per_frame, gamma=friction_per_ps,
                  nmax=n_frames_max, n=n_moves, platform=tps.platform,
                  extra=key_extra)
    rec = {"accepted": [], "lengths": [], "acc_x": [], "acc_v": [],
           "acc_moves": []}
    start = 0
    wall_before = 0.0
    if checkpoint is not None and os.path.exists(checkpoint):
        if seed is None:
            raise InputError("seed=None cannot resume a checkpoint (its "
                             "random streams are not reproducible); pass "
                             "an integer seed")
        d = _read_checkpoint(checkpoint, key)
        start = int(d["move"])
        path_x, path_v = list(d["path_x"]), list(d["path_v"])
        tps.restore(d["omm"].tobytes(), json.loads(str(d["rng"])))
        tps.md_steps = int(d["md_steps"])
        wall_before = float(d["wall_s"])
        rec["accepted"] = d["accepted"].tolist()
        rec["lengths"] = d["active_lengths"].tolist()
        rec["acc_moves"] = d["acc_moves"].tolist()
        cut = np.cumsum(d["acc_lengths"])[:-1]
        rec["acc_x"] = list(np.split(d["acc_x"], cut)) if len(
            d["acc_lengths"]) else []
        rec["acc_v"] = list(np.split(d["acc_v"], cut)) if len(
            d["acc_lengths"]) else []
    trials = []
    last_write = time.perf_counter()
    n_acc = len(rec["acc_x"])
    move = start
    for move in range(start, n_moves):
        if stop_after_accepted and n_acc >= stop_after_accepted:
            break
        res = tps.move(path_x, path_v)
        if res["accepted"]:
            path_x, path_v = res["trial_x"], res["trial_v"]
            rec["acc_x"].append(np.array(path_x))
            rec["acc_v"].append(np.array(path_v))
            rec["acc_moves"].append(move)
            n_acc += 1
        rec["accepted"].append(res["accepted"])
        rec["lengths"].append(len(path_x))
        if keep_trials:
            trials.append({k: v for k, v in res.items()
                           if k not in ("trial_v",)})
        if progress is not None:
            progress(res["accepted"], len(path_x))
        now = time.perf_counter()
        if checkpoint is not None and now - last_write >= \
                checkpoint_interval_s:
            if parent_pid is not None and os.getppid() != parent_pid:
                os._exit(1)     # the driver was killed: stop, keep the file
            _write_checkpoint(checkpoint, key, move + 1, path_x, path_v, tps,
                              rec, tps.md_steps,
                              wall_before + now - t0)
            last_write = time.perf_counter()
    n_done = len(rec["accepted"])
    wall = wall_before + time.perf_counter() - t0
    if checkpoint is not None and n_done > start:
        _write_checkpoint(checkpoint, key, n_done, path_x, path_v, tps, rec,
                          tps.md_steps, wall)
    return {"accepted": np.array(rec["accepted"], dtype=bool),
            "lengths": np.array(rec["lengths"], dtype=np.int64),
            "acc_x": rec["acc_x"], "acc_v": rec["acc_v"],
            "acc_moves": np.array(rec["acc_moves"], dtype=np.int64),
            "final_x": np.array(path_x), "final_v": np.array(path_v),
            "md_steps": tps.md_steps, "wall_s": wall,
            "platform": tps.platform, "resumed_from": start,
            "trials": trials, "chain": chain}


def _watch_parent(parent_pid, interval_s=1.0):
    """Exit this worker process as soon as its parent is gone.

    A worker whose driver was killed would otherwise finish its chain and
    then block for ever writing the result into a pipe nobody reads.
    """
    import threading

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(interval_s)
    threading.Thread(target=watch, daemon=True).start()


def chain_worker(kw):
    """Entry point of a worker process (one chain)."""
    if kw.get("parent_pid") is not None:
        _watch_parent(kw["parent_pid"])
    return run_chain(**kw)

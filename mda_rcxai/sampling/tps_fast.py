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
import os
import time

import numpy as np

from ..exceptions import InputError
from ..fileio import atomic_write
from .core import (EngineSettings, OneMolecule, StateTest, create_context,
                   make_integrator, maxwell_boltzmann, run_until_state,
                   start_trajectory, velocity_sigma)

__all__ = ["TPSChain", "acceptance_probability", "checkpoint_files",
           "run_chain", "chain_worker", "CHECKPOINT_VERSION"]

CHECKPOINT_VERSION = 2


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


def chain_seeds(seed, chain):
    if seed is None:
        ss = np.random.SeedSequence()
    else:
        chain = [int(c) for c in chain] if isinstance(chain, (tuple, list)) \
            else [int(chain)]
        ss = np.random.SeedSequence([int(seed), *chain])
    integ_seed = int(ss.spawn(1)[0].generate_state(1)[0]) % 2 ** 31 or 1
    return np.random.default_rng(ss), integ_seed


class TPSChain:
    """One two-way shooting TPS chain on one OpenMM Context (the dynamics core).

    Parameters
    ----------
    system : MolecularSystem
    state_A, state_B : StateDefinition
    settings : EngineSettings
        ``settings.platform`` must be a platform name (the dispatcher
        measures "auto" once for all chains).
    seed : int or None
    chain : int or tuple of int
        Chain index (enters the seeds).

    Examples
    --------
    >>> from mda_rcxai.systems import alanine_dipeptide
    >>> from mda_rcxai.sampling.core import EngineSettings
    >>> s = alanine_dipeptide()
    >>> c = TPSChain(s, s.states["C7eq"], s.states["C7ax"],
    ...              EngineSettings(platform="Reference"))
    >>> c.platform
    'Reference'
    """

    def __init__(self, system, state_A, state_B, settings, seed=0, chain=0):
        self.system = system
        self.settings = settings
        self.state_A, self.state_B = state_A, state_B
        self.test = StateTest(state_A, state_B, system.box_vectors)
        self.n_frames_max = settings.n_frames_max
        self.n_atoms = system.n_atoms
        self.rng, integ_seed = chain_seeds(seed, chain)
        self.platform = settings.platform
        self.context = create_context(
            system.system, make_integrator(settings, integ_seed),
            settings.platform, settings.threads or 1,
            box=system.box_vectors, positions=system.positions)
        self.integrator = self.context.getIntegrator()
        self.sigma = velocity_sigma(system.system, settings.temperature)
        self.one = OneMolecule(self.context, settings.steps_per_frame,
                               record=True)

    @property
    def md_steps(self) -> int:
        """MD steps integrated by this chain so far."""
        return self.one.md_steps

    @md_steps.setter
    def md_steps(self, n):
        self.one.md_steps = int(n)

    # ------------------------------------------------------------------
    def half(self, x0, v0):
        """Run from ``(x0, v0)`` until a state: frames, velocities, end code.

        End code 1 (A), 2 (B) or -1 (longer than ``n_frames_max`` frames).
        Frame 0 is the start.
        """
        self.one.start(x0, v0)
        _, codes = next(run_until_state(self.one, self.test,
                                        self.n_frames_max))
        return self.one.xs, self.one.vs, int(codes[0])

    def shooting_point(self, path_x):
        """Shooting index, direction and constrained (x0, v0): the draws of a move."""
        rng = self.rng
        idx = int(rng.integers(1, len(path_x) - 1))
        forward_first = bool(rng.random() < 0.5)
        v = maxwell_boltzmann(rng, self.sigma)
        x0, v0 = start_trajectory(self.context, path_x[idx], v)
        return idx, forward_first, x0, v0

    def move(self, path_x, path_v):
        """One two-way shooting move; returns a dict (trial, accepted, ...)."""
        L = len(path_x)
        idx, forward_first, x0, v0 = self.shooting_point(path_x)
        fx = fv = bx = bv = None
        ok = False
        end_f = end_b = 0
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
               "in_ensemble": ok, "accepted": False, "p_accept": 0.0,
               "forward_x": fx, "backward_x": bx, "end_forward": end_f,
               "end_backward": end_b, "x0": x0, "v0": v0}
        if ok:
            # backward frames in forward time: reversed order, velocities
            # negated (OPS snapshot.reversed)
            tx = bx[::-1] + fx[1:]
            tv = [-w for w in bv[::-1]] + fv[1:]
            p = acceptance_probability(L, len(tx))
            out.update(trial_x=tx, trial_v=tv, p_accept=p,
                       accepted=bool(self.rng.random() < p),
                       trial_length=len(tx))
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
    acc_x = rec["acc_x"]

    def write(tmp):
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
    atomic_write(fname, write)


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


def run_chain(system, state_A, state_B, path_x, path_v, n_moves, settings,
              *, seed=0, chain=0, checkpoint=None, checkpoint_interval_s=5.0,
              key_extra=None, stop_after_accepted=None, progress=None,
              parent_pid=None, keep_trials=False):
    """Run (or resume) one chain of ``n_moves`` moves; returns a dict.

    ``settings`` is an :class:`~mda_rcxai.sampling.core.EngineSettings`
    (or its dict) with a platform name. Keys of the result: ``accepted``
    (bool per move), ``lengths`` (current path length after each move),
    ``acc_x``/``acc_v`` (accepted paths), ``acc_moves`` (move index of
    each), ``final_x``/``final_v``, ``md_steps``, ``wall_s``,
    ``platform``, ``resumed_from`` (moves loaded from the checkpoint),
    ``loop_s`` and ``loop_md_steps`` (time and MD steps of this call's
    moves, set-up excluded), ``trials`` (with ``keep_trials``).
    """
    t0 = time.perf_counter()
    settings = EngineSettings.from_dict(settings)
    tps = TPSChain(system, state_A, state_B, settings, seed=seed, chain=chain)
    path_x = [np.asarray(x, dtype=float) for x in path_x]
    path_v = [np.asarray(v, dtype=float) for v in path_v]
    key = run_key(system=system.fingerprint(), A=state_A.to_dict(),
                  B=state_B.to_dict(), path=hashlib.sha256(
                      np.ascontiguousarray(path_x).tobytes()).hexdigest(),
                  seed=seed, chain=chain, engine=settings.dynamics_key(),
                  n=n_moves, platform=tps.platform, extra=key_extra)
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
    steps_before = tps.md_steps
    t_loop = last_write = time.perf_counter()
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
                           if k not in ("trial_v", "v0")})
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
    loop_s = time.perf_counter() - t_loop
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
            "loop_s": loop_s, "loop_md_steps": tps.md_steps - steps_before,
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

"""TPS throughput: ``run_tps`` against a plain OpenMM two-way shooting loop.

Usage: ``python benchmarks/tps.py [--moves 400] [--seed 0] [--ops]``

All in one run on the bundled alanine dipeptide (vacuum, 300 K, 2 fs,
10 steps per frame, LangevinMiddle, friction 1/ps, max 2000 frames):

* **plain**: one OpenMM Context, one two-way shooting move after another:
  uniform shooting point on the interior frames, forward or backward first
  at random, fresh Maxwell-Boltzmann velocities with constraints, each half
  frame by frame (positions read with ``getState`` and both states tested
  with the numpy ``StateDefinition.contains``) until a state; trials
  starting in C7eq and ending in C7ax accepted with the two-way shooting
  path-length factor ``min(1, (L_old - 2) / (L_new - 2))`` (second half
  skipped when the first one ends in the wrong state). It draws its random
  numbers in the same order and from the same seeds as our chain 0, so the
  two run the *same* chain (checked below): the ratio is overhead alone.
* **ours**: ``run_tps(method="fast")`` on one core, with a checkpoint file
  written every 5 s (as the study does), including building the OPS
  trajectories of the result;
* **ours, 2 chains**: ``run_tps(n_chains=2, n_workers=2)``, same total
  moves, including starting the worker processes;
* ``--ops``: OPS' own ``PathSampling`` (``method="ops"``), without and with
  netCDF storage (bytes per move).

Prints moves/s, MD steps/s, storage per 1000 moves; the last line is
``ours / plain TPS loop = X.XXx; storage Y.Y MB per 1000 moves``.
Timings on a shared machine are noisy; the ratios are measured side by
side.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np


def plain_loop(system, path_x, n_moves, seed, *, temperature=300.0,
               timestep_fs=2.0, steps_per_frame=10, friction_per_ps=1.0,
               n_frames_max=2000):
    """The plain loop; returns (accepted flags, md steps, wall seconds)."""
    import openmm
    import openmm.unit as u
    from mda_rcxai.sampling.tps_fast import _chain_seeds
    t0 = time.perf_counter()
    rng, integ_seed = _chain_seeds(seed, 0)
    sA, sB = system.states["C7eq"], system.states["C7ax"]
    integ = openmm.LangevinMiddleIntegrator(
        temperature * u.kelvin, friction_per_ps / u.picosecond,
        timestep_fs * u.femtosecond)
    integ.setRandomNumberSeed(integ_seed)
    ctx = openmm.Context(system.system, integ,
                         openmm.Platform.getPlatformByName("CPU"),
                         {"Threads": "1"})
    tol = integ.getConstraintTolerance()
    m = np.array([system.system.getParticleMass(a).value_in_unit(u.dalton)
                  for a in range(system.n_atoms)])
    sigma = np.sqrt(0.00831446261815324 * temperature / m)[:, None]
    steps = 0

    def half(x0, v0):
        nonlocal steps
        ctx.setPositions(x0)
        ctx.setVelocities(v0)
        xs = [x0]
        while True:
            integ.step(steps_per_frame)
            steps += steps_per_frame
            x = ctx.getState(getPositions=True).getPositions(
                asNumpy=True)._value
            xs.append(x)
            if sA.contains(x)[0]:
                return xs, 1
            if sB.contains(x)[0]:
                return xs, 2
            if len(xs) >= n_frames_max:
                return xs, -1

    path = list(path_x)
    accepted = []
    for _ in range(n_moves):
        L = len(path)
        i = int(rng.integers(1, L - 1))
        fwd_first = rng.random() < 0.5
        v = rng.standard_normal((system.n_atoms, 3)) * sigma
        ctx.setPositions(path[i])
        ctx.setVelocities(v)
        ctx.applyConstraints(tol)
        ctx.applyVelocityConstraints(tol)
        st = ctx.getState(getPositions=True, getVelocities=True)
        x0 = st.getPositions(asNumpy=True)._value
        v0 = st.getVelocities(asNumpy=True)._value
        ok = False
        if fwd_first:
            f, ef = half(x0, v0)
            if ef == 2:
                b, eb = half(x0, -v0)
                ok = eb == 1
        else:
            b, eb = half(x0, -v0)
            if eb == 1:
                f, ef = half(x0, v0)
                ok = ef == 2
        acc = False
        if ok:
            trial = b[::-1] + f[1:]
            acc = bool(rng.random() < min(1.0, (L - 2) / (len(trial) - 2)))
            if acc:
                path = trial
        accepted.append(acc)
    return np.array(accepted), steps, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ops", action="store_true",
                    help="also time OPS' PathSampling (slow)")
    args = ap.parse_args(argv)
    from mda_rcxai.sampling import initial_path, run_tps
    from mda_rcxai.sampling.tps import trajectory_positions
    from mda_rcxai.systems import alanine_dipeptide

    system = alanine_dipeptide()
    path = initial_path(system, seed=args.seed, verbose=False)
    px = trajectory_positions(path)
    n = args.moves
    print(f"alanine dipeptide, {n} two-way moves, initial path "
          f"{len(path)} frames, 10 steps/frame, 2 fs, 300 K, 1 core each "
          f"unless said")

    acc_p, steps_p, wall_p = plain_loop(system, px, n, args.seed)
    print(f"plain loop          : {n / wall_p:7.1f} moves/s "
          f"{steps_p / wall_p:8.0f} MD steps/s  acceptance "
          f"{acc_p.mean():.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "tps_checkpoint.npz")
        t0 = time.perf_counter()
        res = run_tps(system, path, n, seed=args.seed, verbose=False,
                      checkpoint=ck, checkpoint_interval_s=5.0)
        wall_o = time.perf_counter() - t0
        ck_bytes = os.path.getsize(ck)
        same = np.array_equal(res.extra["accepted"], acc_p)
        steps_o = res.extra["md_steps"]
        print(f"ours (1 chain)      : {n / wall_o:7.1f} moves/s "
              f"{steps_o / wall_o:8.0f} MD steps/s  acceptance "
              f"{res.acceptance:.3f}  (same chain as plain: {same}; "
              f"checkpoint {ck_bytes / 1e6:.2f} MB)")
        t0 = time.perf_counter()
        res2 = run_tps(system, path, n, seed=args.seed, verbose=False,
                       n_chains=2, n_workers=2)
        wall_2 = time.perf_counter() - t0
        print(f"ours (2 chains, 2 workers): {n / wall_2:7.1f} moves/s "
              f"{res2.extra['md_steps'] / wall_2:8.0f} MD steps/s  "
              f"acceptance {res2.acceptance:.3f}  (incl. process start)")

    if args.ops:
        t0 = time.perf_counter()
        r_ops = run_tps(system, path, n, seed=args.seed, verbose=False,
                        method="ops")
        wall_ops = time.perf_counter() - t0
        print(f"OPS PathSampling    : {n / wall_ops:7.1f} moves/s  "
              f"acceptance {r_ops.acceptance:.3f} (no storage)")
        with tempfile.TemporaryDirectory() as tmp:
            nc = os.path.join(tmp, "tps.nc")
            t0 = time.perf_counter()
            r_ops = run_tps(system, path, n, nc, seed=args.seed,
                            verbose=False, method="ops")
            wall_nc = time.perf_counter() - t0
            print(f"OPS with storage    : {n / wall_nc:7.1f} moves/s  "
                  f"{os.path.getsize(nc) / 1e6 * 1000 / n:.1f} MB per 1000 "
                  "moves")
        print(f"ours / OPS PathSampling = {wall_ops / wall_o:.2f}x")

    print(f"ours (2 chains) / single plain loop = {wall_p / wall_2:.2f}x")
    print(f"ours / plain TPS loop = {wall_p / wall_o:.2f}x; storage "
          f"{ck_bytes / 1e6 * 1000 / n:.1f} MB per 1000 moves")


if __name__ == "__main__":
    sys.exit(main())

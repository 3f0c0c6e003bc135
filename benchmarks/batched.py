"""Batched committor shooting vs a plain single-molecule OpenMM shooting loop.

Run: ``python benchmarks/batched.py [--configs 24] [--plain-shots 20]
[--batched-shots 100] [--replicas 8 64 512] [--platform CPU]
[--repeat 2]``, or ``python benchmarks/batched.py --sweep --platform CUDA``
for the engine's replica-steps per second at K = 64, 128, ..., 4096 (all
replicas busy; columns: our per-shot-noise CustomIntegrator, and OpenMM's
native LangevinMiddleIntegrator on the same replica System for
comparison). A platform this OpenMM lacks stops at once with a one-line
error naming the available ones.

Alanine dipeptide in vacuum (amber99sb), 300 K, LangevinMiddle, 2 fs,
positions tested every 10 steps, OpenMM CPU platform with one thread
unless ``--platform`` says otherwise. Configurations between C7eq and C7ax
come from a seeded 1000 K Langevin run (frames with -10 < phi < 25 degrees
outside both states), so shots are short (~10 frames) and per-step and
per-frame overheads dominate, as in real committor shooting.

Printed side by side from one run, each engine run ``--repeat`` times
interleaved and the best wall time kept (this machine is noisy; compare
the ratios, not absolute numbers):

* ``plain``: :func:`mda_rcxai.sampling.batched.shoot_plain`, one
  single-molecule Context, one shot at a time (the loop the OPS engine
  path runs, without OPS' own overhead);
* ``batched K``: :func:`~mda_rcxai.sampling.batched.shoot_batched` with
  ``K`` replicas in one Context.

Columns: shots/s, replica-steps/s (integrator steps x replicas, idle
replicas in the tail included) and both as ratios to the plain loop (the
issue's goal: >= 4x per core). Then the committor of every configuration
from the plain loop and from batched K=64, with binomial z-scores.
"""

import argparse
import os
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def barrier_configurations(system, n, seed=0, temperature=1000.0):
    """``n`` configurations (nm) between C7eq and C7ax from hot MD."""
    import openmm
    import openmm.unit as u

    from mda_rcxai.systems import PHI, dihedral_degrees
    a, b = system.states["C7eq"], system.states["C7ax"]
    integ = openmm.LangevinMiddleIntegrator(
        temperature * u.kelvin, 1 / u.picosecond, 2 * u.femtosecond)
    integ.setRandomNumberSeed(seed + 1)
    ctx = openmm.Context(system.system, integ,
                         openmm.Platform.getPlatformByName("CPU"),
                         {"Threads": "1"})
    ctx.setPositions(system.positions)
    ctx.setVelocitiesToTemperature(temperature, seed + 1)
    out = []
    for _ in range(200_000):
        integ.step(50)       # frames 100 fs apart: fairly independent
        x = ctx.getState(getPositions=True).getPositions(asNumpy=True)._value
        phi = dihedral_degrees(x[None], np.array([PHI]))[0, 0]
        if -10 < phi < 25 and not a.contains(x)[0] and not b.contains(x)[0]:
            out.append(np.array(x))
            if len(out) == n:
                break
    return np.array(out)


def sweep(system, x, platform, ks, frames, seed=0):
    """Replica-steps/s of the batched engine for each K (all replicas busy)."""
    import openmm
    from mda_rcxai.sampling.batched import (_langevin, _make_context,
                                            _ReplicaBatch, _shot_rng,
                                            build_replica_system)
    print(f"{'K':>6}{'platform':>9}{'rep-steps/s':>14}{'native LM':>12}"
          f"{'ours/native':>12}")
    for k in ks:
        batch = _ReplicaBatch(system, k, 300.0, 2.0, 1.0, seed, platform, 1,
                              10, "per-shot")
        slots = list(range(k))
        batch.reseed(slots, [x[s % len(x)] for s in slots],
                     [_shot_rng(seed, s, 0) for s in slots])
        sa, sb = system.states["C7eq"], system.states["C7ax"]
        batch.advance(10)
        t = time.perf_counter()
        for _ in range(frames):
            pos = batch.advance(10)
            sa.contains(pos), sb.contains(pos)
        ours = frames * 10 * k / (time.perf_counter() - t)
        ctx, name = _make_context(build_replica_system(system, k),
                                  _langevin(300.0, 1.0, 2.0, seed + 1),
                                  batch.platform, 1)
        ctx.setPositions(batch.positions.reshape(-1, 3))
        ctx.setVelocities(batch.velocities().reshape(-1, 3))
        integ = ctx.getIntegrator()
        integ.step(10)
        t = time.perf_counter()
        for _ in range(frames):
            integ.step(10)
            pos = ctx.getState(getPositions=True).getPositions(
                asNumpy=True)._value.reshape(k, system.n_atoms, 3)
            sa.contains(pos), sb.contains(pos)
        native = frames * 10 * k / (time.perf_counter() - t)
        print(f"{k:>6}{batch.platform:>9}{ours:>14.0f}{native:>12.0f}"
              f"{ours / native:>12.2f}", flush=True)
        del batch, ctx, integ
        _ = openmm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=24)
    ap.add_argument("--plain-shots", type=int, default=20,
                    help="shots per configuration for the plain loop")
    ap.add_argument("--batched-shots", type=int, default=100,
                    help="shots per configuration for the batched runs")
    ap.add_argument("--replicas", type=int, nargs="+", default=[8, 64, 512])
    ap.add_argument("--platform", default="CPU",
                    help="OpenMM platform of the batched runs (or 'auto'); "
                    "the plain loop always runs on CPU")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs per engine (interleaved); the best counts")
    ap.add_argument("--noise", default="per-shot",
                    choices=["per-shot", "context"],
                    help="noise of the batched runs (see shoot_batched)")
    ap.add_argument("--sweep", action="store_true",
                    help="replica-steps/s for K = 64 ... --max-k only")
    ap.add_argument("--max-k", type=int, default=4096)
    ap.add_argument("--frames", type=int, default=20,
                    help="frames (10 steps) timed per K in --sweep")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.platform != "auto":
        import sys

        from mda_rcxai.exceptions import InputError
        from mda_rcxai.sampling.batched import _platform_names
        if args.platform not in _platform_names():
            err = InputError(f"platform={args.platform!r} is not available; "
                             f"this OpenMM has {_platform_names()} (or use "
                             "'auto')")
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
    if args.sweep:
        from mda_rcxai.systems import alanine_dipeptide
        system = alanine_dipeptide()
        x = barrier_configurations(system, 8, args.seed)
        ks, k = [], 64
        while k <= args.max_k:
            ks.append(k)
            k *= 2
        sweep(system, x, args.platform, ks, args.frames, args.seed)
        return

    from mda_rcxai.sampling.batched import shoot_batched, shoot_plain
    from mda_rcxai.systems import alanine_dipeptide

    system = alanine_dipeptide()
    t = time.perf_counter()
    x = barrier_configurations(system, args.configs, args.seed)
    print(f"{len(x)} configurations between C7eq and C7ax from 1000 K MD "
          f"({time.perf_counter() - t:.1f} s)\n")

    # every engine runs --repeat times, interleaved; the best wall time counts
    runs = {"plain": lambda info: shoot_plain(
        system, x, args.plain_shots, seed=args.seed, info=info)}
    for k in args.replicas:
        # at least 10 shots per replica, so that the tail stays small
        n_shots = max(args.batched_shots, -(-10 * k // len(x)))
        runs[k] = (lambda info, k=k, n=n_shots: shoot_batched(
            system, x, n, n_replicas=k, seed=args.seed,
            platform=args.platform, verbose=False, info=info,
            noise=args.noise))
    best, counts = {}, {}
    for _ in range(args.repeat):
        for key, fn in runs.items():
            info = {}
            counts[key] = fn(info)
            if key not in best or info["wall_s"] < best[key]["wall_s"]:
                best[key] = info
    plain, batched = counts.pop("plain"), counts
    info = best["plain"]
    p_shots = info["n_shots"] / info["wall_s"]
    p_steps = info["n_steps"] / info["wall_s"]
    rows = [("plain (1 molecule)", info["platform"], 1, info["n_shots"],
             info["wall_s"], p_shots, p_steps)]
    for k in args.replicas:
        info = best[k]
        rows.append((f"batched K={k}", info["platform"], info["n_replicas"],
                     info["n_shots"], info["wall_s"],
                     info["n_shots"] / info["wall_s"],
                     info["replica_steps"] / info["wall_s"]))

    print(f"{'engine':<20}{'platform':>9}{'K':>6}{'shots':>7}{'wall s':>8}"
          f"{'shots/s':>9}{'rep-steps/s':>13}{'x shots':>9}{'x steps':>9}")
    for name, plat, k, n, wall, sps, rsps in rows:
        print(f"{name:<20}{plat:>9}{k:>6}{n:>7}{wall:>8.2f}{sps:>9.1f}"
              f"{rsps:>13.0f}{sps / p_shots:>9.2f}{rsps / p_steps:>9.2f}")

    k = 64 if 64 in batched else args.replicas[0]
    a = batched[k]
    n1, n2 = int(a[0][0] + a[1][0] + a[2][0]), args.plain_shots
    pb1 = a[1] / np.maximum(a[0] + a[1], 1)
    pb2 = plain[1] / np.maximum(plain[0] + plain[1], 1)
    p = (a[1] + plain[1]) / (n1 + n2)
    sd = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    z = np.where(sd > 0, (pb1 - pb2) / np.where(sd > 0, sd, 1), 0.0)
    print(f"\np_B per configuration: batched K={k} ({n1} shots) vs plain "
          f"({n2} shots)")
    print(f"{'i':>3}{'batched':>9}{'plain':>8}{'z':>7}{'undecided':>11}")
    for i in range(len(x)):
        print(f"{i:>3}{pb1[i]:>9.3f}{pb2[i]:>8.3f}{z[i]:>7.2f}"
              f"{a[2][i] + plain[2][i]:>11d}")
    dof = int(np.sum(sd > 0))
    print(f"sum z^2 = {np.sum(z ** 2):.1f} over {dof} configurations with "
          f"0 < p_B < 1 (chi^2 with {dof} dof: mean {dof}, 99.9 % point "
          f"~{dof + 3.1 * np.sqrt(2 * dof) + 3:.0f}); max |z| = "
          f"{np.abs(z).max():.2f}; mean |p_B diff| = "
          f"{np.abs(pb1 - pb2).mean():.3f}")


if __name__ == "__main__":
    main()

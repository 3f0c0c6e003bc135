"""Committor shooting speed: OPS CommittorSimulation vs a plain OpenMM loop vs ours.

Same configurations (harvested from a short TPS run on the bundled alanine
dipeptide, 300 K, 2 fs, 10 steps per frame, LangevinMiddle 1/ps), same
number of shots, stopped on the C7eq / C7ax boxes. Prints shots/s and
ratios. Goal (issue 15 item 4): the per-configuration ("lean") route with
1 worker >= 0.9x the plain loop, on vacuum and on a solvated system; with
2 workers >= 1.8x that; the batched engine >= 4x the plain loop per core.

The plain loop and the lean route run alternately ``--repeat`` times and
the best time of each counts (the machine is shared; side by side in one
run). The solvated case: the bundled molecule in a 2.2 nm TIP3P box
(OpenMM Modeller, amber14, PME 0.9 nm; ~1000 atoms), states on phi/psi
(PII: psi in [100, 200], alphaR: psi in [-90, -10], phi < -30), shots of
at most ``--water-frames`` frames from configurations of a short MD run.

    python benchmarks/committor.py [--configs 40] [--shots 5] [--repeat 3]
                                   [--water-configs 4] [--no-ops]

Dask start-up time is excluded from ours (timed from the first submitted
task via a warm cluster), and reported separately.
"""

import argparse
import os
import tempfile
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")

from mda_rcxai.sampling.committor import _ENGINES  # noqa: E402


def plain_loop(system, x_nm, n_shots, seed, max_frames=2000,
               states=("C7eq", "C7ax")):
    """Reference: one OpenMM Context, numpy velocities and state tests."""
    import openmm
    import openmm.unit as u
    integ = openmm.LangevinMiddleIntegrator(300 * u.kelvin, 1 / u.picosecond,
                                            2 * u.femtosecond)
    integ.setRandomNumberSeed(seed + 1)
    ctx = openmm.Context(system.system, integ,
                         openmm.Platform.getPlatformByName("CPU"),
                         {"Threads": "1"})
    if system.box_vectors is not None:
        ctx.setPeriodicBoxVectors(*system.box_vectors)
    box = system.box_vectors
    A, B = system.states[states[0]], system.states[states[1]]
    m = np.array([system.system.getParticleMass(i).value_in_unit(u.dalton)
                  for i in range(system.n_atoms)])
    sigma = np.sqrt(0.00831446261815324 * 300 / m)[:, None]
    rng = np.random.default_rng(seed)
    counts = np.zeros((len(x_nm), 3), int)
    frames = 0
    for i, x in enumerate(x_nm):
        for _ in range(n_shots):
            ctx.setPositions(x)
            ctx.setVelocities(sigma * rng.normal(size=x.shape))
            ctx.applyVelocityConstraints(1e-5)
            k = 2
            for _ in range(max_frames - 1):
                integ.step(10)
                frames += 1
                p = ctx.getState(getPositions=True).getPositions(
                    asNumpy=True)._value
                if A.contains(p, box)[0]:
                    k = 0
                    break
                if B.contains(p, box)[0]:
                    k = 1
                    break
            counts[i, k] += 1
    return counts, frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", type=int, default=40)
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--ops-configs", type=int, default=10,
                    help="configurations for the (slow) OPS route")
    ap.add_argument("--replicas", type=int, nargs="+", default=[8, 64, 512],
                    help="K of the batched engine (method='batched')")
    ap.add_argument("--repeat", type=int, default=3,
                    help="alternating runs of plain loop and lean route")
    ap.add_argument("--water-configs", type=int, default=4,
                    help="configurations of the solvated case (0: skip it)")
    ap.add_argument("--water-frames", type=int, default=15,
                    help="frames per shot at most in the solvated case")
    ap.add_argument("--no-ops", action="store_true",
                    help="skip the (slow) OPS CommittorSimulation route")
    ap.add_argument("--lean-only", action="store_true",
                    help="only plain loop vs lean (vacuum and water)")
    args = ap.parse_args()

    from dask.distributed import Client, LocalCluster

    from mda_rcxai.sampling import (harvest, initial_path, run_committor,
                                    run_tps)
    from mda_rcxai.systems import alanine_dipeptide

    system = alanine_dipeptide()
    t = time.perf_counter()
    path = initial_path(system, seed=0, verbose=False)
    tps = run_tps(system, path, 100, seed=0, verbose=False)
    print(f"setup: {tps.summary()} [{time.perf_counter() - t:.0f} s]")
    x = harvest(tps, args.configs, seed=0, system=system)
    n = len(x)
    x_nm = x / 10.0
    rows = {}

    plain_t, lean_t = [], []
    for _ in range(max(1, args.repeat)):
        t = time.perf_counter()
        counts, frames = plain_loop(system, x_nm, args.shots, 0)
        plain_t.append(time.perf_counter() - t)
        _ENGINES.clear()  # no warm Context from the previous repeat
        t = time.perf_counter()
        ds = run_committor(system, x, args.shots, seed=0, verbose=False,
                           method="lean")
        lean_t.append(time.perf_counter() - t)
    dt = min(plain_t)
    rows["plain OpenMM loop"] = (n * args.shots / dt, dt, frames,
                                 counts[:, 1].sum() / max(1, counts[:, :2].sum()))
    dt = min(lean_t)
    rows["ours, 1 worker"] = (n * args.shots / dt, dt, ds.metadata["frames"],
                              np.nanmean(ds.p_B))
    water = water_case(args) if args.water_configs > 0 else None
    if args.lean_only:
        ref = rows["plain OpenMM loop"]
        one = rows["ours, 1 worker"]
        print(f"vacuum: plain {ref[0]:.2f} shots/s ({ref[2]} frames), lean "
              f"{one[0]:.2f} shots/s ({one[2]} frames)")
        print(f"lean 1 worker / plain loop (vacuum) = {one[0] / ref[0]:.2f}x "
              f"shots/s, {(one[2] / one[1]) / (ref[2] / ref[1]):.2f}x frames/s"
              " (goal >= 0.9)")
        if water:
            print(water)
        return

    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        startup = time.perf_counter() - t0
        # warm the workers (imports, engine) on a single tiny task
        run_committor(system, x[:2], 1, seed=99, client=client,
                      verbose=False, chunk_size=1)
        t = time.perf_counter()
        ds2 = run_committor(system, x, args.shots, seed=0, client=client,
                            verbose=False)
        dt = time.perf_counter() - t
    rows["ours, 2 workers"] = (n * args.shots / dt, dt,
                               ds2.metadata["frames"], np.nanmean(ds2.p_B))

    for k in args.replicas:
        t = time.perf_counter()
        dsb = run_committor(system, x, args.shots, seed=0, method="batched",
                            n_replicas=k, verbose=False)
        dt = time.perf_counter() - t
        rows[f"batched K={k}, 1 process"] = (n * args.shots / dt, dt, None,
                                             np.nanmean(dsb.p_B))
    m = min(args.ops_configs, n)
    size = 0
    if args.no_ops:
        rows["OPS CommittorSimulation"] = (float("nan"), 0.0, None, np.nan)
    else:
      with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ds3 = run_committor(system, x[:m], args.shots, seed=0, method="ops",
                            storage=os.path.join(tmp, "ops.nc"),
                            verbose=False)
        dt = time.perf_counter() - t
        size = os.path.getsize(os.path.join(tmp, "ops.nc"))
        rows["OPS CommittorSimulation"] = (m * args.shots / dt, dt, None,
                                           np.nanmean(ds3.p_B))

    ref = rows["plain OpenMM loop"][0]
    one = rows["ours, 1 worker"][0]
    print(f"\n{n} configurations x {args.shots} shots (OPS route: {m} "
          f"configurations; storage {size / 1e6:.1f} MB); Dask start-up "
          f"{startup:.1f} s not counted")
    print(f"{'method':26s} {'shots/s':>9s} {'seconds':>8s} {'frames':>8s} "
          f"{'mean p_B':>8s} {'vs plain':>9s}")
    for k, (rate, dt, fr, pb) in rows.items():
        print(f"{k:26s} {rate:9.2f} {dt:8.1f} {fr if fr is not None else '-':>8} "
              f"{pb:8.2f} {rate / ref:8.2f}x")
    fr_ratio = ((rows["ours, 1 worker"][2] / rows["ours, 1 worker"][1])
                / (rows["plain OpenMM loop"][2] / rows["plain OpenMM loop"][1]))
    print(f"\nours 1 worker / plain loop = {one / ref:.2f} shots/s, "
          f"{fr_ratio:.2f} frames/s (goal >= 0.9)")
    if water:
        print(water)
    print(f"ours 2 workers / ours 1 worker = "
          f"{rows['ours, 2 workers'][0] / one:.2f} (goal >= 1.8)")
    print(f"ours 1 worker / OPS CommittorSimulation = "
          f"{one / rows['OPS CommittorSimulation'][0]:.2f}")
    for k in args.replicas:
        r = rows[f"batched K={k}, 1 process"][0]
        print(f"batched K={k} / plain loop = {r / ref:.2f} (goal >= 4); "
              f"/ OPS CommittorSimulation = {r / rows['OPS CommittorSimulation'][0]:.1f}")


def water_case(args):
    """Plain loop vs lean route on alanine dipeptide in a TIP3P box."""
    import openmm

    from mda_rcxai.sampling import run_committor
    from mda_rcxai.systems import alanine_dipeptide_in_water
    from mda_rcxai.systems import StateDefinition, PHI, PSI
    states = {
        "PII": StateDefinition("PII", [PHI, PSI], [(-180, -30), (100, 200)]),
        "alphaR": StateDefinition("alphaR", [PHI, PSI],
                                  [(-180, -30), (-90, -10)])}
    t = time.perf_counter()
    system = alanine_dipeptide_in_water(states=states)
    build = time.perf_counter() - t
    # configurations: frames 0.2 ps apart of a short MD run, outside states
    integ = openmm.LangevinMiddleIntegrator(300, 1, 0.002)
    integ.setRandomNumberSeed(7)
    ctx = openmm.Context(system.system, integ,
                         openmm.Platform.getPlatformByName("CPU"),
                         {"Threads": "1"})
    ctx.setPositions(system.positions)
    ctx.setVelocitiesToTemperature(300, 7)
    xs = []
    while len(xs) < args.water_configs:
        integ.step(100)
        p = ctx.getState(getPositions=True).getPositions(asNumpy=True)._value
        if not (states["PII"].contains(p, system.box_vectors)[0] or
                states["alphaR"].contains(p, system.box_vectors)[0]):
            xs.append(p)
    x_nm = np.array(xs)
    shots = 2
    plain_t, lean_t = [], []
    for _ in range(max(1, args.repeat)):
        t = time.perf_counter()
        counts, frames = plain_loop(system, x_nm, shots, 0,
                                    max_frames=args.water_frames,
                                    states=("PII", "alphaR"))
        plain_t.append(time.perf_counter() - t)
        _ENGINES.clear()
        t = time.perf_counter()
        ds = run_committor(system, x_nm * 10.0, shots, seed=0, verbose=False,
                           method="auto", state_A="PII", state_B="alphaR",
                           max_frames=args.water_frames)
        lean_t.append(time.perf_counter() - t)
    tp, tl = min(plain_t), min(lean_t)
    fl = ds.metadata["frames"]
    return (f"water ({system.n_atoms} atoms, {len(x_nm)} configurations x "
            f"{shots} shots, <= {args.water_frames} frames, route "
            f"{ds.metadata['method']['name']!r}; box built in {build:.1f} s): "
            f"plain {frames / tp:.1f} frames/s, lean {fl / tl:.1f} frames/s\n"
            f"lean 1 worker / plain loop (water) = {tp / tl:.2f}x shots/s, "
            f"{(fl / tl) / (frames / tp):.2f}x frames/s (goal >= 0.9)")


if __name__ == "__main__":
    main()

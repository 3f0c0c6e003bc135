"""The engine measured against the best plain loop on this machine, in one run.

Usage: ``python benchmarks/engine.py [--moves 300] [--configs 24] [--shots 10]
[--seconds 1.0] [--seed 0]``

On the bundled alanine dipeptide (vacuum, 300 K, 2 fs, 10 steps per frame,
LangevinMiddle, friction 1/ps):

1. **Platforms.** Every OpenMM platform this installation has (CPU with one
   and with every allowed thread, Reference, GPUs where a device answers)
   integrates one molecule, and then 64 replicas in one Context, frame by
   frame (``step(10)`` + ``getState``) for ``--seconds`` each, twice,
   interleaved; the best of the two counts. Then ``platform="auto"``
   (:func:`mda_rcxai.sampling.choose_platform`, its own short measurement)
   picks, and its pick's speed is compared with the fastest measured here.
   Goal: auto within 10 % of the fastest.
2. **TPS.** A plain two-way shooting loop written here with OpenMM alone
   (shooting point, direction, Maxwell-Boltzmann velocities with
   constraints, frame by frame until a state, a numpy dihedral test, the
   path-length acceptance) on the fastest single-molecule platform, beside
   ``run_tps(method="fast")`` with ``platform="auto"``: MD steps per second
   of each (paths differ in length from move to move; steps/s is the
   throughput). Goal: ours >= 0.9x.
3. **Committor.** A plain shooting loop written here (one shot at a time,
   fresh velocities, frame by frame until a state) on the fastest
   single-molecule platform, beside ``run_committor`` lean (one worker)
   and batched (replica-steps per second, one core). Goals: lean >= 0.9x,
   batched >= 1.0x.

The anchor of every ratio is the fastest plain loop on any platform,
measured in the same run: a ratio against a slow platform would flatter us.
The last line prints the ratios with their goals.
"""

import argparse
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")

KB = 0.00831446261815324  # kJ/mol/K, written out: the plain loops use no mda_rcxai code


def state_arrays(st, velocities=False):
    """Positions (and velocities) of a State without the unit wrapping.

    The best plain loop reads a frame the fast way too: the State's own copy
    routine (what ``getPositions(asNumpy=True)`` calls after a ``dir()``
    lookup and a unit multiplication, ~8 us a call).
    """
    n = st._getNumParticles()
    x = np.empty((n, 3))
    st._getVectorAsNumpy(st.Positions, x)
    if not velocities:
        return x
    v = np.empty((n, 3))
    st._getVectorAsNumpy(st.Velocities, v)
    return x, v


def dihedral(x, idx):
    b0 = x[idx[0]] - x[idx[1]]
    b1 = x[idx[2]] - x[idx[1]]
    b2 = x[idx[3]] - x[idx[2]]
    b1 = b1 / np.linalg.norm(b1)
    v = b0 - b0.dot(b1) * b1
    w = b2 - b2.dot(b1) * b1
    return np.degrees(np.arctan2(np.cross(b1, v).dot(w), v.dot(w)))


def make_state_test(system):
    """A plain numpy test of the two alanine states (their own box ranges)."""
    boxes = []
    for name in ("C7eq", "C7ax"):
        st = system.states[name]
        boxes.append([(list(f.atoms), lo, hi) for f, (lo, hi) in
                      zip(st.features, st.ranges)])

    def test(x):
        for code, box in enumerate(boxes, 1):
            if all((dihedral(x, a) - lo) % 360.0 <= hi - lo for a, lo, hi in box):
                return code
        return 0
    return test


def plain_context(system, platform, threads, seed):
    import openmm
    import openmm.unit as u
    integ = openmm.LangevinMiddleIntegrator(300 * u.kelvin, 1 / u.picosecond,
                                            2 * u.femtosecond)
    integ.setRandomNumberSeed(seed)
    props = {"Threads": str(threads)} if platform == "CPU" else {}
    ctx = openmm.Context(system.system, integ,
                         openmm.Platform.getPlatformByName(platform), props)
    ctx.setPositions(system.positions)
    return ctx, integ


def sigma_of(system):
    m = np.array([system.system.getParticleMass(a)._value
                  for a in range(system.n_atoms)])
    return np.sqrt(KB * 300.0 / m)[:, None]


def plain_half(ctx, integ, test, x0, v0, n_max, keep):
    ctx.setPositions(x0)
    ctx.setVelocities(v0)
    xs, steps = [x0], 0
    while True:
        integ.step(10)
        steps += 10
        st = ctx.getState(getPositions=True, getVelocities=keep)
        x = state_arrays(st, velocities=keep)
        x = x[0] if keep else x
        xs.append(x)
        code = test(x)
        if code or len(xs) >= n_max:
            return xs, code, steps


def plain_tps(system, path_x, n_moves, platform, threads, seed):
    """Two-way shooting written with OpenMM alone; MD steps/s."""
    ctx, integ = plain_context(system, platform, threads, seed + 1)
    test, sigma = make_state_test(system), sigma_of(system)
    rng = np.random.default_rng(seed)
    tol = integ.getConstraintTolerance()
    path = list(path_x)
    steps = 0
    t0 = time.perf_counter()
    for _ in range(n_moves):
        i = int(rng.integers(1, len(path) - 1))
        fwd_first = rng.random() < 0.5
        ctx.setPositions(path[i])
        ctx.setVelocities(rng.standard_normal((system.n_atoms, 3)) * sigma)
        ctx.applyConstraints(tol)
        ctx.applyVelocityConstraints(tol)
        x0, v0 = state_arrays(ctx.getState(getPositions=True, getVelocities=True),
                              velocities=True)
        first = plain_half(ctx, integ, test, x0, v0 if fwd_first else -v0, 2000, True)
        steps += first[2]
        if first[1] != (2 if fwd_first else 1):
            continue
        second = plain_half(ctx, integ, test, x0, -v0 if fwd_first else v0, 2000, True)
        steps += second[2]
        if second[1] != (1 if fwd_first else 2):
            continue
        f, b = (first[0], second[0]) if fwd_first else (second[0], first[0])
        trial = b[::-1] + f[1:]
        if rng.random() < min(1.0, (len(path) - 2) / (len(trial) - 2)):
            path = trial
    return steps / (time.perf_counter() - t0)


def plain_committor(system, configs_nm, n_shots, platform, threads, seed):
    """One shot at a time, written with OpenMM alone; MD steps/s."""
    ctx, integ = plain_context(system, platform, threads, seed)
    test, sigma = make_state_test(system), sigma_of(system)
    rng = np.random.default_rng(seed)
    tol = integ.getConstraintTolerance()
    steps = 0
    t0 = time.perf_counter()
    for x in configs_nm:
        for _ in range(n_shots):
            ctx.setPositions(x)
            ctx.setVelocities(rng.standard_normal((system.n_atoms, 3)) * sigma)
            ctx.applyConstraints(tol)
            ctx.applyVelocityConstraints(tol)
            x0, v0 = state_arrays(ctx.getState(getPositions=True, getVelocities=True),
                                  velocities=True)
            steps += plain_half(ctx, integ, test, x0, v0, 2000, False)[2]
    return steps / (time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=300)
    ap.add_argument("--configs", type=int, default=24)
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from mda_rcxai.sampling import (EngineSettings, choose_platform, harvest,
                                    initial_path, run_committor, run_tps)
    from mda_rcxai.sampling.core import (allowed_threads, make_integrator,
                                         maxwell_boltzmann, measure_steps_per_s,
                                         platform_names, velocity_sigma)
    from mda_rcxai.sampling.replicas import build_replica_system, per_shot_langevin
    from mda_rcxai.systems import alanine_dipeptide

    system = alanine_dipeptide()
    settings = EngineSettings()
    K = 64
    big = build_replica_system(system, K)
    cands = []
    for p in platform_names():
        cands += ([("CPU", 1), ("CPU", allowed_threads())] if p == "CPU" else [(p, 1)])
    cands = list(dict.fromkeys(cands))
    v1 = maxwell_boltzmann(np.random.default_rng(1), velocity_sigma(system.system, 300))
    vK = np.tile(v1, (K, 1))
    single, batched = {}, {}
    for _ in range(2):
        for plat, th in cands:
            label = f"{plat}/{th}" if plat == "CPU" else plat
            try:
                r1 = measure_steps_per_s(system.system, make_integrator(settings, 1), plat,
                                         th, system.positions, v1, 10, args.seconds)
                rK = measure_steps_per_s(big, per_shot_langevin(settings)(), plat, th,
                                         np.tile(system.positions, (K, 1)), vK, 10,
                                         args.seconds, n_copies=K)
            except Exception as err:  # a GPU plugin without a device
                print(f"{label}: cannot run here ({str(err).splitlines()[0]})")
                continue
            single[label] = max(single.get(label, 0), r1)
            batched[label] = max(batched.get(label, 0), rK)
    print("platform       one molecule (steps/s)   64 replicas (replica-steps/s)")
    for label in single:
        print(f"{label:14s} {single[label]:>18,.0f}   {batched[label]:>26,.0f}")
    best1 = max(single, key=single.get)
    bestK = max(batched, key=batched.get)
    auto1 = choose_platform(system.system, settings, system.positions)
    autoK = choose_platform(big, settings, np.tile(system.positions, (K, 1)),
                            kind="batched", n_copies=K,
                            integrator_factory=per_shot_langevin(settings))
    r_auto1 = single.get(auto1.label, 0) / single[best1]
    r_autoK = batched.get(autoK.label, 0) / batched[bestK]
    print(f"auto picks {auto1.label} for one molecule ({r_auto1:.2f}x the fastest, "
          f"{best1}) and {autoK.label} for 64 replicas ({r_autoK:.2f}x the fastest, "
          f"{bestK})")

    plat, _, th = best1.partition("/")
    th = int(th) if th else 1
    path = initial_path(system, seed=args.seed, verbose=False)
    warm = run_tps(system, path, 60, seed=args.seed, verbose=False, method="fast",
                   n_chains=1)
    path_x = np.asarray(warm.final_path.xyz)
    # side by side, alternating, best of two each
    plain_t, ours_t = 0.0, 0.0
    for rep in range(2):
        plain_t = max(plain_t, plain_tps(system, path_x, args.moves, plat, th,
                                         args.seed + rep))
        r = run_tps(system, warm, args.moves, seed=args.seed + rep, verbose=False,
                    method="fast", n_chains=1)
        ours_t = max(ours_t, r.extra["md_steps"] / r.extra["wall_s"])
    print(f"TPS: plain two-way loop on {best1} {plain_t:,.0f} MD steps/s; ours "
          f"(fast route, {r.extra['platform_choice']['platform']}) {ours_t:,.0f}")

    configs = harvest(r, args.configs, seed=args.seed, system=system)
    x_nm = configs / 10.0
    plain_c, lean_c, batch_c = 0.0, 0.0, 0.0
    for rep in range(2):
        plain_c = max(plain_c, plain_committor(system, x_nm, args.shots, plat, th,
                                               args.seed + rep))
        lean = run_committor(system, configs, args.shots, seed=args.seed + rep,
                             method="lean", verbose=False)
        lean_c = max(lean_c, lean.metadata["md_steps_per_s_last_call"])
        bat = run_committor(system, configs, args.shots, seed=args.seed + rep,
                            method="batched", n_replicas=K, verbose=False)
        batch_c = max(batch_c, bat.metadata["md_steps_per_s_last_call"])
    print(f"committor: plain shooting loop on {best1} {plain_c:,.0f} MD steps/s; lean "
          f"{lean_c:,.0f}; batched (K={K}, "
          f"{bat.metadata['engine']['platform_choice']['platform']}) {batch_c:,.0f} "
          "replica-steps/s")
    print(f"auto vs fastest: one molecule {r_auto1:.2f}x, batched {r_autoK:.2f}x "
          f"(goal >= 0.90); TPS ours / plain = {ours_t / plain_t:.2f}x (goal >= 0.90); "
          f"lean / plain = {lean_c / plain_c:.2f}x (goal >= 0.90); batched / plain = "
          f"{batch_c / plain_c:.2f}x (goal >= 1.00)")


if __name__ == "__main__":
    main()

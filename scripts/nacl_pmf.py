#!/usr/bin/env python3
"""Potential of mean force of Na+ Cl- in TIP3P along the ion-ion distance.

``python scripts/nacl_pmf.py`` runs umbrella sampling on the bundled
box (:func:`mda_rcxai.systems.nacl_water`) and writes

``mda_rcxai/data/nacl_pmf.txt``
    r (Angstrom), PMF (kT), PMF (kJ/mol), its half-data uncertainty (kT) and
    the number of samples per bin; header lines (``#``) give the CIP
    minimum, the barrier and the SSIP minimum.
``docs/_static/nacl_pmf.png``
    The window histograms and the PMF with the states.

Method: harmonic bias ``k/2 (r - r0)^2`` on the minimum-image Na-Cl
distance (:func:`mda_rcxai.systems.nacl.add_distance_restraint`), windows
``WINDOWS_NM`` / ``WINDOWS_K`` in two sweeps from the bundled contact
structure: 16 windows 0.24-0.70 nm with ``k = 3000`` kJ/mol/nm^2, then 7
windows 0.30-0.39 nm over the barrier with ``k = 15000``; in a sweep the
windows run one after the other, each started from the end of the previous
one; per window 2 ps discarded, then ``--ps`` ps (default 30; ``--ps-barrier``
24 for the second sweep) with r recorded every 10 steps (20 fs).
LangevinMiddle, 300 K, 1/ps, 2 fs; CPU platform, one thread. The windows
are joined with binless WHAM (:func:`wham`, the MBAR self-consistent
equations, Shirts and Chodera 2008), the unbiased distribution binned in
0.1 Angstrom bins and turned into ``w(r) = -kT ln[P(r) / r^2]`` (the
``r^2`` Jacobian of the radial distance), zero at the CIP minimum. The
uncertainty column is half the difference between the PMFs of the first
and second halves of every window.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from mda_rcxai.fileio import atomic_write
from mda_rcxai.systems.nacl_pmf import (K_BARRIER, K_UMBRELLA, OUT_TXT, WINDOWS_K,
                                        WINDOWS_NM, compute_pmf, landmarks, write_table)

OUT_PNG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                       "_static", "nacl_pmf.png")


def run_windows(ps_per_window=30.0, seed=0, windows_nm=WINDOWS_NM[:16],
                k=K_UMBRELLA, equil_ps=2.0, verbose=True):
    """One sweep of umbrella windows on the bundled box (r samples in nm).

    Starts from the bundled contact structure; each window from the end of
    the previous one.

    Returns
    -------
    samples : list of numpy.ndarray
        Na-Cl distance (nm, minimum image) every 10 steps of each window.
    seconds : float
        Wall time of the MD.
    steps_per_s : float
    """
    import openmm
    import openmm.unit as u

    from mda_rcxai.systems import nacl_water
    from mda_rcxai.systems.nacl import (CL_INDEX, NA_INDEX,
                                        add_distance_restraint,
                                        minimum_image_distance)
    s = nacl_water()
    system = s.system
    add_distance_restraint(system, NA_INDEX, CL_INDEX, k, windows_nm[0])
    integ = openmm.LangevinMiddleIntegrator(300 * u.kelvin, 1 / u.picosecond,
                                            2 * u.femtosecond)
    integ.setRandomNumberSeed(seed + 11)
    ctx = openmm.Context(system, integ, openmm.Platform.getPlatformByName("CPU"),
                         {"Threads": "1"})
    ctx.setPeriodicBoxVectors(*s.topology.getPeriodicBoxVectors())
    box = s.topology.getPeriodicBoxVectors().value_in_unit(u.nanometer)[0][0]
    ctx.setPositions(s.positions)
    ctx.setVelocitiesToTemperature(300 * u.kelvin, seed)
    n_eq = int(round(equil_ps / 0.002))
    n_frames = int(round(ps_per_window / 0.002 / 10))
    out = []
    t0 = time.perf_counter()
    steps = 0
    for w, r0 in enumerate(windows_nm):
        ctx.setParameter("r0_restraint", r0)
        integ.step(n_eq)
        steps += n_eq
        r = np.empty(n_frames)
        for i in range(n_frames):
            integ.step(10)
            pos = ctx.getState(getPositions=True).getPositions(asNumpy=True)
            r[i] = minimum_image_distance(
                pos.value_in_unit(u.nanometer)[:2], 0, 1, box)
        steps += 10 * n_frames
        out.append(r)
        if verbose:
            el = time.perf_counter() - t0
            print(f"window {w + 1}/{len(windows_nm)} r0={r0:.3f} nm: mean r "
                  f"{r.mean():.4f} sd {r.std():.4f} nm ({steps / el:.0f} "
                  f"steps/s)", flush=True)
    el = time.perf_counter() - t0
    return out, el, steps / el


def plot(path, samples, r, w, sd, marks, states_angstrom):
    """The figure: window histograms (top), PMF with states (bottom)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True,
                                 gridspec_kw={"height_ratios": [1, 2]})
    bins = np.arange(2.0, 7.6, 0.05)
    for s in samples:
        a0.hist(np.asarray(s) * 10, bins=bins, histtype="step", lw=1)
    a0.set_ylabel("samples")
    a0.set_title(f"umbrella windows (k = {K_UMBRELLA:g} and {K_BARRIER:g} "
                 "kJ/mol/nm$^2$)", fontsize=10)
    colors = {"CIP": "tab:blue", "SSIP": "tab:orange"}
    for name, (lo, hi) in states_angstrom.items():
        a1.axvspan(lo, hi, color=colors.get(name, "grey"), alpha=0.15,
                   label=f"{name}: {lo:.2f}-{hi:.2f} A")
    a1.fill_between(r, w - 2 * sd, w + 2 * sd, color="k", alpha=0.15, lw=0)
    a1.plot(r, w, "k-", lw=1.5, label="PMF (WHAM)")
    a1.axvline(marks["r_ts"], color="tab:red", ls="--", lw=1,
               label=f"barrier {marks['r_ts']:.2f} A, "
                     f"{marks['w_ts'] - marks['w_cip']:.1f} kT")
    a1.set_xlabel("Na-Cl distance r (A)")
    a1.set_ylabel("w(r) (kT, 300 K)")
    a1.set_xlim(2.2, 7.2)
    a1.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)


def barrier_committors(r0_nm=0.355, n_configs=10, n_shots=10, seed=0,
                       spacing_ps=0.5, tol_nm=0.005, max_frames=1000,
                       verbose=True):
    """Committor p_SSIP of configurations held at the top of the PMF.

    Restrained MD (``K_BARRIER`` at ``r0_nm``) gives ``n_configs``
    configurations at least ``spacing_ps`` apart whose distance lies
    within ``tol_nm`` of ``r0_nm``; from each, ``n_shots`` unrestrained
    runs at 300 K with fresh Maxwell-Boltzmann velocities go until the
    distance is in CIP or SSIP (:data:`mda_rcxai.systems.NACL_STATES`),
    frames of 10 steps. If r were a good reaction coordinate, every
    configuration at the barrier top would have p_SSIP near 1/2.

    Returns
    -------
    dict
        ``r_nm`` (distance of each configuration), ``n_ssip``, ``n_cip``
        (counts per configuration), ``frames`` (length of every shot),
        ``seconds``.
    """
    import openmm
    import openmm.unit as u

    from mda_rcxai.systems import NACL_STATES, nacl_water
    from mda_rcxai.systems.nacl import (CL_INDEX, NA_INDEX,
                                        add_distance_restraint,
                                        minimum_image_distance)
    s = nacl_water()
    system = s.system
    add_distance_restraint(system, NA_INDEX, CL_INDEX, K_BARRIER, 0.30)
    integ = openmm.LangevinMiddleIntegrator(300 * u.kelvin, 1 / u.picosecond,
                                            2 * u.femtosecond)
    integ.setRandomNumberSeed(seed + 21)
    ctx = openmm.Context(system, integ,
                         openmm.Platform.getPlatformByName("CPU"),
                         {"Threads": "1"})
    ctx.setPeriodicBoxVectors(*s.box_vectors)
    ctx.setPositions(s.positions)
    ctx.setVelocitiesToTemperature(300 * u.kelvin, seed)
    box = np.diag(s.box_vectors)
    cip = NACL_STATES["CIP"].ranges[0]
    ssip = NACL_STATES["SSIP"].ranges[0]
    t0 = time.perf_counter()
    for k in range(10):  # pull to the barrier top in 1 ps
        ctx.setParameter("r0_restraint", 0.28 + (r0_nm - 0.28) * (k + 1) / 10)
        integ.step(50)
    ctx.setParameter("r0_restraint", r0_nm)
    integ.step(1000)
    rng = np.random.default_rng(seed)
    out = {"r_nm": [], "n_ssip": [], "n_cip": [], "frames": []}
    for c in range(n_configs):
        ctx.setParameter("k_restraint", K_BARRIER)
        integ.step(int(round(spacing_ps / 0.002)))
        for _ in range(10000):  # on to the next frame near r0 (every 20 fs)
            st = ctx.getState(getPositions=True, getVelocities=True)
            x0 = st.getPositions(asNumpy=True)
            v_keep = st.getVelocities(asNumpy=True)
            r_c = float(minimum_image_distance(
                x0.value_in_unit(u.nanometer)[:2], 0, 1, box))
            if abs(r_c - r0_nm) <= tol_nm:
                break
            integ.step(10)
        ctx.setParameter("k_restraint", 0.0)
        n_b = n_a = 0
        for _ in range(n_shots):
            ctx.setPositions(x0)
            ctx.setVelocitiesToTemperature(300 * u.kelvin,
                                           int(rng.integers(1, 2**31 - 1)))
            for f in range(1, max_frames + 1):
                integ.step(10)
                x = ctx.getState(getPositions=True).getPositions(asNumpy=True)
                r = float(minimum_image_distance(
                    x.value_in_unit(u.nanometer)[:2], 0, 1, box))
                if cip[0] <= r <= cip[1]:
                    n_a += 1
                    break
                if ssip[0] <= r <= ssip[1]:
                    n_b += 1
                    break
            out["frames"].append(f)
        ctx.setPositions(x0)
        ctx.setVelocities(v_keep)
        out["r_nm"].append(r_c)
        out["n_ssip"].append(n_b)
        out["n_cip"].append(n_a)
        if verbose:
            print(f"config {c}: r = {10 * r_c:.2f} A, p_SSIP = {n_b}/"
                  f"{n_a + n_b}", flush=True)
    out["seconds"] = time.perf_counter() - t0
    return {k: np.asarray(v) if isinstance(v, list) else v
            for k, v in out.items()}


def main(argv=None):  # pragma: no cover - run by hand
    os.environ["OPENMM_CPU_THREADS"] = "1"  # see make_nacl_water
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ps", type=float, default=30.0,
                   help="production ps per window of the first sweep")
    p.add_argument("--ps-barrier", type=float, default=24.0,
                   help="production ps per window of the barrier sweep")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default=None,
                   help="npz with window samples: read if it exists, else "
                        "written after the runs")
    p.add_argument("--out", default=OUT_TXT)
    p.add_argument("--png", default=OUT_PNG)
    p.add_argument("--committor", action="store_true",
                   help="only shoot from configurations at the barrier top "
                        "(barrier_committors) and print the committors")
    a = p.parse_args(argv)
    if a.committor:
        res = barrier_committors(n_configs=20, seed=a.seed)
        pb = res["n_ssip"] / (res["n_ssip"] + res["n_cip"])
        print(f"p_SSIP per configuration: {np.round(pb, 2).tolist()}; shots "
              f"{np.min(res['frames'])}-{np.max(res['frames'])} frames "
              f"(median {np.median(res['frames']):.0f}); "
              f"{res['seconds']:.0f} s")
        return
    cached, metas = {}, []
    if a.cache and os.path.exists(a.cache):
        z = np.load(a.cache)
        cached = {k: z[k] for k in z.files if k.startswith("w")}
        metas = [str(m) for m in np.atleast_1d(z["meta"])]
    sweeps = [(K_UMBRELLA, a.ps, a.seed), (K_BARRIER, a.ps_barrier, a.seed + 1)]
    for k, ps, seed in sweeps:
        idx = [i for i, kk in enumerate(WINDOWS_K) if kk == k]
        if all(f"w{i}" in cached for i in idx):
            continue
        samples, secs, rate = run_windows(ps, seed, [WINDOWS_NM[i] for i in idx],
                                          k)
        cached.update({f"w{i}": s for i, s in zip(idx, samples)})
        metas.append(f"{len(idx)} windows x {ps:g} ps at k={k:g} kJ/mol/nm2 "
                     f"(seed {seed}, {secs:.0f} s, {rate:.0f} steps/s on one "
                     "core)")
        if a.cache:
            np.savez(a.cache, meta=np.array(metas), **cached)
    samples = [cached[f"w{i}"] for i in range(len(WINDOWS_NM))]
    meta = "; ".join(metas)
    r, w, sd, n, f = compute_pmf(samples)
    marks = landmarks(r, w)
    print(meta)
    print({k: round(v, 3) for k, v in marks.items()})
    write_table(a.out, r, w, sd, n, marks, meta)
    from mda_rcxai.systems.nacl import NACL_STATES
    st = {k: tuple(10 * x for x in v.ranges[0]) for k, v in NACL_STATES.items()}
    plot(a.png, samples, r, w, sd, marks, st)
    print(f"wrote {a.out} and {a.png}")


if __name__ == "__main__":  # pragma: no cover
    main()

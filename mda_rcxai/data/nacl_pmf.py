"""Potential of mean force of Na+ Cl- in TIP3P along the ion-ion distance.

``python -m mda_rcxai.data.nacl_pmf`` runs umbrella sampling on the bundled
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

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_TXT = os.path.join(HERE, "nacl_pmf.txt")
OUT_PNG = os.path.join(os.path.dirname(os.path.dirname(HERE)), "docs",
                       "_static", "nacl_pmf.png")

#: Window centres, nm: a sweep with ``K_UMBRELLA`` over the whole range,
#: then a sweep with ``K_BARRIER`` over the barrier, where the PMF's
#: downward curvature beats the weak spring (measured: at k = 3000 the
#: 0.34 nm window stayed in contact, the 0.36 one hopped, the 0.38 one sat
#: at 0.42 nm).
WINDOWS_NM = (0.24, 0.27, 0.30, 0.32, 0.34, 0.36, 0.38, 0.40, 0.43, 0.46,
              0.50, 0.54, 0.58, 0.62, 0.66, 0.70,
              0.30, 0.315, 0.33, 0.345, 0.36, 0.375, 0.39)
#: Force constant of the first sweep, kJ/mol/nm^2.
K_UMBRELLA = 3000.0
#: Force constant of the barrier sweep, kJ/mol/nm^2.
K_BARRIER = 15000.0
#: Force constant of each window, kJ/mol/nm^2.
WINDOWS_K = (K_UMBRELLA,) * 16 + (K_BARRIER,) * 7
#: k_B T at 300 K, kJ/mol.
KT_300 = 0.0083144626 * 300.0


def wham(samples, centers, k, kT, *, tol=1e-10, max_iter=100000):
    """Free energies of harmonic umbrella windows by binless WHAM (MBAR).

    Solves ``f_i = -ln sum_n exp(-u_i(x_n)) / sum_l N_l exp(f_l - u_l(x_n))``
    over all samples ``x_n`` of all windows, ``u_i(x) = k (x - c_i)^2 /
    (2 kT)``, with ``f_0 = 0``.

    Parameters
    ----------
    samples : sequence of 1-D arrays
        The coordinate sampled in each window (any unit, the same as
        ``centers``).
    centers : array_like
        Window centres.
    k : float or array_like
        Force constant(s), energy per unit^2.
    kT : float
        Thermal energy in the same energy unit.
    tol : float
        Convergence on the largest change of ``f``, kT.
    max_iter : int

    Returns
    -------
    f : numpy.ndarray
        Dimensionless window free energies (kT), ``f[0] = 0``.
    log_w : numpy.ndarray
        Log unbiased weight of every pooled sample (normalised: the
        weights sum to 1), in the order of ``numpy.concatenate(samples)``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> xs = [rng.normal(c, 0.5, 2000) for c in (0.0, 1.0)]  # flat U: f equal
    >>> f, _ = wham(xs, [0.0, 1.0], 4.0, 1.0)
    >>> abs(f[1]) < 0.1
    True
    """
    from mda_rcxai.exceptions import InputError
    centers = np.asarray(centers, dtype=float)
    if len(samples) != len(centers):
        raise InputError(f"samples has {len(samples)} windows but centers "
                         f"has {len(centers)}; give one array per window")
    n_k = np.array([len(s) for s in samples], dtype=float)
    if np.any(n_k == 0):
        raise InputError("samples: every window needs at least one sample")
    if not kT > 0:
        raise InputError(f"kT={kT} must be > 0")
    x = np.concatenate([np.asarray(s, dtype=float) for s in samples])
    kk = np.broadcast_to(np.asarray(k, dtype=float), centers.shape)
    u = 0.5 * kk[:, None] * (x[None, :] - centers[:, None]) ** 2 / kT
    log_n = np.log(n_k)
    f = np.zeros(len(centers))
    for _ in range(max_iter):
        log_den = _logsumexp(log_n[:, None] + f[:, None] - u, axis=0)
        f_new = -_logsumexp(-u - log_den[None, :], axis=1)
        f_new -= f_new[0]
        if np.max(np.abs(f_new - f)) < tol:
            f = f_new
            break
        f = f_new
    log_den = _logsumexp(log_n[:, None] + f[:, None] - u, axis=0)
    log_w = -log_den
    log_w -= _logsumexp(log_w)
    return f, log_w


def _logsumexp(a, axis=None):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis) if axis is not None else float(out.ravel()[0])


def radial_pmf(x, log_w, edges):
    """``-ln[P(r)/r^2]`` (kT) on bins from weighted samples of a distance.

    Parameters
    ----------
    x : array_like
        Pooled samples of the distance.
    log_w : array_like
        Log weights (from :func:`wham`).
    edges : array_like
        Bin edges (same unit as ``x``).

    Returns
    -------
    centres : numpy.ndarray
    pmf_kT : numpy.ndarray
        ``nan`` where a bin holds no sample; zero at its minimum.
    counts : numpy.ndarray
        Samples per bin.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.random.default_rng(1).uniform(0, 1, 10**5) ** (1 / 3)  # ~ r^2
    >>> c, w, n = radial_pmf(r, np.zeros_like(r), np.linspace(0.5, 1, 6))
    >>> bool(np.all(np.abs(w) < 0.05))
    True
    """
    x = np.asarray(x, dtype=float)
    w = np.exp(np.asarray(log_w, dtype=float) - np.max(log_w))
    edges = np.asarray(edges, dtype=float)
    p, _ = np.histogram(x, bins=edges, weights=w)
    counts, _ = np.histogram(x, bins=edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    # exact average of r^2 over each bin for the Jacobian
    jac = (edges[1:] ** 3 - edges[:-1] ** 3) / (3 * (edges[1:] - edges[:-1]))
    with np.errstate(divide="ignore"):
        pmf = -np.log(p / jac)
    pmf[counts == 0] = np.nan
    pmf -= np.nanmin(pmf)
    return centres, pmf, counts


def landmarks(r, pmf, r_split=(3.2, 4.4)):
    """CIP minimum, barrier and SSIP minimum of a PMF (Angstrom, kT).

    The CIP minimum is the lowest point below ``r_split[0]``, the SSIP
    minimum the lowest beyond ``r_split[1]`` (up to 6 A), the barrier the
    highest point between the two minima. A 3-bin running mean smooths the
    curve to locate them; the values returned are the PMF's own there.

    Returns
    -------
    dict
        ``r_cip``, ``w_cip``, ``r_ts``, ``w_ts``, ``r_ssip``, ``w_ssip``.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.linspace(2.5, 6.5, 81)
    >>> w = np.cos(2 * np.pi * (r - 2.8) / 2.2) * -3
    >>> round(landmarks(r, w)["r_ts"], 1)
    3.9
    """
    r = np.asarray(r, dtype=float)
    w = np.asarray(pmf, dtype=float)
    ok = np.isfinite(w)
    r, w = r[ok], w[ok]
    ws = np.convolve(np.pad(w, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    a = np.where(r < r_split[0])[0]
    b = np.where((r > r_split[1]) & (r < 6.0))[0]
    i_a = a[np.argmin(ws[a])]
    i_b = b[np.argmin(ws[b])]
    mid = np.arange(i_a, i_b + 1)
    i_t = mid[np.argmax(ws[mid])]
    return {"r_cip": float(r[i_a]), "w_cip": float(w[i_a]),
            "r_ts": float(r[i_t]), "w_ts": float(w[i_t]),
            "r_ssip": float(r[i_b]), "w_ssip": float(w[i_b])}


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


def compute_pmf(samples, windows_nm=WINDOWS_NM, k=WINDOWS_K, kT=KT_300,
                bin_angstrom=0.1, r_max_angstrom=7.2):
    """PMF table from window samples (nm): r (A), PMF (kT), sd (kT), counts."""
    samples = [np.asarray(s, dtype=float) for s in samples]
    lo = np.floor(min(s.min() for s in samples) * 100) / 10  # A, 0.1 grid
    edges = np.arange(max(lo, 2.0), r_max_angstrom + 1e-9, bin_angstrom)

    def one(ss):
        f, log_w = wham(ss, windows_nm, k, kT)
        x = np.concatenate(ss) * 10.0
        return radial_pmf(x, log_w, edges), f

    (r, w, n), f = one(samples)
    halves = [[s[: len(s) // 2] for s in samples],
              [s[len(s) // 2:] for s in samples]]
    (_, w1, _), _ = one(halves[0])
    (_, w2, _), _ = one(halves[1])
    sd = 0.5 * np.abs(w1 - w2)
    return r, w, sd, n, f


def write_table(path, r, w_kT, sd_kT, counts, marks, meta):
    """Write the PMF table atomically (``#`` header lines, then columns)."""
    lines = [
        "# PMF of Na+ Cl- in TIP3P (amber14 Joung-Cheatham ions) at 300 K",
        "# along the minimum-image Na-Cl distance; zero at the CIP minimum.",
        "# made by mda_rcxai.data.nacl_pmf: " + meta,
        f"# CIP minimum r = {marks['r_cip']:.2f} A",
        f"# barrier r = {marks['r_ts']:.2f} A, height "
        f"{marks['w_ts'] - marks['w_cip']:.2f} kT above CIP",
        f"# SSIP minimum r = {marks['r_ssip']:.2f} A, "
        f"{marks['w_ssip'] - marks['w_cip']:.2f} kT above CIP",
        "# columns: r_angstrom pmf_kT pmf_kJ_mol sd_kT n_samples",
    ]
    for ri, wi, si, ni in zip(r, w_kT, sd_kT, counts):
        if np.isfinite(wi):
            lines.append(f"{ri:.3f} {wi:.4f} {wi * KT_300:.4f} {si:.4f} "
                         f"{int(ni)}")
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def read_table(path=OUT_TXT):
    """Read ``nacl_pmf.txt``: columns as arrays and the header's landmarks.

    Returns
    -------
    dict
        ``r`` (A), ``pmf_kT``, ``pmf_kj_mol``, ``sd_kT``, ``n``, and
        ``r_cip``, ``r_ts``, ``barrier_kT``, ``r_ssip``, ``ssip_kT``.

    Examples
    --------
    >>> t = read_table()
    >>> t["r_cip"] < t["r_ts"] < t["r_ssip"]
    True
    """
    import re
    head = {}
    rows = []
    with open(path) as fh:
        for line in fh:
            if line.startswith("#"):
                m = re.match(r"# CIP minimum r = ([\d.]+)", line)
                if m:
                    head["r_cip"] = float(m.group(1))
                m = re.match(r"# barrier r = ([\d.]+) A, height ([-\d.]+)", line)
                if m:
                    head["r_ts"] = float(m.group(1))
                    head["barrier_kT"] = float(m.group(2))
                m = re.match(r"# SSIP minimum r = ([\d.]+) A, ([-\d.]+)", line)
                if m:
                    head["r_ssip"] = float(m.group(1))
                    head["ssip_kT"] = float(m.group(2))
            elif line.strip():
                rows.append([float(v) for v in line.split()])
    a = np.array(rows)
    return {"r": a[:, 0], "pmf_kT": a[:, 1], "pmf_kj_mol": a[:, 2],
            "sd_kT": a[:, 3], "n": a[:, 4].astype(int), **head}


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
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


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

"""Potential of mean force of Na+ Cl- in TIP3P along the ion-ion distance.

The analysis behind the bundled PMF table (binless WHAM, the radial PMF and
its landmarks, the table's reader and writer). ``python scripts/nacl_pmf.py``
(in the source tree, outside the package) runs the umbrella sampling on the
bundled box (:func:`mda_rcxai.systems.nacl_water`) with these functions and
writes

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

import re

import numpy as np
import openmm.unit as unit
from scipy.special import logsumexp as _logsumexp

from ..data import NACL_PMF_TXT as OUT_TXT
from ..exceptions import InputError
from ..fileio import atomic_write

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
KT_300 = (unit.MOLAR_GAS_CONSTANT_R * 300.0 * unit.kelvin).value_in_unit(unit.kilojoule_per_mole)


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
        "# made by scripts/nacl_pmf.py: " + meta,
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
    atomic_write(path, "\n".join(lines) + "\n")


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

"""The committor test: are configurations the model puts at p_B ~ 1/2 transition states?

The standard check of a reaction coordinate (Geissler, Dellago and Chandler,
J. Phys. Chem. B 103, 3706 (1999); Peters, Annu. Rev. Phys. Chem. 67, 669
(2016)): take configurations that were not used for training and whose
predicted committor lies in a window around 1/2, shoot fresh trajectories
from each, and look at the histogram of the measured p_B. A good coordinate
gives a histogram peaked at 1/2, as wide as the shot noise and the window
allow; a poor one gives a flat or U-shaped histogram (the configurations
commit to A or B although the model calls them transition states).

:func:`committor_test` picks the configurations and shoots
(:func:`~mda_rcxai.sampling.run_committor`); :func:`committor_verdict` is the
statistics alone, on shot counts, so it can be tested and reused.

The committor test of a naive coordinate
----------------------------------------
The question a user brings is comparative: is the learned coordinate better
than the one they would have guessed (alanine dipeptide: phi; NaCl in water:
the Na-Cl distance)? Geissler, Dellago and Chandler found that
configurations at the barrier top of the interionic distance have committors
spread from 0 to 1. :func:`fit_naive_coordinate` fits the committor on the
naive coordinate alone, ``p_B = (1 + tanh(w . x + c))/2`` (for one feature,
its isocommittor level ``x* = -c/w`` is the barrier top along it), and
:func:`naive_committor_test` runs the same test, with the same criterion, on
the unseen candidates whose *naive* p_B lies in the window: the two
histograms and verdicts side by side answer the question.

The verdict (``alpha = 0.01``, window ``[lo, hi]``, default [0.4, 0.6])
------------------------------------------------------------------------
The null hypothesis is that every tested configuration's true p_B lies in the
window (uniformly), and each shot is an independent Bernoulli trial, so the
counts follow the binomial spread for that many shots. Three checks:

1. *Centre*: the 95 % confidence interval of the mean measured p_B (Student
   t, from the observed spread between configurations, which contains the
   binomial noise) must overlap the window.
2. *Committed configurations*: the number of configurations measured below
   0.1 or above 0.9 must not exceed what the null allows (exact
   Poisson-binomial upper tail, each configuration with its own number of
   shots; p-value >= alpha).
3. *Spread*: the histogram must not be wider than the null allows. A
   one-sided chi-square dispersion test: ``X2 = sum_i (p_i - mean)^2 /
   s_i^2`` with ``s_i^2 = (hi - lo)^2/12 + E[p(1-p)]/N_i`` (the variance of a
   uniform p_B in the window plus the binomial variance for ``N_i`` decided
   shots), compared with chi-square on ``n - 1`` degrees of freedom;
   p-value >= alpha. (A histogram narrower than expected is no evidence
   against a transition-state ensemble, so only the upper tail counts.)

"fail" if any check fails; "inconclusive" with fewer than
``min_configurations`` (5) configurations that have decided shots, or when
the confidence interval of the mean is wider than 0.4 (too few
configurations or shots to tell); otherwise "pass". The result also holds the
histogram expected if each configuration's true p_B equalled its
*prediction* (for plots) and the chi-square p-value against it
(``calibration_p_value``, information only: a model is rarely calibrated to
the shot-noise level, and the test of a transition-state ensemble is about
the window, not the exact value).

Units: positions in Angstrom (as everywhere outside the OpenMM engine).

(About 740 lines: the learned and the naive coordinate's committor tests share
the candidate choice, the shooting and the verdict, so the naive fit sits
beside them; half the length is docstrings.)
Imports no torch: give the model's prediction as an array or a callable.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .._deprecation import deprecated_alias, renamed_keywords
from ..exceptions import InputError, InputTypeError

__all__ = ["CommittorTestResult", "committor_test", "committor_verdict", "BIN_EDGES",
           "NaiveCoordinate", "fit_naive_coordinate", "naive_committor_test"]

#: Bin edges of the p_B histogram (10 bins; 1.0 falls in the last bin).
BIN_EDGES = np.linspace(0.0, 1.0, 11)

_COMMITTED = (0.1, 0.9)
_N_GRID = 201  # points on the window for the uniform-null integrals


@dataclass(frozen=True)
class CommittorTestResult:
    """Outcome of a committor test: counts, histogram, summary, verdict.

    Attributes
    ----------
    verdict : str
        ``"pass"``, ``"fail"`` or ``"inconclusive"``.
    criterion : str
        The rule, in words (the same text for every result).
    reason : str
        Which check decided, with its numbers.
    window : tuple of float
        Predicted-p_B window of the tested configurations.
    indices : numpy.ndarray of int
        Rows of the ``positions`` given to :func:`committor_test` that were
        shot (empty for :func:`committor_verdict` on counts).
    predicted_p_B, n_A, n_B, n_undecided, p_B : numpy.ndarray
        Per tested configuration; ``p_B = n_B / (n_A + n_B)`` (NaN without
        decided shots).
    bin_edges, histogram : numpy.ndarray
        Histogram of the measured p_B (configurations with decided shots).
    expected_histogram : numpy.ndarray
        Expected counts per bin if each configuration's true p_B equals its
        prediction (binomial spread for its number of shots).
    expected_histogram_window : numpy.ndarray
        Expected counts per bin under the null of the verdict (true p_B
        uniform in ``window``).
    n_configurations : int
        Configurations with at least one decided shot.
    mean_p_B, std_p_B : float
        Mean and standard deviation (``ddof=1``) of the measured p_B.
    ci95 : tuple of float
        95 % confidence interval of the mean.
    expected_std_p_B : float
        Standard deviation expected under the verdict's null.
    fraction_in_30_70 : float
        Fraction of configurations measured in [0.3, 0.7].
    n_committed : int
        Configurations measured below 0.1 or above 0.9.
    committed_p_value : float
        Tail probability of ``n_committed`` under the null.
    chi2, chi2_dof, chi2_p_value : float, int, float
        The dispersion test of the spread (check 3).
    calibration_p_value : float
        Binned chi-square p-value of the histogram against
        ``expected_histogram`` (information only; NaN when pooling leaves
        fewer than two bins).
    dataset : CommittorDataset or None
        The fresh shots (from :func:`committor_test`).
    coordinate : dict or None
        What was tested, as given to :func:`committor_test` (e.g.
        ``{"kind": "learned"}``; :func:`naive_committor_test` stores
        :meth:`NaiveCoordinate.to_dict`).

    The 0.x attribute names ``predicted_pB``, ``mean_pB``, ``std_pB`` and
    ``expected_std_pB`` still read the fields above, with a
    DeprecationWarning, for one release.
    """

    verdict: str
    criterion: str
    reason: str
    window: tuple
    indices: np.ndarray
    predicted_p_B: np.ndarray
    n_A: np.ndarray
    n_B: np.ndarray
    n_undecided: np.ndarray
    p_B: np.ndarray
    bin_edges: np.ndarray
    histogram: np.ndarray
    expected_histogram: np.ndarray
    expected_histogram_window: np.ndarray
    n_configurations: int
    mean_p_B: float
    std_p_B: float
    ci95: tuple
    expected_std_p_B: float
    fraction_in_30_70: float
    n_committed: int
    committed_p_value: float
    chi2: float
    chi2_dof: int
    chi2_p_value: float
    calibration_p_value: float
    dataset: object = field(default=None, repr=False, compare=False)
    coordinate: dict = None

    # the 0.x spellings, for one release (not fields: to_dict writes the new keys only)
    predicted_pB = deprecated_alias("predicted_p_B", "predicted_pB")
    mean_pB = deprecated_alias("mean_p_B", "mean_pB")
    std_pB = deprecated_alias("std_p_B", "std_pB")
    expected_std_pB = deprecated_alias("expected_std_p_B", "expected_std_pB")

    def summary(self):
        """One line for logs and reports.

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.sampling.validation import committor_verdict
        >>> r = committor_verdict(np.full(20, 10), np.full(20, 10), np.full(20, 0.5))
        >>> r.summary().split(":")[0]
        'committor test pass'
        """
        lo, hi = self.ci95
        return (f"committor test {self.verdict}: {self.n_configurations} configurations "
                f"predicted in [{self.window[0]:g}, {self.window[1]:g}], measured p_B "
                f"{self.mean_p_B:.2f} +- {self.std_p_B:.2f} (95 % CI of the mean "
                f"{lo:.2f}-{hi:.2f}), {100 * self.fraction_in_30_70:.0f} % in [0.3, 0.7], "
                f"{self.n_committed} committed; {self.reason}")

    def to_dict(self):
        """Numbers and lists only (JSON-ready), without the dataset."""
        out = {}
        for k, v in self.__dict__.items():
            if k == "dataset":
                continue
            if isinstance(v, np.ndarray):
                v = [None if (isinstance(x, float) and np.isnan(x)) else x for x in v.tolist()]
            elif isinstance(v, float) and np.isnan(v):
                v = None
            elif isinstance(v, tuple):
                v = list(v)
            out[k] = v
        return out


CRITERION = (
    "pass when (1) the 95 % confidence interval of the mean measured p_B overlaps the "
    "window, (2) no more configurations are committed (p_B < 0.1 or > 0.9) than binomial "
    "shot noise explains if every true p_B lies in the window (exact tail p >= 0.01), and "
    "(3) the spread of p_B is not wider than that null's binomial + in-window spread "
    "(one-sided chi-square dispersion test, p >= 0.01); fail if any does not; "
    "inconclusive with fewer than {min_n} configurations "
    "or a confidence interval of the mean wider than 0.4")


def _binom_pmf(N, p):
    """pmf of Binomial(N, p) over k = 0..N for each p (array), shape (len(p), N+1)."""
    from scipy.stats import binom

    k = np.arange(N + 1)
    return binom.pmf(k[None, :], N, np.asarray(p, dtype=float)[:, None])


def _bin_of(values):
    idx = np.searchsorted(BIN_EDGES, values, side="right") - 1
    return np.clip(idx, 0, len(BIN_EDGES) - 2)


def _expected_hist(shots, p_of_config):
    """Expected histogram of k/N when configuration i has true p distributed as p_of_config[i].

    ``p_of_config`` : list of arrays of p values (equal weights) per configuration.
    Also returns the probability of each configuration being "committed".
    """
    hist = np.zeros(len(BIN_EDGES) - 1)
    committed = np.zeros(len(shots))
    for i, (N, ps) in enumerate(zip(shots, p_of_config)):
        N = int(N)
        pmf = _binom_pmf(N, ps).mean(axis=0)  # mixture over p
        vals = np.arange(N + 1) / N
        np.add.at(hist, _bin_of(vals), pmf)
        committed[i] = pmf[(vals < _COMMITTED[0]) | (vals > _COMMITTED[1])].sum()
    return hist, committed


def _poisson_binomial_sf(probs, k):
    """P(K >= k) for K a sum of independent Bernoulli(probs)."""
    dist = np.zeros(len(probs) + 1)
    dist[0] = 1.0
    for p in probs:
        dist[1:] = dist[1:] * (1 - p) + dist[:-1] * p
        dist[0] *= (1 - p)
    return float(dist[k:].sum())


def _chi2(observed, expected):
    """Pool adjacent bins to expected >= 5; return (chi2, dof, p) or NaNs."""
    from scipy.stats import chi2 as chi2_dist

    obs_p, exp_p, o, e = [], [], 0.0, 0.0
    for ob, ex in zip(observed, expected):
        o += ob
        e += ex
        if e >= 5:
            obs_p.append(o)
            exp_p.append(e)
            o = e = 0.0
    if e > 0 or o > 0:
        if exp_p:
            obs_p[-1] += o
            exp_p[-1] += e
        else:
            obs_p.append(o)
            exp_p.append(e)
    if len(exp_p) < 2:
        return np.nan, 0, np.nan
    obs_p, exp_p = np.array(obs_p), np.array(exp_p)
    stat = float(((obs_p - exp_p) ** 2 / exp_p).sum())
    dof = len(exp_p) - 1
    return stat, dof, float(chi2_dist.sf(stat, dof))


def _check_window(window):
    try:
        lo, hi = (float(w) for w in window)
    except (TypeError, ValueError):
        raise InputTypeError(f"window={window!r} must be (low, high) p_B bounds, e.g. "
                             "(0.4, 0.6)") from None
    if not 0.0 <= lo < hi <= 1.0:
        raise InputError(f"window={window!r} must satisfy 0 <= low < high <= 1, e.g. (0.4, 0.6)")
    return lo, hi


@renamed_keywords(predicted_pB="predicted_p_B")
def committor_verdict(n_A, n_B, predicted_p_B, window=(0.4, 0.6), *, n_undecided=None,
                      min_configurations=5, alpha=0.01, indices=None, dataset=None):
    """The statistics of the committor test on shot counts (see the module docstring).

    Parameters
    ----------
    n_A, n_B : array_like of int, shape (n,)
        Fresh shots from each tested configuration that ended in A and B.
    predicted_p_B : array_like, shape (n,)
        The model's p_B of each configuration (``predicted_pB=``, the old
        spelling, still works with a DeprecationWarning).
    window : tuple of float, default (0.4, 0.6)
        The predicted-p_B window the configurations were chosen from.
    n_undecided : array_like of int, optional
        Shots that reached neither state (reported, not used).
    min_configurations : int, default 5
        Fewer configurations with decided shots give "inconclusive".
    alpha : float, default 0.01
        Significance level of the committed-count and histogram tests.
    indices, dataset : optional
        Stored in the result as they are.

    Returns
    -------
    CommittorTestResult

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.sampling import committor_verdict
    >>> rng = np.random.default_rng(0)
    >>> n_B = rng.binomial(20, 0.5, size=30)
    >>> committor_verdict(20 - n_B, n_B, np.full(30, 0.5)).verdict
    'pass'
    >>> n_B = rng.binomial(20, np.r_[np.full(15, 0.05), np.full(15, 0.95)])
    >>> committor_verdict(20 - n_B, n_B, np.full(30, 0.5)).verdict
    'fail'
    """
    from scipy.stats import t as t_dist

    lo, hi = _check_window(window)
    a = np.asarray(n_A, dtype=float).reshape(-1)
    b = np.asarray(n_B, dtype=float).reshape(-1)
    pred = np.asarray(predicted_p_B, dtype=float).reshape(-1)
    if not (len(a) == len(b) == len(pred)):
        raise InputError(f"n_A, n_B and predicted_p_B have {len(a)}, {len(b)} and {len(pred)} "
                         "values; give one per tested configuration")
    if (a < 0).any() or (b < 0).any() or not np.isfinite(np.r_[a, b]).all():
        raise InputError("n_A and n_B must be finite shot counts >= 0")
    if len(pred) and (not np.isfinite(pred).all() or (pred < 0).any() or (pred > 1).any()):
        raise InputError("predicted_p_B must lie in [0, 1]; pass p_B, not q")
    und = (np.zeros(len(a)) if n_undecided is None
           else np.asarray(n_undecided, dtype=float).reshape(-1))
    shots = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(shots > 0, b / np.maximum(shots, 1), np.nan)
    used = shots > 0
    n = int(used.sum())
    pu, Nu, predu = p[used], shots[used].astype(int), pred[used]
    hist = np.bincount(_bin_of(pu), minlength=len(BIN_EDGES) - 1).astype(float) if n else \
        np.zeros(len(BIN_EDGES) - 1)
    grid = np.linspace(lo, hi, _N_GRID)
    exp_pred, _ = _expected_hist(Nu, [np.array([x]) for x in predu])
    exp_win, p_comm = _expected_hist(Nu, [grid] * n)
    nan = float("nan")
    mean = float(pu.mean()) if n else nan
    std = float(pu.std(ddof=1)) if n > 1 else nan
    if n > 1:
        half = float(t_dist.ppf(0.975, n - 1) * std / np.sqrt(n))
        ci = (mean - half, mean + half)
    else:
        half, ci = nan, (nan, nan)
    # spread expected under the window null: between (uniform) + binomial
    if n:
        var_between = (hi - lo) ** 2 / 12.0
        e_pq = float(np.mean((grid * (1 - grid))))
        exp_std = float(np.sqrt(var_between + np.mean(e_pq / Nu)))
    else:
        exp_std = nan
    committed = int(((pu < _COMMITTED[0]) | (pu > _COMMITTED[1])).sum()) if n else 0
    comm_p = _poisson_binomial_sf(p_comm, committed) if n else nan
    if n > 1:
        from scipy.stats import chi2 as chi2_dist

        s2 = (hi - lo) ** 2 / 12.0 + e_pq / Nu
        chi2 = float(np.sum((pu - mean) ** 2 / s2))
        dof = n - 1
        chi2_p = float(chi2_dist.sf(chi2, dof))
    else:
        chi2, dof, chi2_p = nan, 0, nan
    _, _, calib_p = _chi2(hist, exp_pred) if n else (nan, 0, nan)
    frac = float(((pu >= 0.3) & (pu <= 0.7)).mean()) if n else nan

    if n < min_configurations:
        verdict, reason = "inconclusive", (f"only {n} configuration(s) with decided shots "
                                           f"(need {min_configurations})")
    elif ci[1] < lo or ci[0] > hi:
        verdict, reason = "fail", (f"the mean p_B {mean:.2f} (95 % CI {ci[0]:.2f}-{ci[1]:.2f}) "
                                   f"lies outside the window [{lo:g}, {hi:g}]")
    elif comm_p < alpha:
        verdict, reason = "fail", (f"{committed} of {n} configurations committed (p_B < 0.1 "
                                   f"or > 0.9); shot noise explains that with p = {comm_p:.2g}")
    elif np.isfinite(chi2_p) and chi2_p < alpha:
        verdict, reason = "fail", (f"the p_B spread {std:.2f} is wider than the binomial + "
                                   f"in-window spread {exp_std:.2f} (dispersion chi2 = "
                                   f"{chi2:.1f}, {dof} dof, p = {chi2_p:.2g})")
    elif 2 * half > 0.4:
        verdict, reason = "inconclusive", (f"the 95 % CI of the mean is {2 * half:.2f} wide; "
                                           "shoot more configurations or more shots")
    else:
        chi_txt = (f"spread {std:.2f} vs {exp_std:.2f} expected (p = {chi2_p:.2g})"
                   if np.isfinite(chi2_p) else "one configuration: no spread test")
        verdict, reason = "pass", (f"mean p_B {mean:.2f} (95 % CI {ci[0]:.2f}-{ci[1]:.2f}) "
                                   f"overlaps [{lo:g}, {hi:g}]; committed p = {comm_p:.2g}; "
                                   f"{chi_txt}")

    def ro(x, dtype=float):
        arr = np.array(x, dtype=dtype)
        arr.setflags(write=False)
        return arr

    return CommittorTestResult(
        verdict=verdict, criterion=CRITERION.format(min_n=min_configurations), reason=reason,
        window=(lo, hi), indices=ro([] if indices is None else indices, int),
        predicted_p_B=ro(pred), n_A=ro(a), n_B=ro(b), n_undecided=ro(und), p_B=ro(p),
        bin_edges=ro(BIN_EDGES), histogram=ro(hist), expected_histogram=ro(exp_pred),
        expected_histogram_window=ro(exp_win), n_configurations=n, mean_p_B=mean,
        std_p_B=std, ci95=ci, expected_std_p_B=exp_std, fraction_in_30_70=frac,
        n_committed=committed, committed_p_value=comm_p, chi2=chi2, chi2_dof=int(dof),
        chi2_p_value=chi2_p, calibration_p_value=calib_p, dataset=dataset)


@renamed_keywords(predicted_pB="predicted_p_B")
def committor_test(system, positions_angstrom, predicted_p_B, *, window=(0.4, 0.6),
                   n_configurations=20, n_shots=20, seed=0, exclude=None,
                   min_configurations=5, alpha=0.01, coordinate=None,
                   **run_committor_kwargs):
    """Shoot fresh trajectories from unseen configurations the model puts near p_B = 1/2.

    Parameters
    ----------
    system : MolecularSystem
        The system (:mod:`mda_rcxai.systems`), as for
        :func:`~mda_rcxai.sampling.run_committor`.
    positions_angstrom : array_like, shape (n, n_atoms, 3)
        Candidate configurations in Angstrom, e.g. TPS path frames.
    predicted_p_B : array_like, shape (n,), or callable
        The model's p_B of each candidate, or ``f(positions) -> p_B``
        (e.g. features + ``model.predict_proba``); ``predicted_pB=``, the
        old spelling, still works with a DeprecationWarning.
    window : tuple of float, default (0.4, 0.6)
        Candidates with predicted p_B in ``[low, high]`` are eligible.
    n_configurations : int, default 20
        Configurations to shoot from (a seeded random choice among the
        eligible ones; all of them if fewer).
    n_shots : int, default 20
        Fresh shots per configuration.
    seed : int, default 0
        Seeds the choice and the shots.
    exclude : array_like of int or bool, optional
        Candidate rows never to use (e.g. the training configurations), as
        indices or a boolean mask of length ``n``.
    min_configurations, alpha
        See :func:`committor_verdict`.
    coordinate : dict, optional
        A description of the coordinate tested (JSON-ready), stored in the
        result's ``coordinate``.
    **run_committor_kwargs
        Passed to :func:`~mda_rcxai.sampling.run_committor` (``out``,
        ``method``, ``temperature``, ``state_A``, ``state_B``, ``n_workers``,
        ``max_frames``, ``verbose`` (default False) ...).

    Returns
    -------
    CommittorTestResult
        With ``dataset`` (the fresh shots) and ``indices`` (rows of
        ``positions_angstrom``). No eligible candidate gives an
        "inconclusive" result without shooting.

    Examples
    --------
    >>> from mda_rcxai.sampling import committor_test
    >>> res = committor_test(system, frames, model_p_B, n_configurations=20,
    ...                      n_shots=20, exclude=train_rows, seed=1)  # doctest: +SKIP
    >>> res.verdict, res.summary()                                    # doctest: +SKIP
    """
    from .committor import run_committor

    lo, hi = _check_window(window)
    try:
        x = np.asarray(positions_angstrom, dtype=float)
    except (TypeError, ValueError):
        raise InputTypeError("positions_angstrom must be an array (n, n_atoms, 3) in "
                             "Angstrom") from None
    if x.ndim != 3 or x.shape[2] != 3 or len(x) == 0:
        raise InputError(f"positions_angstrom has shape {x.shape}; want (n, n_atoms, 3) in "
                         "Angstrom with n >= 1")
    for name, v in (("n_configurations", n_configurations), ("n_shots", n_shots)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{name}={v!r} must be an int >= 1")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed={seed!r} must be a non-negative int")
    pred = predicted_p_B(x) if callable(predicted_p_B) else predicted_p_B
    pred = np.asarray(pred, dtype=float).reshape(-1)
    if len(pred) != len(x):
        raise InputError(f"predicted_p_B has {len(pred)} values for {len(x)} configurations; "
                         "give one per configuration")
    if not np.isfinite(pred).all() or (pred < 0).any() or (pred > 1).any():
        raise InputError("predicted_p_B must lie in [0, 1]; pass p_B (model.predict_proba), "
                         "not q")
    allowed = np.ones(len(x), dtype=bool)
    if exclude is not None:
        ex = np.asarray(exclude)
        if ex.dtype == bool:
            if ex.shape != (len(x),):
                raise InputError(f"exclude is a mask of shape {ex.shape}; want ({len(x)},)")
            allowed &= ~ex
        else:
            ex = ex.astype(int).reshape(-1)
            if ex.size and (ex.min() < 0 or ex.max() >= len(x)):
                raise InputError(f"exclude has rows outside 0..{len(x) - 1}")
            allowed[ex] = False
    eligible = np.flatnonzero(allowed & (pred >= lo) & (pred <= hi))
    rng = np.random.default_rng(seed)
    if len(eligible) > n_configurations:
        chosen = np.sort(rng.choice(eligible, size=int(n_configurations), replace=False))
    else:
        chosen = eligible
    if len(chosen) == 0:
        res = committor_verdict([], [], [], (lo, hi), min_configurations=min_configurations,
                                alpha=alpha)
        reason = (f"no unseen configuration has predicted p_B in [{lo:g}, {hi:g}] "
                  f"({int(allowed.sum())} unseen of {len(x)}); nothing was shot")
        return CommittorTestResult(**{**res.__dict__, "reason": reason,
                                      "coordinate": coordinate})
    kwargs = {"verbose": False, **run_committor_kwargs}
    ds = run_committor(system, x[chosen], int(n_shots), seed=int(seed), **kwargs)
    res = committor_verdict(ds.n_A, ds.n_B, pred[chosen], (lo, hi), n_undecided=ds.n_undecided,
                            min_configurations=min_configurations, alpha=alpha,
                            indices=chosen, dataset=ds)
    return replace(res, coordinate=coordinate)


# ----------------------------------------------------------------------
# the naive coordinate
# ----------------------------------------------------------------------
@dataclass(frozen=True)
class NaiveCoordinate:
    """The committor fitted on a naive coordinate alone: ``p_B = (1 + tanh(w . x + c))/2``.

    Made by :func:`fit_naive_coordinate`; all in the units of the values it
    was fitted on (e.g. degrees for phi, Angstrom for a distance).

    Attributes
    ----------
    names : tuple of str
        The features that make up the coordinate.
    weights : numpy.ndarray, shape (n_features,)
        ``w``, per unit of each feature.
    intercept : float
        ``c``.
    level : float or None
        For one feature, the isocommittor level ``-c/w`` where the fitted
        p_B is 1/2 (the barrier top along the coordinate); None for a group.
    n_configurations : int
        Training configurations.
    n_shots : float
        Their decided shots.
    loglik : float
        Training log likelihood per shot (nats).
    """

    names: tuple
    weights: np.ndarray
    intercept: float
    level: object
    n_configurations: int
    n_shots: float
    loglik: float

    def _values(self, values):
        v = np.asarray(values, dtype=float)
        if v.ndim == 1 and len(self.weights) == 1:
            v = v[:, None]
        if v.ndim != 2 or v.shape[1] != len(self.weights):
            raise InputError(f"values have shape {v.shape}; want (n, {len(self.weights)}): "
                             f"one column per feature of {list(self.names)}")
        if not np.isfinite(v).all():
            raise InputError("values must be finite")
        return v

    def predict_q(self, values):
        """``q = w . x + c`` for each row of ``values`` (shape (n, n_features) or (n,))."""
        return self._values(values) @ self.weights + self.intercept

    def predict_proba(self, values):
        """``p_B = (1 + tanh q)/2`` for each row of ``values``.

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.sampling.validation import NaiveCoordinate
        >>> c = NaiveCoordinate(("d",), np.array([2.0]), -7.0, 3.5, 10, 100.0, -0.4)
        >>> c.predict_proba([3.5, 100.0]).round(3).tolist()
        [0.5, 1.0]
        """
        return 0.5 * (1.0 + np.tanh(self.predict_q(values)))

    def to_dict(self):
        """JSON-ready description (``kind`` = ``"naive"``)."""
        return {"kind": "naive", "names": list(self.names),
                "weights": [float(w) for w in self.weights],
                "intercept": float(self.intercept),
                "level": None if self.level is None else float(self.level),
                "n_configurations": int(self.n_configurations),
                "n_shots": float(self.n_shots), "loglik": float(self.loglik)}


def fit_naive_coordinate(values, n_A, n_B, names=None, *, ridge=1e-6):
    """Fit ``p_B = (1 + tanh(w . x + c))/2`` on a naive coordinate by maximum likelihood.

    The binomial likelihood of the shot counts (the same one the learned
    model maximises), on the naive feature(s) alone, with a tiny ridge on
    the standardised weights so that perfectly separated data still give a
    finite answer. The problem is convex: the optimum is unique and does not
    depend on a seed. For one feature the isocommittor level ``-c/w`` is the
    barrier top along it.

    Parameters
    ----------
    values : array_like, shape (n,) or (n, n_features)
        The naive coordinate of the training configurations.
    n_A, n_B : array_like, shape (n,)
        Their shot counts.
    names : sequence of str, optional
        Feature names (default ``x0, x1, ...``).
    ridge : float, default 1e-6
        Penalty on the squared standardised weights (per shot).

    Returns
    -------
    NaiveCoordinate

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.sampling.validation import fit_naive_coordinate
    >>> rng = np.random.default_rng(0)
    >>> d = rng.uniform(2.5, 4.5, 4000)                 # a distance, Angstrom
    >>> n_B = rng.binomial(10, (1 + np.tanh(3.0 * (d - 3.5))) / 2)
    >>> c = fit_naive_coordinate(d, 10 - n_B, n_B, ["d(Na-Cl)"])
    >>> round(c.level, 2), round(float(c.weights[0]), 1)
    (3.5, 3.0)
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[1] < 1:
        raise InputError(f"values have shape {v.shape}; want (n,) or (n, n_features)")
    a = np.asarray(n_A, dtype=float).reshape(-1)
    b = np.asarray(n_B, dtype=float).reshape(-1)
    if not (len(v) == len(a) == len(b)):
        raise InputError(f"values, n_A and n_B have {len(v)}, {len(a)} and {len(b)} rows; give "
                         "one per configuration")
    if not (np.isfinite(v).all() and np.isfinite(a).all() and np.isfinite(b).all()):
        raise InputError("values, n_A and n_B must be finite")
    if (a < 0).any() or (b < 0).any():
        raise InputError("n_A and n_B must be shot counts >= 0")
    keep = (a + b) > 0
    v, a, b = v[keep], a[keep], b[keep]
    shots = float((a + b).sum())
    if len(v) < 2 or b.sum() == 0 or a.sum() == 0:
        raise InputError("fit_naive_coordinate needs configurations with shots to both A and "
                         f"B ({len(v)} configurations, {a.sum():g} to A, {b.sum():g} to B)")
    d = v.shape[1]
    if names is None:
        names = [f"x{i}" for i in range(d)]
    names = tuple(str(n) for n in names)
    if len(names) != d:
        raise InputError(f"names has {len(names)} entries for {d} feature(s)")
    mean = v.mean(axis=0)
    scale = v.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = (v - mean) / scale

    def objective(theta):
        q2 = 2.0 * (z @ theta[:d] + theta[d])
        nll = -(b @ log_expit(q2) + a @ log_expit(-q2)) / shots
        g_q2 = -(b * expit(-q2) - a * expit(q2)) / shots  # d nll / d(2q)
        grad = np.empty(d + 1)
        grad[:d] = 2.0 * (z.T @ g_q2) + 2.0 * ridge * theta[:d]
        grad[d] = 2.0 * g_q2.sum()
        return nll + ridge * float(theta[:d] @ theta[:d]), grad

    res = minimize(objective, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 1000})
    w_std, c_std = res.x[:d], float(res.x[d])
    w = w_std / scale
    c = c_std - float(w @ mean)
    level = float(-c / w[0]) if d == 1 and w[0] != 0 else None
    loglik = -float(objective(np.r_[w_std, c_std])[0] - ridge * float(w_std @ w_std))
    return NaiveCoordinate(names=names, weights=w, intercept=c, level=level,
                           n_configurations=int(len(v)), n_shots=shots, loglik=loglik)


def naive_committor_test(system, positions_angstrom, naive_values, coordinate, **kwargs):
    """The committor test of a naive coordinate, with the same criterion as the learned one.

    Candidates are the configurations whose p_B *on the naive coordinate
    alone* (``coordinate.predict_proba(naive_values)``) lies in ``window``:
    for one feature, those within a band around its isocommittor level, the
    barrier top along it. They are shot and judged exactly as in
    :func:`committor_test`.

    Parameters
    ----------
    system : MolecularSystem
        As for :func:`committor_test`.
    positions_angstrom : array_like, shape (n, n_atoms, 3)
        Candidate configurations in Angstrom (e.g. unseen path frames).
    naive_values : array_like, shape (n,) or (n, n_features)
        The naive coordinate of each candidate.
    coordinate : NaiveCoordinate
        From :func:`fit_naive_coordinate` on the training configurations.
    **kwargs
        :func:`committor_test`'s keywords (``window``, ``n_configurations``,
        ``n_shots``, ``seed``, ``exclude``, ...) and
        :func:`~mda_rcxai.sampling.run_committor`'s.

    Returns
    -------
    CommittorTestResult
        ``coordinate`` holds :meth:`NaiveCoordinate.to_dict`;
        ``predicted_p_B`` the naive model's p_B of the shot configurations.

    Examples
    --------
    >>> from mda_rcxai.sampling.validation import fit_naive_coordinate, naive_committor_test
    >>> phi = fit_naive_coordinate(X_train[:, i_phi], n_A, n_B, ["phi"])   # doctest: +SKIP
    >>> res = naive_committor_test(system, frames, X_frames[:, i_phi], phi,
    ...                            exclude=train_rows, seed=2)               # doctest: +SKIP
    >>> res.verdict, res.coordinate["level"]                                 # doctest: +SKIP
    """
    if not isinstance(coordinate, NaiveCoordinate):
        raise InputTypeError("coordinate must be a NaiveCoordinate (fit_naive_coordinate(...)), "
                             f"got {type(coordinate).__name__}")
    if "coordinate" in kwargs:
        raise InputError("naive_committor_test stores the coordinate itself; do not pass "
                         "coordinate=")
    pred = coordinate.predict_proba(naive_values)
    return committor_test(system, positions_angstrom, pred, coordinate=coordinate.to_dict(),
                          **kwargs)

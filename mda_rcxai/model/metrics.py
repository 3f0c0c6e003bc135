"""Fit-quality measures of a committor model, computed in one place.

All take the predicted reaction coordinate ``q`` (``p_B = (1 + tanh q)/2``)
and the shot counts ``n_A``, ``n_B`` as NumPy arrays; the estimator, model
selection, the ensemble and the baselines all call these, so a held-out
number means the same thing everywhere.

Examples
--------
>>> import numpy as np
>>> from mda_rcxai.model.metrics import loglik_per_shot, constant_loglik, pb_rmse
>>> q = np.array([0.0, 0.0])
>>> round(loglik_per_shot(q, [1, 1], [1, 1]), 4)  # p_B = 1/2 scores log(1/2)
-0.6931
>>> round(constant_loglik([3, 1], [1, 3]), 4)
-0.6931
>>> pb_rmse(q, [1, 0], [1, 2])  # measured 0.5 and 1.0, predicted 0.5
0.3535533905932738
"""

from __future__ import annotations

import numpy as np

from .loss import binomial_nll

__all__ = ["p_B_from_q", "loglik_per_shot", "constant_loglik", "pb_rmse", "evaluate_q",
           "loglik_per_configuration", "compare_loglik", "VERDICTS"]

#: The words of :func:`compare_loglik`'s verdict, from the first model's side.
VERDICTS = ("win", "tie", "loss")


def p_B_from_q(q):
    """``p_B = (1 + tanh q) / 2`` as float64.

    Examples
    --------
    >>> from mda_rcxai.model.metrics import p_B_from_q
    >>> float(p_B_from_q(0.0))
    0.5
    """
    return 0.5 * (1.0 + np.tanh(np.asarray(q, dtype=np.float64)))


def loglik_per_shot(q, n_A, n_B, weight=None):
    """Mean binomial log likelihood per shot in nats (higher is better).

    ``-binomial_nll(q, n_A, n_B, reduction="mean")``: the binomial
    coefficient is left out, so ``log(1/2) = -0.693`` is what ``p_B = 1/2``
    everywhere scores and 0 is a perfect prediction of committed shots.
    """
    return -float(binomial_nll(np.asarray(q, dtype=np.float64), n_A, n_B,
                               reduction="mean", weight=weight))


def constant_loglik(n_A, n_B, p=None):
    """Log likelihood per shot of a constant ``p_B`` (the baseline to beat).

    Parameters
    ----------
    n_A, n_B : array_like
        Shot counts of the configurations scored.
    p : float, optional
        The constant; default the pooled fraction ``sum(n_B)/sum(n_A+n_B)``
        of these counts (in cross-validation pass the training folds' value).
    """
    a = np.asarray(n_A, dtype=np.float64)
    b = np.asarray(n_B, dtype=np.float64)
    shots = float((a + b).sum())
    if p is None:
        p = float(b.sum()) / shots
    p = min(max(float(p), 1e-12), 1.0 - 1e-12)
    return float((b.sum() * np.log(p) + a.sum() * np.log1p(-p)) / shots)


def pb_rmse(q, n_A, n_B):
    """RMSE between predicted ``p_B`` and measured ``n_B/(n_A+n_B)``.

    Unweighted over configurations; rows without shots are skipped. With
    ``N`` shots per configuration the shot noise alone contributes about
    ``sqrt(p(1-p)/N)``.
    """
    a = np.asarray(n_A, dtype=np.float64)
    b = np.asarray(n_B, dtype=np.float64)
    shots = a + b
    keep = shots > 0
    pred = p_B_from_q(q)
    return float(np.sqrt(np.mean((pred[keep] - b[keep] / shots[keep]) ** 2)))


def evaluate_q(q, n_A, n_B, weight=None):
    """The held-out summary used throughout: a dict of numbers.

    Returns
    -------
    dict
        ``"log_likelihood"`` (per shot, nats), ``"log_likelihood_constant"``
        (best constant ``p_B`` of these counts), ``"rmse_p_B"``,
        ``"n_configurations"``, ``"n_shots"``.
    """
    a = np.asarray(n_A, dtype=np.float64)
    b = np.asarray(n_B, dtype=np.float64)
    if weight is not None:
        w = np.asarray(weight, dtype=np.float64)
        aw, bw = a * w, b * w
    else:
        aw, bw = a, b
    return {
        "log_likelihood": loglik_per_shot(q, aw, bw),
        "log_likelihood_constant": constant_loglik(aw, bw),
        "rmse_p_B": pb_rmse(q, a, b),
        "n_configurations": int(len(a)),
        "n_shots": float((aw + bw).sum()),
    }


def loglik_per_configuration(q, n_A, n_B):
    """Log likelihood of each configuration's shots (nats, summed over its shots).

    ``n_B log p_B + n_A log(1 - p_B)`` with ``p_B = (1 + tanh q)/2``, i.e.
    ``-binomial_nll(q, n_A, n_B, reduction="none")``: the terms that
    :func:`loglik_per_shot` sums and divides by the number of shots.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.model.metrics import loglik_per_configuration
    >>> np.round(loglik_per_configuration([0.0, 0.0], [1, 2], [1, 0]), 4)  # 2 and 2 shots at 1/2
    array([-1.3863, -1.3863])
    """
    return -np.asarray(binomial_nll(np.asarray(q, dtype=np.float64), n_A, n_B,
                                    reduction="none"), dtype=np.float64)


def _check_level(level):
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or \
            not 0.0 < float(level) < 1.0:
        from ..exceptions import InputError
        raise InputError(f"level={level!r} must be a number in (0, 1), e.g. 0.95")
    return float(level)


def compare_loglik(loglik_a, loglik_b, shots, *, n_boot=2000, level=0.95, seed=0):
    """Held-out log likelihood per shot of model a minus model b, with a bootstrap interval.

    A paired bootstrap over configurations: the same configurations, each
    scored by both models out of sample (e.g. out-of-fold), are resampled
    with replacement ``n_boot`` times; each resample gives
    ``sum(loglik_a - loglik_b) / sum(shots)`` over its configurations, and the
    interval is the ``(1 - level)/2`` and ``(1 + level)/2`` percentiles of
    those (percentile bootstrap). Pairing removes the spread that both
    models share (easy and hard configurations), so the interval is about
    the difference, not about either model.

    Parameters
    ----------
    loglik_a, loglik_b : array_like, shape (n,)
        Per-configuration held-out log likelihoods (nats, summed over each
        configuration's shots; :func:`loglik_per_configuration`).
    shots : array_like, shape (n,)
        Decided shots of each configuration (``n_A + n_B``).
    n_boot : int, default 2000
        Bootstrap resamples.
    level : float, default 0.95
        Confidence level of the interval.
    seed : int, default 0
        Seeds the resampling (``numpy.random.default_rng(seed)``).

    Returns
    -------
    dict
        ``delta`` (a minus b, nats per shot, on all configurations),
        ``ci_low``, ``ci_high``, ``level``, ``verdict`` (from a's side:
        ``"win"`` when the whole interval lies above 0, ``"loss"`` when it
        lies below 0, else ``"tie"``), ``n_configurations``, ``n_shots``,
        ``n_boot``, ``seed``, ``method`` (``"paired bootstrap over
        configurations"``), and ``n_to_resolve``: the number of
        configurations (at the same shots per configuration) at which the
        interval's half-width, shrinking as ``1 / sqrt(n)``, would equal
        ``|delta|``, i.e. about where a difference of this size stops being
        a tie (``n * (half_width / |delta|)**2``, rounded up; ``None`` when
        ``delta`` is 0). It sizes a study; it does not promise the
        difference is real.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.model.metrics import compare_loglik
    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(-6.0, 1.0, 200)            # 10 shots per configuration
    >>> r = compare_loglik(base + 0.5, base, np.full(200, 10))
    >>> r["verdict"], round(r["delta"], 3)            # 0.5 nats per configuration better
    ('win', 0.05)
    >>> compare_loglik(base, base, np.full(200, 10))["verdict"]
    'tie'
    """
    from ..exceptions import InputError

    a = np.asarray(loglik_a, dtype=np.float64).reshape(-1)
    b = np.asarray(loglik_b, dtype=np.float64).reshape(-1)
    n_shots = np.asarray(shots, dtype=np.float64).reshape(-1)
    if not (len(a) == len(b) == len(n_shots)):
        raise InputError(f"loglik_a, loglik_b and shots have {len(a)}, {len(b)} and "
                         f"{len(n_shots)} values; give one per configuration")
    if len(a) < 2:
        raise InputError(f"compare_loglik needs at least 2 configurations, got {len(a)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(n_shots).all()):
        raise InputError("loglik_a, loglik_b and shots must be finite")
    if (n_shots < 0).any() or n_shots.sum() <= 0:
        raise InputError("shots must be >= 0 with a positive total")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
        raise InputError(f"n_boot={n_boot!r} must be an int >= 100")
    level = _check_level(level)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed={seed!r} must be a non-negative int")
    d = a - b
    n = len(d)
    rng = np.random.default_rng(int(seed))
    stats = np.empty(int(n_boot))
    chunk = max(1, 2_000_000 // n)  # resamples per block: bounded memory
    for start in range(0, int(n_boot), chunk):
        m = min(chunk, int(n_boot) - start)
        idx = rng.integers(0, n, size=(m, n))
        tot = n_shots[idx].sum(axis=1)
        stats[start:start + m] = d[idx].sum(axis=1) / np.where(tot > 0, tot, np.nan)
    stats = stats[np.isfinite(stats)]
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    delta = float(d.sum() / n_shots.sum())
    verdict = "win" if lo > 0 else ("loss" if hi < 0 else "tie")
    half = 0.5 * float(hi - lo)
    n_to_resolve = (int(np.ceil(n * (half / abs(delta)) ** 2)) if delta != 0 else None)
    return {"delta": delta, "ci_low": float(lo), "ci_high": float(hi), "level": level,
            "verdict": verdict, "n_configurations": int(n), "n_shots": float(n_shots.sum()),
            "n_boot": int(n_boot), "seed": int(seed),
            "method": "paired bootstrap over configurations",
            "n_to_resolve": n_to_resolve}

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

__all__ = ["p_B_from_q", "loglik_per_shot", "constant_loglik", "pb_rmse", "evaluate_q"]


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

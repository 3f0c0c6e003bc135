"""The binomial (cross-entropy) committor loss.

With the reaction coordinate ``q`` and ``p_B = (1 + tanh q) / 2`` one has
``p_B = sigmoid(2 q)`` and ``1 - p_B = sigmoid(-2 q)``, so the negative log
likelihood of ``n_B`` shots that reached B and ``n_A`` that reached A is

.. math::

    -\\log L = -\\left[n_B \\log\\sigma(2q) + n_A \\log\\sigma(-2q)\\right]
               \\;(-\\; \\log\\binom{n_A + n_B}{n_B}),

the loss of Jung, Covino and Hummer (AIMMD), Mori et al., J. Chem. Phys. 153,
054115 (2020) and Kikutsuji et al., J. Chem. Phys. 156, 154108 (2022).
Written with ``logsigmoid`` it stays finite and accurate for any ``|q|``.
The log binomial coefficient does not depend on ``q``; it is left out unless
``include_constant=True``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["binomial_nll"]

_REDUCTIONS = ("sum", "mean", "none")


def _as_tensor(value, like=None):
    if isinstance(value, torch.Tensor):
        return value
    dtype = like.dtype if isinstance(like, torch.Tensor) else torch.float64
    device = like.device if isinstance(like, torch.Tensor) else None
    return torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=dtype, device=device)


def binomial_nll(q, n_A, n_B, *, reduction="sum", include_constant=False, weight=None):
    """Negative log likelihood of committor shot counts given ``q``.

    Parameters
    ----------
    q : torch.Tensor or array_like, shape (n,) or (n, 1)
        Reaction coordinate (dimensionless); ``p_B = (1 + tanh q) / 2``.
    n_A, n_B : torch.Tensor or array_like, shape (n,)
        Number of shots from each configuration that ended in state A
        (reactant) and in state B (product). Non-integer values are allowed
        (e.g. ``n_B = p_B``, ``n_A = 1 - p_B`` gives the cross-entropy
        against measured ``p_B`` values).
    reduction : {"sum", "mean", "none"}, default "sum"
        ``"sum"`` over configurations, ``"mean"`` per shot (the sum divided
        by the total ``sum(n_A + n_B)``, weighted when ``weight`` is given),
        or ``"none"`` for one value per configuration.
    include_constant : bool, default False
        Add ``-log C(n_A + n_B, n_B)`` so the value is the exact binomial
        negative log likelihood. It does not depend on ``q`` and therefore
        does not change training; it is omitted by default (then the value
        is the cross-entropy of Mori et al. 2020 times the shot count).
    weight : torch.Tensor or array_like, shape (n,), optional
        Per-configuration weights multiplying each term.

    Returns
    -------
    torch.Tensor or numpy.ndarray or float
        The loss (dimensionless, in nats). A torch tensor (differentiable in
        ``q``) when ``q`` is a tensor, otherwise a NumPy float64 value or
        array.

    Notes
    -----
    ``-log L = -(n_B * logsigmoid(2q) + n_A * logsigmoid(-2q))``, finite for
    any finite ``q`` (also ``|q| = 50``, where ``p_B`` rounds to 0 or 1).

    Examples
    --------
    >>> import torch
    >>> from mda_rcxai.model import binomial_nll
    >>> q = torch.tensor([0.0, 50.0])
    >>> nll = binomial_nll(q, torch.tensor([1.0, 0.0]), torch.tensor([1.0, 3.0]),
    ...                    reduction="none")
    >>> [round(float(v), 4) for v in nll]  # 2 log 2, and ~0 for a sure B at q = 50
    [1.3863, 0.0]
    >>> round(float(binomial_nll([0.0], [2], [2], include_constant=True)), 4)  # -log(6/16)
    0.9808
    """
    if reduction not in _REDUCTIONS:
        from ..exceptions import InputError

        raise InputError(
            f"reduction={reduction!r} is not known; use one of {_REDUCTIONS}"
        )
    return_numpy = not isinstance(q, torch.Tensor)
    q = _as_tensor(q)
    if q.ndim == 2 and q.shape[1] == 1:
        q = q[:, 0]
    n_A = _as_tensor(n_A, q).to(q.dtype)
    n_B = _as_tensor(n_B, q).to(q.dtype)
    if not (q.shape == n_A.shape == n_B.shape):
        from ..exceptions import InputError

        raise InputError(
            f"q, n_A and n_B must have the same shape, got {tuple(q.shape)}, "
            f"{tuple(n_A.shape)} and {tuple(n_B.shape)}; pass one value per "
            "configuration"
        )
    two_q = 2.0 * q
    terms = -(n_B * F.logsigmoid(two_q) + n_A * F.logsigmoid(-two_q))
    if include_constant:
        n = n_A + n_B
        log_binom = torch.lgamma(n + 1) - torch.lgamma(n_A + 1) - torch.lgamma(n_B + 1)
        terms = terms - log_binom
    shots = n_A + n_B
    if weight is not None:
        weight = _as_tensor(weight, q).to(q.dtype)
        terms = terms * weight
        shots = shots * weight
    if reduction == "sum":
        out = terms.sum()
    elif reduction == "mean":
        total = shots.sum()
        out = terms.sum() / total if float(total) > 0 else terms.sum() * math.nan
    else:
        out = terms
    if return_numpy:
        out = out.detach().cpu().numpy()
        return float(out) if out.ndim == 0 else out
    return out

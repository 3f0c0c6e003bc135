import math

import numpy as np
import pytest
import torch

from mda_rcxai.exceptions import InputError
from mda_rcxai.model import binomial_nll


def analytic_nll(q, n_A, n_B, constant=False):
    p = (1 + math.tanh(q)) / 2
    value = -(n_B * math.log(p) + n_A * math.log(1 - p))
    if constant:
        value -= math.log(math.comb(n_A + n_B, n_B))
    return value


CASES = [(0.0, 1, 1), (0.3, 7, 3), (-1.2, 2, 8), (2.0, 0, 10), (-0.7, 5, 0), (1.0, 4, 6)]


@pytest.mark.parametrize("q,n_A,n_B", CASES)
@pytest.mark.parametrize("constant", [False, True])
def test_matches_analytic(q, n_A, n_B, constant):
    got = binomial_nll(torch.tensor([q], dtype=torch.float64), torch.tensor([float(n_A)]),
                       torch.tensor([float(n_B)]), include_constant=constant)
    assert got.item() == pytest.approx(analytic_nll(q, n_A, n_B, constant), rel=1e-12, abs=1e-12)


def test_reductions_and_numpy_input():
    q = np.array([c[0] for c in CASES])
    a = np.array([c[1] for c in CASES], dtype=float)
    b = np.array([c[2] for c in CASES], dtype=float)
    per = binomial_nll(q, a, b, reduction="none")
    assert isinstance(per, np.ndarray) and per.shape == (len(CASES),)
    expected = [analytic_nll(*c) for c in CASES]
    np.testing.assert_allclose(per, expected, rtol=1e-12)
    assert binomial_nll(q, a, b) == pytest.approx(sum(expected))
    assert binomial_nll(q, a, b, reduction="mean") == pytest.approx(sum(expected) / (a + b).sum())
    w = np.array([1.0, 2.0, 0.0, 1.0, 3.0, 0.5])
    assert binomial_nll(q, a, b, weight=w) == pytest.approx(float(np.dot(w, expected)))
    # (n, 1) q, as a network returns it
    assert binomial_nll(q[:, None], a, b) == pytest.approx(sum(expected))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_and_correct_at_large_q(dtype):
    q = torch.tensor([50.0, -50.0, 50.0, -50.0], dtype=dtype, requires_grad=True)
    n_A = torch.tensor([0.0, 3.0, 2.0, 0.0], dtype=dtype)
    n_B = torch.tensor([3.0, 0.0, 0.0, 2.0], dtype=dtype)
    per = binomial_nll(q, n_A, n_B, reduction="none")
    assert torch.isfinite(per).all()
    # the right outcome costs ~0, the wrong one 2|q| per shot
    np.testing.assert_allclose(per.detach().numpy(), [0.0, 0.0, 200.0, 200.0], atol=1e-4)
    per.sum().backward()
    assert torch.isfinite(q.grad).all()
    np.testing.assert_allclose(q.grad.numpy(), [0.0, 0.0, 4.0, -4.0], atol=1e-4)


def test_fractional_counts_give_cross_entropy():
    p_true = np.array([0.1, 0.5, 0.9])
    q = np.array([-0.5, 0.2, 1.0])
    p_hat = (1 + np.tanh(q)) / 2
    ce = -(p_true * np.log(p_hat) + (1 - p_true) * np.log(1 - p_hat))
    np.testing.assert_allclose(binomial_nll(q, 1 - p_true, p_true, reduction="none"), ce)


def test_bad_arguments():
    with pytest.raises(InputError, match="reduction"):
        binomial_nll([0.0], [1], [1], reduction="avg")
    with pytest.raises(InputError, match="same shape"):
        binomial_nll([0.0, 1.0], [1], [1])

"""The training loop of :class:`~mda_rcxai.model.CommittorModel`.

Two solvers on the same objective (binomial negative log likelihood per shot
plus ``weight_decay`` times a weight penalty, :func:`penalty`):

* ``"adam"``: mini-batches, one epoch = one pass over the training rows;
* ``"lbfgs"``: full-batch L-BFGS with a strong-Wolfe line search in
  float64, one epoch = up to 20 L-BFGS iterations; it stops when the
  penalised loss has converged (relative change below ``1e-9`` over an
  epoch that followed a restart of the curvature memory, or gradient below
  ``1e-7``). A stalled epoch first restarts L-BFGS from steepest descent:
  L-BFGS stops on a direction that is not a descent direction (curvature
  memory from another region), which left 1 of 5 seeds far from the
  optimum before the restart was added.

Both keep a per-epoch history and, with ``early_stopping``, restore the
weights of the best monitored epoch (validation loss, or the training loss
without a validation split).
"""

from __future__ import annotations

import contextlib
import copy
import math

import torch
from torch import nn

from ..exceptions import TrainingError
from .loss import binomial_nll

__all__ = ["torch_threads", "penalty", "train_network"]

_CONVERGED_RTOL = 1e-9
_CONVERGED_STREAK = 1
#: L-BFGS iterations per "epoch" of ``solver="lbfgs"``.
LBFGS_ITER_PER_EPOCH = 20
#: Training precision of ``solver="lbfgs"``.
LBFGS_DTYPE = torch.float64
_GRAD_TOL = 1e-7
_GROUP_EPS = 1e-8


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch CPU threads, then restore the setting."""
    if n_threads is None:
        yield
        return
    old = torch.get_num_threads()
    if old != n_threads:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)


def penalty(net, which="all"):
    """The weight penalty (never the biases), before the ``weight_decay`` factor.

    ``which="all"``: ``sum(W**2)`` over every ``nn.Linear`` layer (Mori et
    al. 2020); ``"input"``: ``sum(W**2)`` of the first layer only (the
    weights on the features); ``"group"``: the group lasso of the first
    layer, ``sum_j sqrt(sum_i W[i, j]**2 + eps)``, one group per input
    feature ``j`` (``eps = 1e-8`` keeps the gradient finite at zero).
    """
    if which == "input":
        return net[0].weight.square().sum()
    if which == "group":
        return (net[0].weight.square().sum(0) + _GROUP_EPS).sqrt().sum()
    return sum(m.weight.square().sum() for m in net if isinstance(m, nn.Linear))


def train_network(net, Xs, a, b, train_idx, val_idx, *, solver, learning_rate, weight_decay,
                  max_epochs, batch_size, stop, patience, rng, device, verbose, label,
                  penalty_on="all"):
    """Optimise ``net`` in place on standardised features ``Xs``.

    Returns ``(history, best_epoch, n_epochs)``; ``net`` holds the kept
    weights (best epoch with ``stop``, else the last), on ``device``.
    """
    from tqdm.auto import tqdm

    dtype = LBFGS_DTYPE if solver == "lbfgs" else torch.float32
    net.to(device=device, dtype=dtype)

    def tensor(arr):
        return torch.as_tensor(arr, dtype=dtype, device=device)

    Xt, At, Bt = tensor(Xs[train_idx]), tensor(a[train_idx]), tensor(b[train_idx])
    shots_train = float((a[train_idx] + b[train_idx]).sum())
    n_val = len(val_idx)
    shots_val = float((a[val_idx] + b[val_idx]).sum()) if n_val else 0.0
    if n_val and shots_val > 0:
        Xv, Av, Bv = tensor(Xs[val_idx]), tensor(a[val_idx]), tensor(b[val_idx])
    else:
        n_val = 0
    wd = float(weight_decay)
    n_train = len(train_idx)
    history = {"train_loss": [], "val_loss": []}
    best, best_epoch, since_best = math.inf, 0, 0
    best_state = copy.deepcopy(net.state_dict())

    if solver == "lbfgs":
        opt = torch.optim.LBFGS(net.parameters(), lr=1.0, max_iter=LBFGS_ITER_PER_EPOCH,
                                history_size=20, line_search_fn="strong_wolfe",
                                tolerance_grad=_GRAD_TOL, tolerance_change=1e-10)

        def closure():
            opt.zero_grad(set_to_none=True)
            loss = binomial_nll(net(Xt)[:, 0], At, Bt, reduction="sum") / shots_train
            if wd > 0:
                loss = loss + wd * penalty(net, penalty_on)
            loss.backward()
            return loss
    else:
        opt = torch.optim.Adam(net.parameters(), lr=float(learning_rate))
        bs = n_train if batch_size is None else min(int(batch_size), n_train)

    bar = tqdm(range(int(max_epochs)), desc=label, disable=not verbose, unit="epoch")
    epoch, last_obj, streak, fresh = -1, None, 0, False
    for epoch in bar:
        net.train()
        converged = False
        if solver == "lbfgs":
            obj = float(opt.step(closure).detach())
            with torch.no_grad():
                train_loss = float(binomial_nll(net(Xt)[:, 0], At, Bt)) / shots_train
                new_obj = train_loss + (wd * float(penalty(net, penalty_on)) if wd > 0 else 0.0)
            stalled = last_obj is not None and abs(last_obj - new_obj) <= _CONVERGED_RTOL * (
                1.0 + abs(new_obj))
            if stalled and not fresh:
                # L-BFGS can stall on a direction that is not a descent direction
                # (curvature memory from another region): restart from steepest descent
                opt.state.clear()
                fresh, streak = True, 0
            elif stalled:
                streak += 1
            else:
                streak, fresh = 0, False
            last_obj = new_obj
            grads = [p.grad for p in net.parameters() if p.grad is not None]
            gmax = max((float(g.abs().max()) for g in grads), default=0.0)
            converged = streak >= _CONVERGED_STREAK or gmax <= _GRAD_TOL
            if not math.isfinite(obj):
                train_loss = obj
        else:
            order = torch.as_tensor(rng.permutation(n_train), device=device)
            total = 0.0
            for start in range(0, n_train, bs):
                idx = order[start:start + bs]
                ab, bb = At[idx], Bt[idx]
                nll = binomial_nll(net(Xt[idx])[:, 0], ab, bb, reduction="sum")
                loss = nll / (ab + bb).sum().clamp_min(1e-12)
                if wd > 0:
                    loss = loss + wd * penalty(net, penalty_on)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(nll.detach())
            train_loss = total / shots_train
        if not math.isfinite(train_loss):
            bar.close()
            raise TrainingError(
                f"the training loss became non-finite at epoch {epoch}; lower "
                f"learning_rate (now {learning_rate}) or check X for extreme values")
        history["train_loss"].append(train_loss)
        if n_val:
            net.eval()
            with torch.no_grad():
                val_loss = float(binomial_nll(net(Xv)[:, 0], Av, Bv)) / shots_val
            history["val_loss"].append(val_loss)
            monitor = val_loss
        else:
            monitor = train_loss if solver == "adam" else new_obj
        if verbose:
            bar.set_postfix(train=f"{train_loss:.4f}",
                            val=f"{monitor:.4f}" if n_val else "-", refresh=False)
        if monitor < best:
            best, best_epoch, since_best = monitor, epoch, 0
            if stop:
                best_state = copy.deepcopy(net.state_dict())
        else:
            since_best += 1
            if stop and since_best >= patience:
                break
        if converged:
            break
    bar.close()
    if stop:
        net.load_state_dict(best_state)
    else:
        best_epoch = epoch
    return history, int(best_epoch), int(epoch + 1)

"""The committor estimator: a neural-network reaction coordinate ``q(x)``.

:class:`CommittorModel` is a small multilayer perceptron ``q(x)`` with
``p_B(x) = (1 + tanh q(x)) / 2``, trained by maximising the binomial
likelihood of the committor shot counts (Mori et al., J. Chem. Phys. 153,
054115 (2020); Kikutsuji et al., J. Chem. Phys. 156, 154108 (2022)) with a
penalty on the weights (by default a group lasso on the input layer). It is
a scikit-learn estimator (``BaseEstimator``: ``get_params``/``set_params``/
``clone`` work): hyper-parameters in the constructor, ``fit`` returns
``self``, fitted state in attributes ending in ``_``.

The module is split by job: the training loop (early stopping, both solvers)
lives in :mod:`mda_rcxai.model._training`, saving/loading/TorchScript in
:mod:`mda_rcxai.model._io`, the fit-quality numbers in
:mod:`mda_rcxai.model.metrics`. The exception classes live in
:mod:`mda_rcxai.exceptions` and are re-exported here.

(About 870 lines: one estimator class, whose training, file format and
metrics already live in the modules above; about 530 of them are the
numpydoc of its parameters and public methods, with their Examples.)
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import nn

from ..exceptions import (InputError, InputTypeError, ModelFileError, ModelFileNotFoundError,
                          TrainingError)
from . import _io
from ._training import penalty, torch_threads, train_network
from ._validation import NotFittedError, check_feature_names, check_targets, check_X
from .metrics import evaluate_q, loglik_per_shot, p_B_from_q, pb_rmse

__all__ = [
    "CommittorModel",
    "ModelFileError",
    "ModelFileNotFoundError",
    "TrainingError",
    "ACTIVATIONS",
    "SOLVERS",
    "PENALTIES",
]

#: Activation names accepted by ``CommittorModel(activation=...)``; all are
#: nn.Module layers that shap's DeepExplainer (0.49) knows.
ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
}

#: Optimisers accepted by ``CommittorModel(solver=...)``.
SOLVERS = ("adam", "lbfgs")

#: Layers whose weights ``weight_decay`` penalises (``CommittorModel(penalty=...)``).
PENALTIES = ("all", "input", "group")


class CommittorModel(BaseEstimator):
    """Neural-network reaction coordinate ``q(x)`` fitted to committor data.

    ``q`` is a multilayer perceptron on standardised inputs, and
    ``p_B(x) = (1 + tanh q(x)) / 2 = sigmoid(2 q(x))``. Training maximises
    the binomial likelihood of the shot counts (equivalently, minimises the
    cross-entropy of Mori et al. 2020 and Kikutsuji et al. 2022) plus a
    penalty on the weights.

    The defaults are the fit :class:`CommittorModelCV` scores and chooses
    most often on the synthetic problems of ``benchmarks/penalty.py``
    (:data:`~mda_rcxai.model.DEFAULT_FIT_PARAMS`): full-batch L-BFGS on all
    configurations (no validation split) of the likelihood with a group
    lasso on the input layer, ``weight_decay=1e-2``, one hidden layer of 32,
    at most 200 L-BFGS iterations (the measured quality is in
    ``docs/validation.rst``). For data unlike those problems, let
    :class:`CommittorModelCV` choose. ``solver="adam"`` with
    ``validation_fraction=0.2`` and ``max_epochs=500`` gives mini-batch Adam
    with early stopping on a random validation split (the earlier
    defaults).

    Parameters
    ----------
    hidden_layers : sequence of int, default (32,)
        Widths of the hidden layers; ``()`` gives a linear ``q``.
    activation : str, default "tanh"
        One of ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"elu"``,
        ``"selu"``, ``"gelu"``, ``"sigmoid"``, ``"softplus"`` (all supported
        by ``shap.DeepExplainer``).
    weight_decay : float, default 1e-2
        Strength of the weight penalty (``penalty``; never on the biases),
        added to the per-shot negative log likelihood: ``weight_decay *
        sum(W**2)`` for the L2 penalties (Mori et al. 2020), ``weight_decay *
        sum_j ||W[:, j]||`` for the group lasso. With a few hundred
        configurations and ~45 inputs the network overfits quickly without
        it.
    learning_rate : float, default 1e-3
        Adam learning rate (unused by ``solver="lbfgs"``).
    max_epochs : int, default 10
        Maximum number of passes over the training set (``"adam"``; Adam
        needs hundreds, e.g. 500), or of blocks of 20 L-BFGS iterations
        (``"lbfgs"``: 10 is 200 iterations).
    batch_size : int or None, default 64
        Configurations per mini-batch; ``None`` uses the full training set
        (unused by ``solver="lbfgs"``, which is full-batch).
    validation_fraction : float, default 0.0
        Fraction of configurations held out (random, seeded) for early
        stopping and ``validation_metrics_``; ``0`` trains on everything
        (then ``validation_metrics_`` is None: use
        :class:`CommittorModelCV`'s ``cv_metrics_`` for held-out numbers).
    early_stopping : bool or int, default True
        Stop when the validation loss (the training loss when
        ``validation_fraction=0``) has not improved for ``patience`` epochs
        and restore the weights of the best epoch. An int ``> 0`` switches it
        on with that patience (overriding ``patience``); ``False`` or ``0``
        trains for ``max_epochs`` and keeps the last weights.
    patience : int, default 50
        Epochs without improvement before stopping (when
        ``early_stopping=True``).
    seed : int or None, default None
        Seeds weight initialisation, the validation split and the batch
        order. The same seed and data give the same model on the same
        machine. ``None`` draws a seed, stored in ``seed_``.
    device : str, default "cpu"
        Torch device for training, e.g. ``"cuda"``. Predictions and exported
        modules are returned on / for the CPU.
    n_threads : int or None, default 1
        Torch CPU threads used during ``fit`` and prediction (restored
        afterwards); one thread per process is fastest for nets this small.
        ``None`` leaves torch's setting alone.
    verbose : bool, default False
        Show a tqdm progress bar over epochs.
    solver : {"adam", "lbfgs"}, default "lbfgs"
        ``"adam"``: mini-batch Adam, early stopping on the validation split.
        ``"lbfgs"``: full-batch L-BFGS (strong-Wolfe line search, float64)
        until the penalised loss converges; an epoch is 20 iterations. With
        ``validation_fraction=0`` it fits the L2-penalised likelihood on all
        data, so ``weight_decay`` alone sets the smoothness: the setting
        :class:`CommittorModelCV` selects by cross-validation (on the
        synthetic problem of issue 14 it reached held-out corr(q) 0.985 at
        ``weight_decay=3e-3`` where Adam with early stopping reached 0.96-0.97).
    penalty : {"all", "input", "group"}, default "group"
        Which weights ``weight_decay`` penalises, and how:

        * ``"all"``: L2 on every weight matrix (Mori et al. 2020);
        * ``"input"``: L2 on the input layer's weights only (the weights on
          the features). It shrinks uninformative features without
          shrinking the amplitude of ``q``, so ``p_B`` is not pulled towards
          1/2;
        * ``"group"``: the group lasso of the input layer (Yuan & Lin, J. R.
          Stat. Soc. B 68, 49 (2006); for networks, Scardapane et al.,
          Neurocomputing 241, 81 (2017)): ``sum_j ||W[:, j]||``, one group
          per feature. It sets the weights of uninformative features to
          (nearly) zero instead of making them small, so ``q`` uses few
          features and correlated copies of an informative one do not share
          its weight. The default, here and in :class:`CommittorModelCV`.

        Measured (L-BFGS, the best weight decay of each by 5-fold CV,
        held-out p_B RMSE against the true p_B, 30 or 15 standard-normal
        features of which 2-3 informative): with 4 shots per configuration
        ``"group"`` gave 0.025-0.041 on 9 problems where ``"input"`` gave
        0.038-0.083; with 6-12 shots 0.018-0.035 against 0.024-0.048;
        ``"all"`` was worse than ``"input"`` (0.055-0.066 at 6 shots).
        Caveat for ``"input"`` and ``"group"``: they are not
        scale-invariant. Shrinking the input weights and growing the
        (unpenalised) later ones keeps ``q`` nearly linear at a smaller
        penalty, so a very large ``weight_decay`` drives the fit towards a
        rescaled linear ``q``, not towards a constant, and the number of
        iterations matters. Treat ``weight_decay`` and ``max_epochs``
        together as one smoothing setting and choose it by cross-validation
        (:class:`CommittorModelCV` does, at a fixed iteration cap).

    Attributes
    ----------
    n_features_in_ : int
        Number of input features seen in ``fit``.
    feature_names_ : list of str or None
        Names of the features (``fit(..., feature_names=...)`` or the
        columns of a DataFrame).
    scaler_mean_, scaler_scale_ : numpy.ndarray, shape (n_features,)
        Mean and standard deviation (population, ``ddof=0``; 1 for constant
        features) of the training inputs, in the units of ``X``; the network
        sees ``(X - scaler_mean_) / scaler_scale_``.
    net_ : torch.nn.Sequential
        The network on standardised inputs (float32).
    history_ : dict of list of float
        ``"train_loss"`` and ``"val_loss"`` per epoch: negative log
        likelihood per shot (nats, without the L2 penalty and the binomial
        constant); ``"val_loss"`` is empty without a validation split.
    best_epoch_ : int
        Epoch (0-based) whose weights were kept.
    n_epochs_ : int
        Epochs run.
    seed_ : int
        The seed used.
    validation_indices_ : numpy.ndarray of int
        Rows of ``X`` held out for validation (empty when
        ``validation_fraction=0``).
    validation_metrics_ : dict or None
        :meth:`evaluate` on the held-out rows.
    fit_time_ : float
        Wall-clock training time in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.model import CommittorModel
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 5))
    >>> p_B = (1 + np.tanh(2 * X[:, 0] - X[:, 1])) / 2
    >>> n_B = rng.binomial(10, p_B)
    >>> n_A = 10 - n_B
    >>> model = CommittorModel(seed=0).fit(X, n_A, n_B,
    ...                        feature_names=[f"x{i}" for i in range(5)])
    >>> model.solver, model.penalty, model.weight_decay, model.hidden_layers
    ('lbfgs', 'group', 0.01, (32,))
    >>> model.validation_metrics_ is None  # all rows trained on; see CommittorModelCV
    True
    >>> held = CommittorModel(validation_fraction=0.2, seed=0).fit(X, n_A, n_B)
    >>> model.predict_proba(X[:3]).shape
    (3,)
    >>> sorted(held.validation_metrics_)[:2]
    ['log_likelihood', 'log_likelihood_constant']
    """

    def __init__(
        self,
        hidden_layers=(32,),
        activation="tanh",
        weight_decay=1e-2,
        learning_rate=1e-3,
        max_epochs=10,
        batch_size=64,
        validation_fraction=0.0,
        early_stopping=True,
        patience=50,
        seed=None,
        device="cpu",
        n_threads=1,
        verbose=False,
        solver="lbfgs",
        penalty="group",
    ):
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.weight_decay = weight_decay
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.seed = seed
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.solver = solver
        self.penalty = penalty  # values are checked in fit (scikit-learn: no work in __init__)

    # ------------------------------------------------------------------
    # scikit-learn plumbing (BaseEstimator gives get_params and repr)
    # ------------------------------------------------------------------
    def set_params(self, **params):
        """Set constructor parameters (scikit-learn convention); returns self.

        Parameters
        ----------
        **params
            Constructor arguments to change; their names are checked here,
            their values by :meth:`fit` (as for the constructor's).

        Returns
        -------
        CommittorModel
            ``self``.

        Raises
        ------
        InputError
            An unknown parameter name.

        Examples
        --------
        >>> from mda_rcxai.model import CommittorModel
        >>> CommittorModel().set_params(max_epochs=10).max_epochs
        10
        """
        valid = set(self._get_param_names())
        unknown = sorted(set(params) - valid)
        if unknown:
            raise InputError(
                f"{unknown[0]!r} is not a parameter of {type(self).__name__}; valid ones are "
                f"{sorted(valid)}"
            )
        return super().set_params(**params)

    def _validate_params(self):
        """Check every constructor parameter; raise a one-line :class:`InputError` naming
        the first bad one (called by :meth:`fit`, and by the searches before they fit)."""
        def bad(name, why):
            raise InputError(f"{name}={getattr(self, name)!r}: {why}")

        try:
            layers = tuple(self.hidden_layers)
        except TypeError:
            raise InputTypeError(
                f"hidden_layers={self.hidden_layers!r}: pass a sequence of layer widths, "
                "e.g. (64, 64), or () for a linear model"
            ) from None
        if not all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w > 0
                   for w in layers):
            bad("hidden_layers", "every width must be a positive int, e.g. (64, 64)")
        if not isinstance(self.penalty, str) or self.penalty not in PENALTIES:
            bad("penalty", f"use one of {list(PENALTIES)}")
        if not isinstance(self.solver, str) or self.solver not in SOLVERS:
            bad("solver", f"use one of {list(SOLVERS)}")
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            bad("activation", f"use one of {sorted(ACTIVATIONS)}")
        for name, low, incl in (("weight_decay", 0.0, True), ("learning_rate", 0.0, False)):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.floating)) or isinstance(value, bool) \
                    or not math.isfinite(value) or value < low or (value == low and not incl):
                bad(name, f"must be a finite number {'>=' if incl else '>'} {low}")
        for name in ("max_epochs", "patience"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                bad(name, "must be an int >= 1")
        bs = self.batch_size
        if bs is not None and (not isinstance(bs, (int, np.integer)) or isinstance(bs, bool)
                               or bs < 1):
            bad("batch_size", "must be an int >= 1, or None for full-batch training")
        vf = self.validation_fraction
        if not isinstance(vf, (int, float, np.floating)) or isinstance(vf, bool) \
                or not (0.0 <= vf < 1.0):
            bad("validation_fraction", "must be a number in [0, 1), e.g. 0.2")
        es = self.early_stopping
        if not isinstance(es, (bool, np.bool_, int, np.integer)) or (
                not isinstance(es, (bool, np.bool_)) and es < 0):
            bad("early_stopping", "must be True, False, or a patience in epochs (int >= 0)")
        if self.seed is not None and (not isinstance(self.seed, (int, np.integer))
                                      or isinstance(self.seed, bool) or self.seed < 0):
            bad("seed", "must be a non-negative int or None")
        nt = self.n_threads
        if nt is not None and (not isinstance(nt, (int, np.integer)) or isinstance(nt, bool)
                               or nt < 1):
            bad("n_threads", "must be an int >= 1 or None")
        try:
            dev = torch.device(self.device)
        except (RuntimeError, TypeError):
            bad("device", "is not a torch device; use 'cpu' or 'cuda'")
        if dev.type == "cuda" and not torch.cuda.is_available():
            bad("device", "CUDA is not available in this torch build/machine; use device='cpu'")

    # ------------------------------------------------------------------
    # fitting
    # ------------------------------------------------------------------
    def check_is_fitted(self):
        """Raise :class:`~mda_rcxai.model.NotFittedError` unless fitted.

        Raises
        ------
        NotFittedError
            If :meth:`fit` (or :meth:`load`) has not been called.

        Examples
        --------
        >>> from mda_rcxai.model import CommittorModel
        >>> CommittorModel().check_is_fitted()
        Traceback (most recent call last):
        ...
        mda_rcxai.model.NotFittedError: This CommittorModel is not fitted yet; call fit(...
        """
        if getattr(self, "net_", None) is None:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(X, n_A, n_B) or "
                f"{type(self).__name__}.load(path) first"
            )

    def __sklearn_is_fitted__(self):
        return getattr(self, "net_", None) is not None

    def _build_net(self, n_features):
        layers = []
        width = n_features
        act = ACTIVATIONS[self.activation]
        for h in self.hidden_layers:
            layers += [nn.Linear(width, int(h)), act()]
            width = int(h)
        layers.append(nn.Linear(width, 1))
        return nn.Sequential(*layers)

    def _penalty(self, net):
        return penalty(net, self.penalty)

    def fit(self, X, n_A=None, n_B=None, *, p_B=None, sample_weight=None, feature_names=None):
        """Train ``q(x)`` on committor shot counts (or on ``p_B`` values).

        Parameters
        ----------
        X : array_like, shape (n_configurations, n_features)
            Features of the shooting points, any units (standardised inside
            the model), e.g. dihedral angles in degrees from
            :mod:`mda_rcxai.features`. Float64 is fine; training runs in
            float32. A pandas DataFrame supplies ``feature_names``.
        n_A, n_B : array_like, shape (n_configurations,)
            Shots from each configuration that ended in A (reactant) and B
            (product). Each row needs ``n_A + n_B > 0``.
        p_B : array_like, shape (n_configurations,), optional
            Measured committor values in [0, 1], instead of counts; the loss
            is then the cross-entropy ``-(p_B log p̂ + (1 - p_B) log(1 - p̂))``.
        sample_weight : array_like, shape (n_configurations,), optional
            Non-negative weights multiplying each configuration's loss.
        feature_names : sequence of str, optional
            One name per column of ``X``, stored in ``feature_names_`` and
            checked by :meth:`load`.

        Returns
        -------
        CommittorModel
            ``self``, fitted.

        Raises
        ------
        InputError
            Non-finite ``X``, disagreeing shapes, negative counts, rows
            without shots, ``p_B`` outside [0, 1], too few configurations.
        TrainingError
            If the loss becomes non-finite (lower ``learning_rate``).

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.model import CommittorModel
        >>> rng = np.random.default_rng(1)
        >>> X = rng.normal(size=(200, 3))
        >>> p_B = (1 + np.tanh(X[:, 0])) / 2
        >>> model = CommittorModel(hidden_layers=(8,), max_epochs=20, seed=0)
        >>> model.fit(X, p_B=p_B).n_features_in_
        3
        """
        self._validate_params()
        X, columns = check_X(X, "X")
        n, d = X.shape
        names = check_feature_names(
            feature_names if feature_names is not None else columns, d
        )
        a, b, mode = check_targets(n, n_A, n_B, p_B, sample_weight)

        seed = self.seed
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        rng = np.random.default_rng(seed)

        # validation split
        n_val = int(round(self.validation_fraction * n)) if self.validation_fraction > 0 else 0
        if self.validation_fraction > 0:
            n_val = max(n_val, 1)
        if n - n_val < 2:
            raise InputError(
                f"X has only {n} configuration(s); with validation_fraction="
                f"{self.validation_fraction} that leaves {n - n_val} for training. Pass "
                "more configurations or set validation_fraction=0"
            )
        perm = rng.permutation(n)
        val_idx = np.sort(perm[:n_val])
        train_idx = np.sort(perm[n_val:])
        if (a[train_idx] + b[train_idx]).sum() <= 0:
            raise InputError(
                "the training configurations carry zero total weight; check sample_weight"
            )

        # scaler from the training rows
        mean = X[train_idx].mean(axis=0)
        scale = X[train_idx].std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        Xs = (X - mean) / scale

        es = self.early_stopping
        if isinstance(es, (bool, np.bool_)):
            stop, patience = bool(es), int(self.patience)
        else:
            stop, patience = int(es) > 0, int(es)

        device = torch.device(self.device)
        t0 = time.perf_counter()
        with torch_threads(self.n_threads):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                net = self._build_net(d)
            history, best_epoch, n_epochs = train_network(
                net, Xs, a, b, train_idx, val_idx, solver=self.solver,
                learning_rate=self.learning_rate, weight_decay=self.weight_decay,
                max_epochs=self.max_epochs, batch_size=self.batch_size, stop=stop,
                patience=patience, rng=rng, device=device, verbose=self.verbose,
                label=f"{type(self).__name__}.fit", penalty_on=self.penalty)
        net = net.to("cpu").float().eval()
        for p in net.parameters():
            p.requires_grad_(False)

        self.net_ = net
        self.n_features_in_ = int(d)
        self.feature_names_ = names
        self.scaler_mean_ = mean
        self.scaler_scale_ = scale
        self.history_ = history
        self.best_epoch_ = int(best_epoch)
        self.n_epochs_ = int(n_epochs)
        self.seed_ = int(seed)
        self.target_mode_ = mode
        self.validation_indices_ = val_idx
        self.fit_time_ = time.perf_counter() - t0
        if len(val_idx) and (a[val_idx] + b[val_idx]).sum() > 0:
            self.validation_metrics_ = evaluate_q(
                self._q_standardised(Xs[val_idx]), a[val_idx], b[val_idx])
        else:
            self.validation_metrics_ = None
        return self

    # ------------------------------------------------------------------
    # prediction and scoring
    # ------------------------------------------------------------------
    def _q_standardised(self, Xs):
        out = np.empty(len(Xs), dtype=np.float64)
        chunk = 65536
        with torch_threads(self.n_threads), torch.no_grad():
            for start in range(0, len(Xs), chunk):
                xt = torch.as_tensor(Xs[start:start + chunk], dtype=torch.float32)
                out[start:start + chunk] = self.net_(xt)[:, 0].double().numpy()
        return out

    def _standardise(self, X, name="X"):
        self.check_is_fitted()
        X, _ = check_X(X, name, n_features=self.n_features_in_,
                       feature_names=self.feature_names_)
        return (X - self.scaler_mean_) / self.scaler_scale_

    def predict_q(self, X):
        """Reaction coordinate ``q(x)`` for each configuration.

        Parameters
        ----------
        X : array_like, shape (n, n_features)
            Raw features, in the units used for ``fit``.

        Returns
        -------
        numpy.ndarray, shape (n,), float64
            ``q`` (dimensionless); ``q = 0`` is the transition state
            ``p_B = 1/2``.

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.model import CommittorModel
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> m = CommittorModel(hidden_layers=(4,), max_epochs=5, seed=0)
        >>> m = m.fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2)
        >>> m.predict_q(X).shape
        (100,)
        """
        return self._q_standardised(self._standardise(X))

    def predict_proba(self, X):
        """Committor ``p_B(x) = (1 + tanh q(x)) / 2`` for each configuration.

        Parameters
        ----------
        X : array_like, shape (n, n_features)
            Raw features.

        Returns
        -------
        numpy.ndarray, shape (n,), float64
            Probability in [0, 1] of reaching B (product) before A.

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.model import CommittorModel
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> m = CommittorModel(hidden_layers=(4,), max_epochs=5, seed=0)
        >>> m = m.fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2)
        >>> bool(((m.predict_proba(X) >= 0) & (m.predict_proba(X) <= 1)).all())
        True
        """
        return p_B_from_q(self.predict_q(X))

    def _targets(self, n, n_A, n_B, p_B, sample_weight):
        a, b, _ = check_targets(n, n_A, n_B, p_B, sample_weight)
        return a, b

    def score(self, X, n_A=None, n_B=None, *, p_B=None, sample_weight=None):
        """Mean log likelihood per shot (higher is better).

        Parameters
        ----------
        X : array_like, shape (n, n_features)
            Raw features.
        n_A, n_B : array_like, shape (n,)
            Shot counts (or give ``p_B=`` instead, as in :meth:`fit`).
        p_B : array_like, shape (n,), optional
            Measured committor values.
        sample_weight : array_like, shape (n,), optional
            Per-configuration weights.

        Returns
        -------
        float
            ``-binomial_nll(q, n_A, n_B, reduction="mean")``: log likelihood
            per shot in nats, without the binomial coefficient constant.
            ``log(1/2) = -0.693`` is what ``p_B = 1/2`` everywhere scores.

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.model import CommittorModel
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 2))
        >>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0])) / 2)
        >>> m = CommittorModel(hidden_layers=(8,), max_epochs=30, seed=0)
        >>> m = m.fit(X, 10 - n_B, n_B)
        >>> m.score(X, 10 - n_B, n_B) > np.log(0.5)
        True
        """
        Xs = self._standardise(X)
        a, b = self._targets(len(Xs), n_A, n_B, p_B, sample_weight)
        return loglik_per_shot(self._q_standardised(Xs), a, b)

    def pb_rmse(self, X, n_A=None, n_B=None, *, p_B=None):
        """Root-mean-square error between predicted and measured ``p_B``.

        Parameters
        ----------
        X : array_like, shape (n, n_features)
            Raw features.
        n_A, n_B : array_like, shape (n,)
            Shot counts; the measured value is ``n_B / (n_A + n_B)``.
        p_B : array_like, shape (n,), optional
            Measured committor values instead of counts.

        Returns
        -------
        float
            ``sqrt(mean((p_B_predicted - p_B_measured)**2))`` (unweighted
            over configurations). With ``N`` shots per configuration the
            shot noise alone contributes about ``sqrt(p(1-p)/N)``.

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.model import CommittorModel
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 2))
        >>> p = (1 + np.tanh(2 * X[:, 0])) / 2
        >>> m = CommittorModel(hidden_layers=(8,), max_epochs=30, learning_rate=1e-2,
        ...                    seed=0).fit(X, p_B=p)
        >>> m.pb_rmse(X, p_B=p) < 0.2
        True
        """
        Xs = self._standardise(X)
        a, b = self._targets(len(Xs), n_A, n_B, p_B, None)
        return pb_rmse(self._q_standardised(Xs), a, b)

    def evaluate(self, X, n_A=None, n_B=None, *, p_B=None, sample_weight=None):
        """Fit quality on (ideally held-out) data.

        Parameters
        ----------
        X : array_like, shape (n, n_features)
            Raw features.
        n_A, n_B : array_like, shape (n,)
            Shot counts (or ``p_B=`` instead).
        p_B : array_like, shape (n,), optional
            Measured committor values.
        sample_weight : array_like, shape (n,), optional
            Per-configuration weights (used in the log likelihoods).

        Returns
        -------
        dict
            ``"log_likelihood"``: mean log likelihood per shot (nats, as
            :meth:`score`); ``"log_likelihood_constant"``: the same for the
            best constant ``p_B`` (the baseline to beat); ``"rmse_p_B"``:
            as :meth:`pb_rmse` (unweighted); ``"n_configurations"``,
            ``"n_shots"``.

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.model import CommittorModel
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(300, 2))
        >>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0])) / 2)
        >>> m = CommittorModel(hidden_layers=(8,), max_epochs=30, seed=0)
        >>> m = m.fit(X, 10 - n_B, n_B)
        >>> r = m.evaluate(X, 10 - n_B, n_B)
        >>> r["log_likelihood"] > r["log_likelihood_constant"]
        True
        """
        Xs = self._standardise(X)
        a, b, _ = check_targets(len(Xs), n_A, n_B, p_B, None)
        w = None
        if sample_weight is not None:
            check_targets(len(Xs), n_A, n_B, p_B, sample_weight)  # checks the weights
            w = np.asarray(sample_weight, dtype=np.float64)
        return evaluate_q(self._q_standardised(Xs), a, b, weight=w)

    # ------------------------------------------------------------------
    # torch modules
    # ------------------------------------------------------------------
    def to_torch(self):
        """``q`` as a fresh torch module on raw features (scaler folded in).

        The standardisation is folded into the first ``nn.Linear``
        (``W' = W / scale``, ``b' = b - W' @ mean``), so the module is a plain
        ``nn.Sequential`` of ``nn.Linear`` and activation layers that
        ``shap.DeepExplainer`` and ``shap.GradientExplainer`` handle.

        Returns
        -------
        torch.nn.Sequential
            Float32, CPU, eval mode, differentiable; maps a tensor of shape
            (n, n_features) of raw features to ``q`` of shape (n, 1).
            Changing it does not change the model.

        Examples
        --------
        >>> import numpy as np, torch
        >>> from mda_rcxai.model import CommittorModel
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> m = CommittorModel(hidden_layers=(4,), max_epochs=5, seed=0)
        >>> m = m.fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2)
        >>> m.to_torch()(torch.zeros(3, 2, dtype=torch.float32)).shape
        torch.Size([3, 1])
        """
        self.check_is_fitted()
        net = copy.deepcopy(self.net_).cpu().float().eval()
        first = net[0]
        with torch.no_grad():
            W = first.weight.double() / torch.as_tensor(self.scaler_scale_, dtype=torch.float64)
            bias = first.bias.double() - W @ torch.as_tensor(self.scaler_mean_, dtype=torch.float64)
            first.weight.copy_(W.float())
            first.bias.copy_(bias.float())
        for p in net.parameters():
            p.requires_grad_(True)
        return net

    def export_torchscript(self, path):
        """Save ``q(x)`` on raw features as a TorchScript file.

        For biased simulations (e.g. OpenMM-Torch, PLUMED's PyTorch module)
        that evaluate ``q`` from the features themselves. The file holds
        :meth:`to_torch` compiled with ``torch.jit.script``: it takes raw
        features, shape (n, n_features), any float dtype (cast to
        float32), and returns float32 ``q`` of shape (n, 1). The feature
        names are stored as the extra file ``mda_rcxai.json`` (read it with
        ``torch.jit.load(path, _extra_files={"mda_rcxai.json": ""})``).

        Parameters
        ----------
        path : str or os.PathLike
            Output file, conventionally ``*.pt``; written atomically.

        Returns
        -------
        str
            The path written.

        Notes
        -----
        ``torch.jit.script`` is deprecated in recent torch releases but is
        still what OpenMM-Torch and PLUMED load; its DeprecationWarning is
        silenced here.

        Examples
        --------
        >>> import numpy as np, torch, tempfile, os
        >>> from mda_rcxai.model import CommittorModel
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> m = CommittorModel(hidden_layers=(4,), max_epochs=5, seed=0)
        >>> m = m.fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2)
        >>> path = m.export_torchscript(os.path.join(tempfile.mkdtemp(), "q.pt"))
        >>> torch.jit.load(path)(torch.zeros(1, 2)).shape
        torch.Size([1, 1])
        """
        return _io.export_torchscript(self, path)

    # ------------------------------------------------------------------
    # persistence
    # ------------------------------------------------------------------
    def save(self, path):
        """Save the fitted model to one file (tensors and plain data only).

        The file is written with ``torch.save`` but holds only tensors,
        numbers, strings, lists and dicts, so :meth:`load` reads it with
        ``torch.load(weights_only=True)``, which cannot execute code.

        Parameters
        ----------
        path : str or os.PathLike
            Output file, conventionally ``*.pt``; written atomically (no
            partial file is left on error).

        Returns
        -------
        str
            The path written.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from mda_rcxai.model import CommittorModel
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> m = CommittorModel(hidden_layers=(4,), max_epochs=5, seed=0)
        >>> m = m.fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2, feature_names=["a", "b"])
        >>> path = m.save(os.path.join(tempfile.mkdtemp(), "model.pt"))
        >>> CommittorModel.load(path, feature_names=["a", "b"]).feature_names_
        ['a', 'b']
        """
        return _io.save_model(self, path)

    @classmethod
    def load(cls, path, feature_names=None, n_features=None):
        """Load a model written by :meth:`save`, safely.

        Parameters
        ----------
        path : str or os.PathLike
            File written by :meth:`save`.
        feature_names : sequence of str, optional
            The features you will predict on; refused unless they equal the
            saved ``feature_names_`` (same names, same order).
        n_features : int, optional
            Number of features you will predict on; refused unless it equals
            the saved ``n_features_in_``.

        Returns
        -------
        CommittorModel
            The fitted model.

        Raises
        ------
        ModelFileNotFoundError
            If ``path`` does not exist.
        ModelFileError
            If the file is not a saved CommittorModel, is damaged, or its
            features do not match ``feature_names`` / ``n_features``.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from mda_rcxai.model import CommittorModel
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> m = CommittorModel(hidden_layers=(4,), max_epochs=5, seed=0)
        >>> m = m.fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2)
        >>> path = m.save(os.path.join(tempfile.mkdtemp(), "model.pt"))
        >>> np.array_equal(CommittorModel.load(path).predict_q(X), m.predict_q(X))
        True
        """
        return _io.load_model(cls, path, feature_names=feature_names, n_features=n_features)

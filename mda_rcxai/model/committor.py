"""A neural-network reaction coordinate trained on committor shot counts.

:class:`CommittorModel` is a small multilayer perceptron ``q(x)`` with
``p_B(x) = (1 + tanh q(x)) / 2``, trained by maximising the binomial
likelihood of the committor shot counts (Mori et al., J. Chem. Phys. 153,
054115 (2020); Kikutsuji et al., J. Chem. Phys. 156, 154108 (2022)) with an
L2 penalty on the weights. It follows scikit-learn conventions: hyper-
parameters in the constructor, ``fit`` returns ``self``, fitted state in
attributes ending in ``_``.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import math
import os
import tempfile
import time

import numpy as np
import torch
from torch import nn

from ..exceptions import DatasetError, InputError, InputTypeError, NotFittedError, RcxaiError
from ._validation import check_feature_names, check_targets, check_X
from .loss import binomial_nll

__all__ = [
    "CommittorModel",
    "ModelFileError",
    "ModelFileNotFoundError",
    "TrainingError",
    "ACTIVATIONS",
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

_FORMAT = "mda_rcxai.CommittorModel"
_FORMAT_VERSION = 1


class ModelFileError(DatasetError):
    """A saved model file is not ours, is damaged, or does not fit the data.

    Also a :class:`~mda_rcxai.exceptions.DatasetError` and a ``ValueError``.

    Examples
    --------
    >>> from mda_rcxai.model import ModelFileError
    >>> isinstance(ModelFileError("bad file"), ValueError)
    True
    """


class ModelFileNotFoundError(RcxaiError, FileNotFoundError):
    """A saved model file does not exist (also a ``FileNotFoundError``).

    Examples
    --------
    >>> from mda_rcxai.model import CommittorModel, ModelFileNotFoundError
    >>> try:
    ...     CommittorModel.load("no-such-model.pt")
    ... except FileNotFoundError as err:
    ...     print(type(err).__name__)
    ModelFileNotFoundError
    """


class TrainingError(RcxaiError, RuntimeError):
    """Training diverged (non-finite loss); lower the learning rate.

    Examples
    --------
    >>> from mda_rcxai.model import TrainingError
    >>> isinstance(TrainingError("loss is nan"), RuntimeError)
    True
    """


class _Float32Input(nn.Module):
    """Casts the input to float32, then applies ``net`` (for TorchScript export)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.to(torch.float32))


@contextlib.contextmanager
def _torch_threads(n_threads):
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


def _atomic_write(path, write):
    """Call ``write(tmp_path)`` then move the file onto ``path``; no partial file is left."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(
            f"path={path!r}: the directory {directory!r} does not exist; create it first"
        )
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return path


class CommittorModel:
    """Neural-network reaction coordinate ``q(x)`` fitted to committor data.

    ``q`` is a multilayer perceptron on standardised inputs, and
    ``p_B(x) = (1 + tanh q(x)) / 2 = sigmoid(2 q(x))``. Training maximises
    the binomial likelihood of the shot counts (equivalently, minimises the
    cross-entropy of Mori et al. 2020 and Kikutsuji et al. 2022) plus an L2
    penalty on the weights, with Adam, mini-batches and early stopping on a
    random validation split (the weights of the best validation epoch are
    restored).

    Parameters
    ----------
    hidden_layers : sequence of int, default (64, 64)
        Widths of the hidden layers; ``()`` gives a linear ``q``.
    activation : str, default "tanh"
        One of ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"elu"``,
        ``"selu"``, ``"gelu"``, ``"sigmoid"``, ``"softplus"`` (all supported
        by ``shap.DeepExplainer``).
    weight_decay : float, default 1e-2
        L2 penalty ``weight_decay * sum(W**2)`` over the weight matrices (not
        the biases), added to the per-shot negative log likelihood (Mori et
        al. 2020). With a few hundred configurations and ~45 inputs the
        network overfits quickly without it.
    learning_rate : float, default 1e-3
        Adam learning rate.
    max_epochs : int, default 500
        Maximum number of passes over the training set.
    batch_size : int or None, default 64
        Configurations per mini-batch; ``None`` uses the full training set.
    validation_fraction : float, default 0.2
        Fraction of configurations held out (random, seeded) for early
        stopping and ``validation_metrics_``; ``0`` trains on everything.
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
    >>> model = CommittorModel(hidden_layers=(16,), max_epochs=50, seed=0)
    >>> model = model.fit(X, n_A, n_B, feature_names=[f"x{i}" for i in range(5)])
    >>> model.predict_proba(X[:3]).shape
    (3,)
    >>> sorted(model.validation_metrics_)[:2]
    ['log_likelihood', 'log_likelihood_constant']
    """

    def __init__(
        self,
        hidden_layers=(64, 64),
        activation="tanh",
        weight_decay=1e-2,
        learning_rate=1e-3,
        max_epochs=500,
        batch_size=64,
        validation_fraction=0.2,
        early_stopping=True,
        patience=50,
        seed=None,
        device="cpu",
        n_threads=1,
        verbose=False,
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
        self._validate_params()

    # ------------------------------------------------------------------
    # scikit-learn style plumbing
    # ------------------------------------------------------------------
    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep=True):
        """Constructor parameters as a dict (scikit-learn convention).

        Parameters
        ----------
        deep : bool, default True
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        dict
            ``{name: value}`` for every constructor argument.

        Examples
        --------
        >>> from mda_rcxai.model import CommittorModel
        >>> CommittorModel(seed=3).get_params()["seed"]
        3
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor parameters (scikit-learn convention); returns self.

        Parameters
        ----------
        **params
            Constructor arguments to change.

        Returns
        -------
        CommittorModel
            ``self``.

        Examples
        --------
        >>> from mda_rcxai.model import CommittorModel
        >>> CommittorModel().set_params(max_epochs=10).max_epochs
        10
        """
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise InputError(
                    f"{key!r} is not a parameter of CommittorModel; valid ones are "
                    f"{sorted(valid)}"
                )
            setattr(self, key, value)
        self._validate_params()
        return self

    def __repr__(self):
        defaults = {
            k: v.default for k, v in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = [
            f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _validate_params(self):
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
        """Raise :class:`~mda_rcxai.exceptions.NotFittedError` unless fitted.

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
        mda_rcxai.exceptions.NotFittedError: This CommittorModel is not fitted yet; call fit(...
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
        return sum(m.weight.square().sum() for m in net if isinstance(m, nn.Linear))

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
        with _torch_threads(self.n_threads):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                net = self._build_net(d)
            net = net.to(device=device, dtype=torch.float32)

            def tensor(arr):
                return torch.as_tensor(arr, dtype=torch.float32, device=device)

            Xt, At, Bt = tensor(Xs[train_idx]), tensor(a[train_idx]), tensor(b[train_idx])
            shots_train = float((a[train_idx] + b[train_idx]).sum())
            if n_val:
                Xv, Av, Bv = tensor(Xs[val_idx]), tensor(a[val_idx]), tensor(b[val_idx])
                shots_val = float((a[val_idx] + b[val_idx]).sum())
                if shots_val <= 0:
                    n_val_eff = 0
                else:
                    n_val_eff = n_val
            else:
                n_val_eff = 0

            opt = torch.optim.Adam(net.parameters(), lr=float(self.learning_rate))
            n_train = len(train_idx)
            bs = n_train if self.batch_size is None else min(int(self.batch_size), n_train)
            wd = float(self.weight_decay)
            history = {"train_loss": [], "val_loss": []}
            best = math.inf
            best_state = copy.deepcopy(net.state_dict())
            best_epoch = 0
            since_best = 0

            from tqdm.auto import tqdm

            bar = tqdm(range(int(self.max_epochs)), desc="CommittorModel.fit",
                       disable=not self.verbose, unit="epoch")
            epoch = -1
            for epoch in bar:
                net.train()
                order = torch.as_tensor(rng.permutation(n_train), device=device)
                total = 0.0
                for start in range(0, n_train, bs):
                    idx = order[start:start + bs]
                    ab, bb = At[idx], Bt[idx]
                    q = net(Xt[idx])[:, 0]
                    nll = binomial_nll(q, ab, bb, reduction="sum")
                    shots = (ab + bb).sum()
                    loss = nll / shots.clamp_min(1e-12)
                    if wd > 0:
                        loss = loss + wd * self._penalty(net)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(nll.detach())
                train_loss = total / shots_train
                if not math.isfinite(train_loss):
                    bar.close()
                    raise TrainingError(
                        f"the training loss became non-finite at epoch {epoch}; lower "
                        f"learning_rate (now {self.learning_rate}) or check X for extreme values"
                    )
                history["train_loss"].append(train_loss)
                if n_val_eff:
                    net.eval()
                    with torch.no_grad():
                        val_loss = float(binomial_nll(net(Xv)[:, 0], Av, Bv)) / shots_val
                    history["val_loss"].append(val_loss)
                    monitor = val_loss
                else:
                    monitor = train_loss
                if self.verbose:
                    bar.set_postfix(train=f"{train_loss:.4f}",
                                    val=f"{monitor:.4f}" if n_val_eff else "-", refresh=False)
                if monitor < best:
                    best, best_epoch, since_best = monitor, epoch, 0
                    if stop:
                        best_state = copy.deepcopy(net.state_dict())
                else:
                    since_best += 1
                    if stop and since_best >= patience:
                        break
            bar.close()
            if stop:
                net.load_state_dict(best_state)
            else:
                best_epoch = epoch
        net = net.to("cpu").eval()
        for p in net.parameters():
            p.requires_grad_(False)

        self.net_ = net
        self.n_features_in_ = int(d)
        self.feature_names_ = names
        self.scaler_mean_ = mean
        self.scaler_scale_ = scale
        self.history_ = history
        self.best_epoch_ = int(best_epoch)
        self.n_epochs_ = int(epoch + 1)
        self.seed_ = int(seed)
        self.target_mode_ = mode
        self.validation_indices_ = val_idx
        self.fit_time_ = time.perf_counter() - t0
        if n_val_eff:
            self.validation_metrics_ = self._evaluate_arrays(Xs[val_idx], a[val_idx], b[val_idx])
        else:
            self.validation_metrics_ = None
        return self

    # ------------------------------------------------------------------
    # prediction and scoring
    # ------------------------------------------------------------------
    def _q_standardised(self, Xs):
        out = np.empty(len(Xs), dtype=np.float64)
        chunk = 65536
        with _torch_threads(self.n_threads), torch.no_grad():
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
        return 0.5 * (1.0 + np.tanh(self.predict_q(X)))

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
        q = self._q_standardised(Xs)
        return -float(binomial_nll(q, a, b, reduction="mean"))

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
        pred = 0.5 * (1.0 + np.tanh(self._q_standardised(Xs)))
        return float(np.sqrt(np.mean((pred - b / (a + b)) ** 2)))

    def _evaluate_arrays(self, Xs, a, b):
        q = self._q_standardised(Xs)
        pred = 0.5 * (1.0 + np.tanh(q))
        shots = a + b
        keep = shots > 0  # rows with zero sample_weight carry no measured p_B
        ll = -float(binomial_nll(q, a, b, reduction="mean"))
        p0 = float(b.sum() / shots.sum())
        p0 = min(max(p0, 1e-12), 1 - 1e-12)
        ll0 = float((b.sum() * np.log(p0) + a.sum() * np.log1p(-p0)) / shots.sum())
        return {
            "log_likelihood": ll,
            "log_likelihood_constant": ll0,
            "rmse_p_B": float(np.sqrt(np.mean((pred[keep] - b[keep] / shots[keep]) ** 2))),
            "n_configurations": int(len(Xs)),
            "n_shots": float(shots.sum()),
        }

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
        if sample_weight is not None:
            a2, b2, _ = check_targets(len(Xs), n_A, n_B, p_B, sample_weight)
            res = self._evaluate_arrays(Xs, a2, b2)
            res["rmse_p_B"] = float(np.sqrt(np.mean(
                (0.5 * (1 + np.tanh(self._q_standardised(Xs))) - b / (a + b)) ** 2)))
            return res
        return self._evaluate_arrays(Xs, a, b)

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

    def _metadata(self):
        return {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "n_features": self.n_features_in_,
            "feature_names": self.feature_names_,
            "output": "q, shape (n, 1); p_B = (1 + tanh q) / 2",
        }

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
        import warnings

        module = _Float32Input(self.to_torch()).eval()
        for p in module.parameters():
            p.requires_grad_(False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            scripted = torch.jit.script(module)
        extra = {"mda_rcxai.json": json.dumps(self._metadata())}

        def write(tmp):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                torch.jit.save(scripted, tmp, _extra_files=extra)

        return _atomic_write(path, write)

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
        self.check_is_fitted()
        params = self.get_params()
        params["hidden_layers"] = [int(h) for h in params["hidden_layers"]]
        for key in ("max_epochs", "patience", "batch_size", "seed", "n_threads"):
            if params[key] is not None:
                params[key] = int(params[key])
        for key in ("weight_decay", "learning_rate", "validation_fraction"):
            params[key] = float(params[key])
        es = params["early_stopping"]
        params["early_stopping"] = bool(es) if isinstance(es, (bool, np.bool_)) else int(es)
        params["device"] = str(params["device"])
        params["verbose"] = bool(params["verbose"])
        payload = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "params": params,
            "n_features_in": int(self.n_features_in_),
            "feature_names": None if self.feature_names_ is None else list(self.feature_names_),
            "scaler_mean": torch.as_tensor(self.scaler_mean_, dtype=torch.float64),
            "scaler_scale": torch.as_tensor(self.scaler_scale_, dtype=torch.float64),
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.net_.state_dict().items()},
            "history": {k: [float(x) for x in v] for k, v in self.history_.items()},
            "best_epoch": int(self.best_epoch_),
            "n_epochs": int(self.n_epochs_),
            "seed": int(self.seed_),
            "target_mode": str(self.target_mode_),
            "validation_indices": torch.as_tensor(self.validation_indices_, dtype=torch.int64),
            "validation_metrics": self.validation_metrics_,
            "fit_time": float(self.fit_time_),
        }
        return _atomic_write(path, lambda tmp: torch.save(payload, tmp))

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
        path = os.fspath(path)
        if not os.path.exists(path):
            raise ModelFileNotFoundError(
                f"path={path!r}: no such file; give the file written by CommittorModel.save"
            )
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # pickle errors, zip errors, unsafe globals
            raise ModelFileError(
                f"path={path!r} could not be read as a saved CommittorModel ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}); it is damaged or not written by "
                "CommittorModel.save (files with arbitrary Python objects are refused)"
            ) from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ModelFileError(
                f"path={path!r} is not a saved CommittorModel (missing format tag "
                f"{_FORMAT!r}); write it with CommittorModel.save"
            )
        if data.get("format_version", 0) > _FORMAT_VERSION:
            raise ModelFileError(
                f"path={path!r} has format version {data.get('format_version')}, newer than "
                f"this mda_rcxai reads ({_FORMAT_VERSION}); upgrade mda_rcxai"
            )
        saved_names = data["feature_names"]
        saved_n = int(data["n_features_in"])
        if n_features is not None and int(n_features) != saved_n:
            raise ModelFileError(
                f"the model in {path!r} was fitted on {saved_n} features but n_features="
                f"{n_features}; compute the same features as for training"
            )
        if feature_names is not None:
            names = check_feature_names(feature_names, len(list(feature_names)))
            if len(names) != saved_n:
                raise ModelFileError(
                    f"the model in {path!r} was fitted on {saved_n} features but "
                    f"feature_names has {len(names)}; compute the same features as for training"
                )
            if saved_names is not None and names != saved_names:
                i = next(i for i, (x, y) in enumerate(zip(names, saved_names)) if x != y)
                missing = [s for s in saved_names if s not in names]
                extra = [s for s in names if s not in saved_names]
                detail = (f"missing {missing[:5]}, unexpected {extra[:5]}" if missing or extra
                          else "same names in another order")
                raise ModelFileError(
                    f"feature_names do not match the model in {path!r}: first difference at "
                    f"position {i} ({names[i]!r} vs saved {saved_names[i]!r}); {detail}. "
                    "Pass the features in the saved order (model.feature_names_)"
                )
        params = dict(data["params"])
        params["hidden_layers"] = tuple(params["hidden_layers"])
        try:
            model = cls(**params)
        except InputError:
            params["device"] = "cpu"
            model = cls(**params)
        net = model._build_net(saved_n)
        try:
            net.load_state_dict(data["state_dict"])
        except RuntimeError as err:
            raise ModelFileError(
                f"path={path!r}: the stored weights do not fit the stored architecture ({err})"
            ) from None
        net = net.float().eval()
        for p in net.parameters():
            p.requires_grad_(False)
        model.net_ = net
        model.n_features_in_ = saved_n
        model.feature_names_ = None if saved_names is None else list(saved_names)
        model.scaler_mean_ = data["scaler_mean"].numpy().astype(np.float64)
        model.scaler_scale_ = data["scaler_scale"].numpy().astype(np.float64)
        model.history_ = {k: list(v) for k, v in data["history"].items()}
        model.best_epoch_ = int(data["best_epoch"])
        model.n_epochs_ = int(data["n_epochs"])
        model.seed_ = int(data["seed"])
        model.target_mode_ = data.get("target_mode", "counts")
        model.validation_indices_ = data["validation_indices"].numpy()
        model.validation_metrics_ = data["validation_metrics"]
        model.fit_time_ = float(data.get("fit_time", math.nan))
        return model

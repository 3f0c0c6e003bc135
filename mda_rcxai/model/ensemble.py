"""An ensemble of committor models: ``q`` with an error bar, and where to shoot next.

:class:`CommittorEnsemble` fits ``n_models`` copies of a
:class:`~mda_rcxai.model.CommittorModel` with different seeds and (by
default) on bootstrap resamples of the configurations; the spread of their
predictions is the model's uncertainty. :func:`select_for_shooting` picks
the configurations of the next committor round where the ensemble is unsure
or near ``p_B = 1/2``.

Examples
--------
>>> import numpy as np
>>> from mda_rcxai.model import CommittorEnsemble
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 3))
>>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0])) / 2)
>>> ens = CommittorEnsemble(n_models=3, hidden_layers=(8,), max_epochs=5)
>>> ens = ens.fit(X, 10 - n_B, n_B)
>>> ens.predict_q(X[:4]).shape, ens.predict_q_std(X[:4]).shape
((4,), (4,))
>>> len(ens.models_)
3
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, clone

from ..exceptions import InputError, InputTypeError
from . import _io
from ._validation import NotFittedError, check_feature_names, check_targets, check_X
from .metrics import evaluate_q, loglik_per_shot, p_B_from_q
from .selection import DEFAULT_FIT_PARAMS, _check_n_jobs, _given_model_params

__all__ = ["CommittorEnsemble", "select_for_shooting", "DEFAULT_ENSEMBLE_PARAMS"]

#: Member settings when neither ``base_estimator`` nor parameters are given:
#: :data:`~mda_rcxai.model.selection.DEFAULT_FIT_PARAMS` (L-BFGS to convergence
#: on all rows, group lasso at the weight decay chosen most often on the
#: synthetic test problems).
DEFAULT_ENSEMBLE_PARAMS = DEFAULT_FIT_PARAMS

_FORMAT_ENS = "mda_rcxai.CommittorEnsemble"


def _fit_member(params, X, a, b, rows, names):
    from .committor import CommittorModel

    return CommittorModel(**params).fit(X[rows], a[rows], b[rows], feature_names=names)


class CommittorEnsemble(BaseEstimator):
    """``n_models`` committor models with different seeds and bootstrap resamples.

    Member ``i`` gets the seed ``SeedSequence([seed, i])`` (for its weights
    and, with ``bootstrap``, its resample: ``n`` configurations drawn with
    replacement, all shots of a drawn configuration together).

    Parameters
    ----------
    n_models : int, default 5
        Members (>= 2 for a spread).
    bootstrap : bool, default True
        Fit each member on a bootstrap resample of the configurations;
        ``False`` fits all on all data (then only the seeds differ).
    seed : int, default 0
        Seeds the members and the resamples.
    base_estimator : CommittorModel or CommittorModelCV, optional
        Members are clones of it (its parameters; ``seed`` replaced). A
        :class:`CommittorModelCV`, fitted or not, contributes its
        ``best_estimator_``'s parameters (a copy of an unfitted one is fitted
        first on all data: ``base_estimator_``). Default: a CommittorModel
        with :data:`DEFAULT_ENSEMBLE_PARAMS` updated by the parameters below.
    n_jobs : int, default 1
        Members fitted in parallel (joblib processes).
    hidden_layers, activation, weight_decay, learning_rate, max_epochs, batch_size, \
validation_fraction, early_stopping, patience, device, n_threads, verbose, solver, \
penalty : optional
        :class:`CommittorModel` parameters of the members (keyword only; not
        with ``base_estimator``). None (the default) leaves one at
        :data:`DEFAULT_ENSEMBLE_PARAMS`, else CommittorModel's default.

    All parameters are checked by :meth:`fit` (the constructor only stores
    them, as scikit-learn requires: ``get_params``, ``set_params`` and
    ``sklearn.base.clone`` work).

    Attributes
    ----------
    models_ : list of CommittorModel
        The fitted members.
    base_estimator_ : CommittorModel, CommittorModelCV or None
        ``base_estimator`` as used: the fitted copy of an unfitted
        :class:`CommittorModelCV`, else ``base_estimator`` itself.
    member_params_ : dict
        Their shared parameters (without the seed).
    bootstrap_indices_ : list of numpy.ndarray
        Rows each member was fitted on.
    oob_metrics_ : dict or None
        Out-of-bag quality (each configuration predicted by the mean ``q``
        of the members that did not see it; configurations every member saw
        are left out): as :func:`~mda_rcxai.model.metrics.evaluate_q`;
        None without ``bootstrap``.
    n_features_in_, feature_names_, fit_time_

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.model import CommittorEnsemble
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0])) / 2)
    >>> ens = CommittorEnsemble(n_models=3, hidden_layers=(8,), max_epochs=5).fit(
    ...     X, 10 - n_B, n_B)
    >>> p, s = ens.predict_proba(X[:2]), ens.predict_proba_std(X[:2])
    >>> bool(((p >= 0) & (p <= 1) & (s >= 0)).all())
    True
    """

    def __init__(self, n_models=5, bootstrap=True, seed=0, base_estimator=None, n_jobs=1, *,
                 hidden_layers=None, activation=None, weight_decay=None, learning_rate=None,
                 max_epochs=None, batch_size=None, validation_fraction=None,
                 early_stopping=None, patience=None, device=None, n_threads=None, verbose=None,
                 solver=None, penalty=None):
        # only stored: scikit-learn estimators check their parameters in fit
        self.n_models = n_models
        self.bootstrap = bootstrap
        self.seed = seed
        self.base_estimator = base_estimator
        self.n_jobs = n_jobs
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.weight_decay = weight_decay
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.solver = solver
        self.penalty = penalty

    @property
    def base_params(self):
        """The :class:`CommittorModel` parameters given (those not None), as a dict."""
        return _given_model_params(self)

    def _check_params(self):
        from .committor import CommittorModel
        from .selection import CommittorModelCV

        n_models, seed = self.n_models, self.seed
        if isinstance(n_models, bool) or not isinstance(n_models, (int, np.integer)) \
                or n_models < 1:
            raise InputError(f"n_models={n_models!r} must be an int >= 1 (5 is a good start)")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise InputError(f"seed={seed!r} must be a non-negative int")
        base = self.base_estimator
        if base is not None and not isinstance(base, (CommittorModel, CommittorModelCV)):
            raise InputTypeError("base_estimator must be a CommittorModel or a "
                                 f"CommittorModelCV, got {type(base).__name__}")
        if base is not None and self.base_params:
            raise InputError("give either base_estimator or CommittorModel parameters "
                             f"({sorted(self.base_params)[:3]}), not both")
        _check_n_jobs(self.n_jobs)
        if base is None:
            CommittorModel(**{**DEFAULT_ENSEMBLE_PARAMS, **self.base_params})._validate_params()

    def _member_params(self, X, a, b, p_B, names):
        from .selection import CommittorModelCV

        base = self.base_estimator
        if base is None:
            params = {**DEFAULT_ENSEMBLE_PARAMS, **self.base_params}
        elif isinstance(base, CommittorModelCV):
            if getattr(base, "best_estimator_", None) is None:
                # fit a copy: fit leaves its parameters (the unfitted search) as given
                base = clone(base).fit(X, a if p_B is None else None,
                                       b if p_B is None else None, p_B=p_B,
                                       feature_names=names)
            self.base_estimator_ = base
            params = base.best_estimator_.get_params()
        else:
            params = base.get_params()
        params = dict(params)
        params.pop("seed", None)
        return params

    def fit(self, X, n_A=None, n_B=None, *, p_B=None, feature_names=None):
        """Fit the members.

        Parameters
        ----------
        X : array_like, shape (n_configurations, n_features)
        n_A, n_B : array_like, shape (n_configurations,)
            Shot counts (or ``p_B=`` values).
        p_B : array_like, optional
        feature_names : sequence of str, optional

        Returns
        -------
        CommittorEnsemble
            ``self``, fitted.
        """
        from .selection import run_parallel

        t0 = time.perf_counter()
        self._check_params()
        X, columns = check_X(X, "X")
        n = len(X)
        names = check_feature_names(feature_names if feature_names is not None else columns,
                                    X.shape[1])
        a, b, _ = check_targets(n, n_A, n_B, p_B, None)
        self.base_estimator_ = self.base_estimator
        params = self._member_params(X, a, b, p_B, names)
        seqs = np.random.SeedSequence(int(self.seed)).spawn(int(self.n_models))
        jobs, rows_all = [], []
        for i, ss in enumerate(seqs):
            member_seed = int(ss.generate_state(1)[0] % (2 ** 31))
            rng = np.random.default_rng(ss)
            rows = np.sort(rng.integers(0, n, size=n)) if self.bootstrap else np.arange(n)
            rows_all.append(rows)
            jobs.append(({**params, "seed": member_seed}, X, a, b, rows, names))
        self.models_ = run_parallel(_fit_member, jobs, self.n_jobs)
        self.member_params_ = params
        self.bootstrap_indices_ = rows_all
        self.n_features_in_ = int(X.shape[1])
        self.feature_names_ = names
        self.oob_metrics_ = None
        if self.bootstrap:
            qs = np.stack([m.predict_q(X) for m in self.models_])
            seen = np.zeros((self.n_models, n), dtype=bool)
            for i, rows in enumerate(rows_all):
                seen[i, rows] = True
            unseen = ~seen
            has = unseen.any(axis=0)
            if has.any():
                q_oob = (qs * unseen).sum(axis=0)[has] / unseen.sum(axis=0)[has]
                self.oob_metrics_ = evaluate_q(q_oob, a[has], b[has])
        self.fit_time_ = time.perf_counter() - t0
        return self

    # ------------------------------------------------------------------
    def check_is_fitted(self):
        """Raise :class:`~mda_rcxai.model.NotFittedError` unless fitted."""
        if not getattr(self, "models_", None):
            raise NotFittedError("This CommittorEnsemble is not fitted yet; call fit(X, n_A, "
                                 "n_B) or CommittorEnsemble.load(path) first")

    def __sklearn_is_fitted__(self):
        return bool(getattr(self, "models_", None))

    def member_q(self, X):
        """``q`` of every member, shape (n_models, n)."""
        self.check_is_fitted()
        return np.stack([m.predict_q(X) for m in self.models_])

    def predict_q(self, X):
        """Mean of the members' ``q``, shape (n,).

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.model import CommittorEnsemble
        >>> X = np.random.default_rng(0).normal(size=(80, 2))
        >>> ens = CommittorEnsemble(n_models=2, hidden_layers=(4,), max_epochs=3)
        >>> ens = ens.fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2)
        >>> np.allclose(ens.predict_q(X), ens.member_q(X).mean(axis=0))
        True
        """
        return self.member_q(X).mean(axis=0)

    def predict_q_std(self, X):
        """Standard deviation of the members' ``q`` (``ddof=1``; 0 for one member), shape (n,)."""
        q = self.member_q(X)
        return q.std(axis=0, ddof=1) if len(q) > 1 else np.zeros(q.shape[1])

    def predict_proba(self, X):
        """Mean of the members' ``p_B`` (not ``(1 + tanh(mean q))/2``), shape (n,)."""
        return p_B_from_q(self.member_q(X)).mean(axis=0)

    def predict_proba_std(self, X):
        """Standard deviation of the members' ``p_B`` (``ddof=1``), shape (n,)."""
        p = p_B_from_q(self.member_q(X))
        return p.std(axis=0, ddof=1) if len(p) > 1 else np.zeros(p.shape[1])

    def score(self, X, n_A=None, n_B=None, *, p_B=None):
        """Log likelihood per shot of the ensemble's mean ``p_B`` (nats)."""
        X, _ = check_X(X, "X")
        a, b, _ = check_targets(len(X), n_A, n_B, p_B, None)
        p = np.clip(self.predict_proba(X), 1e-12, 1 - 1e-12)
        return loglik_per_shot(np.arctanh(2 * p - 1), a, b)

    def evaluate(self, X, n_A=None, n_B=None, *, p_B=None):
        """:func:`~mda_rcxai.model.metrics.evaluate_q` of the ensemble's mean ``p_B``."""
        X, _ = check_X(X, "X")
        a, b, _ = check_targets(len(X), n_A, n_B, p_B, None)
        p = np.clip(self.predict_proba(X), 1e-12, 1 - 1e-12)
        return evaluate_q(np.arctanh(2 * p - 1), a, b)

    # ------------------------------------------------------------------
    def save(self, path):
        """Save all members to one file (atomically; loads with ``weights_only=True``).

        Examples
        --------
        >>> import numpy as np, os, tempfile
        >>> from mda_rcxai.model import CommittorEnsemble
        >>> X = np.random.default_rng(0).normal(size=(60, 2))
        >>> ens = CommittorEnsemble(n_models=2, hidden_layers=(4,), max_epochs=3)
        >>> ens = ens.fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2)
        >>> path = ens.save(os.path.join(tempfile.mkdtemp(), "ens.pt"))
        >>> np.array_equal(CommittorEnsemble.load(path).predict_q(X), ens.predict_q(X))
        True
        """
        import torch

        self.check_is_fitted()
        payload = {
            "format": _FORMAT_ENS,
            "format_version": _io.FORMAT_VERSION,
            "params": {"n_models": int(self.n_models), "bootstrap": bool(self.bootstrap),
                       "seed": int(self.seed)},
            "member_params": _io.plain_params(self.member_params_),
            "members": [_io.model_payload(m) for m in self.models_],
            "bootstrap_indices": [torch.as_tensor(r, dtype=torch.int64)
                                  for r in self.bootstrap_indices_],
            "oob_metrics": _io.plain_params(self.oob_metrics_) if self.oob_metrics_ else None,
            "fit_time": float(self.fit_time_),
        }
        return _io.atomic_write(path, lambda tmp: torch.save(payload, tmp))

    @classmethod
    def load(cls, path, feature_names=None, n_features=None):
        """Load an ensemble written by :meth:`save` (features checked as
        :meth:`CommittorModel.load` does)."""
        from .committor import CommittorModel

        data = _io.read_payload(path, _FORMAT_ENS, "CommittorEnsemble")
        members = data["members"]
        if not members:
            raise _io.ModelFileError(f"path={str(path)!r} holds no ensemble members")
        _io.check_saved_features(str(path), members[0]["feature_names"],
                                 int(members[0]["n_features_in"]), feature_names, n_features)
        models = [_io.model_from_payload(CommittorModel, m, str(path)) for m in members]
        obj = cls(**data["params"])
        mp = dict(data["member_params"])
        mp["hidden_layers"] = tuple(mp.get("hidden_layers", ()))
        obj.member_params_ = mp
        obj.models_ = models
        obj.bootstrap_indices_ = [r.numpy() for r in data["bootstrap_indices"]]
        obj.oob_metrics_ = data["oob_metrics"]
        obj.fit_time_ = float(data["fit_time"])
        obj.n_features_in_ = models[0].n_features_in_
        obj.feature_names_ = models[0].feature_names_
        return obj


def select_for_shooting(ensemble_or_model, X_candidates, n, *, window=(0.1, 0.9), seed=0,
                        exclude=None):
    """Pick ``n`` configurations for the next committor round.

    Score of a candidate with ensemble mean ``p`` and spread ``s`` (standard
    deviation of the members' ``p_B``; 0 for a single model)::

        score = (1 - |2 p - 1|) + 2 s

    the closeness to ``p_B = 1/2`` (1 at 1/2, 0 at 0 or 1) plus twice the
    ensemble's disagreement, both in p_B units. Candidates whose mean
    ``p`` lies in ``window`` (inclusive) are drawn without replacement with
    probability proportional to the score (seeded), so configurations near
    the transition state or where the members disagree are preferred but the
    picks are not all taken from one spot. If fewer than ``n`` candidates lie
    in the window, the rest are the highest-scoring ones outside it.

    Parameters
    ----------
    ensemble_or_model : CommittorEnsemble, CommittorModel or CommittorModelCV
        Anything with ``predict_proba``; the spread is used when it also has
        ``predict_proba_std``.
    X_candidates : array_like, shape (n_candidates, n_features)
    n : int
        Configurations to pick (at most ``n_candidates``).
    window : tuple of float, default (0.1, 0.9)
        Predicted-p_B window of the preferred candidates.
    seed : int, default 0
        Seeds the draw.
    exclude : array_like of int, optional
        Candidate rows never to pick (e.g. already shot).

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        Rows of ``X_candidates``, highest score first.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.model import CommittorModel, select_for_shooting
    >>> X = np.linspace(-3, 3, 61)[:, None]
    >>> m = CommittorModel(hidden_layers=(), max_epochs=200, learning_rate=0.05,
    ...                    seed=0).fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2)
    >>> idx = select_for_shooting(m, X, 5, window=(0.3, 0.7), seed=0)
    >>> p = m.predict_proba(X[idx])
    >>> bool(np.all((p >= 0.3) & (p <= 0.7))), len(set(idx.tolist()))
    (True, 5)
    """
    if not hasattr(ensemble_or_model, "predict_proba"):
        raise InputTypeError("ensemble_or_model must have predict_proba (a CommittorEnsemble, "
                             f"CommittorModel or CommittorModelCV), got "
                             f"{type(ensemble_or_model).__name__}")
    X, _ = check_X(X_candidates, "X_candidates")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n={n!r} must be an int >= 1")
    try:
        lo, hi = (float(w) for w in window)
    except (TypeError, ValueError):
        raise InputTypeError(f"window={window!r} must be (low, high) p_B bounds") from None
    if not 0.0 <= lo < hi <= 1.0:
        raise InputError(f"window={window!r} must satisfy 0 <= low < high <= 1")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed={seed!r} must be a non-negative int")
    allowed = np.ones(len(X), dtype=bool)
    if exclude is not None:
        ex = np.asarray(exclude, dtype=int).reshape(-1)
        if ex.size and (ex.min() < 0 or ex.max() >= len(X)):
            raise InputError(f"exclude has rows outside 0..{len(X) - 1}")
        allowed[ex] = False
    if n > allowed.sum():
        raise InputError(f"n={n} but only {int(allowed.sum())} candidates can be picked; "
                         "pass more candidates or a smaller n")
    p = np.asarray(ensemble_or_model.predict_proba(X), dtype=np.float64)
    s = (np.asarray(ensemble_or_model.predict_proba_std(X), dtype=np.float64)
         if hasattr(ensemble_or_model, "predict_proba_std") else np.zeros(len(X)))
    score = (1.0 - np.abs(2.0 * p - 1.0)) + 2.0 * s
    inside = np.flatnonzero(allowed & (p >= lo) & (p <= hi))
    rng = np.random.default_rng(seed)
    if len(inside) >= n:
        w = score[inside] + 1e-12
        picked = rng.choice(inside, size=n, replace=False, p=w / w.sum())
    else:
        outside = np.flatnonzero(allowed & ~((p >= lo) & (p <= hi)))
        extra = outside[np.argsort(-score[outside], kind="stable")[: n - len(inside)]]
        picked = np.concatenate([inside, extra])
    return picked[np.argsort(-score[picked], kind="stable")].astype(int)

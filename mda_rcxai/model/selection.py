"""Model selection by cross-validation, and baselines on feature subsets.

:class:`CommittorModelCV` chooses the weight decay and the architecture of a
:class:`~mda_rcxai.model.CommittorModel` by k-fold cross-validated binomial
log likelihood per shot (in the spirit of scikit-learn's
``LogisticRegressionCV``), then refits the best setting on all data.
:func:`baseline_loglik` scores models restricted to named feature sets on
the same folds, beside the full model and a constant ``p_B``.

Folds split configurations (rows of ``X``): all shots of one configuration
stay in one fold. The rows are shuffled with ``numpy.random.default_rng(seed)``
and cut into folds by scikit-learn's ``KFold``, so the same seed gives the
same folds, here and in :func:`baseline_loglik`; the grid of settings is
expanded by scikit-learn's ``ParameterGrid``.

(About 820 lines: the search, the baselines and their comparison share the
folds, the fitting jobs and the scores; about 320 of them are docstrings.)

Examples
--------
>>> import numpy as np
>>> from mda_rcxai.model import CommittorModelCV
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 4))
>>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0])) / 2)
>>> cv = CommittorModelCV(param_grid={"weight_decay": [1e-3, 1e-1],
...                                   "hidden_layers": [(8,)]}, cv=3, max_epochs=5)
>>> cv = cv.fit(X, 10 - n_B, n_B)
>>> sorted(cv.best_params_)
['hidden_layers', 'weight_decay']
>>> len(cv.cv_results_)
2
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import KFold, ParameterGrid

from ..exceptions import InputError, InputTypeError
from . import _io
from ._validation import NotFittedError, check_feature_names, check_targets, check_X
from .metrics import (compare_loglik, constant_loglik, evaluate_q, loglik_per_configuration,
                      loglik_per_shot, pb_rmse)

__all__ = ["CommittorModelCV", "baseline_loglik", "compare_baselines", "kfold_indices",
           "DEFAULT_PARAM_GRID", "DEFAULT_CV_PARAMS", "DEFAULT_FIT_PARAMS"]

#: The grid :class:`CommittorModelCV` searches by default: 4 x 2 = 8 settings
#: (strength of the group lasso on the input layer, see :data:`DEFAULT_CV_PARAMS`).
#: In the alanine demo (seeds 0-5) 3e-3 won 4 times and 1e-2 twice; 1e-3 never won
#: there or on the synthetic problems (it overfits: 0.02-0.06 nats/shot worse on
#: alanine), so the choice lies inside the grid.
DEFAULT_PARAM_GRID = {
    "weight_decay": [1e-3, 3e-3, 1e-2, 3e-2],
    "hidden_layers": [(32,), (64, 64)],
}

#: Base settings of the models fitted in cross-validation (and of
#: :func:`baseline_loglik`, :class:`CommittorEnsemble`): full-batch L-BFGS to
#: convergence of the penalised likelihood with the group lasso on the input
#: layer's weights (``penalty="group"``: one group per feature), all rows used
#: for fitting (no inner validation split), at most 10 x 20 = 200 iterations
#: (held-out quality had settled by then on the synthetic problems).
DEFAULT_CV_PARAMS = {"solver": "lbfgs", "validation_fraction": 0.0, "max_epochs": 10,
                     "penalty": "group"}

#: One fit without a search (the default of :func:`baseline_loglik` and of
#: :class:`~mda_rcxai.model.CommittorEnsemble` members): :data:`DEFAULT_CV_PARAMS`
#: with the setting :class:`CommittorModelCV` chose most often on the synthetic
#: test problems (weight decay 1e-2 in 10 of 14 of ``benchmarks/penalty.py``, hidden
#: layers (32,) in 9 of 14). ``CommittorModel()``'s defaults are this fit.
DEFAULT_FIT_PARAMS = {**DEFAULT_CV_PARAMS, "weight_decay": 1e-2, "hidden_layers": (32,)}

_FORMAT_CV = "mda_rcxai.CommittorModelCV"


def _check_int(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name}={value!r} must be an int >= {low}")
    return int(value)


def kfold_indices(n, cv=5, seed=0):
    """Seeded k-fold split of ``n`` configurations: a list of ``(train, test)`` index arrays.

    Parameters
    ----------
    n : int
        Number of configurations (rows).
    cv : int
        Number of folds, ``2 <= cv <= n``.
    seed : int
        Seeds the shuffle (``numpy.random.default_rng(seed)``).

    Returns
    -------
    list of tuple of numpy.ndarray
        ``cv`` pairs of sorted row indices; the test folds partition
        ``range(n)`` and differ in size by at most one.

    Examples
    --------
    >>> from mda_rcxai.model.selection import kfold_indices
    >>> folds = kfold_indices(10, cv=3, seed=0)
    >>> [len(test) for _, test in folds]
    [4, 3, 3]
    >>> sorted(i for _, test in folds for i in test) == list(range(10))
    True
    """
    cv = _check_int(cv, "cv", 2)
    if cv > n:
        raise InputError(f"cv={cv} folds but only {n} configurations; use cv <= {n}")
    if seed is not None:
        _check_int(seed, "seed", 0)
    # KFold's own shuffle draws from a RandomState; shuffling with default_rng(seed) and
    # letting KFold cut the order in contiguous folds keeps the folds of earlier versions
    order = np.random.default_rng(seed).permutation(n)
    return [(np.sort(order[train]), np.sort(order[test]))
            for train, test in KFold(n_splits=cv).split(order)]


def _check_n_jobs(n_jobs):
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(
            n_jobs, (int, np.integer)) or n_jobs == 0):
        raise InputError(f"n_jobs={n_jobs!r} must be a non-zero int (-1: all cores) or None")


#: The :class:`CommittorModel` parameters that :class:`CommittorModelCV` and
#: :class:`~mda_rcxai.model.CommittorEnsemble` take for their fits (all but ``seed``,
#: which they set per fit); None leaves one at its default.
MODEL_PARAMS = ("hidden_layers", "activation", "weight_decay", "learning_rate", "max_epochs",
                "batch_size", "validation_fraction", "early_stopping", "patience", "device",
                "n_threads", "verbose", "solver", "penalty")


def _given_model_params(est):
    """``{name: value}`` of the :data:`MODEL_PARAMS` an estimator was given (not None)."""
    return {k: getattr(est, k) for k in MODEL_PARAMS if getattr(est, k) is not None}


def _grid(param_grid):
    """List of parameter dicts from a dict of lists (or a list of such dicts)."""
    from .committor import CommittorModel

    grids = param_grid if isinstance(param_grid, (list, tuple)) else [param_grid]
    valid = set(CommittorModel._get_param_names())
    out = []
    for g in grids:
        if not isinstance(g, dict) or not g:
            raise InputTypeError(
                "param_grid must be a dict {parameter: list of values} (or a list of such "
                "dicts), e.g. {'weight_decay': [1e-3, 1e-2]}")
        unknown = sorted(set(g) - valid)
        if unknown:
            raise InputError(f"param_grid names {unknown[0]!r}, not a parameter of "
                             f"CommittorModel; valid ones are {sorted(valid)}")
        keys = list(g)
        values = {}
        for k in keys:
            v = g[k]
            if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                raise InputTypeError(f"param_grid[{k!r}] must be a list of values, got {v!r}")
            v = [tuple(c) if k == "hidden_layers" else c for c in v]
            if not v:
                raise InputError(f"param_grid[{k!r}] is empty; give at least one value")
            values[k] = v
        # ParameterGrid varies the alphabetically last key fastest; the settings are
        # listed with the grid's last key fastest, as given (the order of cv_results_)
        combos = sorted(ParameterGrid({k: range(len(v)) for k, v in values.items()}),
                        key=lambda idx: [idx[k] for k in keys])
        out.extend({k: values[k][idx[k]] for k in keys} for idx in combos)
    return out


def _fit_score(params, X, a, b, train, test):
    """Fit one model on ``train`` rows; return (q on test rows, seconds)."""
    from .committor import CommittorModel

    t = time.perf_counter()
    m = CommittorModel(**params).fit(X[train], a[train], b[train])
    return m.predict_q(X[test]), time.perf_counter() - t


def run_parallel(fn, jobs, n_jobs):
    """``[fn(*job) for job in jobs]``, in joblib worker processes when ``n_jobs != 1``."""
    if n_jobs in (None, 1) or len(jobs) <= 1:
        return [fn(*j) for j in jobs]
    from joblib import Parallel, delayed

    try:
        return Parallel(n_jobs=n_jobs)(delayed(fn)(*j) for j in jobs)
    finally:  # no idle worker processes left behind (loky keeps them 300 s otherwise)
        try:
            from joblib.externals.loky import get_reusable_executor

            get_reusable_executor().shutdown(wait=True)
        except Exception:  # pragma: no cover - joblib internals moved
            pass


def _run(jobs, n_jobs):
    return run_parallel(_fit_score, jobs, n_jobs)


def _check_data(X, n_A, n_B, p_B=None):
    X, columns = check_X(X, "X")
    a, b, _ = check_targets(len(X), n_A, n_B, p_B, None)
    return X, columns, a, b


class CommittorModelCV(BaseEstimator):
    """A :class:`~mda_rcxai.model.CommittorModel` whose hyper-parameters are chosen by CV.

    Every setting of ``param_grid`` is fitted on ``cv - 1`` folds of
    configurations and scored on the remaining fold by the binomial log
    likelihood per shot (:func:`mda_rcxai.model.metrics.loglik_per_shot`);
    the setting with the highest mean over folds is refitted on all data.

    Parameters
    ----------
    param_grid : dict or list of dict, optional
        ``{parameter: list of values}`` of :class:`CommittorModel`
        parameters; every combination is tried. Default
        :data:`DEFAULT_PARAM_GRID`: ``weight_decay`` in {1e-3, 3e-3, 1e-2,
        3e-2} x ``hidden_layers`` in {(32,), (64, 64)} (8 settings).
    cv : int, default 5
        Number of folds (split by configuration).
    seed : int, default 0
        Seeds the folds and every fitted model (the same seed for all
        settings, so they differ only in the parameters).
    n_jobs : int, default 1
        Fits run in parallel with joblib (processes); 1 runs them here.
    hidden_layers, activation, weight_decay, learning_rate, max_epochs, batch_size, \
validation_fraction, early_stopping, patience, device, n_threads, verbose, solver, \
penalty : optional
        :class:`CommittorModel` parameters of every fit (keyword only; the
        grid's keys override them). None (the default) takes the value of
        :data:`DEFAULT_CV_PARAMS` (``solver="lbfgs"``, ``penalty="group"``,
        ``validation_fraction=0``, ``max_epochs=10``, i.e. at most 200
        L-BFGS iterations), else CommittorModel's default; so ``batch_size``
        and ``n_threads`` cannot be set to None here.

    All parameters are checked by :meth:`fit`, before any fitting (as
    scikit-learn estimators do: the constructor only stores them, so
    ``get_params``, ``set_params`` and ``sklearn.base.clone`` work).

    Attributes
    ----------
    best_params_ : dict
        The chosen grid setting.
    best_score_ : float
        Its mean cross-validated log likelihood per shot (nats).
    best_estimator_ : CommittorModel
        The chosen setting fitted on all configurations.
    cv_results_ : list of dict
        One per setting: ``params``, ``mean_loglik``, ``std_loglik`` (over
        folds), ``fold_loglik``, ``mean_rmse_p_B`` (p_B RMSE against the
        measured ``n_B/(n_A+n_B)``), ``mean_fit_time`` (s), ``rank`` (1 =
        best). ``pandas.DataFrame(cv.cv_results_)`` makes a table.
    cv_metrics_ : dict
        Held-out quality of the chosen setting from its out-of-fold
        predictions (each configuration predicted by the model that did not
        see it): ``log_likelihood``, ``log_likelihood_constant`` (constant
        p_B of the training folds), ``rmse_p_B``, ``n_configurations``,
        ``n_shots``, ``cv``.
    oof_q_ : numpy.ndarray, shape (n_configurations,)
        Those out-of-fold ``q`` values.
    folds_ : list of (train, test)
        The row indices of each fold.
    at_grid_edge_ : list of str
        Numeric parameters (with 3 or more grid values) whose chosen value is
        the smallest or largest tried: the optimum may lie outside the grid;
        say so in a report and consider extending the grid.
    n_features_in_, feature_names_
        As for :class:`CommittorModel`.
    fit_time_ : float
        Wall-clock seconds of the search and the refit.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.model import CommittorModelCV
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(300, 3))
    >>> n_B = rng.binomial(10, (1 + np.tanh(1.5 * X[:, 1])) / 2)
    >>> cv = CommittorModelCV(param_grid={"hidden_layers": [(), (8,)]}, cv=3,
    ...                       max_epochs=5).fit(X, 10 - n_B, n_B)
    >>> sorted(cv.best_params_), len(cv.cv_results_)
    (['hidden_layers'], 2)
    >>> cv.predict_proba(X[:2]).shape
    (2,)
    """

    def __init__(self, param_grid=None, cv=5, seed=0, n_jobs=1, *, hidden_layers=None,
                 activation=None, weight_decay=None, learning_rate=None, max_epochs=None,
                 batch_size=None, validation_fraction=None, early_stopping=None, patience=None,
                 device=None, n_threads=None, verbose=None, solver=None, penalty=None):
        # only stored: scikit-learn estimators check their parameters in fit
        self.param_grid = param_grid
        self.cv = cv
        self.seed = seed
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

    def _params(self, cand):
        p = {**DEFAULT_CV_PARAMS, **self.base_params, **cand}
        p["seed"] = self.seed
        return p

    def _candidates(self):
        """The grid's settings, every one checked as a CommittorModel (before any fit)."""
        from .committor import CommittorModel

        _check_int(self.cv, "cv", 2)
        _check_int(self.seed, "seed", 0)
        _check_n_jobs(self.n_jobs)
        candidates = _grid(DEFAULT_PARAM_GRID if self.param_grid is None else self.param_grid)
        for cand in candidates:
            CommittorModel(**self._params(cand))._validate_params()
        return candidates

    # ------------------------------------------------------------------
    def fit(self, X, n_A=None, n_B=None, *, p_B=None, feature_names=None):
        """Cross-validate every setting, then refit the best on all configurations.

        Parameters
        ----------
        X : array_like, shape (n_configurations, n_features)
            Features (any units; standardised inside each model).
        n_A, n_B : array_like, shape (n_configurations,)
            Shot counts per configuration (or ``p_B=`` values).
        p_B : array_like, optional
            Measured committor values instead of counts.
        feature_names : sequence of str, optional
            One per column.

        Returns
        -------
        CommittorModelCV
            ``self``, fitted.
        """
        from .committor import CommittorModel

        t0 = time.perf_counter()
        candidates = self._candidates()
        X, columns, a, b = _check_data(X, n_A, n_B, p_B)
        names = check_feature_names(feature_names if feature_names is not None else columns,
                                    X.shape[1])
        folds = kfold_indices(len(X), self.cv, self.seed)
        for k, (train, test) in enumerate(folds):
            if len(train) < 2:
                raise InputError(f"fold {k} leaves {len(train)} training configurations; "
                                 "use fewer folds (cv=) or more configurations")
        jobs = [(self._params(c), X, a, b, train, test)
                for c in candidates for train, test in folds]
        out = _run(jobs, self.n_jobs)
        results, oof_all = [], []
        for i, cand in enumerate(candidates):
            oof = np.empty(len(X))
            lls, rmses, times = [], [], []
            for k, (train, test) in enumerate(folds):
                q, secs = out[i * len(folds) + k]
                oof[test] = q
                lls.append(loglik_per_shot(q, a[test], b[test]))
                rmses.append(pb_rmse(q, a[test], b[test]))
                times.append(secs)
            oof_all.append(oof)
            results.append({"params": dict(cand), "mean_loglik": float(np.mean(lls)),
                            "std_loglik": float(np.std(lls)), "fold_loglik": lls,
                            "mean_rmse_p_B": float(np.mean(rmses)),
                            "mean_fit_time": float(np.mean(times))})
        order = np.argsort([-r["mean_loglik"] for r in results], kind="stable")
        for rank, i in enumerate(order, start=1):
            results[i]["rank"] = rank
        best = int(order[0])
        self.cv_results_ = results
        self.best_params_ = dict(candidates[best])
        edge = []
        for key, value in self.best_params_.items():
            values = sorted({c[key] for c in candidates
                             if isinstance(c.get(key), (int, float)) and
                             not isinstance(c.get(key), bool)})
            if len(values) >= 3 and value in (values[0], values[-1]):
                edge.append(key)
        self.at_grid_edge_ = edge
        self.best_score_ = results[best]["mean_loglik"]
        self.oof_q_ = oof_all[best]
        self.folds_ = folds
        ll0 = [constant_loglik(a[test], b[test], p=b[train].sum() / (a[train] + b[train]).sum())
               for train, test in folds]
        shots = np.array([(a[t] + b[t]).sum() for _, t in folds])
        metrics = evaluate_q(self.oof_q_, a, b)
        metrics["log_likelihood_constant"] = float(np.dot(ll0, shots) / shots.sum())
        metrics["cv"] = int(self.cv)
        self.cv_metrics_ = metrics
        self.best_estimator_ = CommittorModel(**self._params(self.best_params_)).fit(
            X, a if p_B is None else None, b if p_B is None else None,
            p_B=p_B, feature_names=names)
        self.n_features_in_ = int(X.shape[1])
        self.feature_names_ = names
        self.fit_time_ = time.perf_counter() - t0
        return self

    # ------------------------------------------------------------------
    def results_table(self):
        """The search as a pandas DataFrame, one row per setting, best first.

        Columns: the grid parameters, ``mean_loglik``, ``std_loglik`` (nats
        per shot, over folds), ``mean_rmse_p_B``, ``mean_fit_time`` (s),
        ``rank``, ``chosen`` (bool).

        Examples
        --------
        >>> import numpy as np
        >>> from mda_rcxai.model import CommittorModelCV
        >>> X = np.random.default_rng(0).normal(size=(60, 2))
        >>> cv = CommittorModelCV(param_grid={"weight_decay": [1e-2, 1e-1]}, cv=2,
        ...                       hidden_layers=(4,), max_epochs=2)
        >>> cv = cv.fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2)
        >>> list(cv.results_table().columns)[:3]
        ['weight_decay', 'mean_loglik', 'std_loglik']
        """
        import pandas as pd

        self.check_is_fitted()
        rows = []
        for r in self.cv_results_:
            row = {k: (str(v) if isinstance(v, tuple) else v) for k, v in r["params"].items()}
            row.update({k: r[k] for k in ("mean_loglik", "std_loglik", "mean_rmse_p_B",
                                          "mean_fit_time", "rank")})
            row["chosen"] = r["rank"] == 1
            rows.append(row)
        return pd.DataFrame(rows).sort_values("rank", kind="mergesort").reset_index(drop=True)

    def check_is_fitted(self):
        """Raise :class:`~mda_rcxai.model.NotFittedError` unless fitted."""
        if getattr(self, "best_estimator_", None) is None:
            raise NotFittedError("This CommittorModelCV is not fitted yet; call fit(X, n_A, "
                                 "n_B) or CommittorModelCV.load(path) first")

    def __sklearn_is_fitted__(self):
        return getattr(self, "best_estimator_", None) is not None

    def _best(self):
        self.check_is_fitted()
        return self.best_estimator_

    def predict_q(self, X):
        """``q(x)`` of the refitted best model, shape (n,)."""
        return self._best().predict_q(X)

    def predict_proba(self, X):
        """``p_B(x) = (1 + tanh q)/2`` of the refitted best model, shape (n,)."""
        return self._best().predict_proba(X)

    def score(self, X, n_A=None, n_B=None, *, p_B=None, sample_weight=None):
        """Log likelihood per shot of the refitted best model (see :meth:`CommittorModel.score`)."""
        return self._best().score(X, n_A, n_B, p_B=p_B, sample_weight=sample_weight)

    def evaluate(self, X, n_A=None, n_B=None, *, p_B=None, sample_weight=None):
        """:meth:`CommittorModel.evaluate` of the refitted best model."""
        return self._best().evaluate(X, n_A, n_B, p_B=p_B, sample_weight=sample_weight)

    def to_torch(self):
        """:meth:`CommittorModel.to_torch` of the refitted best model (for SHAP)."""
        return self._best().to_torch()

    def export_torchscript(self, path):
        """:meth:`CommittorModel.export_torchscript` of the refitted best model."""
        return self._best().export_torchscript(path)

    # ------------------------------------------------------------------
    def save(self, path):
        """Save the refitted model and the search (grid, scores, folds) to one file.

        Read it back with :meth:`load`; the file is written atomically and
        loads with ``torch.load(weights_only=True)``.

        Examples
        --------
        >>> import numpy as np, os, tempfile
        >>> from mda_rcxai.model import CommittorModelCV
        >>> X = np.random.default_rng(0).normal(size=(60, 2))
        >>> cv = CommittorModelCV(param_grid={"weight_decay": [1e-2]}, cv=2,
        ...                       hidden_layers=(4,), max_epochs=3)
        >>> cv = cv.fit(X, p_B=(1 + np.tanh(X[:, 0])) / 2)
        >>> path = cv.save(os.path.join(tempfile.mkdtemp(), "cv.pt"))
        >>> CommittorModelCV.load(path).best_params_
        {'weight_decay': 0.01}
        """
        import torch

        best = self._best()
        payload = {
            "format": _FORMAT_CV,
            "format_version": _io.FORMAT_VERSION,
            "params": _io.plain_params({"param_grid": None, "cv": self.cv, "seed": self.seed,
                                        "n_jobs": self.n_jobs, **self.base_params}),
            "param_grid": None if self.param_grid is None else repr(self.param_grid),
            "best_params": _io.plain_params(self.best_params_),
            "best_score": float(self.best_score_),
            "at_grid_edge": list(self.at_grid_edge_),
            "cv_results": [_io.plain_params(r) for r in self.cv_results_],
            "cv_metrics": _io.plain_params(self.cv_metrics_),
            "oof_q": torch.as_tensor(self.oof_q_, dtype=torch.float64),
            "folds": [torch.as_tensor(t, dtype=torch.int64) for _, t in self.folds_],
            "fit_time": float(self.fit_time_),
            "best_estimator": _io.model_payload(best),
        }
        return _io.atomic_write(path, lambda tmp: torch.save(payload, tmp))

    @classmethod
    def load(cls, path, feature_names=None, n_features=None):
        """Load a :class:`CommittorModelCV` written by :meth:`save` (checks features as
        :meth:`CommittorModel.load` does)."""
        from .committor import CommittorModel

        data = _io.read_payload(path, _FORMAT_CV, "CommittorModelCV")
        inner = data["best_estimator"]
        _io.check_saved_features(str(path), inner["feature_names"],
                                 int(inner["n_features_in"]), feature_names, n_features)
        best = _io.model_from_payload(CommittorModel, inner, str(path))
        params = dict(data["params"])
        params.pop("param_grid", None)
        base = {k: v for k, v in params.items() if k not in ("cv", "seed", "n_jobs")}
        if "hidden_layers" in base:
            base["hidden_layers"] = tuple(base["hidden_layers"])
        bp = dict(data["best_params"])
        if "hidden_layers" in bp:
            bp["hidden_layers"] = tuple(bp["hidden_layers"])
        grid = {k: [v] for k, v in bp.items()}  # the searched grid is kept as text only
        obj = cls(param_grid=grid, cv=params["cv"], seed=params["seed"],
                  n_jobs=params["n_jobs"], **base)
        obj.param_grid_text_ = data["param_grid"]
        obj.best_params_ = bp
        obj.at_grid_edge_ = list(data.get("at_grid_edge", []))
        obj.best_score_ = float(data["best_score"])
        results = []
        for r in data["cv_results"]:
            r = dict(r)
            r["params"] = {k: (tuple(v) if k == "hidden_layers" else v)
                           for k, v in r["params"].items()}
            results.append(r)
        obj.cv_results_ = results
        obj.cv_metrics_ = dict(data["cv_metrics"])
        obj.oof_q_ = data["oof_q"].numpy()
        n = len(obj.oof_q_)
        tests = [t.numpy() for t in data["folds"]]
        obj.folds_ = [(np.setdiff1d(np.arange(n), t), t) for t in tests]
        obj.fit_time_ = float(data["fit_time"])
        obj.best_estimator_ = best
        obj.n_features_in_ = best.n_features_in_
        obj.feature_names_ = best.feature_names_
        return obj


# ----------------------------------------------------------------------
# baselines
# ----------------------------------------------------------------------
def _resolve_columns(name, cols, d, feature_names):
    if isinstance(cols, (str, bytes)) or not hasattr(cols, "__iter__"):
        cols = [cols]
    out = []
    for c in cols:
        if isinstance(c, str):
            if feature_names is None or c not in feature_names:
                raise InputError(
                    f"feature_sets[{name!r}] names {c!r}, which is not in feature_names; pass "
                    "column indices or feature_names= with that name")
            out.append(list(feature_names).index(c))
        elif isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not 0 <= int(c) < d:
                raise InputError(f"feature_sets[{name!r}] has column {c}, outside 0..{d - 1}")
            out.append(int(c))
        else:
            raise InputTypeError(f"feature_sets[{name!r}] must list column indices (int) or "
                                 f"feature names (str), got {c!r}")
    if not out:
        raise InputError(f"feature_sets[{name!r}] is empty; give at least one column")
    return sorted(set(out))


def baseline_loglik(X, n_A, n_B, feature_sets, *, cv=5, seed=0, feature_names=None,
                    include_full=True, include_constant=True, n_jobs=1, n_boot=2000,
                    level=0.95, **model_params):
    """Cross-validated log likelihood per shot of models on feature subsets.

    For each named feature set a :class:`CommittorModel` that sees only
    those columns is fitted on ``cv - 1`` folds of configurations and scored
    on the held-out fold; the full model (all columns) and a constant
    ``p_B`` (the pooled fraction of B shots in the training folds) are
    scored on the same folds. The gap to the full model says how much of the
    reaction coordinate a set carries.

    Parameters
    ----------
    X : array_like, shape (n_configurations, n_features)
    n_A, n_B : array_like, shape (n_configurations,)
        Shot counts.
    feature_sets : dict
        ``{name: columns}``; columns as indices into ``X`` or, with
        ``feature_names``, as names. E.g. ``{"phi": ["phi"], "phi + theta":
        ["phi", "theta"]}``.
    cv : int or fitted CommittorModelCV, default 5
        Folds (split by configuration; the same folds as
        :class:`CommittorModelCV` with the same ``seed``). A fitted
        :class:`CommittorModelCV` (fitted on these ``X``, ``n_A``, ``n_B``)
        lends its folds, its chosen parameters (unless ``model_params`` are
        given) and its chosen setting's fold scores as the ``"full"`` row,
        so the full model is not fitted again.
    seed : int, default 0
        Seeds the folds and the models.
    feature_names : sequence of str, optional
        Names of the columns of ``X`` (to name columns in ``feature_sets``).
    include_full, include_constant : bool, default True
        Add the rows ``"full"`` (all columns) and ``"constant"``.
    n_jobs : int, default 1
        Parallel fits (joblib processes).
    n_boot, level : int, float
        Resamples and confidence level of the interval on each row's
        difference to the full model (:func:`~mda_rcxai.model.metrics.compare_loglik`,
        seeded with ``seed``).
    **model_params
        :class:`CommittorModel` parameters of every fit, on top of
        :data:`DEFAULT_FIT_PARAMS` (``weight_decay=1e-2``,
        ``hidden_layers=(32,)``); pass ``**cv.best_params_`` to use a
        selection's choice.

    Returns
    -------
    list of dict
        One per model, in the order constant, the sets, full: ``name``,
        ``columns`` (list of int; empty for the constant), ``n_columns``,
        ``loglik`` (mean over folds, nats per shot), ``loglik_std`` (over
        folds), ``fold_loglik``, ``rmse_p_B`` (out-of-fold, against the
        measured ``n_B/(n_A+n_B)``), ``delta_vs_full`` (``loglik`` minus the
        full model's; NaN without ``include_full``) and ``fraction_of_full``
        (``(loglik - constant) / (full - constant)``: the share of the full
        model's gain over a constant p_B that the set carries). With the
        uncertainty of each comparison: ``oof_q`` (list, the out-of-fold
        ``q`` of every configuration, for :func:`compare_baselines`) and
        ``vs_full`` (None for the full row and without ``include_full``):
        the row's pooled out-of-fold log likelihood per shot minus the full
        model's, ``delta``, with its paired-bootstrap interval over
        configurations ``ci_low``, ``ci_high`` at ``level`` and ``verdict``
        from the row's side: ``"loss"`` (the interval lies below 0: the full
        model is better), ``"tie"`` (it contains 0) or ``"win"`` (the row
        beats the full model); see
        :func:`~mda_rcxai.model.metrics.compare_loglik` for every key.
        ``delta`` pools the shots of all folds, ``delta_vs_full`` averages
        the folds' means; with folds of equal size they agree.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.model import baseline_loglik
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0] - X[:, 1])) / 2)
    >>> rows = baseline_loglik(X, 10 - n_B, n_B, {"x0": [0], "x2": [2]}, cv=3,
    ...                        hidden_layers=(8,), max_epochs=5)
    >>> [r["name"] for r in rows]
    ['constant', 'x0', 'x2', 'full']
    >>> ll = {r["name"]: r["loglik"] for r in rows}
    >>> ll["full"] > ll["x0"] > ll["x2"]
    True
    >>> {r["name"]: r["vs_full"]["verdict"] for r in rows if r["vs_full"]}
    {'constant': 'loss', 'x0': 'loss', 'x2': 'loss'}
    """
    from .committor import CommittorModel

    X, columns, a, b = _check_data(X, n_A, n_B)
    d = X.shape[1]
    names = check_feature_names(feature_names if feature_names is not None else columns, d)
    if not isinstance(feature_sets, dict):
        raise InputTypeError("feature_sets must be a dict {name: list of columns}, e.g. "
                             "{'phi': [3], 'phi + theta': [3, 7]}")
    fitted_cv = cv if isinstance(cv, CommittorModelCV) else None
    if fitted_cv is not None:
        fitted_cv.check_is_fitted()
        if not hasattr(fitted_cv, "folds_") or fitted_cv.n_features_in_ != d or \
                len(fitted_cv.oof_q_) != len(X):
            raise InputError("cv is a CommittorModelCV fitted on other data; pass cv=<int> "
                             "or the CommittorModelCV fitted on these X, n_A, n_B")
        if names is None:
            names = fitted_cv.feature_names_
        if not model_params:
            model_params = dict(fitted_cv.best_estimator_.get_params())
        folds = fitted_cv.folds_
    else:
        folds = kfold_indices(len(X), cv, seed)
    params = {**DEFAULT_FIT_PARAMS, "seed": seed, **model_params}
    CommittorModel(**params)._validate_params()  # before any fitting
    # checks the bootstrap settings before any fitting
    compare_loglik(np.zeros(2), np.zeros(2), np.ones(2), n_boot=n_boot, level=level, seed=seed)
    sets = [(str(k), _resolve_columns(k, v, d, names)) for k, v in feature_sets.items()]
    reuse_full = fitted_cv is not None and include_full
    if include_full:
        sets.append(("full", list(range(d))))
    jobs = [(params, X[:, cols], a, b, train, test) for name, cols in sets
            if not (reuse_full and name == "full") for train, test in folds]
    out = _run(jobs, n_jobs)
    if reuse_full:
        for test_q in [fitted_cv.oof_q_[test] for _, test in folds]:
            out.append((test_q, 0.0))
    rows = []
    if include_constant:
        lls, oof = [], np.empty(len(X))
        for train, test in folds:
            p = b[train].sum() / (a[train] + b[train]).sum()
            lls.append(constant_loglik(a[test], b[test], p=p))
            p = min(max(p, 1e-12), 1 - 1e-12)
            oof[test] = np.arctanh(2 * p - 1)
        rows.append({"name": "constant", "columns": [], "n_columns": 0,
                     "loglik": float(np.mean(lls)), "loglik_std": float(np.std(lls)),
                     "fold_loglik": lls, "rmse_p_B": pb_rmse(oof, a, b),
                     "oof_q": oof.tolist()})
    for i, (name, cols) in enumerate(sets):
        lls, oof = [], np.empty(len(X))
        for k, (train, test) in enumerate(folds):
            q, _ = out[i * len(folds) + k]
            oof[test] = q
            lls.append(loglik_per_shot(q, a[test], b[test]))
        row = {"name": name, "columns": cols, "n_columns": len(cols),
               "loglik": float(np.mean(lls)), "loglik_std": float(np.std(lls)),
               "fold_loglik": lls, "rmse_p_B": pb_rmse(oof, a, b), "oof_q": oof.tolist()}
        if reuse_full and name == "full":
            row["from_cv"] = True
        rows.append(row)
    full = next((r["loglik"] for r in rows if r["name"] == "full" and include_full), np.nan)
    const = next((r["loglik"] for r in rows if r["name"] == "constant"), np.nan)
    full_row = next((r for r in rows if r["name"] == "full" and include_full), None)
    full_ll = (loglik_per_configuration(full_row["oof_q"], a, b)
               if full_row is not None else None)
    for r in rows:
        r["delta_vs_full"] = float(r["loglik"] - full)
        gain = full - const
        r["fraction_of_full"] = float((r["loglik"] - const) / gain) if gain > 0 else np.nan
        r["vs_full"] = None if full_row is None or r is full_row else compare_loglik(
            loglik_per_configuration(r["oof_q"], a, b), full_ll, a + b, n_boot=n_boot,
            level=level, seed=seed)
    return rows


def compare_baselines(rows, name_a, name_b, n_A, n_B, *, n_boot=2000, level=0.95, seed=0):
    """Row ``name_a`` of :func:`baseline_loglik` against row ``name_b``, with an interval.

    The paired bootstrap of :func:`~mda_rcxai.model.metrics.compare_loglik`
    on the two rows' out-of-fold predictions (``oof_q``) of the same
    configurations, e.g. "phi + theta" against "phi + psi".

    Parameters
    ----------
    rows : list of dict
        The result of :func:`baseline_loglik` (or its JSON round trip).
    name_a, name_b : str
        The rows to compare (``"full"``, ``"constant"`` or a set's name).
    n_A, n_B : array_like, shape (n_configurations,)
        The shot counts given to :func:`baseline_loglik`.
    n_boot, level, seed
        As in :func:`~mda_rcxai.model.metrics.compare_loglik`.

    Returns
    -------
    dict
        :func:`~mda_rcxai.model.metrics.compare_loglik`'s result (``verdict``
        from ``name_a``'s side) plus ``a`` and ``b``, the two names.

    Examples
    --------
    >>> import numpy as np
    >>> from mda_rcxai.model import baseline_loglik, compare_baselines
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0])) / 2)
    >>> rows = baseline_loglik(X, 10 - n_B, n_B, {"x0": [0], "x2": [2]}, cv=3,
    ...                        hidden_layers=(8,), max_epochs=5)
    >>> compare_baselines(rows, "x0", "x2", 10 - n_B, n_B)["verdict"]
    'win'
    """
    by_name = {r["name"]: r for r in rows}
    for name in (name_a, name_b):
        if name not in by_name:
            raise InputError(f"no baseline row named {name!r}; the rows are {sorted(by_name)}")
        if by_name[name].get("oof_q") is None:
            raise InputError(f"baseline row {name!r} has no oof_q; recompute it with "
                             "baseline_loglik")
    a = np.asarray(n_A, dtype=np.float64)
    b = np.asarray(n_B, dtype=np.float64)
    qa = np.asarray(by_name[name_a]["oof_q"], dtype=np.float64)
    qb = np.asarray(by_name[name_b]["oof_q"], dtype=np.float64)
    if not (len(qa) == len(qb) == len(a) == len(b)):
        raise InputError(f"rows have {len(qa)} configurations but n_A, n_B have {len(a)}, "
                         f"{len(b)}; pass the counts given to baseline_loglik")
    out = compare_loglik(loglik_per_configuration(qa, a, b), loglik_per_configuration(qb, a, b),
                         a + b, n_boot=n_boot, level=level, seed=seed)
    return {"a": str(name_a), "b": str(name_b), **out}

"""Neural-network reaction coordinate ``q(x)`` with ``p_B = (1 + tanh q) / 2``.

:class:`CommittorModel` learns ``q`` from committor shot counts (or ``p_B``
values) by maximising the binomial likelihood; :func:`binomial_nll` is the
loss. :class:`CommittorModelCV` chooses its weight decay and architecture by
cross-validation, :class:`CommittorEnsemble` gives ``q`` with an error bar,
:func:`baseline_loglik` scores models on feature subsets and
:func:`select_for_shooting` picks the next committor round. Imports torch
(this layer must not import MDAnalysis, OpenMM or OpenPathSampling).

Typical use, with ``X`` from a :mod:`mda_rcxai.features` class and the shot
counts of a ``CommittorDataset`` (``n_A``, ``n_B``)::

    cv = CommittorModelCV(seed=0).fit(X, n_A, n_B, feature_names=names)
    cv.best_params_, cv.cv_metrics_    # the choice; out-of-fold log likelihood, p_B RMSE
    cv.save("model.pt")
    cv = CommittorModelCV.load("model.pt", feature_names=names)

    model = CommittorModel(seed=0).fit(X, n_A, n_B, feature_names=names)  # one fit, no search
    ens = CommittorEnsemble(base_estimator=cv.best_estimator_).fit(X, n_A, n_B)
    ens.predict_q(X), ens.predict_q_std(X)

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from mda_rcxai.model import CommittorModel
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 4))
>>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0])) / 2)
>>> model = CommittorModel(validation_fraction=0.2, seed=0)
>>> model = model.fit(X, 10 - n_B, n_B, feature_names=["a", "b", "c", "d"])
>>> model.predict_proba(X).shape
(300,)
>>> held_out = model.validation_metrics_  # on the 20 % validation split
>>> held_out["log_likelihood"] > held_out["log_likelihood_constant"]
True
>>> path = model.save(os.path.join(tempfile.mkdtemp(), "model.pt"))
>>> again = CommittorModel.load(path, feature_names=["a", "b", "c", "d"])
>>> np.array_equal(again.predict_q(X), model.predict_q(X))
True
"""

from ..exceptions import ModelFileError, ModelFileNotFoundError, TrainingError
from ._validation import NotFittedError
from .committor import ACTIVATIONS, SOLVERS, CommittorModel
from .ensemble import DEFAULT_ENSEMBLE_PARAMS, CommittorEnsemble, select_for_shooting
from .loss import binomial_nll
from .metrics import (compare_loglik, constant_loglik, evaluate_q, loglik_per_configuration,
                      loglik_per_shot, p_B_from_q, pb_rmse)
from .selection import (DEFAULT_CV_PARAMS, DEFAULT_FIT_PARAMS, DEFAULT_PARAM_GRID,
                        CommittorModelCV, baseline_loglik, compare_baselines, kfold_indices)

__all__ = [
    "CommittorModel",
    "CommittorModelCV",
    "CommittorEnsemble",
    "baseline_loglik",
    "compare_baselines",
    "compare_loglik",
    "loglik_per_configuration",
    "select_for_shooting",
    "kfold_indices",
    "binomial_nll",
    "loglik_per_shot",
    "constant_loglik",
    "pb_rmse",
    "evaluate_q",
    "p_B_from_q",
    "ACTIVATIONS",
    "SOLVERS",
    "DEFAULT_PARAM_GRID",
    "DEFAULT_CV_PARAMS",
    "DEFAULT_FIT_PARAMS",
    "DEFAULT_ENSEMBLE_PARAMS",
    "ModelFileError",
    "ModelFileNotFoundError",
    "TrainingError",
    "NotFittedError",
]

"""Neural-network reaction coordinate ``q(x)`` with ``p_B = (1 + tanh q) / 2``.

:class:`CommittorModel` learns ``q`` from committor shot counts (or ``p_B``
values) by maximising the binomial likelihood; :func:`binomial_nll` is the
loss. Imports torch (this layer must not import MDAnalysis, OpenMM or
OpenPathSampling).

Typical use, with ``X`` from a :mod:`mda_rcxai.features` class and the shot
counts of a ``CommittorDataset`` (``n_A``, ``n_B``)::

    model = CommittorModel(seed=0).fit(X, n_A, n_B, feature_names=names)
    model.validation_metrics_      # held-out log likelihood / shot, p_B RMSE
    model.save("model.pt")
    model = CommittorModel.load("model.pt", feature_names=names)

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from mda_rcxai.model import CommittorModel
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 4))
>>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0])) / 2)
>>> model = CommittorModel(hidden_layers=(8,), max_epochs=30, seed=0)
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

from .committor import (
    ACTIVATIONS,
    CommittorModel,
    ModelFileError,
    ModelFileNotFoundError,
    TrainingError,
)
from .loss import binomial_nll

__all__ = [
    "CommittorModel",
    "binomial_nll",
    "ACTIVATIONS",
    "ModelFileError",
    "ModelFileNotFoundError",
    "TrainingError",
]

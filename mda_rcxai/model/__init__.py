"""Neural-network reaction coordinate ``q(x)`` with ``p_B = (1 + tanh q) / 2``.

:class:`CommittorModel` learns ``q`` from committor shot counts (or ``p_B``
values) by maximising the binomial likelihood; :func:`binomial_nll` is the
loss. Imports torch (this layer must not import MDAnalysis, OpenMM or
OpenPathSampling).

Examples
--------
>>> import numpy as np
>>> from mda_rcxai.model import CommittorModel
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(300, 4))
>>> n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0])) / 2)
>>> model = CommittorModel(hidden_layers=(8,), max_epochs=30, seed=0)
>>> model = model.fit(X, 10 - n_B, n_B)
>>> model.predict_proba(X).shape
(300,)
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

"""Helpers the stage modules share (MD keywords, path frames, reserved frames, features).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .files import derived_seed
from .inputs import featurize

__all__ = ["md_kwargs", "angstrom", "path_universe", "reserved_mask", "training_paths",
           "dataset_features", "base_params", "records", "rows_key"]


def md_kwargs(cfg):
    s = cfg.system
    return {"timestep_fs": s.timestep, "steps_per_frame": s.steps_per_frame,
            "friction_per_ps": s.friction, "platform": s.platform}


def engine_settings(cfg):
    """The study's dynamics as an EngineSettings (platform as configured)."""
    from ..sampling import as_settings
    return as_settings(None, temperature=cfg.system.temperature, **md_kwargs(cfg))


def angstrom(path):
    from ..sampling import trajectory_positions
    return trajectory_positions(path, angstrom=True)


def path_universe(system, positions):
    from ..sampling import universe_from_system
    return universe_from_system(system, positions)


def reserved_mask(cfg, positions):
    """Boolean mask: path frames kept out of every committor round for the committor test.

    A frame is reserved when a hash of (study seed, its coordinates) falls in the
    ``[committor] reserve`` fraction: the same frame is reserved in every round and
    on resume, whatever order the frames come in.
    """
    frac = cfg.committor.reserve
    if frac <= 0 or len(positions) == 0:
        return np.zeros(len(positions), dtype=bool)
    salt = str(derived_seed(cfg.seed, "reserve")).encode()
    u = np.array([int.from_bytes(hashlib.sha256(salt + k).digest()[:8], "little") / 2.0 ** 64
                  for k in rows_key(positions)])
    return u < frac


def training_paths(cfg, sample):
    """The TPS paths without the frames reserved for the committor test."""
    return [p[~reserved_mask(cfg, p)] for p in sample.paths]


def dataset_features(cfg, dataset):
    """(X, n_A, n_B, results, positions) of the configurations with decided shots."""
    res = featurize(cfg, dataset.to_universe())
    n_A, n_B = np.asarray(dataset.n_A), np.asarray(dataset.n_B)
    keep = (n_A + n_B) > 0
    pos = np.asarray(dataset.positions)[keep]
    return res.features[keep], n_A[keep], n_B[keep], res, pos


def base_params(cfg):
    """The ``[model]`` keys given, as model arguments (:meth:`ModelConfig.fit_params`)."""
    return cfg.model.fit_params()


def records(table):
    if hasattr(table, "to_dict"):
        return table.to_dict("records")
    return list(table)


def rows_key(positions):
    """Byte keys of configurations, to tell path frames that were shooting points."""
    p = np.round(np.asarray(positions, dtype=np.float64), 3).astype(np.float32)
    return [r.tobytes() for r in p.reshape(len(p), -1)]

"""Sampling: transition path sampling and committor shooting on one dynamics core.

* :mod:`~mda_rcxai.sampling.core` -- the dynamics core:
  :class:`EngineSettings`, the Context factory, the platform chosen by
  measurement (:func:`choose_platform`), the Maxwell-Boltzmann draw, the
  state test and the one run-until-a-state loop;
* :func:`initial_path`, :func:`pull_initial_path` -- a first A->B path;
* :func:`run_tps` -- TPS through OPS ``PathSampling`` or the fast route
  (:func:`choose_route` measures which);
* :func:`harvest` -- shooting configurations from paths (or where a model
  is unsure);
* :func:`run_committor` -- committor shooting (lean, batched replicas, or
  OPS' ``CommittorSimulation``; serial or on Dask), resumable, into a
  :class:`CommittorDataset`; :func:`choose_method` says which route runs;
* :func:`make_engine`, :func:`make_volume`, :func:`make_randomizer` -- the
  OPS objects for a system;
* :func:`path_from_trajectory`, :func:`path_from_ops_storage` -- an
  initial path from a trajectory or an OPS storage you already have;
* :func:`universe_from_system` -- a Universe of the system's topology
  (bonds, box) holding frames.

Units: OpenMM/OPS work in nm and ps; configurations and datasets handed to
the rest of mda_rcxai are in Angstrom (MDAnalysis).

Examples
--------
>>> from mda_rcxai.systems import alanine_dipeptide
>>> from mda_rcxai.sampling import initial_path, run_tps, harvest, run_committor
>>> system = alanine_dipeptide()
>>> path = initial_path(system, seed=1)                         # doctest: +SKIP
>>> tps = run_tps(system, path, 200, seed=1)                    # doctest: +SKIP
>>> x = harvest(tps, 100, seed=1)                               # doctest: +SKIP
>>> ds = run_committor(system, x, 10, out="shots.npz", seed=1)  # doctest: +SKIP
"""

from .committor import choose_method, run_committor
from .core import (EngineSettings, PlatformChoice, StateTest, as_settings,
                   choose_platform, run_until_state)
from .dataset import (CommittorDataset, box_dimensions, universe_from_system,
                      universe_from_topology)
from .harvest import harvest
from .initial import initial_path, pull_initial_path
from .ops import (beta_for, make_engine, make_randomizer, make_volume,
                  seed_everything, seeded, snapshot_from_positions)
from .paths import path_from_ops_storage, path_from_trajectory
from .shooting import shoot_batched, shoot_plain
from .tps import TPSResult, choose_route, run_tps, trajectory_positions
from .validation import (CommittorTestResult, NaiveCoordinate, committor_test,
                         committor_verdict, fit_naive_coordinate,
                         naive_committor_test)

__all__ = [
    "EngineSettings", "PlatformChoice", "StateTest", "as_settings",
    "choose_platform", "run_until_state",
    "initial_path", "pull_initial_path", "run_tps", "choose_route",
    "TPSResult", "trajectory_positions", "harvest",
    "run_committor", "choose_method", "shoot_batched", "shoot_plain",
    "CommittorDataset", "universe_from_system", "universe_from_topology",
    "make_engine", "make_volume", "make_randomizer", "beta_for",
    "seed_everything", "seeded", "snapshot_from_positions",
    "path_from_trajectory", "path_from_ops_storage", "box_dimensions",
    "committor_test", "committor_verdict", "CommittorTestResult",
    "NaiveCoordinate", "fit_naive_coordinate", "naive_committor_test",
]

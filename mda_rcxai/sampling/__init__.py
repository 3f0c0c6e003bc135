"""OpenPathSampling glue: engine, TPS, harvesting and committor shooting.

* :func:`make_engine` -- an OPS OpenMM engine for a system;
* :func:`initial_path` -- a first A->B path (hot MD, then relaxation);
* :func:`run_tps` -- OPS transition path sampling (two-way or one-way);
* :func:`harvest` -- shooting configurations from paths (or where a model
  is unsure);
* :func:`run_committor` -- committor shooting (serial or on Dask: a local
  cluster or a running scheduler), resumable, into a
  :class:`CommittorDataset`; :func:`choose_method` says which route runs;
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

from .engine import (beta_for, make_engine, make_randomizer, make_volume,
                     resolve_platform, seed_everything, seeded,
                     snapshot_from_positions)
from .paths import box_dimensions, path_from_ops_storage, path_from_trajectory
from .tps import TPSResult, harvest, initial_path, run_tps, trajectory_positions

__all__ = [
    "make_engine", "make_volume", "make_randomizer", "beta_for",
    "seed_everything", "snapshot_from_positions", "initial_path", "run_tps",
    "harvest", "TPSResult", "trajectory_positions", "seeded",
    "resolve_platform", "path_from_trajectory", "path_from_ops_storage",
    "box_dimensions",
]

try:  # committor shooting and the dataset
    from .committor import choose_method, run_committor  # noqa: F401
    from .dataset import (CommittorDataset, universe_from_system,  # noqa: F401
                          universe_from_topology)
    __all__ += ["run_committor", "choose_method", "CommittorDataset",
                "universe_from_system", "universe_from_topology"]
except ImportError:  # pragma: no cover - while being written
    pass

from .validation import CommittorTestResult, committor_test, committor_verdict  # noqa: E402,F401
__all__ += ["committor_test", "committor_verdict", "CommittorTestResult"]

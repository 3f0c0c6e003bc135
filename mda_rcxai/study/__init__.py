"""The study: from a config to a report, stage by stage, in one directory.

Modules, in the order the data flows through them:

- :mod:`~mda_rcxai.study.bundled` -- the registry of bundled systems;
- :mod:`~mda_rcxai.study.config` -- one typed schema of the parameters (``StudyConfig``);
- :mod:`~mda_rcxai.study.inputs` -- config -> system, states and features, before any
  simulation, so a bad config fails in seconds;
- :mod:`~mda_rcxai.study.directory` -- the study directory (``Study``): which stages are
  done, their files, refuse / resume / overwrite;
- one module per stage, each taking and returning the typed records of
  :mod:`~mda_rcxai.study.results`: :mod:`~mda_rcxai.study.sample`,
  :mod:`~mda_rcxai.study.committor`, :mod:`~mda_rcxai.study.train`,
  :mod:`~mda_rcxai.study.explain`, :mod:`~mda_rcxai.study.validate`
  (helpers they share in :mod:`~mda_rcxai.study.common`);
- :mod:`~mda_rcxai.study.report` -- ``report.html``, a view of those results (built with
  :mod:`~mda_rcxai.study.html`);
- :mod:`~mda_rcxai.study.run` -- :func:`run_study`, the stages in order.

Nothing here imports torch or OpenPathSampling at import time; the stages import
the layers that need them when they run.

Examples
--------
>>> from mda_rcxai.study import STAGES, StudyConfig
>>> STAGES[0], StudyConfig().seed
('sample', 0)
"""

import importlib

#: Where each public name lives; imported on first use, so that ``mda_rcxai.study.bundled``
#: (read by the command-line parser) does not pull in the stages.
_LAZY = {"run_study": "run", "versions": "run", "StudyConfig": "config", "Study": "directory",
         "STAGES": "directory", "derived_seed": "files", "stage_sample": "sample",
         "stage_committor": "committor", "stage_train": "train", "stage_explain": "explain",
         "stage_validate": "validate", "choose_engine": "validate",
         "SampleResult": "results", "CommittorResult": "results", "TrainResult": "results",
         "ExplainResult": "results", "ValidationResult": "results", "BUNDLED": "bundled"}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

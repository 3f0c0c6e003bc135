"""The study: from a config to a report, stage by stage, in one directory.

Modules, in the order the data flows through them:

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

from .committor import stage_committor
from .config import StudyConfig
from .directory import STAGES, Study, derived_seed
from .explain import stage_explain
from .results import (CommittorResult, ExplainResult, SampleResult, TrainResult,
                      ValidationResult)
from .run import run_study, versions
from .sample import stage_sample
from .train import stage_train
from .validate import choose_engine, stage_validate

__all__ = ["run_study", "versions", "StudyConfig", "Study", "STAGES", "derived_seed",
           "stage_sample", "stage_committor", "stage_train", "stage_explain", "stage_validate",
           "choose_engine", "SampleResult", "CommittorResult", "TrainResult", "ExplainResult",
           "ValidationResult"]

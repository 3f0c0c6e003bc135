"""The whole study, stage by stage, resumable in one output directory.

Stages (each writes its files into ``out`` atomically and is skipped when
rerun with the same parameters); each returns a small typed result (module
:mod:`~mda_rcxai.study.results`) that the next stages and the report take as
arguments:

1. ``sample`` -> ``SampleResult``: a first A -> B path (hot MD, or a
   trajectory / OPS storage file of the user), then transition path
   sampling (OpenPathSampling two-way shooting) -> ``paths.npz``.
2. ``committor`` -> ``CommittorResult``: rounds of committor shooting.
   Round 1 takes configurations spread along the accepted paths; each later
   round takes path frames where the model (retrained on all data so far)
   is unsure -> ``committor_round{k}.npz`` and ``dataset.npz``.
3. ``train`` -> ``TrainResult``: features of every shooting point and
   of every path frame, model selection by cross-validation, a held-out
   fit, and the final model (an ensemble when ``[model] ensemble > 1``)
   -> ``features.npz``, ``model.pt``, ``fit.json``.
4. ``explain`` -> ``ExplainResult``: SHAP and LIME, globally and at the
   transition state, single features and grouped (by bond for dihedrals, by
   the descriptors' own group otherwise), with error bars from the ensemble
   -> ``importance.csv``, ``explanations.json``, ``explained.pdb``.
5. ``validate`` -> ``ValidationResult``: the committor test (fresh shots
   from unseen transition-state configurations) and baselines (held-out
   log-likelihood of models restricted to the top groups and to named
   feature sets) -> ``validation.json``, ``committor_test.npz``.
6. ``report``: ``report.html`` (self-contained), a view of the results above.

A study directory holds one set of parameters (``config.toml``): a rerun
with the same parameters resumes (TPS and committor shooting from their last
finished move / configuration), one with other parameters is refused before
anything is touched, naming what differs; ``overwrite=True`` moves every
file of the stages those parameters affect into ``.previous/`` and reruns
them.

Examples
--------
Run the whole study with the defaults (a few minutes on 2 cores)::

    from mda_rcxai.study import StudyConfig, run_study
    result = run_study("demo_out", StudyConfig(seed=0))
    print(result["top_groups"])
"""

from __future__ import annotations

import gc
import os
import platform
import time

from ..exceptions import InputError
from .committor import stage_committor
from .config import StudyConfig
from .directory import STAGES, Study, log, read_json
from .explain import stage_explain
from .inputs import build_system, check_features, check_scheduler, fes_axis
from .report import write_report
from .sample import stage_sample
from .train import stage_train
from .validate import stage_validate

__all__ = ["run_study", "versions"]


def run_study(out, config=None, verbose=True, until=None, overwrite=False, redo=None):
    """Run (or resume) the study in ``out``.

    Parameters
    ----------
    out : str
        Output directory.
    config : StudyConfig, optional
        Parameters (default: the defaults, i.e. the bundled alanine dipeptide).
    verbose : bool
        Progress bars and per-stage summaries.
    until : str, optional
        Stop after this stage (one of :data:`~mda_rcxai.study.directory.STAGES`).
    overwrite : bool
        Allow parameters different from an earlier run in ``out`` (the files
        of the stages they affect are moved to ``out/.previous/``); also
        redoes a stage whose files are missing or damaged, and those after it.
    redo : str, optional
        Redo this stage and those after it, keeping the earlier ones.

    Returns
    -------
    dict
        ``{"out", "report", "top_groups", "stages"}``.

    Examples
    --------
    ::

        run_study("demo_out")            # everything
        run_study("demo_out", until="sample")
    """
    if until is not None and until not in STAGES:
        raise InputError(f"until={until!r} is not a stage; use one of {STAGES}")
    if redo is not None and redo not in STAGES:
        raise InputError(f"redo={redo!r} is not a stage; use one of {STAGES}")
    config = config if config is not None else StudyConfig()
    if os.path.exists(os.fspath(out)) and not os.path.isdir(os.fspath(out)):
        raise InputError(f"--out {os.fspath(out)!r} is a file, not a directory; give a new or "
                         "study directory")
    _one_thread()
    t0 = time.perf_counter()
    # everything that can fail on bad input fails here, before any file is touched
    system = build_system(config)
    check_features(config, system)  # and the [explain] baselines' feature names
    check_scheduler(config)
    # one run per directory (a second process is refused, naming this one) until it returns
    with Study(out, config, verbose=verbose, overwrite=overwrite, redo=redo) as study:
        return _stages(study, system, until, t0)


def _stages(study, system, until, t0):
    """The stages in order, up to ``until``; the result dict of :func:`run_study`."""
    config, verbose = study.config, study.verbose
    sample = stage_sample(study, system)
    gc.collect()  # free OPS storage objects now: at interpreter exit netCDF4 complains
    if until == "sample":
        return _result(study)
    committor = stage_committor(study, system, sample)
    if until == "committor":
        return _result(study)
    train = stage_train(study, system, sample, committor)
    if until == "train":
        return _result(study)
    need_report = not study.done("report") or not os.path.exists(study.path("report.html"))
    explain = stage_explain(study, system, train, force=need_report and until != "explain")
    if until == "explain":
        return _result(study)
    validation = stage_validate(study, system, sample, train, explain)
    if until == "validate":
        return _result(study)
    if need_report:
        t_rep = time.perf_counter()
        write_report(study.path("report.html"), config=config, system=system,
                     stages=study.state, sample=sample, committor=committor, train=train,
                     explain=explain, validation=validation, versions=versions(),
                     fes_first=fes_axis(config))
        study.record("report", time.perf_counter() - t_rep, study.path("report.html"))
    else:
        log("   report: done before, " + study.path("report.html"), verbose)
    res = _result(study)
    log(f"== done in {time.perf_counter() - t0:.0f} s; outputs in {os.path.abspath(study.out)}",
         verbose)
    for name in ("report.html", "importance.csv", "explained.pdb", "model.pt", "dataset.npz"):
        if os.path.exists(study.path(name)):
            log(f"   {study.path(name)}", verbose)
    return res


def _result(study):
    top = {}
    p = study.path("explanations.json")
    if os.path.exists(p):
        ex = read_json(p, "explanations")
        top = {k: v.get("grouped_ranking", [])[:2] for k, v in ex.items()
               if k != "agreement" and isinstance(v, dict)}
    return {"out": study.out, "report": study.path("report.html"), "top_groups": top,
            "stages": study.state}


def _one_thread():
    """One thread per process (faster for small systems on few cores: docs/development.rst).

    ``OPENMM_CPU_THREADS=1`` also makes CPU runs repeatable: OpenMM's CPU PME
    ignores the Context's ``Threads`` property and with more threads two runs
    of the same seed drift apart (1e-10 nm after one step). Set before any
    worker process starts, so Dask workers inherit it.
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "OPENMM_CPU_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def versions():
    """Versions of the packages a study depends on."""
    import importlib.metadata as md
    out = {"python": platform.python_version()}
    for pkg in ("mda-rcxai", "MDAnalysis", "openpathsampling", "openmm", "torch", "shap",
                "lime", "numpy", "dask", "pydantic"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out

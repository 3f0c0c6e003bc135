"""Stage 1, ``sample``: a first A -> B path, then transition path sampling.

Writes ``paths.npz`` (and ``tps_checkpoint.npz`` while it runs).
"""

from __future__ import annotations

import numpy as np

from .common import angstrom, md_kwargs, path_universe
from .files import derived_seed, load_npz, log, savez
from .inputs import state_names
from .results import SampleResult

__all__ = ["stage_sample", "WRITES"]

#: Files this stage writes in the study directory (globs); ``--overwrite`` retires them.
WRITES = ("paths.npz", "tps_checkpoint*")


def _initial_path(study, system):
    from ..sampling import initial_path

    cfg = study.config
    a, b = state_names(cfg)
    ip = cfg.tps.initial_path
    if ip == "hot":
        return initial_path(system, state_A=a, state_B=b, temperature=cfg.system.temperature,
                            high_temperature=cfg.tps.initial_temperature,
                            seed=derived_seed(cfg.seed, "initial_path"), verbose=study.verbose,
                            **md_kwargs(cfg))
    from ..sampling import path_from_ops_storage, path_from_trajectory
    if ip == "pull":
        from ..systems.nacl import nacl_initial_path
        md = md_kwargs(cfg)
        if cfg.tps.pull_to:
            r_nm = cfg.tps.pull_to / 10.0
        else:  # midway between the two states' ranges on their one distance
            ra, rb = system.states[a].ranges[0], system.states[b].ranges[0]
            lo, hi = sorted([ra, rb])
            r_nm = 0.5 * (lo[1] + hi[0])
        frames_nm = nacl_initial_path(system, state_A=a, state_B=b,
                                      temperature=cfg.system.temperature,
                                      seed=derived_seed(cfg.seed, "initial_path"),
                                      max_frames=cfg.tps.max_path_frames,
                                      timestep_fs=md["timestep_fs"],
                                      steps_per_frame=md["steps_per_frame"],
                                      friction_per_ps=md["friction_per_ps"],
                                      r_shoot_nm=r_nm,
                                      platform="CPU" if md["platform"] == "auto"
                                      else md["platform"])
        return path_from_trajectory(system, path_universe(system, np.asarray(frames_nm) * 10.0),
                                    a, b)
    if ip.endswith(".nc"):
        return path_from_ops_storage(ip, system)
    return path_from_trajectory(system, ip, a, b)


def stage_sample(study, system) -> SampleResult:
    """Initial path and TPS; writes ``paths.npz`` (positions in Angstrom)."""
    from ..sampling import run_tps

    cfg = study.config
    if study.done("sample"):
        log("   sample: done before, reusing " + study.path("paths.npz"), study.verbose)
        d = load_npz(study.path("paths.npz"), "TPS paths")
        rec = study.state["sample"]
        return SampleResult(np.split(d["positions"], np.cumsum(d["lengths"])[:-1]),
                            rec.get("acceptance", float("nan")), cfg.tps.n_steps,
                            rec.get("seconds", 0.0))
    a, b = state_names(cfg)
    with study.stage("sample") as st:
        path = _initial_path(study, system)
        # positions now: OPS storage can turn saved snapshots into lazy proxies
        initial = angstrom(path)
        res = run_tps(system, path, n_steps=cfg.tps.n_steps,
                      checkpoint=study.path("tps_checkpoint.npz"),
                      temperature=cfg.system.temperature, seed=derived_seed(cfg.seed, "tps"),
                      state_A=a, state_B=b, n_frames_max=cfg.tps.max_path_frames,
                      n_chains=cfg.tps.chains, n_workers=min(cfg.workers, cfg.tps.chains),
                      verbose=study.verbose, **md_kwargs(cfg))
        # interior frames only: the first frame lies in A and the last in B; the
        # relaxed initial path is a path of the ensemble too (the only one when no
        # move was accepted)
        paths = [initial[1:-1]] + [angstrom(p)[1:-1] for p in res.accepted_paths]
        paths = [p for p in paths if len(p)]
        savez(study.path("paths.npz"), positions=np.concatenate(paths),
               lengths=np.array([len(p) for p in paths]))
    lengths = np.array([len(p) for p in paths])
    summary = (f"{len(paths) - 1} accepted paths in {cfg.tps.n_steps} moves "
               f"(acceptance {res.acceptance:.2f}), length {lengths.mean():.0f} +- "
               f"{lengths.std():.0f} frames, {st['seconds']:.0f} s")
    study.record("sample", st["seconds"], summary, acceptance=float(res.acceptance),
                 n_paths=len(paths), mean_length=float(lengths.mean()))
    log("   " + summary, study.verbose)
    return SampleResult(paths, float(res.acceptance), cfg.tps.n_steps, st["seconds"])

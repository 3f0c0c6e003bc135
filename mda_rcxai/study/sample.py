"""Stage 1, ``sample``: a first A -> B path, then transition path sampling.

Writes ``paths.npz`` (and, while it runs, ``tps_checkpoint*.npz`` on the fast
route or OPS' storage ``tps_ops.nc`` on the OPS route, which a rerun resumes).
"""

from __future__ import annotations

import glob
import os

import numpy as np

from ..sampling import as_settings, choose_route
from .common import angstrom, md_kwargs, path_universe
from .files import derived_seed, load_npz, log, savez
from .inputs import state_names
from .results import SampleResult

__all__ = ["stage_sample", "WRITES"]

#: Files this stage writes in the study directory (globs); ``--overwrite`` retires them.
WRITES = ("paths.npz", "tps_checkpoint*", "tps_ops.nc")


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
        from ..sampling import pull_initial_path
        to = cfg.tps.pull_to  # degrees on a dihedral, Angstrom on a distance
        where = ({"shoot_deg": to} if system.states[a].features[0].kind == "dihedral"
                 else {"r_shoot_nm": to / 10.0 if to is not None else None})
        frames_nm = pull_initial_path(
            system, a, b, seed=derived_seed(cfg.seed, "initial_path"),
            temperature=cfg.system.temperature, n_frames_max=cfg.tps.max_path_frames,
            **where, **md_kwargs(cfg))
        return path_from_trajectory(system, path_universe(system, np.asarray(frames_nm) * 10.0),
                                    a, b)
    if ip.endswith(".nc"):
        return path_from_ops_storage(ip, system)
    return path_from_trajectory(system, ip, a, b)


def _route(study, system, settings, method):
    """The TPS route: the one a killed run started with (its files say which),
    else :func:`~mda_rcxai.sampling.choose_route` (measured for "auto", which a
    loaded machine can tip from one run to the next)."""
    if method == "auto":
        if os.path.exists(study.path("tps_ops.nc")):
            return "ops", "resumed: OPS storage tps_ops.nc from the first run", {}
        if glob.glob(study.path("tps_checkpoint*.npz")):
            return "fast", "resumed: fast-route checkpoints from the first run", {}
    return choose_route(system, settings, method=method)


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
    settings = as_settings(None, temperature=cfg.system.temperature,
                           n_frames_max=cfg.tps.max_path_frames, **md_kwargs(cfg))
    with study.stage("sample") as st:
        method, reason, measured = _route(study, system, settings,
                                          cfg.tps.method or "auto")
        log(f"   TPS route: {method} ({reason})", study.verbose)
        path = _initial_path(study, system)
        # positions now: OPS storage can turn saved snapshots into lazy proxies
        initial = angstrom(path)
        if method == "ops":   # one chain, its OPS storage resumed after a kill
            route = {"storage": study.path("tps_ops.nc"), "n_chains": 1}
            if cfg.tps.chains > 1:
                log(f"   OPS PathSampling runs one chain of {cfg.tps.n_steps} moves "
                    f"([tps] chains = {cfg.tps.chains} applies to the fast route)",
                    study.verbose)
        else:
            route = {"checkpoint": study.path("tps_checkpoint.npz"),
                     "n_chains": cfg.tps.chains,
                     "n_workers": min(cfg.workers, cfg.tps.chains)}
        res = run_tps(system, path, n_steps=cfg.tps.n_steps, settings=settings,
                      seed=derived_seed(cfg.seed, "tps"), state_A=a, state_B=b,
                      method=method, verbose=study.verbose, **route)
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
    choice = res.extra.get("platform_choice") or {}
    rates = choice.get("steps_per_s") or {}
    ours = res.extra.get("md_steps_per_s")
    best = max(rates.values()) if rates else None
    if ours and best:
        summary += (f"; MD {ours:,.0f} steps/s, {ours / best:.2f}x the fastest plain loop "
                    f"measured here ({best:,.0f} steps/s)")
    study.record("sample", st["seconds"], summary, acceptance=float(res.acceptance),
                 n_paths=len(paths), mean_length=float(lengths.mean()),
                 route=method, route_reason=reason, route_measured=measured,
                 platform_choice=choice or None, md_steps_per_s=ours,
                 plain_loop_steps_per_s=best)
    log("   " + summary, study.verbose)
    return SampleResult(paths, float(res.acceptance), cfg.tps.n_steps, st["seconds"])

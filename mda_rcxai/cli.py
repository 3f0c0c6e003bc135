"""The ``mda-rcxai`` command line.

``mda-rcxai demo --out DIR`` runs the whole study on the bundled alanine
dipeptide; the stage commands (``sample``, ``committor``, ``train``,
``explain``) run the study up to that stage in the same ``--out`` (each
resumes what is already there); ``features`` computes features of any
trajectory. Errors are one line (``--debug`` for the traceback) with a
non-zero exit status.

Examples
--------
::

    mda-rcxai demo --out demo_out --seed 0 --workers 2
    mda-rcxai demo --print-config > study.toml
    mda-rcxai sample --out run1 --config study.toml
    mda-rcxai features protein.psf traj.dcd --select "protein" -o features.npz
"""

import argparse
import os
import sys

from .study.bundled import BUNDLED

__all__ = ["main", "build_parser"]


#: The study's stages, in order (as mda_rcxai.study.directory.STAGES; kept here so that
#: building the parser imports nothing of the study).
_STAGES = ("sample", "committor", "train", "explain", "validate", "report")


def build_parser():
    """The argument parser (exposed for the docs and tests)."""
    p = argparse.ArgumentParser(
        prog="mda-rcxai",
        description="Explained reaction coordinates: TPS + committor shooting (OpenPathSampling), "
                    "a neural committor model, SHAP and LIME on atoms.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    from . import __version__
    p.add_argument("--version", action="version", version=f"mda-rcxai {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def study_args(sp, default_out):
        sp.add_argument("--out", default=default_out, required=default_out is None,
                        help="study directory" + (" (default: %(default)s)" if default_out else ""))
        sp.add_argument("--config", help="TOML file with study parameters (see --print-config)")
        sp.add_argument("--seed", type=int, help="seed of every random step (overrides config)")
        sp.add_argument("--workers", type=int, help="processes for committor shooting")
        sp.add_argument("--print-config", action="store_true",
                        help="print the parameters (defaults merged with --config) and exit")
        sp.add_argument("--overwrite", action="store_true",
                        help="allow parameters that differ from an earlier run in --out (the "
                             "stages they affect, and any stage whose files are damaged, are "
                             "redone; earlier stages are kept)")
        sp.add_argument("--redo", choices=_STAGES, metavar="STAGE",
                        help="redo this stage and those after it, keeping the earlier ones "
                             f"(one of {', '.join(_STAGES)})")
        sp.add_argument("--quiet", action="store_true", help="no progress output")
        sp.add_argument("--scheduler", help="address of a running Dask scheduler for committor "
                                            "shooting, e.g. tcp://127.0.0.1:8786")

    d = sub.add_parser("demo", help="the whole study on a bundled system (default: alanine "
                                     "dipeptide in vacuum)")
    study_args(d, "demo_out")
    d.add_argument("--system", choices=sorted(BUNDLED),
                   help="bundled system and its study defaults (default: alanine_dipeptide)")
    r = sub.add_parser("run", help="the whole study for the system your --config describes")
    study_args(r, None)
    stages = {}
    for name, helptext in [("sample", "initial path + transition path sampling"),
                           ("committor", "rounds of committor shooting (runs sample first if needed)"),
                           ("train", "features + committor model (runs earlier stages if needed); "
                                     "with --features: train on your own files"),
                           ("explain", "SHAP + LIME, table, plots, annotated PDB; "
                                       "with --features: explain your own model"),
                           ("validate", "committor test and baselines (runs earlier stages if "
                                        "needed)")]:
        stages[name] = sub.add_parser(name, help=helptext)
        study_args(stages[name], "study_out")
    t = stages["train"]
    t.add_argument("--features", help="features .npz (from 'mda-rcxai features'), one row per "
                                      "configuration of --dataset")
    t.add_argument("--dataset", help="committor dataset .npz (run_committor) or an .npz with "
                                     "arrays n_A and n_B")
    t.add_argument("-o", "--output", default="model.pt", help="model file (default: %(default)s)")
    e = stages["explain"]
    e.add_argument("--features", help="features .npz of the configurations to explain")
    e.add_argument("--model", help="model .pt (from 'mda-rcxai train')")
    e.add_argument("--topology", help="topology for the annotated PDB (atom indices of the features)")
    e.add_argument("--method", nargs="+", default=["shap", "lime"], choices=["shap", "lime"])
    e.add_argument("--selection", nargs="+", default=["global", "transition_state"],
                   choices=["global", "transition_state"])
    e.add_argument("--window", nargs=2, type=float, default=[0.4, 0.6],
                   help="predicted-p_B window of the transition state")
    e.add_argument("--max-samples", type=int, default=200)

    f = sub.add_parser("features", help="features of any trajectory -> .npz")
    f.add_argument("topology", help="topology file (with bonds, e.g. PSF, prmtop, TPR, PDB+CONECT)")
    f.add_argument("trajectory", nargs="*", help="trajectory file(s)")
    f.add_argument("--select", default="all", help="MDAnalysis selection (default: all)")
    f.add_argument("--kind", choices=["dihedrals", "distances", "angles"], default="dihedrals")
    f.add_argument("--dihedrals", default="all", help="all | heavy | backbone")
    f.add_argument("--pairs", default="heavy", help="distances: heavy | all")
    f.add_argument("--sincos", action="store_true", help="sin/cos columns for dihedrals")
    f.add_argument("--backend", default="serial", choices=["serial", "multiprocessing", "dask"])
    f.add_argument("--workers", type=int, default=1)
    f.add_argument("--start", type=int)
    f.add_argument("--stop", type=int)
    f.add_argument("--step", type=int)
    f.add_argument("-o", "--output", default="features.npz")
    f.add_argument("--quiet", action="store_true")
    return p


def _config(args):
    from importlib.resources import files

    from .study.config import StudyConfig
    from .exceptions import InputError

    if args.command == "run" and not args.config:
        raise InputError("run needs --config study.toml (see 'mda-rcxai demo --print-config' "
                         "and docs/own_system); 'mda-rcxai demo' runs the bundled study")
    system = getattr(args, "system", None)
    if args.config:
        if system:
            raise InputError("--system and --config cannot be combined; put [system] in the config")
        cfg = StudyConfig.load(args.config)
    elif system and BUNDLED[system].config:
        cfg = StudyConfig.load(str(files("mda_rcxai.data").joinpath(BUNDLED[system].config)))
    else:
        cfg = StudyConfig()
    flags = []
    if args.seed is not None:
        flags.append(("--seed", args.seed, {"seed": args.seed}))
    if args.workers is not None:
        flags.append(("--workers", args.workers, {"workers": args.workers}))
    if getattr(args, "scheduler", None):
        d = cfg.committor.model_dump(exclude_none=True)
        d["scheduler"] = args.scheduler
        flags.append(("--scheduler", args.scheduler, {"committor": d}))
    for flag, value, change in flags:
        try:
            cfg = cfg.replace(**change)
        except InputError as err:  # the config's message names the key; name the flag
            import re
            m = re.search(r"= [^:]*: (.*?)(; fix this key in the config file.*)?$", str(err))
            why = m.group(1) if m else str(err)
            raise InputError(f"{flag} {value}: {why}; give another {flag}") from None
    return cfg


def _load_npz(path, what):
    import numpy as np
    from .exceptions import InputError
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file ({what})")
    try:
        return dict(np.load(path, allow_pickle=False))
    except Exception as err:
        raise InputError(f"{path} is not a readable .npz file ({what}): {err}") from err


def _read_features(path):
    """``{"X", "names", "atom_indices", "groups", "columns"}`` of a features file
    (:func:`mda_rcxai.features.save_features`, or an older .npz with X and names)."""
    from .exceptions import InputError
    from .features import load_features

    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file (--features)")
    f = _load_npz(path, "--features")
    if "format" not in f:  # written by an older version: X and names only
        if "X" not in f or "names" not in f:
            raise InputError(f"--features {path}: no arrays X and names; write it with "
                             "'mda-rcxai features'")
        return {"X": f["X"], "names": f["names"], "atom_indices": f.get("atom_indices"),
                "groups": f.get("groups"), "columns": None}
    r = load_features(path)
    return {"X": r.features, "names": r.names, "atom_indices": r.atom_indices,
            "groups": r.groups, "columns": r.columns}


def _cmd_train_files(args):
    from .exceptions import InputError

    f = _read_features(args.features)
    if not args.dataset:
        raise InputError("--dataset is required with --features (committor counts)")
    d = _load_npz(args.dataset, "--dataset")
    if "n_A" not in d or "n_B" not in d:
        raise InputError(f"--dataset {args.dataset}: no arrays n_A and n_B")
    X, n_A, n_B = f["X"], d["n_A"], d["n_B"]
    import numpy as np
    for key, arr in (("n_A", n_A), ("n_B", n_B)):
        if np.asarray(arr).ndim != 1 or (np.asarray(arr) < 0).any() or not np.all(
                np.isfinite(np.asarray(arr, float))):
            bad = int(np.argmax(np.asarray(arr) < 0)) if (np.asarray(arr) < 0).any() else None
            raise InputError(f"--dataset {args.dataset}: {key} must be a 1-D array of shot counts "
                             ">= 0" + (f" (row {bad} has {arr[bad]})" if bad is not None else ""))
    if len(n_A) != len(n_B):
        raise InputError(f"--dataset {args.dataset}: n_A has {len(n_A)} rows but n_B {len(n_B)}")
    if len(X) != len(n_A):
        raise InputError(f"--features has {len(X)} rows but --dataset {len(n_A)} configurations; "
                         "compute the features on the dataset's configurations "
                         "(CommittorDataset.to_universe())")
    from .model import CommittorModelCV
    keep = (n_A + n_B) > 0
    seed = 0 if args.seed is None else args.seed
    # weight decay and architecture chosen by 5-fold cross-validation (as the study does);
    # the choice refitted on all rows is saved as a CommittorModel
    cv = CommittorModelCV(seed=seed).fit(
        X[keep], n_A[keep], n_B[keep], feature_names=[str(n) for n in f["names"]])
    cv.best_estimator_.save(args.output)
    m = cv.cv_metrics_
    print(f"{int(keep.sum())} configurations, {X.shape[1]} features; chosen "
          f"{cv.best_params_}; out-of-fold p_B RMSE {m['rmse_p_B']:.3f}; model -> "
          f"{os.path.abspath(args.output)}")
    return 0


def _cmd_explain_files(args):
    import json
    from .exceptions import InputError

    if not args.model:  # before the heavy imports: a missing argument fails at once
        raise InputError("--model is required with --features")
    from .explain import plot_beeswarm, plot_importance
    from .model import CommittorModel
    f = _read_features(args.features)
    names = [str(n) for n in f["names"]]
    model = CommittorModel.load(args.model, feature_names=names)
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"--out {out!r} is a file; give a directory for the outputs")
    os.makedirs(out, exist_ok=True)
    u = None
    if args.topology:
        import MDAnalysis as mda
        if not os.path.exists(args.topology):
            raise FileNotFoundError(f"{args.topology}: no such file (--topology)")
        try:
            u = mda.Universe(args.topology)
        except Exception as err:
            raise InputError(f"--topology {args.topology!r} cannot be read by MDAnalysis "
                             f"({type(err).__name__}: {err})") from None
    from .explain.run import explain_all
    from .fileio import atomic_write

    by = "bond" if u is not None else None
    res = explain_all(model, f["X"], feature_names=names, atom_indices=f.get("atom_indices"),
                      groups=f.get("groups"), columns=f.get("columns"), methods=tuple(args.method),
                      selections=tuple(args.selection), window=tuple(args.window),
                      max_samples=args.max_samples, seed=args.seed or 0, universe=u, by=by)
    for (method, selection), ex in res.explanations.items():
        tag = f"{method}_{selection}"
        plot_importance(ex, path=os.path.join(out, f"importance_{tag}.png"))
        plot_beeswarm(ex, path=os.path.join(out, f"beeswarm_{tag}.png"))
        if u is not None:
            plot_importance(ex.grouped(by=by),
                            path=os.path.join(out, f"importance_by_{by}_{tag}.png"))
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # PDB writer notes on absent attributes
                atomic_write(os.path.join(out, f"explained_{tag}.pdb"),
                             ex.to_atomgroup(u, scale="max").write)
        top = res.summary[f"{method}/{selection}"]["grouped_ranking" if u is not None
                                                   else "ranking"][:2]
        print(f"{method:4s} {selection:16s} n={ex.values.shape[0]:4d} top: {', '.join(top)}")
    for key, v in res.summary.items():
        if isinstance(v, dict) and "error" in v:
            print(f"{key}: {v['error']}")
    if res.table is not None:
        atomic_write(os.path.join(out, "importance.csv"), lambda t: res.table.to_csv(t, index=False))
    for sel, c in res.summary.get("agreement", {}).items():
        atomic_write(os.path.join(out, f"agreement_{sel}.json"),
                     json.dumps(c, indent=1, default=str))
    print(f"outputs in {os.path.abspath(out)}")
    return 0


def _cmd_study(args):
    from .study import run_study

    if getattr(args, "features", None):
        if args.command == "train":
            return _cmd_train_files(args)
        if args.command == "explain":
            return _cmd_explain_files(args)

    cfg = _config(args)
    if args.print_config:
        sys.stdout.write(cfg.to_toml())
        return 0
    until = {"demo": None, "run": None, "sample": "sample", "committor": "committor",
             "train": "train", "explain": "explain", "validate": None}[args.command]
    res = run_study(args.out, cfg, verbose=not args.quiet, until=until,
                    overwrite=args.overwrite, redo=args.redo)
    if res["top_groups"]:
        print("top groups:")
        for k, v in res["top_groups"].items():
            print(f"  {k:24s} {', '.join(v)}")
    if until is None:
        print(f"report: {os.path.abspath(res['report'])}")
    return 0


def _cmd_features(args):
    import MDAnalysis as mda

    from .exceptions import InputError

    for path in [args.topology, *args.trajectory]:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file")
    for key in ("step", "workers"):
        v = getattr(args, key)
        if v is not None and v < 1:
            raise InputError(f"--{key} {v}: must be >= 1")
    for key in ("start", "stop"):
        v = getattr(args, key)
        if v is not None and v < 0:
            raise InputError(f"--{key} {v}: must be >= 0 (a frame index)")
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            u = mda.Universe(args.topology, *args.trajectory)
    except Exception as err:
        names = " ".join([args.topology, *args.trajectory])
        raise InputError(f"{names}: MDAnalysis cannot read this topology/trajectory "
                         f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                         "give a topology with bonds and trajectory files of a known format"
                         ) from None
    n = u.trajectory.n_frames
    if args.start is not None and args.start >= n:
        raise InputError(f"--start {args.start}: the trajectory has {n} frame(s) "
                         f"(indices 0-{n - 1})")
    try:
        ag = u.select_atoms(args.select)
    except Exception as err:
        raise InputError(f"--select {args.select!r} is not a valid selection: {err}") from None
    if len(ag) == 0:
        raise InputError(f"--select {args.select!r} matches no atom")
    from .features import build_features, save_features

    opts = {"dihedrals": {"dihedrals": args.dihedrals, "sincos": args.sincos},
            "distances": {"pairs": args.pairs}, "angles": {}}[args.kind]
    kw = {"backend": args.backend}
    if args.backend != "serial":
        kw["n_workers"] = args.workers
    r = build_features(ag, kinds=(args.kind,), start=args.start, stop=args.stop,
                       step=args.step, verbose=not args.quiet, **{args.kind: opts}, **kw)
    if r.features.shape[0] == 0:
        raise InputError(f"--start/--stop/--step select no frame of the {n}-frame trajectory")
    save_features(args.output, r)
    print(f"{r.features.shape[0]} frames x {r.features.shape[1]} features -> "
          f"{os.path.abspath(args.output)}")
    return 0


def main(argv=None):
    """Entry point of the ``mda-rcxai`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    import warnings
    old_format = warnings.formatwarning
    if not args.debug:  # warnings as one line each, without the source line
        warnings.formatwarning = lambda msg, cat, *a, **k: f"mda-rcxai: warning: {msg}\n"
    try:
        return _dispatch(args)
    finally:
        warnings.formatwarning = old_format


def _dispatch(args):
    from .exceptions import RcxaiError

    try:
        if args.command == "features":
            return _cmd_features(args)
        return _cmd_study(args)
    except KeyboardInterrupt:
        print("mda-rcxai: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except (RcxaiError, FileNotFoundError, PermissionError, IsADirectoryError,
            FileExistsError, NotADirectoryError) as err:
        if args.debug:
            raise
        print(f"mda-rcxai: error: {_first_line(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # a bug or an input we did not foresee: still one line
        if args.debug:
            raise
        print(f"mda-rcxai: error: {type(err).__name__}: {_first_line(err)} (rerun with --debug "
              "for the traceback, and please report it)", file=sys.stderr)
        return 2


def _first_line(err):
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

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

__all__ = ["main", "build_parser"]


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
        sp.add_argument("--out", default=default_out, help="study directory (default: %(default)s)")
        sp.add_argument("--config", help="TOML file with study parameters (see --print-config)")
        sp.add_argument("--seed", type=int, help="seed of every random step (overrides config)")
        sp.add_argument("--workers", type=int, help="processes for committor shooting")
        sp.add_argument("--print-config", action="store_true",
                        help="print the parameters (defaults merged with --config) and exit")
        sp.add_argument("--overwrite", action="store_true",
                        help="allow parameters that differ from an earlier run in --out")
        sp.add_argument("--quiet", action="store_true", help="no progress output")

    d = sub.add_parser("demo", help="the whole study on the bundled alanine dipeptide")
    study_args(d, "demo_out")
    stages = {}
    for name, helptext in [("sample", "initial path + transition path sampling"),
                           ("committor", "rounds of committor shooting (runs sample first if needed)"),
                           ("train", "features + committor model (runs earlier stages if needed); "
                                     "with --features: train on your own files"),
                           ("explain", "SHAP + LIME, table, plots, annotated PDB, report; "
                                       "with --features: explain your own model")]:
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
    from .config import StudyConfig

    cfg = StudyConfig.load(args.config) if args.config else StudyConfig()
    if args.seed is not None:
        cfg = cfg.replace(seed=args.seed)
    if args.workers is not None:
        cfg = cfg.replace(workers=args.workers)
    return cfg.validate()


def _load_npz(path, what):
    import numpy as np
    from .exceptions import InputError
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file ({what})")
    try:
        return dict(np.load(path, allow_pickle=False))
    except Exception as err:
        raise InputError(f"{path} is not a readable .npz file ({what}): {err}") from err


def _cmd_train_files(args):
    from .exceptions import InputError
    from .model import CommittorModel

    f = _load_npz(args.features, "--features")
    if "X" not in f or "names" not in f:
        raise InputError(f"--features {args.features}: no arrays X and names; write it with "
                         "'mda-rcxai features'")
    if not args.dataset:
        raise InputError("--dataset is required with --features (committor counts)")
    d = _load_npz(args.dataset, "--dataset")
    if "n_A" not in d or "n_B" not in d:
        raise InputError(f"--dataset {args.dataset}: no arrays n_A and n_B")
    X, n_A, n_B = f["X"], d["n_A"], d["n_B"]
    if len(X) != len(n_A):
        raise InputError(f"--features has {len(X)} rows but --dataset {len(n_A)} configurations; "
                         "compute the features on the dataset's configurations "
                         "(CommittorDataset.to_universe())")
    keep = (n_A + n_B) > 0
    seed = 0 if args.seed is None else args.seed
    model = CommittorModel(seed=seed, verbose=not args.quiet).fit(
        X[keep], n_A[keep], n_B[keep], feature_names=[str(n) for n in f["names"]])
    model.save(args.output)
    m = model.validation_metrics_ or {}
    print(f"{int(keep.sum())} configurations, {X.shape[1]} features; held-out "
          f"p_B RMSE {m.get('rmse_p_B', float('nan')):.3f}; model -> {os.path.abspath(args.output)}")
    return 0


def _cmd_explain_files(args):
    import json
    import numpy as np
    from .exceptions import InputError
    from .explain import compare, explain, plot_beeswarm, plot_importance
    from .model import CommittorModel

    if not args.model:
        raise InputError("--model is required with --features")
    f = _load_npz(args.features, "--features")
    names = [str(n) for n in f["names"]]
    model = CommittorModel.load(args.model, feature_names=names)
    out = args.out
    os.makedirs(out, exist_ok=True)
    atom_names = None
    u = None
    if args.topology:
        import MDAnalysis as mda
        if not os.path.exists(args.topology):
            raise FileNotFoundError(f"{args.topology}: no such file (--topology)")
        u = mda.Universe(args.topology)
        atom_names = u
    tables, done = [], {}
    for method in args.method:
        for selection in args.selection:
            ex = explain(model, f["X"], feature_names=names, atom_indices=f.get("atom_indices"),
                         method=method, selection=selection, window=tuple(args.window),
                         max_samples=args.max_samples, seed=args.seed or 0,
                         atom_names=atom_names, groups=f.get("groups"))
            done[method, selection] = ex
            df = ex.to_dataframe()
            df.insert(0, "selection", selection)
            df.insert(0, "method", method)
            tables.append(df)
            tag = f"{method}_{selection}"
            plot_importance(ex, path=os.path.join(out, f"importance_{tag}.png"))
            plot_beeswarm(ex, path=os.path.join(out, f"beeswarm_{tag}.png"))
            if u is not None:
                plot_importance(ex.grouped(by="bond"),
                                path=os.path.join(out, f"importance_by_bond_{tag}.png"))
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # PDB writer notes on absent attributes
                    ex.to_atomgroup(u, scale="max").write(os.path.join(out, f"explained_{tag}.pdb"))
            top = ex.grouped(by="bond").ranking[:2] if u is not None else ex.ranking[:2]
            print(f"{method:4s} {selection:16s} n={ex.values.shape[0]:4d} top: {', '.join(top)}")
    import pandas as pd
    pd.concat(tables).to_csv(os.path.join(out, "importance.csv"), index=False)
    for sel in args.selection:
        if ("shap", sel) in done and ("lime", sel) in done:
            c = compare(done["shap", sel], done["lime", sel])
            with open(os.path.join(out, f"agreement_{sel}.json"), "w") as fh:
                json.dump({k: (v.item() if hasattr(v, "item") else v) for k, v in c.items()
                           if not isinstance(v, np.ndarray)}, fh, indent=1, default=str)
    print(f"outputs in {os.path.abspath(out)}")
    return 0


def _cmd_study(args):
    from .pipeline import run_study

    if getattr(args, "features", None):
        if args.command == "train":
            return _cmd_train_files(args)
        if args.command == "explain":
            return _cmd_explain_files(args)

    cfg = _config(args)
    if args.print_config:
        sys.stdout.write(cfg.to_toml())
        return 0
    until = {"demo": None, "sample": "sample", "committor": "committor", "train": "train",
             "explain": None}[args.command]
    res = run_study(args.out, cfg, verbose=not args.quiet, until=until,
                    overwrite=args.overwrite)
    if res["top_groups"]:
        print("top groups by bond:")
        for k, v in res["top_groups"].items():
            print(f"  {k:24s} {', '.join(v)}")
    if until is None:
        print(f"report: {os.path.abspath(res['report'])}")
    return 0


def _cmd_features(args):
    import MDAnalysis as mda
    import numpy as np

    from .exceptions import InputError
    from .features import AngleFeatures, DihedralFeatures, DistanceFeatures

    for path in [args.topology, *args.trajectory]:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file")
    u = mda.Universe(args.topology, *args.trajectory)
    try:
        ag = u.select_atoms(args.select)
    except Exception as err:
        raise InputError(f"--select {args.select!r} is not a valid selection: {err}") from err
    if args.kind == "dihedrals":
        a = DihedralFeatures(ag, dihedrals=args.dihedrals, sincos=args.sincos,
                             verbose=not args.quiet)
    elif args.kind == "distances":
        a = DistanceFeatures(ag, pairs=args.pairs, verbose=not args.quiet)
    else:
        a = AngleFeatures(ag, verbose=not args.quiet)
    kw = {"backend": args.backend}
    if args.backend != "serial":
        kw["n_workers"] = args.workers
    a.run(start=args.start, stop=args.stop, step=args.step, **kw)
    r = a.results
    np.savez_compressed(args.output, X=r.features, names=np.array(r.names),
                        labels=np.array(r.labels), atom_indices=r.atom_indices,
                        groups=r.groups, frames=a.frames, times=a.times)
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
    from .exceptions import RcxaiError

    try:
        if args.command == "features":
            return _cmd_features(args)
        return _cmd_study(args)
    except KeyboardInterrupt:
        print("mda-rcxai: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except (RcxaiError, FileNotFoundError, PermissionError, IsADirectoryError) as err:
        if args.debug:
            raise
        print(f"mda-rcxai: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

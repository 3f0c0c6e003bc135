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
    for name, helptext in [("sample", "initial path + transition path sampling"),
                           ("committor", "rounds of committor shooting (runs sample first if needed)"),
                           ("train", "features + committor model (runs earlier stages if needed)"),
                           ("explain", "SHAP + LIME, table, plots, annotated PDB, report")]:
        study_args(sub.add_parser(name, help=helptext), "study_out")

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


def _cmd_study(args):
    from .pipeline import run_study

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

    if not sys.stderr.isatty():  # logs: fewer progress-bar updates
        os.environ.setdefault("TQDM_MININTERVAL", "15")
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

"""Frames per second for 45 dihedrals of alanine dipeptide: ours vs MDAnalysis vs mdtraj.

Run: ``python benchmarks/features.py [--frames 100000]``. Everything is
measured in one run, side by side, and printed as ratios (this machine is
noisy; compare ratios, not absolute numbers). Cases:

* in memory: MemoryReader (ours uses its block path), MDAnalysis ``Dihedral``
  on the same Universe, ``mdtraj.compute_dihedrals`` on an in-memory Trajectory;
* from a DCD on disk: ours and ``Dihedral`` streaming frame by frame, mdtraj
  including ``md.load``;
* serial runs read the DCD in blocks (the reader's ``timeseries``); the
  parallel backends go frame by frame: ours from the DCD with
  ``backend='multiprocessing'`` and ``n_workers=1`` and ``2``.
"""

import argparse
import os
import tempfile
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def timed(fn, repeat=1):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import MDAnalysis as mda
    import mdtraj as md
    from MDAnalysis.analysis.dihedrals import Dihedral

    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.features import DihedralFeatures

    base = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD, in_memory=True)
    src = base.trajectory.coordinate_array
    reps = int(np.ceil(args.frames / len(src)))
    rng = np.random.default_rng(0)
    coords = np.tile(src, (reps, 1, 1))[: args.frames]
    coords = (coords + rng.normal(0, 0.05, coords.shape)).astype(np.float32)
    n = len(coords)

    tmp = tempfile.mkdtemp()
    dcd = os.path.join(tmp, "bench.dcd")
    u_mem = mda.Universe(ALANINE_DIPEPTIDE_PDB, coords, format=mda.coordinates.memory.MemoryReader)
    with mda.Writer(dcd, 22) as w:
        for _ in u_mem.trajectory:
            w.write(u_mem.atoms)
    u_dcd = mda.Universe(ALANINE_DIPEPTIDE_PDB, dcd)
    rows = DihedralFeatures(u_mem.atoms).run(stop=1).results.atom_indices
    t_md = md.Trajectory(coords / 10.0, md.load_topology(ALANINE_DIPEPTIDE_PDB))

    res = {}
    res["ours, in memory"] = timed(lambda: DihedralFeatures(u_mem.atoms).run(), args.repeat)
    res["MDAnalysis Dihedral, in memory"] = timed(
        lambda: Dihedral([u_mem.atoms[list(r)] for r in rows]).run(), args.repeat)
    res["mdtraj, in memory"] = timed(lambda: md.compute_dihedrals(t_md, rows), args.repeat)
    res["ours, DCD"] = timed(lambda: DihedralFeatures(u_dcd.atoms).run(), args.repeat)
    res["MDAnalysis Dihedral, DCD"] = timed(
        lambda: Dihedral([u_dcd.atoms[list(r)] for r in rows]).run(), args.repeat)
    res["mdtraj, DCD incl. load"] = timed(
        lambda: md.compute_dihedrals(md.load(dcd, top=ALANINE_DIPEPTIDE_PDB), rows),
        args.repeat)
    res["ours, DCD, frame by frame"] = timed(
        lambda: DihedralFeatures(u_dcd.atoms).run(backend="multiprocessing", n_workers=1),
        args.repeat)
    res["ours, DCD, 2 workers"] = timed(
        lambda: DihedralFeatures(u_dcd.atoms).run(backend="multiprocessing", n_workers=2),
        args.repeat)

    print(f"45 dihedrals, {n} frames, best of {args.repeat}")
    print(f"{'case':36s} {'frames/s':>12s}")
    for k, t in res.items():
        print(f"{k:36s} {n / t:12,.0f}")
    r = lambda a, b: res[b] / res[a]  # speed of a relative to b
    print("ratios (higher is better for the first):")
    print(f"  ours / mdtraj, in memory          {r('ours, in memory', 'mdtraj, in memory'):.2f}x")
    print(f"  ours / MDAnalysis, in memory      {r('ours, in memory', 'MDAnalysis Dihedral, in memory'):.2f}x")
    print(f"  ours / MDAnalysis, DCD            {r('ours, DCD', 'MDAnalysis Dihedral, DCD'):.2f}x")
    print(f"  ours / mdtraj, DCD                {r('ours, DCD', 'mdtraj, DCD incl. load'):.2f}x")
    print(f"  ours DCD blocks / frame by frame  {r('ours, DCD', 'ours, DCD, frame by frame'):.2f}x")
    print(f"  2 workers / 1 worker, frame by frame, DCD "
          f"{r('ours, DCD, 2 workers', 'ours, DCD, frame by frame'):.2f}x")


if __name__ == "__main__":
    main()

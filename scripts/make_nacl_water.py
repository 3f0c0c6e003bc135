#!/usr/bin/env python3
"""Rebuild ``mda_rcxai/data/nacl_water.pdb`` (the recipe: :mod:`mda_rcxai.systems.nacl_build`)."""

import argparse
import os

from mda_rcxai.data import NACL_WATER_PDB as OUT_PDB
from mda_rcxai.fileio import atomic_write
from mda_rcxai.systems.nacl_build import build_nacl_water, pdb_text


def main(argv=None):  # pragma: no cover - run by hand
    # OpenMM's CPU PME does not follow the Context's Threads property; with
    # more threads its sums change order from run to run and the MD is not
    # bitwise repeatable. One thread makes the same seed give the same file.
    os.environ["OPENMM_CPU_THREADS"] = "1"
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--box-nm", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--out", default=OUT_PDB)
    a = p.parse_args(argv)
    top, pos, info = build_nacl_water(a.box_nm, a.seed, verbose=True)
    import openmm
    remarks = [
        f"Made with OpenMM {openmm.__version__}.",
        "Na+ Cl- in TIP3P, amber14-all.xml + amber14/tip3p.xml (Joung-Cheatham",
        "ions), PME 0.9 nm, HBonds, rigid water; NVT/NPT/NVT equilibrated at",
        f"300 K (scripts/make_nacl_water.py, box_nm={a.box_nm}, "
        f"seed={a.seed}).",
        f"{info['n_waters']} waters, box {info['box_nm']:.4f} nm, "
        f"r(Na-Cl) {info['r_nacl_nm']:.4f} nm.",
    ]
    atomic_write(a.out, pdb_text(top, pos, remarks))
    print(f"wrote {a.out}")


if __name__ == "__main__":  # pragma: no cover
    main()

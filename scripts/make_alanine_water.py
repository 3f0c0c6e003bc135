#!/usr/bin/env python3
"""Rebuild the bundled alanine dipeptide in TIP3P water (run by hand; kept for the record).

``python scripts/make_alanine_water.py [--box-nm 2.2] [--seed 2026] [--out PATH]``
rewrites ``mda_rcxai/data/alanine_water.pdb``. It lives outside the package: the
library never imports it.

Recipe (OpenMM, CPU platform, one thread, deterministic forces):

1. The bundled ACE-ALA-NME (``mda_rcxai/data/alanine_dipeptide.pdb``: AMBER atom names,
   the energy-minimised vacuum C7eq structure) is solvated by
   :class:`openmm.app.Modeller` ``addSolvent(model="tip3p", boxSize=(L, L, L))`` with
   ``amber99sbildn.xml`` + ``tip3p.xml`` (OpenMM's files; for ACE-ALA-NME ff99SB-ILDN is
   ff99SB: ILDN changes only Ile, Leu, Asp, Asn side chains). The 22 solute atoms stay
   first, in the order of the vacuum file.
2. PME, 0.9 nm cutoff, ``HBonds`` constraints, rigid water (see
   :func:`mda_rcxai.systems.alanine_water.create_alanine_water_system`). Harmonic
   restraints (500 kJ/mol/rad^2) hold phi and psi at their starting values during
   steps 3-4.
3. Energy minimisation; Langevin (LangevinMiddle, 2 fs, 1/ps) NVT at 300 K for 5 ps.
4. NPT at 300 K and 1 bar (Monte Carlo barostat every 25 steps) for 20 ps; the box is
   set to the cube of the mean volume of the last 10 ps, molecule centres scaled to it.
5. Minimisation again, NVT 300 K for 10 ps without restraints, continued in 0.2 ps
   pieces (at most 10 ps) until phi is inside the C7eq state. The last frame is written
   with molecules whole, the CRYST1 box and OpenMM's CONECT records.

Repeatable: a rebuild with the defaults on the development VM (OpenMM 8.6.1) wrote a file
byte-identical to the shipped one (148 s on one loaded core; 321 waters, side 2.1502 nm,
density 0.990 g/cm3 in NPT, final phi -101.8, psi -45.8 degrees).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT_PDB = os.path.join(ROOT, "mda_rcxai", "data", "alanine_water.pdb")


def _dihedral(x, idx):
    from mda_rcxai.systems import dihedral_degrees
    return float(np.asarray(dihedral_degrees(np.asarray(x), np.array([idx]))).ravel()[0])


def _molecules(topology):
    """Atom indices of each molecule (connected by bonds) of an OpenMM topology."""
    import networkx as nx
    g = nx.Graph()
    g.add_nodes_from(a.index for a in topology.atoms())
    g.add_edges_from((b[0].index, b[1].index) for b in topology.bonds())
    return [sorted(c) for c in nx.connected_components(g)]


def build(box_nm=2.2, seed=2026, verbose=True):
    """Solvate, minimise and equilibrate (see the module doc); returns (topology, nm, info)."""
    import openmm
    import openmm.app as app
    import openmm.unit as u

    from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.systems import PHI, PSI
    from mda_rcxai.systems.alanine_water import (ALANINE_WATER_CUTOFF_NM,
                                                 ALANINE_WATER_FORCEFIELD,
                                                 ALANINE_WATER_STATES,
                                                 create_alanine_water_system)
    say = print if verbose else (lambda *a, **k: None)
    ff = app.ForceField(*ALANINE_WATER_FORCEFIELD)
    pdb = app.PDBFile(ALANINE_DIPEPTIDE_PDB)
    mod = app.Modeller(pdb.topology, pdb.positions)
    mod.addSolvent(ff, model="tip3p", boxSize=openmm.Vec3(box_nm, box_nm, box_nm) * u.nanometer)
    top = mod.topology
    pos = np.asarray(mod.getPositions().value_in_unit(u.nanometer))
    n_waters = top.getNumResidues() - 3
    say(f"Modeller: {n_waters} waters in a {box_nm} nm cube")
    phi0, psi0 = _dihedral(pos, PHI), _dihedral(pos, PSI)
    plat = openmm.Platform.getPlatformByName("CPU")
    props = {"Threads": "1", "DeterministicForces": "true"}

    def make(box, barostat=False, restrained=True):
        top.setPeriodicBoxVectors(np.eye(3) * box * u.nanometer)
        system = create_alanine_water_system(top)
        if restrained:
            f = openmm.CustomTorsionForce(
                "0.5*k_dih*d^2; d = min(dt, 2*pi - dt); dt = abs(theta - theta0); "
                "pi = 3.141592653589793")
            f.addGlobalParameter("k_dih", 500.0)
            f.addPerTorsionParameter("theta0")
            for idx, t0 in ((PHI, phi0), (PSI, psi0)):
                f.addTorsion(*idx, [np.radians(t0)])
            system.addForce(f)
        if barostat:
            b = openmm.MonteCarloBarostat(1.0 * u.bar, 300 * u.kelvin, 25)
            b.setRandomNumberSeed(seed + 7)
            system.addForce(b)
        integ = openmm.LangevinMiddleIntegrator(300 * u.kelvin, 1 / u.picosecond,
                                                2 * u.femtosecond)
        integ.setRandomNumberSeed(seed + 1)
        return integ, openmm.Context(system, integ, plat, props)

    t0 = time.time()
    integ, ctx = make(box_nm)
    ctx.setPositions(pos)
    openmm.LocalEnergyMinimizer.minimize(ctx, 10.0, 2000)
    ctx.setVelocitiesToTemperature(300 * u.kelvin, seed)
    integ.step(2500)
    st = ctx.getState(getPositions=True, getVelocities=True)
    pos = st.getPositions(asNumpy=True).value_in_unit(u.nanometer)
    vel = st.getVelocities(asNumpy=True)
    say(f"NVT 5 ps: {time.time() - t0:.0f} s")
    integ, ctx = make(box_nm, barostat=True)
    ctx.setPositions(pos)
    ctx.setVelocities(vel)
    integ.step(5000)
    vols = []
    for _ in range(50):
        integ.step(100)
        vols.append(ctx.getState().getPeriodicBoxVolume().value_in_unit(u.nanometer ** 3))
    st = ctx.getState(getPositions=True, getVelocities=True, enforcePeriodicBox=True)
    box_now = st.getPeriodicBoxVectors(asNumpy=True).value_in_unit(u.nanometer)[0, 0]
    pos = np.asarray(st.getPositions(asNumpy=True).value_in_unit(u.nanometer))
    vel = st.getVelocities(asNumpy=True)
    new_box = float(np.mean(vols)) ** (1 / 3)
    mass = n_waters * 18.015 + 144.17
    say(f"NPT 20 ps: mean side {new_box:.4f} nm (last {box_now:.4f}), density "
        f"{mass / 602.214 / np.mean(vols):.3f} g/cm3; {time.time() - t0:.0f} s")
    if new_box / 2 <= ALANINE_WATER_CUTOFF_NM:
        raise SystemExit(f"box {new_box:.3f} nm: half of it is below the cutoff; use a "
                         "larger --box-nm")
    scale = new_box / box_now
    for idx in _molecules(top):  # scale molecule centres (the peptide is one molecule)
        pos[idx] += (scale - 1.0) * pos[idx].mean(axis=0)
    integ, ctx = make(new_box, restrained=False)
    ctx.setPositions(pos)
    openmm.LocalEnergyMinimizer.minimize(ctx, 10.0, 2000)
    ctx.setVelocities(vel)
    integ.step(5000)
    c7eq = ALANINE_WATER_STATES["C7eq"]
    for _ in range(51):
        st = ctx.getState(getPositions=True, getEnergy=True, enforcePeriodicBox=True)
        pos = np.asarray(st.getPositions(asNumpy=True).value_in_unit(u.nanometer))
        if bool(c7eq.contains(pos)[0]):
            break
        integ.step(100)
    else:
        raise SystemExit("the peptide left C7eq in the free NVT run; try another --seed")
    # enforcePeriodicBox: molecules whole, their centres in the box
    epot = st.getPotentialEnergy().value_in_unit(u.kilojoule_per_mole)
    info = {"box_nm": new_box, "n_waters": n_waters, "phi": _dihedral(pos, PHI),
            "psi": _dihedral(pos, PSI), "potential_kj_mol": epot, "seed": seed,
            "box_nm_requested": box_nm, "seconds": time.time() - t0}
    say(f"final: phi {info['phi']:.1f}, psi {info['psi']:.1f}, E_pot {epot:.1f} kJ/mol; "
        f"{info['seconds']:.0f} s in all")
    top.setPeriodicBoxVectors(np.eye(3) * new_box * u.nanometer)
    return top, pos, info


def pdb_text(topology, positions_nm, remarks=()):
    """PDB text (CRYST1 and CONECT as OpenMM writes them, no date) with REMARK lines."""
    import io

    import openmm.app as app
    import openmm.unit as u
    buf = io.StringIO()
    app.PDBFile.writeFile(topology, np.asarray(positions_nm) * 10.0 * u.angstrom, buf,
                          keepIds=True)
    lines = buf.getvalue().splitlines(keepends=True)
    if lines and lines[0].startswith("REMARK   1 CREATED WITH OPENMM"):
        lines = lines[1:]
    return "".join(f"REMARK   1 {r}\n" for r in remarks) + "".join(lines)


def main(argv=None):
    os.environ["OPENMM_CPU_THREADS"] = "1"
    sys.path.insert(0, ROOT)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--box-nm", type=float, default=2.2)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--out", default=OUT_PDB)
    a = p.parse_args(argv)
    top, pos, info = build(a.box_nm, a.seed)
    import openmm
    remarks = [
        f"Made with OpenMM {openmm.__version__} by scripts/make_alanine_water.py",
        f"(box_nm={a.box_nm}, seed={a.seed}). ACE-ALA-NME in TIP3P, amber99sbildn.xml +",
        "tip3p.xml, PME 0.9 nm, HBonds, rigid water; NVT/NPT/NVT equilibrated at 300 K.",
        f"{info['n_waters']} waters, box {info['box_nm']:.4f} nm, phi {info['phi']:.1f},"
        f" psi {info['psi']:.1f}.",
    ]
    from mda_rcxai.fileio import atomic_write
    atomic_write(a.out, pdb_text(top, pos, remarks))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""How the bundled alanine dipeptide files were made (run once; kept for the record).

``python scripts/make_alanine_dipeptide.py`` (in the source tree, outside the
package) rewrites these files in ``mda_rcxai/data/``:

``alanine_dipeptide.pdb``
    ACE-ALA-NME, 22 atoms, AMBER (tleap) atom names and order, CONECT records
    for all 21 bonds. Starting coordinates: the first 22 atoms of
    OpenPathSampling's test file ``ala_small_traj.pdb`` (a C7eq structure),
    renamed to AMBER names, then energy-minimised with OpenMM and the
    ``amber99sb.xml`` force field in vacuum (no cutoff, H-bond constraints).
``alanine_dipeptide_traj.dcd``
    1000 frames, 1 ps apart, two segments of 500 frames each, written with
    MDAnalysis: (1) Langevin MD at 300 K started in C7eq; (2) Langevin MD at
    300 K started from the first frame of a 1000 K run that entered C7ax
    (phi in [30, 100] deg, psi in [-100, 0] deg), so both basins of the
    C7eq -> C7ax reaction are covered. Integrator: LangevinMiddle, 2 fs,
    friction 1/ps, seed 2022. The jump between the segments is on purpose.
"""

import os

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mda_rcxai",
                    "data")

AMBER_NAMES = [
    ("ACE", ["HH31", "CH3", "HH32", "HH33", "C", "O"]),
    ("ALA", ["N", "H", "CA", "HA", "CB", "HB1", "HB2", "HB3", "C", "O"]),
    ("NME", ["N", "H", "CH3", "HH31", "HH32", "HH33"]),
]


def _dihedral(p):
    b0 = p[..., 0, :] - p[..., 1, :]
    b1 = p[..., 2, :] - p[..., 1, :]
    b2 = p[..., 3, :] - p[..., 2, :]
    b1n = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - np.sum(b0 * b1n, -1, keepdims=True) * b1n
    w = b2 - np.sum(b2 * b1n, -1, keepdims=True) * b1n
    x = np.sum(v * w, -1)
    y = np.sum(np.cross(b1n, v) * w, -1)
    return np.degrees(np.arctan2(y, x))


def main(seed=2022):  # pragma: no cover - run by hand
    import MDAnalysis as mda
    import openmm
    import openmm.app as app
    import openmm.unit as u
    import importlib.util

    ops_dir = os.path.dirname(importlib.util.find_spec("openpathsampling").origin)
    src = os.path.join(ops_dir, "tests", "test_data", "ala_small_traj.pdb")
    xyz = []
    with open(src) as fh:
        for line in fh:
            if line.startswith("ATOM") and len(xyz) < 22:
                xyz.append([float(line[30:38]), float(line[38:46]),
                            float(line[46:54])])
            if line.startswith("ENDMDL"):
                break
    xyz = np.array(xyz) / 10.0  # nm

    top = app.Topology()
    chain = top.addChain("A")
    elements = {"H": app.element.hydrogen, "C": app.element.carbon,
                "N": app.element.nitrogen, "O": app.element.oxygen}
    atoms = []
    for resid, (rname, names) in enumerate(AMBER_NAMES, start=1):
        res = top.addResidue(rname, chain, id=str(resid))
        for n in names:
            atoms.append(top.addAtom(n, elements[n[0]], res))
    top.createStandardBonds()
    # ACE and NME are caps: add their bonds explicitly if createStandardBonds missed them
    have = {(b[0].index, b[1].index) for b in top.bonds()}
    have |= {(j, i) for i, j in have}
    needed = [(0, 1), (1, 2), (1, 3), (1, 4), (4, 5), (4, 6), (6, 7), (6, 8),
              (8, 9), (8, 10), (10, 11), (10, 12), (10, 13), (8, 14), (14, 15),
              (14, 16), (16, 17), (16, 18), (18, 19), (18, 20), (18, 21)]
    for i, j in needed:
        if (i, j) not in have:
            top.addBond(atoms[i], atoms[j])
    assert top.getNumBonds() == 21, top.getNumBonds()

    ff = app.ForceField("amber99sb.xml")
    system = ff.createSystem(top, nonbondedMethod=app.NoCutoff,
                             constraints=app.HBonds)

    def simulation(T):
        integ = openmm.LangevinMiddleIntegrator(T * u.kelvin, 1 / u.picosecond,
                                                0.002 * u.picoseconds)
        integ.setRandomNumberSeed(seed)
        plat = openmm.Platform.getPlatformByName("CPU")
        sim = app.Simulation(top, system, integ, plat, {"Threads": "1"})
        return sim

    sim = simulation(300)
    sim.context.setPositions(xyz * u.nanometer)
    sim.minimizeEnergy()
    minimized = sim.context.getState(getPositions=True).getPositions(asNumpy=True)
    minimized = minimized.value_in_unit(u.nanometer)

    def run(sim, start, n_frames, stride=500):
        sim.context.setPositions(start * u.nanometer)
        sim.context.setVelocitiesToTemperature(
            sim.integrator.getTemperature(), seed)
        out = []
        for _ in range(n_frames):
            sim.step(stride)
            out.append(sim.context.getState(getPositions=True)
                       .getPositions(asNumpy=True).value_in_unit(u.nanometer))
        return np.array(out)

    seg1 = run(sim, minimized, 500)
    hot = simulation(1000)
    hot.context.setPositions(minimized * u.nanometer)
    hot.context.setVelocitiesToTemperature(1000 * u.kelvin, seed)
    c7ax = None
    for _ in range(200000):
        hot.step(50)
        pos = hot.context.getState(getPositions=True).getPositions(
            asNumpy=True).value_in_unit(u.nanometer)
        phi = _dihedral(pos[[4, 6, 8, 14]])
        psi = _dihedral(pos[[6, 8, 14, 16]])
        if 30 < phi < 100 and -100 < psi < 0:
            c7ax = pos
            break
    if c7ax is None:
        raise RuntimeError("no C7ax configuration found at 1000 K")
    seg2 = run(sim, c7ax, 500)
    traj = np.concatenate([seg1, seg2]) * 10.0  # Angstrom

    # write with MDAnalysis so the PDB carries CONECT records for every bond
    u_ = mda.Universe.empty(22, n_residues=3, atom_resindex=[0] * 6 + [1] * 10 + [2] * 6,
                            trajectory=True)
    u_.add_TopologyAttr("names", [n for _, names in AMBER_NAMES for n in names])
    u_.add_TopologyAttr("resnames", ["ACE", "ALA", "NME"])
    u_.add_TopologyAttr("resids", [1, 2, 3])
    u_.add_TopologyAttr("elements", [n[0] for _, names in AMBER_NAMES for n in names])
    u_.add_TopologyAttr("types", [n[0] for _, names in AMBER_NAMES for n in names])
    u_.add_TopologyAttr("chainIDs", ["A"] * 22)
    u_.add_TopologyAttr("segids", ["A"])
    u_.add_TopologyAttr("bonds", needed)
    u_.atoms.positions = minimized * 10.0
    pdb = os.path.join(HERE, "alanine_dipeptide.pdb")
    u_.atoms.write(pdb, bonds="all")
    # drop the placeholder 1 A unit cell MDAnalysis writes: the molecule is in vacuum
    with open(pdb) as fh:
        lines = [ln for ln in fh if not ln.startswith(("CRYST1", "REMARK     285"))]
    with open(pdb, "w") as fh:
        fh.writelines(lines)
    with mda.Writer(os.path.join(HERE, "alanine_dipeptide_traj.dcd"), 22, dt=1.0) as w:
        for frame in traj:
            u_.atoms.positions = frame
            w.write(u_.atoms)
    phis = _dihedral(traj[:, [4, 6, 8, 14]])
    print("phi > 0 in", int((phis > 0).sum()), "of", len(phis), "frames")


if __name__ == "__main__":  # pragma: no cover
    main()

"""A small periodic TIP3P box with Na+ and Cl- built by OpenMM's Modeller (no downloads).

``make_nacl_box(n_frames, seed, box_nm, distance_nm, broken=True)`` returns an
MDAnalysis Universe in memory (Angstrom) whose frames are the Modeller
configuration with small random displacements and random whole-box
translations; with ``broken=True`` every atom is wrapped into the box on its
own, so water molecules straddling the boundary are split across it.
"""

import functools

import MDAnalysis as mda
import numpy as np


@functools.lru_cache(maxsize=4)
def _modeller_box(box_nm, distance_nm):
    import openmm
    import openmm.app as app
    import openmm.unit as unit
    ff = app.ForceField("amber14-all.xml", "amber14/tip3p.xml")
    top = app.Topology()
    chain = top.addChain()
    for name, el in (("NA", app.element.sodium), ("CL", app.element.chlorine)):
        res = top.addResidue(name, chain)
        top.addAtom(name, el, res)
    c = box_nm / 2
    pos = [openmm.Vec3(c - distance_nm / 2, c, c), openmm.Vec3(c + distance_nm / 2, c, c)]
    m = app.Modeller(top, pos * unit.nanometer)
    m.addSolvent(ff, boxSize=openmm.Vec3(box_nm, box_nm, box_nm) * unit.nanometer,
                 neutralize=False)
    atoms = list(m.topology.atoms())
    names = [a.name for a in atoms]
    resnames = [a.residue.name for a in atoms]
    resids = [a.residue.index + 1 for a in atoms]
    elements = [a.element.symbol for a in atoms]
    xyz = np.array(m.positions.value_in_unit(unit.angstrom), dtype=np.float64)
    bonds = [(b[0].index, b[1].index) for b in m.topology.bonds()]
    return names, resnames, resids, elements, xyz, bonds


def make_nacl_box(n_frames=3, seed=0, box_nm=1.6, distance_nm=0.28, broken=True):
    names, resnames, resids, elements, xyz, bonds = _modeller_box(box_nm, distance_nm)
    n = len(names)
    rng = np.random.default_rng(seed)
    L = box_nm * 10.0
    frames = []
    for f in range(n_frames):
        x = xyz + (rng.normal(0, 0.05, xyz.shape) if f else 0.0)
        x = x + rng.uniform(0, L, 3) * (f > 0)
        if broken:
            x = x % L  # atom by atom: molecules are split across the boundary
        frames.append(x)
    coords = np.array(frames, dtype=np.float32)
    resix = np.unique(resids, return_inverse=True)[1]
    u = mda.Universe.empty(n, n_residues=int(resix.max()) + 1, atom_resindex=resix,
                           trajectory=False)
    u.add_TopologyAttr("name", names)
    u.add_TopologyAttr("type", elements)
    u.add_TopologyAttr("element", elements)
    rn = [None] * (int(resix.max()) + 1)
    ri = [None] * len(rn)
    for k, r in enumerate(resix):
        rn[r] = resnames[k]
        ri[r] = resids[k]
    u.add_TopologyAttr("resname", rn)
    u.add_TopologyAttr("resid", ri)
    u.add_TopologyAttr("bonds", bonds)
    dims = np.tile([L, L, L, 90.0, 90.0, 90.0], (n_frames, 1))
    u.load_new(coords, format=mda.coordinates.memory.MemoryReader, dimensions=dims)
    return u

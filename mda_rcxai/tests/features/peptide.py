"""A generated multi-residue peptide (ACE-ALA_n-NME, heavy atoms) for tests.

Built atom by atom with the natural-extension reference frame (NeRF) from
ideal bond lengths and angles and random backbone torsions per frame, so
the tests do not depend on files from elsewhere.
"""

import MDAnalysis as mda
import numpy as np


def _place(a, b, c, bond, angle, torsion):
    """Position of d with |cd| = bond, angle bcd, dihedral abcd (degrees)."""
    angle, torsion = np.radians(angle), np.radians(torsion)
    bc = c - b
    bc /= np.linalg.norm(bc)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.cross(n, bc)
    d2 = np.array([-bond * np.cos(angle), bond * np.sin(angle) * np.cos(torsion),
                   bond * np.sin(angle) * np.sin(torsion)])
    return c + d2[0] * bc + d2[1] * m + d2[2] * n


def make_peptide(n_ala=3, n_frames=20, seed=0):
    """Universe of ACE-(ALA)n-NME heavy atoms with bonds and a random trajectory."""
    rng = np.random.default_rng(seed)
    names, resnames, resindex = [], [], []

    def add(name, res, ri):
        names.append(name)
        resnames.append(res)
        resindex.append(ri)
        return len(names) - 1

    bonds = []
    ch3 = add("CH3", "ACE", 0)
    c = add("C", "ACE", 0)
    o = add("O", "ACE", 0)
    bonds += [(ch3, c), (c, o)]
    backbone = []  # (N, CA, C, O, CB) per residue
    prev_c = c
    for i in range(n_ala):
        n_ = add("N", "ALA", i + 1)
        ca = add("CA", "ALA", i + 1)
        cb = add("CB", "ALA", i + 1)
        c_ = add("C", "ALA", i + 1)
        o_ = add("O", "ALA", i + 1)
        bonds += [(prev_c, n_), (n_, ca), (ca, cb), (ca, c_), (c_, o_)]
        backbone.append((n_, ca, c_, o_, cb))
        prev_c = c_
    n_nme = add("N", "NME", n_ala + 1)
    c_nme = add("CH3", "NME", n_ala + 1)
    bonds += [(prev_c, n_nme), (n_nme, c_nme)]

    n_atoms = len(names)
    coords = np.zeros((n_frames, n_atoms, 3))
    for f in range(n_frames):
        x = coords[f]
        x[ch3] = [0.0, 0.0, 0.0]
        x[c] = [1.52, 0.0, 0.0]
        x[o] = _place(np.array([0.0, 1.0, 0.0]), x[ch3], x[c], 1.23, 120.5, 0.0)
        prev = (x[ch3], x[c], x[o])
        for (n_, ca, c_, o_, cb) in backbone:
            phi, psi = rng.uniform(-180, 180, 2)
            omega = 180 + rng.normal(0, 8)
            x[n_] = _place(prev[2], prev[0], prev[1], 1.33, 116.2, 180.0)
            x[ca] = _place(prev[0], prev[1], x[n_], 1.46, 121.7, omega)
            x[c_] = _place(prev[1], x[n_], x[ca], 1.52, 111.0, phi)
            x[cb] = _place(x[c_], x[n_], x[ca], 1.53, 110.5, 122.5)
            x[o_] = _place(x[n_], x[ca], x[c_], 1.23, 120.5, psi + 180.0)
            prev = (x[ca], x[c_], x[o_])
        n_, ca, c_, o_, cb = backbone[-1]
        x[n_nme] = _place(x[n_], x[ca], x[c_], 1.33, 116.2, psi)
        x[c_nme] = _place(x[ca], x[c_], x[n_nme], 1.46, 121.7, 180.0)
    u = mda.Universe.empty(n_atoms, n_residues=n_ala + 2, atom_resindex=resindex,
                           trajectory=True)
    u.add_TopologyAttr("names", names)
    u.add_TopologyAttr("resnames", ["ACE"] + ["ALA"] * n_ala + ["NME"])
    u.add_TopologyAttr("resids", np.arange(1, n_ala + 3))
    u.add_TopologyAttr("elements", [n[0] for n in names])
    u.add_TopologyAttr("types", [n[0] for n in names])
    u.add_TopologyAttr("segids", ["PEP"])
    u.add_TopologyAttr("masses", [12.0] * n_atoms)
    u.add_TopologyAttr("bonds", bonds)
    u.load_new(coords.astype(np.float32), format=mda.coordinates.memory.MemoryReader)
    return u

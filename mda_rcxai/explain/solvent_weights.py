"""How much a solvent descriptor counts each neighbour atom (for atom mapping).

The physics of :meth:`mda_rcxai.explain.Explanation.to_atomgroup` for solvent
descriptors: the cosine cutoff of the symmetry functions and the rational
switching function of the coordination numbers, evaluated on a frame.
"""

from __future__ import annotations

import numpy as np

__all__ = ["switch", "neighbor_weights"]


def switch(r, r0, n=6, m=12):
    """Rational switching function ``(1 - x^n) / (1 - x^m)``, ``x = r / r0`` (its limit
    ``n / m`` at ``r = r0``); ``r`` and ``r0`` in the same length unit."""
    x = np.asarray(r, float) / float(r0)
    den = 1.0 - x ** m
    near = np.abs(den) < 1e-9
    return np.where(near, n / m, (1.0 - x ** n) / np.where(near, 1.0, den))


def neighbor_weights(meta, pos, center, nb, box, distance_array, minimize_vectors):
    """How much a solvent descriptor counts each neighbour atom in this frame
    (documented in :meth:`Explanation.to_atomgroup`), or None."""
    p = meta["params"]
    n, m = int(p.get("n", 6)), int(p.get("m", 12))
    d = distance_array(pos[center], pos[nb], box=box)  # (n_centers, n_neighbours)
    kind = meta["measure"]
    if "r_cut" in p:
        rc = float(p["r_cut"])
        w = np.where(d < rc, 0.5 * (np.cos(np.pi * d / rc) + 1.0), 0.0).max(axis=0)
    elif kind == "density" and len(center) == 2:
        v = minimize_vectors((pos[center[1]] - pos[center[0]])[None], box)[0] \
            if box is not None else pos[center[1]] - pos[center[0]]
        mid = (pos[center[0]] + 0.5 * v)[None].astype(np.float32)
        r_ab = max(float(np.linalg.norm(v)), 1e-6)
        w = switch(distance_array(mid, pos[nb], box=box)[0], r_ab / 2, n, m)
    elif "r0_a" in p and len(center) == 2:
        w = switch(d[0], p["r0_a"], n, m) * switch(d[1], p["r0_b"], n, m)
    elif "r0" in p:
        w = switch(d, p["r0"], n, m).max(axis=0)
    else:
        return None
    return np.where(w >= 0.05, w, 0.0)

r"""Electrostatic potential (and field) that the solvent exerts on solute atoms.

:class:`SolventPotentialFeatures` is an :class:`~MDAnalysis.analysis.base.AnalysisBase`
that computes, per frame, the electrostatic potential

.. math:: V_i = k_e \sum_{j \in S} q_j \, g(r_{ij})

that the partial charges :math:`q_j` of a solvent selection S exert at each
chosen solute atom i (kJ/mol/e; multiply by the atom's charge for an
energy), and optionally the electric field at both ends of chosen bonds
projected on the bond (kJ/mol/e/Angstrom). Kawashima et al. (arXiv:2408.02132)
found the solvent's potential on one hydrogen of alanine dipeptide (H18 in
their numbering) among the decisive inputs of the committor in water.

Three forms of the pair kernel ``g`` (``method=``):

``"cutoff"``
    Plain Coulomb :math:`1/r` for :math:`r < r_c` (minimum image), 0 beyond;
    per atom (``cutoff_by="atom"``) or per whole solvent molecule
    (``cutoff_by="molecule"``: a molecule counts when its first atom is
    within :math:`r_c`). An atom-based cutoff cuts molecules in two at the
    cutoff sphere and is far off (at H18 of the bundled alanine-in-water
    box: -424 kJ/mol/e, Ewald -95); the molecule-based sum (Hummer et al.'s
    "M-summation") differs from Ewald (the "P-summation" of the lattice
    sum) by a nearly constant offset, the Bethe potential of the water
    model (there: -60 to -77 kJ/mol/e, about -0.7 V, over the solute atoms).
``"reaction_field"``
    OpenMM's ``CutoffPeriodic`` / ``CutoffNonPeriodic`` form,
    :math:`1/r + k_{rf} r^2 - c_{rf}` with
    :math:`k_{rf} = (\epsilon_{rf} - 1) / ((2\epsilon_{rf} + 1) r_c^3)`,
    :math:`c_{rf} = 1/r_c + k_{rf} r_c^2` (0 at the cutoff).
    ``"shifted"`` is the same with :math:`\epsilon_{rf} = 1`: :math:`1/r - 1/r_c`.
``"ewald"``
    The potential of the periodic lattice of the solvent charges, as
    Ewald summation (and OpenMM's Ewald and PME) defines it with tin-foil
    boundary conditions:

    .. math::

        V_i = k_e \Big[\sum_{j, r_{ij} < r_c} q_j \frac{\mathrm{erfc}(\alpha r_{ij})}{r_{ij}}
              + \frac{4\pi}{V} \sum_{\mathbf k \ne 0} \frac{e^{-k^2/4\alpha^2}}{k^2}
                \sum_j q_j \cos(\mathbf k \cdot (\mathbf r_i - \mathbf r_j))
              - \frac{\pi Q_S}{V \alpha^2}\Big]

    (real-space sum over minimum images, reciprocal sum over the
    reciprocal lattice of the triclinic box, and the term of the uniform
    neutralising background when the solvent's net charge :math:`Q_S` is
    not zero). It equals :math:`\partial E / \partial q_i` of an OpenMM
    ``NonbondedForce`` with Ewald or PME holding the solvent and atom i
    (``tests/features/test_solvent_potential.py`` checks this against
    OpenMM's Reference platform). The sum does not depend on ``alpha``
    beyond the truncation error set by ``ewald_tolerance``.

:math:`k_e` = 1389.35457644382 kJ Angstrom/(mol e^2) (OpenMM's
138.93545764438198 kJ nm/(mol e^2)). All distances use the minimum image
of the trajectory's box (any triclinic box), so molecules broken across
the periodic boundary give the same values as whole ones.

Charges come from the topology (``u.atoms.charges``: PSF, prmtop, TPR,
PQR, ...), or from an array, or from an OpenMM ``System`` (its
``NonbondedForce``; :func:`charges_from_system`).
"""

import math

import numpy as np
from MDAnalysis.analysis.base import ResultsGroup
from MDAnalysis.core.groups import AtomGroup
from MDAnalysis.lib import distances as mdadist
from MDAnalysis.lib.mdamath import triclinic_vectors

from ..exceptions import InputError, InputTypeError, TopologyError
from ._base import first_value
from .columns import FeatureColumn
from .solvent import _SolventBase

__all__ = ["SolventPotentialFeatures", "charges_from_system", "COULOMB_KJ_ANGSTROM",
           "POTENTIAL_METHODS"]

#: Coulomb constant in kJ Angstrom / (mol e^2): OpenMM's 138.93545764438198 kJ nm/(mol e^2).
COULOMB_KJ_ANGSTROM = 1389.3545764438198
#: Values of ``method`` in :class:`SolventPotentialFeatures`.
POTENTIAL_METHODS = ("cutoff", "shifted", "reaction_field", "ewald")


def charges_from_system(system):
    """Partial charges (e) of every particle of an OpenMM ``System``'s ``NonbondedForce``.

    Works without importing OpenMM here (the features layer does not
    depend on it): any object with ``getForces()`` whose ``NonbondedForce``
    answers ``getNumParticles()`` and ``getParticleParameters(i)``.

    Parameters
    ----------
    system : openmm.System
        E.g. ``ForceField(...).createSystem(topology, ...)`` or
        ``MolecularSystem.system``.

    Returns
    -------
    numpy.ndarray
        (n_particles,) float64 charges in units of the elementary charge.

    Raises
    ------
    InputTypeError
        ``system`` is not an OpenMM System.
    InputError
        The System has no ``NonbondedForce``.

    Examples
    --------
    >>> import openmm
    >>> s = openmm.System()
    >>> nb = openmm.NonbondedForce()
    >>> for q in (-0.834, 0.417, 0.417):
    ...     _ = s.addParticle(16.0); _ = nb.addParticle(q, 0.3, 0.5)
    >>> _ = s.addForce(nb)
    >>> charges_from_system(s).tolist()
    [-0.834, 0.417, 0.417]
    """
    if not hasattr(system, "getForces"):
        raise InputTypeError("system must be an openmm.System (with a NonbondedForce), got "
                             f"{type(system).__name__}")
    for force in system.getForces():
        if type(force).__name__ == "NonbondedForce":
            n = force.getNumParticles()
            out = np.empty(n, dtype=np.float64)
            for i in range(n):
                q = force.getParticleParameters(i)[0]
                out[i] = float(getattr(q, "_value", q))  # openmm.unit.Quantity in e
            return out
    raise InputError("system has no NonbondedForce; build it with a force field that has "
                     "partial charges, or pass charges= as an array (e)")


def _resolve_charges(charges, universe, solvent_idx):
    """Charges of the solvent atoms (e), from None (topology), an array or a System."""
    n_all = len(universe.atoms)
    if charges is None:
        if not hasattr(universe.atoms, "charges"):
            raise TopologyError(
                "charges=None but the topology has no partial charges; load a topology "
                "with charges (PSF, prmtop, TPR, PQR) or pass charges= (an array in e, one "
                "per atom of the universe or of solvent) or "
                "charges=charges_from_system(openmm_system)")
        q = np.asarray(universe.atoms.charges, dtype=np.float64)
    elif hasattr(charges, "getForces"):
        q = charges_from_system(charges)
        if len(q) != n_all:
            raise InputError(f"charges: the System has {len(q)} particles but the universe "
                             f"{n_all} atoms; pass the System built for this topology")
    else:
        try:
            q = np.asarray(charges, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise InputTypeError("charges must be None (topology), an array of charges in e "
                                 "or an openmm.System, got "
                                 f"{type(charges).__name__}") from None
        if len(q) == len(solvent_idx) and len(q) != n_all:
            return q.copy()
        if len(q) != n_all:
            raise InputError(f"charges has {len(q)} values; give one per atom of the universe "
                             f"({n_all}) or one per atom of solvent ({len(solvent_idx)})")
    if not np.all(np.isfinite(q)):
        raise InputError("charges contains non-finite values")
    return q[solvent_idx].copy()


def _box_matrix(dims):
    """(3, 3) box vectors (rows, Angstrom) of MDAnalysis dimensions."""
    return np.asarray(triclinic_vectors(np.asarray(dims, dtype=np.float32)), dtype=np.float64)


def _widths(h):
    """Perpendicular widths of the box with rows h (Angstrom)."""
    vol = abs(np.linalg.det(h))
    return np.array([vol / np.linalg.norm(np.cross(h[(i + 1) % 3], h[(i + 2) % 3]))
                     for i in range(3)])


class SolventPotentialFeatures(_SolventBase):
    r"""Electrostatic potential of the solvent at solute atoms (and field along bonds).

    See :mod:`mda_rcxai.features.solvent_potential` for the three methods
    and their formulas.

    Parameters
    ----------
    solute : MDAnalysis.core.groups.AtomGroup
        Atoms at which the potential is computed (one column each), e.g.
        ``u.select_atoms("not resname HOH NA CL")``.
    solvent : AtomGroup or dict {name: AtomGroup}
        Atoms whose charges act (e.g. ``u.select_atoms("resname HOH")``);
        one dict entry names the set in the column names (default name
        ``"solvent"``). Must not share atoms with ``solute``. Select whole
        molecules (all atoms of each water), or the potential is that of
        partial molecules.
    method : {"ewald", "reaction_field", "shifted", "cutoff"}
        Pair kernel (default ``"ewald"``, what PME simulations feel).
    cutoff : float
        Real-space cutoff r_c in Angstrom (default 9.0); with a box it
        must be below half the box's shortest perpendicular width.
    charges : None, array_like or openmm.System
        Partial charges in e: None reads ``u.atoms.charges`` of the
        topology; an array has one value per atom of the universe or one
        per atom of ``solvent``; an OpenMM System gives its
        ``NonbondedForce`` charges (:func:`charges_from_system`).
    field_bonds : list of (int, int) or AtomGroup pairs, optional
        Bonds (a, b) of universe atom indices; for each, one column with
        the solvent's electric field averaged over a and b and projected
        on the unit vector from a to b, in kJ/mol/e/Angstrom (positive
        when the field points from a to b). Both atoms must be in
        ``solute``.
    epsilon_rf : float
        Dielectric constant beyond the cutoff for ``"reaction_field"``
        (default 78.3, OpenMM's ``NonbondedForce`` default).
    ewald_tolerance : float
        Relative truncation error of the Ewald sums (default 1e-5):
        ``alpha = sqrt(-ln(2 tol)) / cutoff`` (OpenMM's choice) and
        reciprocal vectors up to ``|k| = 2 alpha sqrt(-ln tol)``.
    ewald_alpha : float, optional
        Ewald splitting parameter in 1/Angstrom (overrides the one from
        ``ewald_tolerance``).
    cutoff_by : {"atom", "molecule"}
        For the cutoff methods: ``"atom"`` (default) counts each solvent
        atom within ``cutoff``; ``"molecule"`` counts whole residues of
        ``solvent`` (e.g. waters) whose first selected atom (the water O)
        is within ``cutoff``, every atom at its image next to that atom, so
        no molecule is cut in two by the cutoff sphere (an atom-based cutoff
        gives a net charge to the sphere's surface: at H18 of the bundled
        alanine-in-water box it gives -424 kJ/mol/e where Ewald gives -95).
    pbc : bool
        Use the trajectory's box (default True). ``"ewald"`` needs a box.
    center_labels : list of str, optional
        Names of the solute atoms in the column names (default
        ``"ALA2:CA"``; e.g. the numbering of a paper, ``"H18"``).
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    results.features : numpy.ndarray
        (n_frames, n_columns) float64: the potential at each solute atom
        (kJ/mol/e), then the projected field of each bond
        (kJ/mol/e/Angstrom).
    results.names : list of str
        ``"V[ALA2:CA|water]"``, ``"E[ALA2:C-ALA2:O|water]"``.
    results.columns : list of FeatureColumn
        ``kind`` ``"solvent_potential"`` (``atoms`` = ``center`` = the
        solute atom) or ``"solvent_field"`` (the two bond atoms);
        ``neighbors`` the set name, ``neighbor_atoms`` its atoms,
        ``params`` the method, cutoff, ``alpha`` and ``epsilon_rf``;
        ``group`` ``"ALA2:CA / water"`` (so SHAP/LIME put a column's
        importance on its atom); ``unit`` ``"kJ/mol/e"`` or
        ``"kJ/mol/e/angstrom"``.
    results.atom_indices : numpy.ndarray
        (n_columns, 2) atoms of each column, padded with -1.
    results.alpha : float or None
        The Ewald splitting parameter used (1/Angstrom).

    Raises
    ------
    InputError
        Unknown method, overlapping solute and solvent, missing charges,
        a cutoff not below half the box width, ``"ewald"`` without a box.

    Examples
    --------
    Two unit charges 1 and 2 Angstrom from a probe atom, plain cutoff:

    >>> import numpy as np, MDAnalysis as mda
    >>> from mda_rcxai.features import SolventPotentialFeatures
    >>> u = mda.Universe.empty(3, trajectory=True)
    >>> u.add_TopologyAttr("name", ["P", "A", "B"])
    >>> u.add_TopologyAttr("charges", [0.0, 1.0, -1.0])
    >>> u.atoms.positions = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0]], float)
    >>> r = SolventPotentialFeatures(u.atoms[:1], u.atoms[1:], method="cutoff",
    ...                              cutoff=5.0).run().results
    >>> r.names
    ['V[P0|solvent]']
    >>> round(float(r.features[0, 0]), 3)   # 1389.35 * (1/1 - 1/2)
    694.677
    """

    def __init__(self, solute, solvent, method="ewald", cutoff=9.0, charges=None,
                 field_bonds=None, epsilon_rf=78.3, ewald_tolerance=1e-5, ewald_alpha=None,
                 cutoff_by="atom", pbc=True, center_labels=None, **kwargs):
        if cutoff_by not in ("atom", "molecule"):
            raise InputError(f"cutoff_by={cutoff_by!r} is not known; use 'atom' or 'molecule'")
        if cutoff_by == "molecule" and method == "ewald":
            raise InputError("cutoff_by='molecule' applies to the cutoff methods; method='ewald' "
                             "sums every charge (use cutoff_by='atom', the default)")
        self._by_molecule = cutoff_by == "molecule"
        if not isinstance(method, str) or method not in POTENTIAL_METHODS:
            raise InputError(f"method={method!r} is not known; use one of "
                             f"{', '.join(map(repr, POTENTIAL_METHODS))}")
        self._method = method
        try:
            cutoff = float(cutoff)
        except (TypeError, ValueError):
            raise InputTypeError(f"cutoff={cutoff!r} must be a number (Angstrom)") from None
        if not np.isfinite(cutoff) or cutoff <= 0:
            raise InputError(f"cutoff={cutoff} must be a positive distance in Angstrom, e.g. 9.0")
        self._rc = cutoff
        if isinstance(solvent, AtomGroup):
            solvent = {"solvent": solvent}
        if not isinstance(solvent, dict) or len(solvent) != 1:
            raise InputTypeError("solvent must be an AtomGroup or a dict with one entry "
                                 "{name: AtomGroup}, e.g. {'water': u.select_atoms('resname HOH')}")
        (sname, sag), = solvent.items()
        if not isinstance(sag, AtomGroup):
            raise InputTypeError(f"solvent[{sname!r}] must be an AtomGroup, got "
                                 f"{type(sag).__name__}")
        if len(sag) == 0:
            raise InputError(f"solvent[{sname!r}] is empty: the selection matched no atoms; "
                             "check it against u.residues.resnames")
        if isinstance(solute, AtomGroup) and len(solute) and \
                np.intersect1d(solute.indices, sag.indices).size:
            raise InputError("solute and solvent share atoms; the potential of a set on its own "
                             "atoms is not defined here: select them apart (e.g. solvent = "
                             "'resname HOH', solute = 'not resname HOH')")
        if len(np.unique(sag.indices)) != len(sag):
            raise InputError("solvent repeats atoms; pass each atom once")
        eps = float(epsilon_rf)
        if method == "shifted":
            eps = 1.0
        if not np.isfinite(eps) or eps < 1:
            raise InputError(f"epsilon_rf={epsilon_rf} must be >= 1 (78.3 for water)")
        self._eps = eps
        self._krf = (eps - 1.0) / ((2.0 * eps + 1.0) * cutoff ** 3)
        self._crf = 1.0 / cutoff + self._krf * cutoff ** 2
        tol = float(ewald_tolerance)
        if not (0 < tol < 0.5):
            raise InputError(f"ewald_tolerance={ewald_tolerance} must be in (0, 0.5), e.g. 1e-5")
        self._tol = tol
        if ewald_alpha is None:
            alpha = math.sqrt(-math.log(2.0 * tol)) / cutoff
        else:
            alpha = float(ewald_alpha)
            if not np.isfinite(alpha) or alpha <= 0:
                raise InputError(f"ewald_alpha={ewald_alpha} must be a positive number "
                                 "(1/Angstrom), e.g. 0.35")
        self._alpha = alpha if method == "ewald" else None
        self._kmax = 2.0 * alpha * math.sqrt(-math.log(tol))
        self._q = _resolve_charges(charges, sag.universe, sag.indices)
        if self._by_molecule:
            self._molecules(sag)
        self._bonds_in = field_bonds
        super().__init__(solute, {str(sname): sag}, pbc=pbc, center_labels=center_labels,
                         **kwargs)

    # -- columns -------------------------------------------------------------
    def _bond_rows(self):
        if self._bonds_in is None:
            return np.empty((0, 2), dtype=np.intp)
        rows = []
        for k, b in enumerate(self._bonds_in):
            idx = b.indices if isinstance(b, AtomGroup) else b
            try:
                a, c = (int(x) for x in idx)
            except (TypeError, ValueError):
                raise InputError(f"field_bonds[{k}]={b!r} must be a pair of atom indices "
                                 "(a, b) or an AtomGroup of two atoms") from None
            pos = {int(i): n for n, i in enumerate(self._c_idx)}
            if a not in pos or c not in pos or a == c:
                raise InputError(f"field_bonds[{k}]=({a}, {c}) must be two different atoms of "
                                 "solute (universe indices)")
            rows.append((a, c))
        return np.asarray(rows, dtype=np.intp).reshape(-1, 2)

    def _make_columns(self):
        (sname, sidx), = self._s_idx.items()
        self._bonds = self._bond_rows()
        lab = dict(zip((int(i) for i in self._c_idx), self._c_labels))
        params = {"method": self._method, "cutoff": self._rc}
        if self._method == "ewald":
            params["alpha"] = self._alpha
            params["ewald_tolerance"] = self._tol
        if self._method in ("reaction_field", "shifted"):
            params["epsilon_rf"] = self._eps
        if self._method != "ewald":
            params["cutoff_by"] = "molecule" if self._by_molecule else "atom"
        common = dict(neighbors=sname, neighbor_atoms=tuple(int(x) for x in sidx),
                      params=params)
        cols = [FeatureColumn(name=f"V[{lab[int(i)]}|{sname}]", kind="solvent_potential",
                              atoms=(int(i),), center=(int(i),),
                              group=f"{lab[int(i)]} / {sname}", unit="kJ/mol/e", **common)
                for i in self._c_idx]
        for a, b in self._bonds.tolist():
            bl = f"{lab[a]}-{lab[b]}"
            cols.append(FeatureColumn(name=f"E[{bl}|{sname}]", kind="solvent_field",
                                      atoms=(a, b), center=(a, b), group=f"{bl} / {sname}",
                                      unit="kJ/mol/e/angstrom", **common))
        return cols

    def _molecules(self, sag):
        """Solvent atoms grouped by residue: the first atom of each residue is its reference."""
        rix = np.asarray(sag.resindices)
        order = np.argsort(rix, kind="stable")
        first = np.r_[True, rix[order][1:] != rix[order][:-1]]
        starts = np.flatnonzero(first)
        self._mol_members = order                      # solvent positions, residue by residue
        self._mol_starts = starts                      # where each residue begins in it
        self._mol_counts = np.diff(np.r_[starts, len(order)])
        self._mol_ref = order[starts]                  # reference atom of each residue
        self._ref_of_atom = np.repeat(self._mol_ref, self._mol_counts)[np.argsort(order)]

    def _molecule_pairs(self, cpos, spos, box):
        """(solute row, solvent atom, vector solvent -> solute) for every atom of every
        residue whose reference atom is within the cutoff, at the image next to it."""
        rc = self._rc
        ref = self._mol_ref
        pairs = mdadist.capped_distance(cpos.astype(np.float32), spos[ref].astype(np.float32),
                                        rc * 1.001 + 1e-3, box=box, return_distances=False)
        if not len(pairs):
            return np.empty(0, np.intp), np.empty(0, np.intp), np.empty((0, 3))
        i, m = pairs[:, 0], pairs[:, 1]
        d_ref = cpos[i] - spos[ref[m]]
        if box is not None:
            d_ref = mdadist.minimize_vectors(d_ref, np.asarray(box, dtype=np.float32))
        keep = np.einsum("ij,ij->i", d_ref, d_ref) < rc * rc
        i, m, d_ref = i[keep], m[keep], d_ref[keep]
        # offsets of every solvent atom from its residue's reference atom (minimum image)
        off = spos[self._ref_of_atom] - spos
        if box is not None:
            off = mdadist.minimize_vectors(off, np.asarray(box, dtype=np.float32))
        cnt = self._mol_counts[m]
        rep = np.repeat(np.arange(len(m)), cnt)
        within = np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        j = self._mol_members[self._mol_starts[m][rep] + within]
        return i[rep], j, d_ref[rep] + off[j]

    def _prepare(self):
        super()._prepare()
        self.results.kernel = "numpy (real space via MDAnalysis.lib.distances)"
        self.results.alpha = self._alpha

    def _get_aggregator(self):
        return ResultsGroup(lookup={
            "features": ResultsGroup.ndarray_vstack,
            **{k: first_value for k in ("names", "labels", "atom_indices", "groups", "units",
                                        "columns", "kernel", "alpha")},
        })

    # -- per frame -----------------------------------------------------------
    def _check_box(self, box):
        if box is None:
            if self._method == "ewald":
                raise InputError("method='ewald' needs a periodic box but the trajectory has "
                                 "none; use method='cutoff' or 'reaction_field' for a "
                                 "non-periodic system")
            return
        w = float(np.min(_widths(_box_matrix(box))))
        if self._rc >= 0.5 * w:
            raise InputError(
                f"cutoff={self._rc} Angstrom is not below half the box's shortest "
                f"perpendicular width ({0.5 * w:.2f} Angstrom); the minimum image would miss "
                "charges: use a smaller cutoff")

    def _frame(self, positions, box):
        c_idx = self._c_idx
        (sidx,) = self._s_idx.values()
        cpos = np.asarray(positions[c_idx], dtype=np.float64)
        spos = np.asarray(positions[sidx], dtype=np.float64)
        q = self._q
        nc = len(c_idx)
        want_field = len(self._bonds) > 0
        pot = np.zeros(nc)
        field = np.zeros((nc, 3)) if want_field else None
        rc = self._rc
        # real space: pairs within the cutoff (found in float32 with a margin, kept in float64)
        if self._by_molecule:
            i, j, d = self._molecule_pairs(cpos, spos, box)
            r = np.sqrt(np.einsum("ij,ij->i", d, d))
        else:
            pairs = mdadist.capped_distance(cpos.astype(np.float32), spos.astype(np.float32),
                                            rc * 1.001 + 1e-3, box=box, return_distances=False)
            i, j = pairs[:, 0], pairs[:, 1]
            d = cpos[i] - spos[j]  # from solvent atom to solute atom
            if box is not None and len(d):
                d = mdadist.minimize_vectors(d, np.asarray(box, dtype=np.float32))
            r = np.sqrt(np.einsum("ij,ij->i", d, d))
            keep = r < rc
            i, j, d, r = i[keep], j[keep], d[keep], r[keep]
        if len(i):
            qj = q[j]
            m = self._method
            if m == "cutoff":
                g = 1.0 / r
                f = 1.0 / r ** 3
            elif m in ("reaction_field", "shifted"):
                g = 1.0 / r + self._krf * r * r - self._crf
                f = 1.0 / r ** 3 - 2.0 * self._krf
            else:
                from scipy.special import erfc
                a = self._alpha
                ec = erfc(a * r)
                g = ec / r
                f = (ec / r + 2.0 * a / math.sqrt(math.pi) * np.exp(-(a * r) ** 2)) / (r * r)
            pot += np.bincount(i, weights=qj * g, minlength=nc)
            if want_field:
                w = qj * f
                for ax in range(3):
                    field[:, ax] += np.bincount(i, weights=w * d[:, ax], minlength=nc)
        if self._method == "ewald":
            p_rec, f_rec = self._reciprocal(cpos, spos, box, want_field)
            pot += p_rec
            if want_field:
                field += f_rec
        pot *= COULOMB_KJ_ANGSTROM
        out = [pot]
        if want_field:
            field *= COULOMB_KJ_ANGSTROM
            loc = {int(x): n for n, x in enumerate(c_idx)}
            a = np.array([loc[x] for x in self._bonds[:, 0]])
            b = np.array([loc[x] for x in self._bonds[:, 1]])
            u = cpos[b] - cpos[a]
            if box is not None:
                u = mdadist.minimize_vectors(u, np.asarray(box, dtype=np.float32))
            u /= np.linalg.norm(u, axis=1)[:, None]
            out.append(np.einsum("ij,ij->i", 0.5 * (field[a] + field[b]), u))
        return np.concatenate(out)

    def _kgrid(self, h):
        """Reciprocal vectors on the grid n1 in [0, N1], n2, n3 in [-N, N] (1/Angstrom)
        and the Ewald weight of each (0 outside the sphere |k| <= kmax and outside the
        half space n1 > 0 or (n1 = 0, n2 > 0) or (n1 = n2 = 0, n3 > 0))."""
        recip = 2.0 * np.pi * np.linalg.inv(h).T  # rows b_i with a_i . b_j = 2 pi delta_ij
        kmax = self._kmax
        nmax = [int(kmax * np.linalg.norm(h[i]) / (2.0 * np.pi)) for i in range(3)]
        n = [np.arange(0, nmax[0] + 1), np.arange(-nmax[1], nmax[1] + 1),
             np.arange(-nmax[2], nmax[2] + 1)]
        n1, n2, n3 = np.meshgrid(*n, indexing="ij")
        k = (n1[..., None] * recip[0] + n2[..., None] * recip[1] + n3[..., None] * recip[2])
        k2 = np.einsum("...i,...i->...", k, k)
        half = (n1 > 0) | ((n1 == 0) & ((n2 > 0) | ((n2 == 0) & (n3 > 0))))
        keep = half & (k2 <= kmax * kmax) & (k2 > 0)
        vol = abs(np.linalg.det(h))
        a = self._alpha
        w = np.zeros(k2.shape)
        # 2 for the half space (k and -k give complex conjugate terms)
        w[keep] = 2.0 * (4.0 * np.pi / vol) * np.exp(-k2[keep] / (4.0 * a * a)) / k2[keep]
        return recip, n, k, w

    @staticmethod
    def _phases(pos, recip, n):
        """exp(-i n_d b_d . r) per atom and grid index, one array per dimension d."""
        t = pos @ recip.T
        return [np.exp(-1j * t[:, d:d + 1] * n[d][None, :]) for d in range(3)]

    def _reciprocal(self, cpos, spos, box, want_field):
        """Reciprocal-space potential (and field) at the solute atoms, by the structure
        factor S(k) = sum_j q_j exp(-i k.r_j) built from per-dimension phase factors
        (no transcendental function per k and atom)."""
        h = _box_matrix(box)
        vol = abs(np.linalg.det(h))
        recip, n, k, w = self._kgrid(h)
        A, B, C = w.shape
        q = self._q
        S = np.zeros((A * B, C), dtype=np.complex128)
        for lo in range(0, len(spos), 2048):  # bounded memory for large solvents
            e1, e2, e3 = self._phases(spos[lo:lo + 2048], recip, n)
            e12 = ((q[lo:lo + 2048, None] * e1)[:, :, None] * e2[:, None, :]).reshape(len(e1), -1)
            S += e12.T @ e3
        S = S.reshape(A, B, C)
        p1, p2, p3 = (np.conj(x) for x in self._phases(cpos, recip, n))  # exp(+i k.r_i)
        p12 = (p1[:, :, None] * p2[:, None, :]).reshape(len(cpos), -1)

        def at_solute(T):  # sum_k T(k) exp(i k.r_i) for every solute atom i
            m = T.reshape(A * B, C) @ p3.T               # (A*B, n_c)
            return np.einsum("ij,ji->i", p12, m)

        ws = w * S
        pot = at_solute(ws).real
        field = None
        if want_field:
            field = np.stack([at_solute(ws * k[..., d]).imag for d in range(3)], axis=1)
        pot -= np.pi * q.sum() / (vol * self._alpha ** 2)  # uniform neutralising background
        return pot, field

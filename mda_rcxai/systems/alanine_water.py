"""Alanine dipeptide (ACE-ALA-NME) in TIP3P water: the bundled solvated peptide.

OpenMM + numpy only. The 22 solute atoms come first, in the order of the vacuum
system (:func:`mda_rcxai.systems.alanine_dipeptide`), then 321 waters (O, H1, H2
each) in a cube of 2.150 nm. Positions are in nm; the box is periodic (PME 0.9 nm).

Set-up and sources. Only the abstract of Kawashima et al. (arXiv:2408.02132) was
readable where this module was written, not their methods section; so the force
field, box and states here are this package's choices, stated as such: AMBER
ff99SB-ILDN + TIP3P (``amber99sbildn.xml`` + ``tip3p.xml``; for ACE-ALA-NME identical
to the ff99SB of the group's vacuum study, Kikutsuji et al. 2022, checked by a test),
300 K, and states on phi (:data:`ALANINE_WATER_STATES`). The box was built and
equilibrated by ``scripts/make_alanine_water.py`` (its docstring has the recipe).

Atom numbering of the papers
----------------------------
Kikutsuji et al. (J. Chem. Phys. 156, 154108 (2022)) number the atoms of
alanine dipeptide 1-22 in this (AMBER) order and name them element + number
(Kawashima et al. use the same group's numbering; their figure could not be
checked here): phi = C5-N7-C9-C15,
psi = N7-C9-C15-N17, theta = O6-C5-N7-C9. :data:`PAPER_ATOM_NAMES` holds
these names in atom order, so ``PAPER_ATOM_NAMES.index("H18")`` = 17 is
the 0-based index; H18 is the amide hydrogen of the C-terminal
N-methylamide (residue NME, atom name ``H``), the hydrogen whose solvent
electrostatic potential Kawashima et al. found to matter near the
transition state in water. Passing ``center_labels=PAPER_ATOM_NAMES`` to
:class:`~mda_rcxai.features.SolventPotentialFeatures` names the columns
``V[H18|water]``.

Paper name -> residue and atom name in the bundled PDB (OpenMM's standard names,
which OpenMM's ``PDBFile`` gives the vacuum file's ``HH31``... too; 0-based index =
number - 1):

* ACE1: H1 H1, C2 CH3, H3 H2, H4 H3, C5 C, O6 O
* ALA2: N7 N, H8 H, C9 CA, H10 HA, C11 CB, H12 HB1, H13 HB2, H14 HB3, C15 C, O16 O
* NME3: N17 N, **H18 H**, C19 C, H20 H1, H21 H2, H22 H3

In MDAnalysis: ``u.select_atoms("resname NME and name H")`` is H18.

Speed
-----
Measured on the 2-core development VM under load (load average ~6), OpenMM 8.6.1,
CPU platform, one thread, LangevinMiddle 2 fs, positions read every 10 steps:
140-154 steps/s for this box (985 atoms). The solvent potential at the 22 solute
atoms (Ewald, tolerance 1e-5) costs ~25 ms per frame with
:class:`~mda_rcxai.features.SolventPotentialFeatures`.
"""

from __future__ import annotations

import os

from .core import PHI, PSI, THETA
from .states import StateDefinition

__all__ = ["alanine_dipeptide_water", "create_alanine_water_system", "ALANINE_WATER_STATES",
           "ALANINE_WATER_FORCEFIELD", "ALANINE_WATER_CUTOFF_NM", "ALANINE_WATER_PDB",
           "PAPER_ATOM_NAMES", "H18_INDEX", "N_SOLUTE_ATOMS", "ALANINE_WATER_DESCRIPTION"]

#: OpenMM force-field files: AMBER ff99SB-ILDN (identical to ff99SB for ACE-ALA-NME) + TIP3P.
ALANINE_WATER_FORCEFIELD = ("amber99sbildn.xml", "tip3p.xml")

#: Real-space cutoff of PME, nm (below half the box side).
ALANINE_WATER_CUTOFF_NM = 0.9

#: Number of solute atoms; they come first in the bundled PDB.
N_SOLUTE_ATOMS = 22

#: Element + 1-based number of each solute atom, in atom order (the papers' numbering).
PAPER_ATOM_NAMES = ("H1", "C2", "H3", "H4", "C5", "O6", "N7", "H8", "C9", "H10", "C11",
                    "H12", "H13", "H14", "C15", "O16", "N17", "H18", "C19", "H20", "H21",
                    "H22")

#: 0-based index of H18 (the NME amide hydrogen).
H18_INDEX = PAPER_ATOM_NAMES.index("H18")

#: The shipped, equilibrated box (a path next to the package's other data).
ALANINE_WATER_PDB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                 "data", "alanine_water.pdb")

_STATES_SOURCE = (
    "Ranges of phi (C5-N7-C9-C15, atoms 4, 6, 8, 14 0-based) in degrees. In water the "
    "negative-phi basins (beta/C5, PII, C7eq, alpha_R) exchange within picoseconds by "
    "rotation of psi, and the slow step is the change of sign of phi; so C7eq is "
    "phi in [-180, -50] (every negative-phi basin, as the vacuum C7eq box on phi) and "
    "C7ax is phi in [40, 100] (the positive-phi basins C7ax and alpha_L), with no "
    "condition on psi. Kawashima et al.'s exact state boxes could not be read here; these "
    "are this package's choice, matching the vacuum boxes on phi.")

#: Stable states of the bundled alanine dipeptide in water (phi only, degrees).
ALANINE_WATER_STATES = {
    "C7eq": StateDefinition("C7eq", [PHI], [(-180.0, -50.0)], description=_STATES_SOURCE),
    "C7ax": StateDefinition("C7ax", [PHI], [(40.0, 100.0)], description=_STATES_SOURCE),
}

#: What the system is and what the literature found (the report prints it).
ALANINE_WATER_DESCRIPTION = (
    "Alanine dipeptide (ACE-ALA-NME) in a cubic box of TIP3P water (OpenMM "
    "amber99sbildn.xml + tip3p.xml; for this molecule ff99SB-ILDN equals ff99SB), PME with "
    "a 0.9 nm cutoff, bonds to H constrained, rigid water; equilibrated at 300 K and 1 bar, "
    "then NVT (scripts/make_alanine_water.py). Atoms 0-21 are the solute in the papers' "
    "numbering H1..H22 (H18 = NME amide H, index 17). States C7eq (phi in [-180, -50]) and "
    "C7ax (phi in [40, 100]). Expected from the literature: phi and theta (O6-C5-N7-C9) "
    "as in vacuum (Kikutsuji et al. 2022), and in water also the electrostatic potential "
    "of the solvent at H18 near the transition state (Kawashima et al., arXiv:2408.02132); "
    "Bolhuis, Dellago and Chandler (PNAS 2000) found phi and psi insufficient in water.")


def create_alanine_water_system(topology):
    """The OpenMM System of a peptide/water topology: PME 0.9 nm, HBonds, rigid water.

    Parameters
    ----------
    topology : openmm.app.Topology
        With periodic box vectors set (ACE-ALA-NME with AMBER names + HOH).

    Returns
    -------
    openmm.System

    Examples
    --------
    >>> from mda_rcxai.systems.alanine_water import (alanine_dipeptide_water,
    ...                                              create_alanine_water_system)
    >>> s = alanine_dipeptide_water()
    >>> create_alanine_water_system(s.topology).getNumParticles() == s.n_atoms
    True
    """
    import openmm.app as app
    import openmm.unit as u

    from ..exceptions import InputError
    if topology.getPeriodicBoxVectors() is None:
        raise InputError("topology has no periodic box; set it with "
                         "topology.setPeriodicBoxVectors(...) first")
    ff = app.ForceField(*ALANINE_WATER_FORCEFIELD)
    return ff.createSystem(topology, nonbondedMethod=app.PME,
                           nonbondedCutoff=ALANINE_WATER_CUTOFF_NM * u.nanometer,
                           constraints=app.HBonds, rigidWater=True)


def alanine_dipeptide_water(states=None):
    """The bundled alanine dipeptide in TIP3P water (PME, periodic cube), C7eq -> C7ax.

    Loads ``mda_rcxai/data/alanine_water.pdb`` (equilibrated by
    ``scripts/make_alanine_water.py``) with ``amber99sbildn.xml`` +
    ``tip3p.xml``, PME with a 0.9 nm cutoff, ``HBonds``, rigid water.

    Parameters
    ----------
    states : dict of StateDefinition, optional
        Default :data:`ALANINE_WATER_STATES` (phi ranges, degrees).

    Returns
    -------
    MolecularSystem
        Name ``"alanine_water"``; ``box_vectors`` in nm; ``description``;
        atoms 0-21 the solute (see :data:`PAPER_ATOM_NAMES`), then the
        waters.

    Examples
    --------
    >>> from mda_rcxai.systems.alanine_water import alanine_dipeptide_water, H18_INDEX
    >>> s = alanine_dipeptide_water()
    >>> s.periodic, sorted(s.states), H18_INDEX
    (True, ['C7ax', 'C7eq'], 17)
    >>> bool(s.states["C7eq"].contains(s.positions)[0])
    True
    """
    from .core import from_pdb_and_forcefield
    s = from_pdb_and_forcefield(ALANINE_WATER_PDB, list(ALANINE_WATER_FORCEFIELD),
                                ALANINE_WATER_STATES if states is None else states,
                                nonbonded="PME", cutoff_nm=ALANINE_WATER_CUTOFF_NM,
                                constraints="HBonds", name="alanine_water")
    s.force_field = "+".join(ALANINE_WATER_FORCEFIELD)
    s.source = {"loader": "alanine_dipeptide_water", "pdb": "mda_rcxai/data/alanine_water.pdb"}
    s.description = ALANINE_WATER_DESCRIPTION
    return s


# the dihedrals named in the description, for users of this module
PHI_PSI_THETA = {"phi": PHI, "psi": PSI, "theta": THETA}
__all__ += ["PHI_PSI_THETA"]

"""Files shipped with mda_rcxai, exposed as paths (like MDAnalysisTests.datafiles).

Data only: the scripts that rebuild these files live in ``scripts/`` of the
source tree, outside the package.

Attributes
----------
ALANINE_DIPEPTIDE_PDB : str
    ACE-ALA-NME in vacuum, 22 atoms, AMBER atom names and order, with CONECT
    records for all 21 bonds; energy-minimised with amber99sb (C7eq).
ALANINE_DIPEPTIDE_DCD : str
    1000 frames (1 ps apart) of the same molecule at 300 K: 500 in C7eq,
    then 500 in C7ax. How both were made:
    ``scripts/make_alanine_dipeptide.py`` in the source tree.
NACL_WATER_PDB : str
    Na+ (atom 0) and Cl- (atom 1) in contact in a 1.954 nm cube of 245
    TIP3P waters, equilibrated at 300 K with amber14 + TIP3P
    (Joung-Cheatham ions); CRYST1 box. Made by
    ``scripts/make_nacl_water.py`` (recipe: :mod:`mda_rcxai.systems.nacl_build`).
NACL_PMF_TXT : str
    Potential of mean force along the Na-Cl distance of that box (r in
    Angstrom, kT, kJ/mol), by ``scripts/nacl_pmf.py``
    (analysis: :mod:`mda_rcxai.systems.nacl_pmf`).

Examples
--------
>>> import MDAnalysis as mda
>>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD
>>> u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
>>> len(u.atoms), len(u.bonds), len(u.trajectory)
(22, 21, 1000)
"""

import os as _os

_HERE = _os.path.dirname(_os.path.abspath(__file__))

ALANINE_DIPEPTIDE_PDB = _os.path.join(_HERE, "alanine_dipeptide.pdb")
ALANINE_DIPEPTIDE_DCD = _os.path.join(_HERE, "alanine_dipeptide_traj.dcd")
NACL_WATER_PDB = _os.path.join(_HERE, "nacl_water.pdb")
NACL_PMF_TXT = _os.path.join(_HERE, "nacl_pmf.txt")

__all__ = ["ALANINE_DIPEPTIDE_PDB", "ALANINE_DIPEPTIDE_DCD", "NACL_WATER_PDB",
           "NACL_PMF_TXT"]

"""Files shipped with mda_rcxai, exposed as paths (like MDAnalysisTests.datafiles).

Attributes
----------
ALANINE_DIPEPTIDE_PDB : str
    ACE-ALA-NME in vacuum, 22 atoms, AMBER atom names and order, with CONECT
    records for all 21 bonds; energy-minimised with amber99sb (C7eq).
ALANINE_DIPEPTIDE_DCD : str
    1000 frames (1 ps apart) of the same molecule at 300 K: 500 in C7eq,
    then 500 in C7ax. How both were made: :mod:`mda_rcxai.data.generate`.

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

__all__ = ["ALANINE_DIPEPTIDE_PDB", "ALANINE_DIPEPTIDE_DCD"]

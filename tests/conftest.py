import os
import sys

import pytest

# make tests/ importable as a package root for helpers such as tests.features.peptide
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def ala_universe():
    import MDAnalysis as mda
    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    return mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)


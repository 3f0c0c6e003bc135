"""Shared fixtures and markers of the test suite (shipped in the wheel: ``pytest --pyargs
mda_rcxai``, where pyproject.toml's settings are absent, so markers are registered here)."""

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long integration tests (minutes); the MDAKit registry and a quick "
                   "check run -m 'not slow'")


@pytest.fixture
def ala_universe():
    import MDAnalysis as mda
    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    return mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)


@pytest.fixture(scope="session")
def ala():
    """The bundled alanine dipeptide in vacuum (one per test session)."""
    from mda_rcxai.systems import alanine_dipeptide
    return alanine_dipeptide()

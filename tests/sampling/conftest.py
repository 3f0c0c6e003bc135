import warnings

import pytest

warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture(scope="session")
def ala():
    from mda_rcxai.systems import alanine_dipeptide
    return alanine_dipeptide()


@pytest.fixture(scope="session")
def tps_result(ala):
    """One short TPS run shared by the tests (a few seconds on 2 cores)."""
    from mda_rcxai.sampling import initial_path, run_tps
    path = initial_path(ala, seed=0, verbose=False)
    return path, run_tps(ala, path, 30, seed=0, verbose=False)

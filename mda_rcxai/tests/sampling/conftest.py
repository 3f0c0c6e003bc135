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
    # 40 moves at ~15 % acceptance: accepted paths to harvest from (seed 0
    # of the fast route accepted none of its first 30 moves)
    result = run_tps(ala, path, 40, seed=2, verbose=False)
    assert result.n_accepted > 0, result.summary()
    return path, result

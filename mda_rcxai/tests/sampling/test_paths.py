"""Initial paths from a user's trajectory file or OPS storage, into run_tps."""

import MDAnalysis as mda
import numpy as np
import pytest

from mda_rcxai.exceptions import InputError, StateError
from mda_rcxai.sampling import (path_from_ops_storage, path_from_trajectory,
                                run_tps, trajectory_positions,
                                universe_from_system)


@pytest.fixture(scope="module")
def transition(ala, tps_result):
    """A C7eq -> C7ax path (nm) with basin frames before and after it."""
    path, _ = tps_result
    x = trajectory_positions(path)  # nm
    A, B = ala.states["C7eq"], ala.states["C7ax"]
    assert A.contains(x[0])[0] and B.contains(x[-1])[0]
    before = np.repeat(x[:1], 3, axis=0)    # still in A
    after = np.repeat(x[-1:], 2, axis=0)    # already in B
    return x, np.concatenate([before, x, after])


def _write_dcd(system, frames_nm, filename):
    import warnings
    warnings.filterwarnings("ignore", message="No dimensions set")
    u = universe_from_system(system, frames_nm * 10.0)
    with mda.Writer(str(filename), n_atoms=len(u.atoms)) as w:
        for _ in u.trajectory:
            w.write(u.atoms)


def test_path_from_dcd_runs_tps(ala, transition, tmp_path):
    x, frames = transition
    dcd = tmp_path / "run.dcd"
    _write_dcd(ala, frames, dcd)
    for source in (str(dcd), [ala.pdb_path, str(dcd)],
                   mda.Universe(ala.pdb_path, str(dcd))):
        path = path_from_trajectory(ala, source, "C7eq", "C7ax")
        got = trajectory_positions(path)
        # the last A frame, the frames outside both states, the first B frame
        assert got.shape == x.shape
        assert np.allclose(got, x, atol=2e-4)  # DCD keeps float32 Angstrom
    A, B = ala.states["C7eq"], ala.states["C7ax"]
    inside = A.contains(got) | B.contains(got)
    assert A.contains(got[0])[0] and B.contains(got[-1])[0]
    assert not inside[1:-1].any()
    result = run_tps(ala, path, 2, seed=0, verbose=False)
    assert result.n_steps == 2 and len(result.active_lengths) == 2
    fin = trajectory_positions(result.final_path)
    assert A.contains(fin[0])[0] and B.contains(fin[-1])[0]


def test_path_from_trajectory_errors(ala, transition, tmp_path):
    x, frames = transition
    only_A = tmp_path / "a.dcd"
    _write_dcd(ala, frames[:3], only_A)
    with pytest.raises(StateError, match="no transition"):
        path_from_trajectory(ala, str(only_A))
    backwards = tmp_path / "ba.dcd"
    _write_dcd(ala, frames[::-1], backwards)
    with pytest.raises(StateError, match="no transition"):
        path_from_trajectory(ala, str(backwards))
    # B -> A exists: swapping the states finds it
    path = path_from_trajectory(ala, str(backwards), "C7ax", "C7eq")
    assert len(path) == len(x)
    with pytest.raises(InputError, match="no such file"):
        path_from_trajectory(ala, str(tmp_path / "missing.dcd"))
    u = mda.Universe.empty(5, trajectory=True)
    with pytest.raises(InputError, match="5 atoms"):
        path_from_trajectory(ala, u)
    txt = tmp_path / "x.dcd"
    txt.write_text("not a trajectory")
    with pytest.raises(InputError, match="could not be read"):
        path_from_trajectory(ala, str(txt))


def test_path_from_ops_storage(ala, tps_result, tmp_path):
    path, _ = tps_result
    nc = tmp_path / "tps.nc"
    result = run_tps(ala, path, 3, storage=nc, seed=1, method="ops",
                     verbose=False)
    got = path_from_ops_storage(nc, ala, state_A="C7eq", state_B="C7ax")
    want = trajectory_positions(result.final_path)
    assert np.allclose(trajectory_positions(got), want, atol=1e-5)
    # usable as the initial path of a new TPS run
    again = run_tps(ala, got, 2, seed=0, verbose=False)
    assert again.n_steps == 2 and len(again.active_lengths) == 2
    with pytest.raises(InputError, match="no such"):
        path_from_ops_storage(tmp_path / "missing.nc", ala)
    bad = tmp_path / "bad.nc"
    bad.write_text("nope")
    with pytest.raises(InputError, match="not an OPS storage"):
        path_from_ops_storage(bad, ala)

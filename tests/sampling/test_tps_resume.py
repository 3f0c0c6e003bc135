"""TPS resumes after SIGKILL from its last completed move, exactly."""

import textwrap

import numpy as np
import pytest

from mda_rcxai.exceptions import InputError
from mda_rcxai.sampling import run_tps, trajectory_positions

from .killing import kill_when

N_MOVES = 160

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from mda_rcxai.systems import alanine_dipeptide
    from mda_rcxai.sampling import make_engine, run_tps
    from mda_rcxai.sampling.tps import _trajectory
    s = alanine_dipeptide()
    x = np.load(sys.argv[1])["x"]
    path = _trajectory(make_engine(s), x, np.zeros_like(x), s)
    run_tps(s, path, int(sys.argv[3]), seed=5, checkpoint=sys.argv[2],
            checkpoint_interval_s=0.0, verbose=False)
""")


@pytest.fixture(scope="module")
def start(ala, tps_result, tmp_path_factory):
    """The initial path as arrays and as an OPS trajectory built from them."""
    from mda_rcxai.sampling import make_engine
    from mda_rcxai.sampling.tps import _trajectory
    path, _ = tps_result
    x = trajectory_positions(path)
    f = tmp_path_factory.mktemp("tps") / "path.npz"
    np.savez(f, x=x)
    return f, _trajectory(make_engine(ala), x, np.zeros_like(x), ala)


def _moves_done(ck):
    with np.load(ck) as d:
        return int(d["move"])


def test_sigkill_then_resume_equals_uninterrupted(ala, start, tmp_path):
    path_file, path = start
    full = run_tps(ala, path, N_MOVES, seed=5, verbose=False,
                   checkpoint=tmp_path / "full.npz")
    assert full.extra["resumed_from"] == [0]
    ck = tmp_path / "killed.npz"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    kill_when(script, [path_file, ck, N_MOVES],
              lambda: ck.exists() and _moves_done(ck) >= N_MOVES // 2)
    done = _moves_done(ck)
    assert N_MOVES // 2 <= done < N_MOVES, "not killed in the middle"
    resumed = run_tps(ala, path, N_MOVES, seed=5, verbose=False,
                      checkpoint=ck)
    assert resumed.extra["resumed_from"] == [done]
    # the same chain: every move's outcome, every accepted path, bit for bit
    np.testing.assert_array_equal(resumed.extra["accepted"],
                                  full.extra["accepted"])
    np.testing.assert_array_equal(resumed.active_lengths, full.active_lengths)
    assert resumed.n_accepted == full.n_accepted > 0
    for a, b in zip(resumed.accepted_paths, full.accepted_paths):
        np.testing.assert_array_equal(trajectory_positions(a),
                                      trajectory_positions(b))
    np.testing.assert_array_equal(trajectory_positions(resumed.final_path),
                                  trajectory_positions(full.final_path))
    # a finished checkpoint: a rerun does no move and returns the same
    again = run_tps(ala, path, N_MOVES, seed=5, verbose=False, checkpoint=ck)
    assert again.extra["resumed_from"] == [N_MOVES]
    np.testing.assert_array_equal(again.extra["accepted"],
                                  full.extra["accepted"])


def test_checkpoint_of_other_arguments_is_refused(ala, start, tmp_path):
    _, path = start
    ck = tmp_path / "ck.npz"
    run_tps(ala, path, 5, seed=1, verbose=False, checkpoint=ck)
    for kw in ({"seed": 2}, {"temperature": 310.0}, {"n_frames_max": 500}):
        args = dict(seed=1, verbose=False, checkpoint=ck) | kw
        with pytest.raises(InputError, match="other arguments") as err:
            run_tps(ala, path, 5, **args)
        assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="other arguments"):
        run_tps(ala, path, 6, seed=1, verbose=False, checkpoint=ck)
    ck.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="cannot be read"):
        run_tps(ala, path, 5, seed=1, verbose=False, checkpoint=ck)
    with pytest.raises(InputError, match="folder"):
        run_tps(ala, path, 5, seed=1, verbose=False,
                checkpoint=tmp_path / "no" / "ck.npz")

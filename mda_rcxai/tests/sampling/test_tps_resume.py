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
    from mda_rcxai.sampling.ops import trajectory
    s = alanine_dipeptide()
    x = np.load(sys.argv[1])["x"]
    path = trajectory(make_engine(s), x, np.zeros_like(x))
    run_tps(s, path, int(sys.argv[3]), seed=5, checkpoint=sys.argv[2],
            checkpoint_interval_s=0.0, verbose=False)
""")


@pytest.fixture(scope="module")
def start(ala, tps_result, tmp_path_factory):
    """The initial path as arrays and as an OPS trajectory built from them."""
    from mda_rcxai.sampling import make_engine
    from mda_rcxai.sampling.ops import trajectory
    path, _ = tps_result
    x = trajectory_positions(path)
    f = tmp_path_factory.mktemp("tps") / "path.npz"
    np.savez(f, x=x)
    return f, trajectory(make_engine(ala), x, np.zeros_like(x))


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


CHILD_CHAINS = textwrap.dedent("""
    import sys
    import numpy as np
    from mda_rcxai.systems import alanine_dipeptide
    from mda_rcxai.sampling import make_engine, run_tps
    from mda_rcxai.sampling.ops import trajectory
    if __name__ == "__main__":
        s = alanine_dipeptide()
        x = np.load(sys.argv[1])["x"]
        path = trajectory(make_engine(s), x, np.zeros_like(x))
        run_tps(s, path, 400, seed=6, checkpoint=sys.argv[2], n_chains=2,
                n_workers=2, checkpoint_interval_s=0.0, verbose=False)
""")


def _children(pid):
    import subprocess
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            return "\nState:\tZ" not in fh.read()
    except FileNotFoundError:
        return False


def test_chains_in_workers_stop_with_their_driver_and_resume(ala, start,
                                                              tmp_path):
    import subprocess
    import sys
    import time
    from mda_rcxai.sampling.tps_fast import checkpoint_files
    path_file, path = start
    ck = tmp_path / "ck.npz"
    files = checkpoint_files(ck, 2)
    script = tmp_path / "chains.py"
    script.write_text(CHILD_CHAINS)
    proc = subprocess.Popen([sys.executable, str(script), str(path_file),
                             str(ck)])
    workers = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            workers = workers or [p for p in _children(proc.pid)]
            try:
                if all(_moves_done(f) >= 20 for f in files):
                    break
            except (FileNotFoundError, OSError, KeyError, ValueError):
                pass
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert workers, "no worker processes seen"
    done = [_moves_done(f) for f in files]
    assert all(20 <= d < 200 for d in done), done
    time.sleep(3.0)       # the workers watch their parent every second
    assert not [p for p in workers if _alive(p)], "workers outlived the driver"
    # resumed in this process (n_workers=1): the same two chains
    resumed = run_tps(ala, path, 400, seed=6, checkpoint=ck, n_chains=2,
                      n_workers=1, verbose=False, checkpoint_interval_s=60)
    assert resumed.extra["resumed_from"][0] >= done[0]
    assert resumed.extra["resumed_from"][1] >= done[1]
    full = run_tps(ala, path, 400, seed=6, n_chains=2, n_workers=1,
                   verbose=False)
    np.testing.assert_array_equal(resumed.extra["accepted"],
                                  full.extra["accepted"])
    for a, b in zip(resumed.accepted_paths, full.accepted_paths):
        np.testing.assert_array_equal(trajectory_positions(a),
                                      trajectory_positions(b))

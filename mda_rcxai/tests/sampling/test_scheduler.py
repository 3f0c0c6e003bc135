"""Committor shooting on Dask processes: a running scheduler with separate
workers, Ctrl-C and SIGKILL of the caller (no tracebacks, no processes left).

Real processes on localhost only: ``python -m dask scheduler`` and two
``python -m dask worker --nthreads 1``, each in its own session so that the
finalizer can end the whole group and reap it.
"""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from mda_rcxai.exceptions import InputError
from mda_rcxai.sampling import CommittorDataset, harvest, run_committor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_pids(sid):
    """Live (non-zombie) processes of session ``sid``."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,sid=,stat="],
                         capture_output=True, text=True).stdout
    pids = []
    for line in out.splitlines():
        pid, s, stat = line.split()[:3]
        if int(s) == sid and not stat.startswith("Z"):
            pids.append(int(pid))
    return pids


def _end(procs):
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 15
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:  # whatever is left of each group (worker children too)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


@pytest.fixture
def dask_cluster(tmp_path):
    """A real ``dask scheduler`` and two ``dask worker`` processes."""
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    log = open(tmp_path / "dask.log", "w")
    procs = []
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1",
             "--port", str(port), "--no-dashboard"], stdout=log,
            stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
            start_new_session=True))
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", addr, "--nthreads",
                 "1", "--nworkers", "1", "--host", "127.0.0.1",
                 "--no-dashboard", "--memory-limit", "0"], stdout=log,
                stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
                start_new_session=True))
        from dask.distributed import Client
        with Client(addr, timeout="60s") as c:
            c.wait_for_workers(2, timeout=90)
        yield addr
    finally:
        _end(procs)
        log.close()
        time.sleep(0.5)
        left = [pid for p in procs for pid in _session_pids(p.pid)]
        assert not left, f"dask processes left behind: {left}"


@pytest.fixture(scope="module")
def configs(ala, tps_result):
    _, result = tps_result
    return harvest(result, 6, seed=3, system=ala)


def test_running_scheduler_same_counts(ala, configs, dask_cluster, tmp_path):
    serial = run_committor(ala, configs, 3, seed=5, verbose=False,
                           method="lean")
    remote = run_committor(ala, configs, 3, seed=5, verbose=False,
                           method="lean", scheduler=dask_cluster,
                           chunk_size=1, out=tmp_path / "remote.npz")
    assert np.array_equal(serial.n_A, remote.n_A)
    assert np.array_equal(serial.n_B, remote.n_B)
    assert np.array_equal(serial.n_undecided, remote.n_undecided)
    assert remote.complete
    # both workers took part: the system travelled as XML, not as a file
    from dask.distributed import Client
    with Client(dask_cluster) as c:
        assert len(c.scheduler_info()["workers"]) == 2


def test_bad_scheduler_address(ala, configs, monkeypatch):
    from mda_rcxai.sampling import dask_driver
    monkeypatch.setattr(dask_driver, "SCHEDULER_TIMEOUT", "2s")
    with pytest.raises(InputError, match="scheduler"):
        run_committor(ala, configs[:1], 1, scheduler="localhost:1",
                      verbose=False, method="lean")
    port = _free_port()  # nothing listens there
    with pytest.raises(InputError, match="could not connect"):
        run_committor(ala, configs[:1], 1, method="lean", verbose=False,
                      scheduler=f"tcp://127.0.0.1:{port}")


_CHILD = textwrap.dedent("""
    import signal, sys, warnings
    # as in a terminal (a suite started in the background inherits SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    warnings.simplefilter("ignore")
    import numpy as np
    from mda_rcxai.systems import alanine_dipeptide
    from mda_rcxai.sampling import run_committor
    if __name__ == "__main__":
        x = np.load(sys.argv[1])
        try:
            run_committor(alanine_dipeptide(), x, 40, out=sys.argv[2],
                          seed=1, n_workers=2, chunk_size=1, method="lean",
                          verbose=False)
        except KeyboardInterrupt:
            print("interrupted; rerun the same command to resume",
                  file=sys.stderr)
            sys.exit(130)
""")


def _start_child(tmp_path, configs):
    np.save(tmp_path / "x.npy", np.repeat(configs, 4, axis=0))
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    out = tmp_path / "run.npz"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "x.npy"), str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env=dict(os.environ, PYTHONPATH=ROOT))
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        try:
            if CommittorDataset.load(out).done.sum() >= 1:
                break
        except Exception:
            pass
        time.sleep(0.1)
    return proc, out


def test_ctrl_c_quiet_and_no_processes_left(configs, tmp_path):
    proc, out = _start_child(tmp_path, configs)
    try:
        assert proc.poll() is None, proc.communicate()[1]
        n_before = len(_session_pids(proc.pid))
        assert n_before >= 3  # the caller and its two workers
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1] == (
        "interrupted; rerun the same command to resume"), err
    # the workers go with their caller; on a loaded machine the nannies may need a few
    # seconds. (The test failed once in a full-suite run without a recorded reason; a
    # fixed 1 s wait here was its one timing assumption, and the messages now carry err.)
    deadline = time.time() + 30
    while time.time() < deadline and _session_pids(proc.pid):
        time.sleep(0.2)
    assert _session_pids(proc.pid) == []
    partial = CommittorDataset.load(out)
    assert 0 < partial.done.sum() < len(partial), (partial.done.sum(), len(partial))


def test_sigkill_of_caller_leaves_no_workers(configs, tmp_path):
    proc, out = _start_child(tmp_path, configs)
    try:
        assert proc.poll() is None, proc.communicate()[1]
        workers = [p for p in _session_pids(proc.pid) if p != proc.pid]
        assert workers
        proc.kill()
        proc.wait()
        deadline = time.time() + 30
        while time.time() < deadline and _session_pids(proc.pid):
            time.sleep(0.2)
        assert _session_pids(proc.pid) == []
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_ctrl_c_swallowed_by_a_finaliser_is_not_lost():
    """A KeyboardInterrupt raised while a finaliser runs (dask's Future.__del__ runs
    in the main thread as results are collected) is swallowed by Python; the flag
    that run_committor checks after every configuration still records the Ctrl-C."""
    from mda_rcxai.sampling.dask_driver import sigint_flag

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # the handler runs here, inside __del__

    # Python's own handler, as in a terminal (a suite started in the background
    # inherits SIGINT ignored, and then _sigint_flag leaves it alone)
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with sigint_flag() as flag:
            obj = Finalised()
            del obj  # no KeyboardInterrupt reaches this frame
            assert flag == [True]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, outer)

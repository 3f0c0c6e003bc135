"""Run a child script that writes a dataset and SIGKILL it part-way."""

import signal
import subprocess
import sys
import time

from mda_rcxai.exceptions import DatasetError
from mda_rcxai.sampling import CommittorDataset


def kill_after_configurations(script, args, out, n_done=2, timeout=120):
    """Start ``python script *args``; SIGKILL it once ``out`` holds ``n_done``
    finished configurations (or after ``timeout`` s). Returns the partial dataset."""
    proc = subprocess.Popen([sys.executable, str(script), *map(str, args)])
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and proc.poll() is None:
            if out.exists():
                try:
                    if int(CommittorDataset.load(out).done.sum()) >= n_done:
                        break
                except DatasetError:  # not written yet
                    pass
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return CommittorDataset.load(out)  # never half-written


def kill_when(script, args, ready, timeout=120):
    """Start ``python script *args``; SIGKILL it once ``ready()`` is true (or
    after ``timeout`` s, or when it exits). Returns the exit status."""
    proc = subprocess.Popen([sys.executable, str(script), *map(str, args)])
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and proc.poll() is None:
            try:
                if ready():
                    break
            except Exception:  # a file not written yet
                pass
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    return proc.returncode

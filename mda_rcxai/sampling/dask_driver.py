"""The Dask driver of committor shooting: a cluster, tasks, and a quiet Ctrl-C.

:func:`dask_client` yields the user's ``Client``, a Client of a running
scheduler (by address), or a ``LocalCluster`` of single-threaded worker
processes (closed on exit, also on Ctrl-C); :func:`submit_all` records
results as tasks complete and cancels the rest on an error or Ctrl-C;
:func:`sigint_flag` notices a Ctrl-C whose ``KeyboardInterrupt`` a
finaliser swallowed.
"""

from __future__ import annotations

import contextlib
import os

from ..exceptions import InputError, InputTypeError

__all__ = ["dask_client", "submit_all", "sigint_flag", "SCHEDULER_TIMEOUT"]

#: How long to try to reach a scheduler given by address.
SCHEDULER_TIMEOUT = "20s"


@contextlib.contextmanager
def _sigint_handler(handler):
    """Install ``handler`` for SIGINT in this block (main thread only: elsewhere
    Python cannot set handlers, and the block runs unchanged); the previous
    handler is restored after. Yields whether it was installed."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    old = signal.signal(signal.SIGINT, handler)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def sigint_flag():
    """Yield ``[False]``, set to ``[True]`` by a Ctrl-C (SIGINT) in this block.

    The handler still raises KeyboardInterrupt at once, as Python's own does.
    The flag is for the case where that exception is swallowed: a signal that
    lands while a finaliser runs (dask ``Future.__del__`` runs in this thread
    as results are collected) is printed as "Exception ignored in ..." and
    the run would go on to the end as if no Ctrl-C had come; ``record``
    raises it again after the next finished configuration. Installed only in
    the main thread and only over Python's default handler.
    """
    import signal
    flag = [False]
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield flag
        return

    def handler(signum, frame):
        flag[0] = True
        raise KeyboardInterrupt

    with _sigint_handler(handler):
        yield flag


def _ignore_sigint():
    """Run in each worker of our own LocalCluster: Ctrl-C in the terminal
    reaches the whole process group; the caller stops the workers, which
    must not print a KeyboardInterrupt traceback of their own."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return os.getpid()


@contextlib.contextmanager
def _sigint_ignored_by_children():
    """Ignore SIGINT while worker processes start: they inherit the ignored
    disposition (kept across exec, and Python then installs no handler), so
    a Ctrl-C during start-up prints no worker traceback either. Restored
    for this process right after."""
    import signal
    with _sigint_handler(signal.SIG_IGN):
        yield


def _quiet_dask_logs():
    import logging
    for name in ("distributed", "distributed.scheduler", "distributed.core",
                 "distributed.nanny", "distributed.worker",
                 "distributed.client", "distributed.comm",
                 "distributed.batched", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def dask_client(client, n_workers, scheduler=None):
    """The user's Client, a Client of the scheduler at ``scheduler``, or a
    LocalCluster of single-threaded worker processes (closed on exit, also
    on Ctrl-C); yields (client, number of workers)."""
    from dask.distributed import Client, LocalCluster
    own = cluster = None
    if client is None and scheduler is not None:
        try:
            client = own = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except Exception as err:  # OSError / TimeoutError
            msg = str(err).strip().splitlines()
            raise InputError(
                f"scheduler={scheduler!r}: could not connect "
                f"({msg[0] if msg else type(err).__name__}); start it with "
                "'dask scheduler' and its workers with 'dask worker "
                "ADDRESS', or leave scheduler unset for a local cluster"
                ) from None
    elif client is None:
        if n_workers is None or int(n_workers) < 1:
            n_workers = os.cpu_count() or 1
        import logging
        _quiet_dask_logs()
        with _sigint_ignored_by_children():
            cluster = LocalCluster(n_workers=int(n_workers),
                                   threads_per_worker=1, processes=True,
                                   dashboard_address=":0",
                                   silence_logs=logging.ERROR)
        client = own = Client(cluster)
        client.run(_ignore_sigint)
    elif not isinstance(client, Client):
        raise InputTypeError("client must be a dask.distributed.Client")
    try:
        n_w = len(client.scheduler_info().get("workers", {}))
        if scheduler is not None and n_w == 0:
            client.wait_for_workers(1, timeout=60)
            n_w = len(client.scheduler_info().get("workers", {}))
        yield client, max(1, n_w)
    finally:
        if own is not None:
            _quiet_dask_logs()
            with contextlib.suppress(Exception):
                own.close()
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()


def submit_all(client, fn, chunks, record):
    """Submit ``fn(*args)`` per chunk and record results as they complete;
    on Ctrl-C (or any error) the pending tasks are cancelled first."""
    from dask.distributed import as_completed
    futures = [client.submit(fn, *args, pure=False) for args in chunks]
    try:
        for fut in as_completed(futures):
            record(fut.result())
    except BaseException:
        _quiet_dask_logs()
        with contextlib.suppress(Exception):
            client.cancel(futures)
        raise

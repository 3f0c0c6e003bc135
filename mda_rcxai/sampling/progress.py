"""Progress bars of the sampling loops (tqdm, quiet in log files)."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

__all__ = ["progress_bar"]


def progress_bar(verbose, **kw):
    """A tqdm bar, disabled unless ``verbose``; a line every 15 s in a log file.

    Examples
    --------
    >>> with progress_bar(False, total=3) as bar:
    ...     bar.update(3)
    """
    if not sys.stderr.isatty():  # a log file: a line every 15 s, not every step
        kw.setdefault("mininterval", 15.0)
    return tqdm(disable=not verbose, **kw)

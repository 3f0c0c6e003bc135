"""Writing files atomically: a file is either the old one or the whole new one, never half.

:func:`atomic_write` is the one writer every module of the package uses (model
files, datasets, checkpoints, study files, reports, PDB files).

Examples
--------
>>> import tempfile, os
>>> from mda_rcxai.fileio import atomic_write
>>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
>>> _ = atomic_write(p, "x")
>>> open(p).read()
'x'
"""

import contextlib
import os
import secrets

from .exceptions import InputError

__all__ = ["atomic_write", "to_jsonable", "json_default"]


def atomic_write(path, write):
    """Write a file atomically: the whole new file, then one rename over ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name; its folder must exist.
    write : callable, str or bytes
        ``write(tmp)`` writes the whole file to ``tmp`` (a hidden, unique name
        in the same folder that ends in the same extension as ``path``, so
        writers that pick the format from the suffix work); or the text (UTF-8)
        or bytes to write. If it raises, ``path`` is left as it was and ``tmp``
        is removed.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    InputError
        The folder of ``path`` does not exist.

    Notes
    -----
    The new file is flushed to disk (``fsync``) before the rename and the
    folder after it, so after a crash ``path`` holds the old or the new
    content. Concurrent writers of the same ``path`` (threads or processes)
    each use their own temporary file; the last rename wins.

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> _ = atomic_write(p, lambda tmp: np.save(tmp, np.arange(3)))
    >>> np.load(p).tolist()
    [0, 1, 2]
    >>> atomic_write(p, lambda tmp: 1 / 0)
    Traceback (most recent call last):
    ...
    ZeroDivisionError: division by zero
    >>> np.load(p).tolist(), os.listdir(os.path.dirname(p))
    ([0, 1, 2], ['x.npy'])
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"{path!r}: the folder {folder!r} does not exist; create it first")
    stem, ext = os.path.splitext(name)
    tmp = os.path.join(folder, f".{stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{ext}")
    try:
        if isinstance(write, (str, bytes)):
            data = write
            with open(tmp, "wb") as fh:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        else:
            write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    with contextlib.suppress(OSError):  # the rename itself survives a crash
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def json_default(obj):
    """``json.dump(..., default=json_default)``: numpy scalars and arrays, dataclasses.

    Raises ``TypeError`` for anything else, as ``json`` expects.

    Examples
    --------
    >>> import json
    >>> import numpy as np
    >>> json.dumps({"x": np.float32(0.5), "a": np.arange(2)}, default=json_default)
    '{"x": 0.5, "a": [0, 1]}'
    """
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "__dataclass_fields__") and not isinstance(obj, type):
        from dataclasses import asdict
        return asdict(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def to_jsonable(obj):
    """Nested dicts, lists, tuples, numpy scalars and arrays as plain JSON types.

    Other objects are returned unchanged (:func:`json_default` is the strict
    variant for ``json.dump``).

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"a": np.float32(0.5), 1: (np.arange(2),)})
    {'a': 0.5, '1': [[0, 1]]}
    """
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.generic, np.ndarray)):
        return json_default(obj)
    return obj

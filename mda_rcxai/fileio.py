"""Atomic file writing: a file is either the old one or the whole new one, never half.

Examples
--------
>>> import tempfile, os
>>> from mda_rcxai.fileio import atomic_write
>>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
>>> atomic_write(p, lambda tmp: open(tmp, "w").write("x"))
>>> open(p).read()
'x'
"""

import os

__all__ = ["atomic_write", "to_jsonable", "json_default"]


def atomic_write(path, write):
    """Write a file atomically: ``write(tmp_path)`` then rename over ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name.
    write : callable
        ``write(tmp)`` writes the whole file to ``tmp`` (a hidden name in the
        same folder, with the same extension as ``path``, so writers that
        pick the format from the suffix work). If it raises, ``path`` is
        left as it was and ``tmp`` is removed.

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> atomic_write(p, lambda tmp: np.save(tmp, np.arange(3)))
    >>> np.load(p).tolist()
    [0, 1, 2]
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    tmp = os.path.join(folder, f".{stem}.tmp{os.getpid()}{ext}")
    try:
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

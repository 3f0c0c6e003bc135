"""Reading and writing the files of a study: atomic writers, checked readers, seeds.

Every writer goes through :func:`mda_rcxai.fileio.atomic_write` (a file is the
old one or the whole new one, never half); every reader turns a damaged file
into a one-line :class:`~mda_rcxai.exceptions.InputError` naming the file and
the fix.

Examples
--------
>>> import os, tempfile
>>> p = os.path.join(tempfile.mkdtemp(), "a.json")
>>> write_json(p, {"seed": derived_seed(0, "tps") == derived_seed(0, "tps")})
>>> read_json(p, "test file")
{'seed': True}
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from ..exceptions import InputError
from ..fileio import atomic_write, json_default

__all__ = ["derived_seed", "write_json", "write_text", "savez", "read_json", "load_npz", "log",
           "OLD_KEYS", "upgrade_keys"]

#: Keys that studies written by 0.x hold under the old ``pB`` spelling, mapped to the
#: package's ``p_B`` (validation.json's committor tests, fit.json and state.json's train
#: record). Drop with the deprecated aliases, one release after the rename.
OLD_KEYS = {"predicted_pB": "predicted_p_B", "mean_pB": "mean_p_B", "std_pB": "std_p_B",
            "expected_std_pB": "expected_std_p_B", "rmse_pB_heldout": "rmse_p_B_heldout"}


def log(msg, verbose):
    """Print ``msg`` (flushed) when ``verbose``: a stage's one-line summary."""
    if verbose:
        print(msg, flush=True)


def derived_seed(seed: int, *tags) -> int:
    """A seed for one random step of a study, derived from the study seed and a tag.

    Different tags (or studies) give unrelated seeds (a hash, not
    ``seed + 1000 * k``, whose values collide between studies).

    Examples
    --------
    >>> derived_seed(0, "committor", 1) == derived_seed(0, "committor", 1)
    True
    >>> derived_seed(0, "committor", 2) != derived_seed(1, "committor", 1)
    True
    """
    h = hashlib.sha256(json.dumps([int(seed), *map(str, tags)]).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def write_json(path, obj):
    """Write ``obj`` as JSON atomically (numpy values converted).

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a.json")
    >>> write_json(p, {"x": np.float32(1.5)})
    >>> read_json(p, "test file")
    {'x': 1.5}
    """
    def w(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1, default=json_default)
    atomic_write(path, w)


def write_text(path, text):
    """Write ``text`` (UTF-8) atomically."""
    def w(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    atomic_write(path, w)


def savez(path, **arrays):
    """Write arrays to a compressed ``.npz`` atomically (the name is kept as given).

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> p = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> savez(p, x=np.arange(3))
    >>> load_npz(p, "test file")["x"].tolist()
    [0, 1, 2]
    """
    def w(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    atomic_write(path, w)


def upgrade_keys(obj):
    """``obj`` (parsed JSON) with the keys of :data:`OLD_KEYS` renamed, at any depth.

    A study directory written before the ``p_B`` rename still resumes and
    renders its report. Nothing is dropped: where a dict holds both the old
    and the new key, both are kept as they are.

    Examples
    --------
    >>> upgrade_keys({"committor_test": {"mean_pB": 0.5}, "rows": [{"std_pB": 0.1}]})
    {'committor_test': {'mean_p_B': 0.5}, 'rows': [{'std_p_B': 0.1}]}
    >>> upgrade_keys({"mean_pB": 0.4, "mean_p_B": 0.5})
    {'mean_pB': 0.4, 'mean_p_B': 0.5}
    """
    if isinstance(obj, dict):
        return {(OLD_KEYS[k] if k in OLD_KEYS and OLD_KEYS[k] not in obj else k):
                upgrade_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [upgrade_keys(v) for v in obj]
    return obj


def read_json(path, what):
    """Read a JSON file of the study; a damaged one is a one-line :class:`InputError`
    naming the file, ``what`` it holds and the fix. Keys of the old ``pB`` spelling
    come back renamed (:func:`upgrade_keys`)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return upgrade_keys(json.load(fh))
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: damaged or unreadable {what} ({err}); rerun with "
                         "--overwrite to redo it") from None


def load_npz(path, what):
    """All arrays of an ``.npz`` file (no pickles); a truncated or foreign file is a
    one-line :class:`InputError` naming the file, ``what`` it holds and the fix."""
    try:
        with np.load(path, allow_pickle=False) as d:
            return {k: d[k] for k in d.files}
    except (OSError, ValueError, EOFError, Exception) as err:  # BadZipFile, truncated arrays
        raise InputError(f"{path}: damaged or unreadable {what} ({type(err).__name__}); "
                         "rerun with --overwrite to redo it") from None

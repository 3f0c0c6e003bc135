"""The study directory: one set of parameters, which stages are done, and their files.

A directory holds one study (``config.toml``): :class:`Study` refuses a run
with other parameters before touching anything (naming what differs), resumes
one with the same parameters, and with ``overwrite=True`` moves every file of
the stages the new parameters affect into ``.previous/<time>/``. Which config
sections each stage depends on and which files it writes are listed in
``DEPENDS`` and ``ARTEFACTS``; every file is written atomically.

Examples
--------
>>> import tempfile
>>> from mda_rcxai.study.config import StudyConfig
>>> s = Study(tempfile.mkdtemp(), StudyConfig(seed=1), verbose=False)
>>> s.done("sample")
False
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import time
from contextlib import contextmanager

import numpy as np

from .config import StudyConfig
from ..exceptions import InputError
from ..fileio import atomic_write, json_default

__all__ = ["Study", "STAGES", "DEPENDS", "ARTEFACTS", "derived_seed", "write_json",
           "write_text", "savez", "read_json", "load_npz", "log", "json_default"]

STAGES = ("sample", "committor", "train", "explain", "validate", "report")

_ALL = ("seed", "system", "states", "tps", "committor", "features", "model", "explain",
        "validation")
# which config sections each stage depends on (a change invalidates it and those after)
DEPENDS = {
    "sample": ("seed", "system", "states", "tps"),
    "committor": ("seed", "system", "states", "tps", "committor", "features", "model"),
    "train": ("seed", "system", "states", "tps", "committor", "features", "model"),
    "explain": ("seed", "system", "states", "tps", "committor", "features", "model", "explain"),
    "validate": _ALL,
    "report": _ALL,
}
# the files each stage writes (globs in the study directory)
ARTEFACTS = {
    "sample": ("paths.npz", "tps.nc", "tps_checkpoint*", "initial_path.npz"),
    "committor": ("committor_round*.npz*", "dataset.npz"),
    "train": ("features.npz", "model.pt", "model_member*.pt", "fit.json"),
    "explain": ("explanations.json", "importance.csv", "explained.pdb"),
    "validate": ("validation.json", "committor_test.npz*"),
    "report": ("report.html",),
}
_BOOK = ("config.toml", "state.json")


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


def read_json(path, what):
    """Read a JSON file of the study; a damaged one is a one-line :class:`InputError`
    naming the file, ``what`` it holds and the fix."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
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


# -----------------------------------------------------------------------------
# the study directory
# -----------------------------------------------------------------------------
class Study:
    """A study directory: its config, which stages are done, and their files.

    Parameters
    ----------
    out : str or os.PathLike
        Output directory (created). One that already holds a study with
        other parameters is refused (:class:`InputError`, naming what
        differs) before anything in it is touched, unless ``overwrite=True``:
        then every file of the stages those parameters affect is moved to
        ``out/.previous/<time>/`` and those stages rerun.
    config : StudyConfig, optional
        Parameters; default :class:`~mda_rcxai.study.config.StudyConfig()`.
    verbose : bool
        Progress bars and a one-line summary per stage.
    overwrite : bool
        See ``out``.

    Examples
    --------
    >>> import tempfile
    >>> s = Study(tempfile.mkdtemp(), StudyConfig(seed=1), verbose=False)
    >>> s.done("sample")
    False
    """

    def __init__(self, out, config=None, verbose=True, overwrite=False):
        self.out = os.fspath(out)
        self.config = config if config is not None else StudyConfig()
        if not isinstance(self.config, StudyConfig):
            raise InputError(f"config must be a StudyConfig, got {type(self.config).__name__}")
        self.verbose = verbose
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise InputError(f"--out {self.out!r} is a file, not a directory; give a new or "
                             "study directory")
        self._state_path = self.path("state.json")
        cfg_path = self.path("config.toml")
        self.state = {}
        retire = []
        if os.path.exists(self._state_path):
            try:
                self.state = read_json(self._state_path, "state.json")
            except InputError:
                if not overwrite:
                    raise
                retire = list(STAGES)
        if os.path.exists(cfg_path):
            try:
                with open(cfg_path, encoding="utf-8") as fh:
                    old = StudyConfig.from_toml(fh.read())
            except (InputError, OSError) as err:
                if not overwrite:
                    raise InputError(f"--out {self.out!r}: its config.toml cannot be read "
                                     f"({err}); use another --out or pass --overwrite") from None
                old, retire = None, list(STAGES)
            if old is not None:
                diffs = old.differences(self.config)
                if diffs and not overwrite:
                    more = f" and {len(diffs) - 3} more" if len(diffs) > 3 else ""
                    raise InputError(
                        f"--out {self.out!r} holds a study run with other parameters "
                        f"({'; '.join(diffs[:3])}{more}); rerun with the same config to resume, "
                        "use another --out, or pass --overwrite to redo the stages they affect")
                if diffs:
                    first = next((i for i, st in enumerate(STAGES)
                                  if old.digest(*DEPENDS[st]) != self.config.digest(*DEPENDS[st])),
                                 len(STAGES))
                    retire = list(STAGES[first:])
        elif os.path.isdir(self.out) and (self.state or self._artefacts(STAGES)):
            if not overwrite:
                raise InputError(f"--out {self.out!r} holds study files but no config.toml; "
                                 "use another --out, or pass --overwrite to start afresh")
            retire = list(STAGES)
        # records made under other parameters (e.g. by a version whose config had other
        # keys): the stage would rerun beside its old files, so refuse or retire it too
        stale = [st for st in STAGES if st in self.state and st not in retire
                 and self.state[st].get("digest") != self._digest(st)]
        if stale:
            if not overwrite:
                raise InputError(
                    f"--out {self.out!r}: stage(s) {', '.join(stale)} were run with other "
                    "parameters (another version of the config); use another --out, or pass "
                    "--overwrite to redo them")
            first = min(STAGES.index(st) for st in stale)
            retire = sorted(set(retire) | set(STAGES[first:]), key=STAGES.index)
        os.makedirs(self.out, exist_ok=True)
        if retire:
            self._retire(retire)
        write_text(cfg_path, self.config.to_toml())

    # -- files ---------------------------------------------------------------
    def path(self, *parts):
        """Path of a file in the study directory."""
        return os.path.join(self.out, *parts)

    def _artefacts(self, stages):
        found = []
        for st in stages:
            for pattern in ARTEFACTS[st]:
                found += [p for p in glob.glob(self.path(pattern)) if os.path.isfile(p)]
        return sorted(set(found))

    def _retire(self, stages):
        """Move the files of ``stages`` to ``.previous/<time>/`` and forget the stages."""
        files = self._artefacts(stages)
        if files:
            dest = self.path(".previous", time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}")
            os.makedirs(dest, exist_ok=True)
            for f in files:
                shutil.move(f, os.path.join(dest, os.path.basename(f)))
            log(f"   --overwrite: moved {len(files)} file(s) of stage(s) "
                 f"{', '.join(stages)} to {dest}", self.verbose)
        for st in stages:
            self.state.pop(st, None)
        write_json(self._state_path, self.state)

    # -- bookkeeping ---------------------------------------------------------
    def _digest(self, stage):
        return self.config.digest(*DEPENDS[stage])

    def done(self, stage):
        """Whether ``stage`` finished with the current parameters."""
        rec = self.state.get(stage)
        return bool(rec) and rec.get("digest") == self._digest(stage)

    def record(self, stage, seconds, summary, **extra):
        """Mark a stage done (``state.json``, written atomically)."""
        self.state[stage] = {"digest": self._digest(stage), "seconds": seconds,
                             "summary": summary, **extra}
        write_json(self._state_path, self.state)

    @contextmanager
    def stage(self, name):
        """Time a stage and print its header."""
        log(f"== {name} ==", self.verbose)
        t0 = time.perf_counter()
        box = {}
        yield box
        box["seconds"] = time.perf_counter() - t0



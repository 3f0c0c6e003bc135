"""The study directory: one set of parameters, which stages are done, and their files.

A directory holds one study (``config.toml``): :class:`Study` refuses a run
with other parameters before touching anything (naming what differs), resumes
one with the same parameters, and with ``overwrite=True`` moves every file of
the stages the new parameters affect into ``.previous/<time>/``. Which config
sections each stage depends on and which files it writes are listed in
``DEPENDS`` and ``ARTEFACTS`` (the latter built from each stage module's
``WRITES``); every file is written atomically.

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
import socket
import time
from contextlib import contextmanager

import filelock

from ..exceptions import InputError, RcxaiError, StudyInUseError
from . import committor, explain, report, sample, train, validate
from .config import StudyConfig
from .files import (derived_seed, load_npz, log, read_json, savez, upgrade_keys, write_json,
                    write_text)


__all__ = ["Study", "STAGES", "DEPENDS", "ARTEFACTS", "BOOKKEEPING",
           # re-exported from .files
           "derived_seed", "write_json", "write_text", "savez", "read_json", "load_npz", "log"]

STAGES = ("sample", "committor", "train", "explain", "validate", "report")

_ALL = ("seed", "system", "states", "tps", "committor", "features", "model", "explain",
        "validation")
# which config sections each stage depends on (a change invalidates it and those after)
DEPENDS = {
    "sample": ("seed", "system", "states", "tps"),
    # the round model uses [model] ensemble only: another final model keeps the shots
    "committor": ("seed", "system", "states", "tps", "committor", "features", "model.ensemble"),
    "train": ("seed", "system", "states", "tps", "committor", "features", "model"),
    "explain": ("seed", "system", "states", "tps", "committor", "features", "model", "explain"),
    "validate": _ALL,
    "report": _ALL,
}
# the files each stage writes (globs in the study directory), as each stage module declares
ARTEFACTS = {name: mod.WRITES for name, mod in (
    ("sample", sample), ("committor", committor), ("train", train), ("explain", explain),
    ("validate", validate), ("report", report))}
#: The study's own bookkeeping files (globs): its parameters, which stages are done (with
#: each stage's record mirrored in ``.stage.<stage>.json``, removed when it is retired),
#: the advisory lock and who holds it.
BOOKKEEPING = ("config.toml", "state.json", ".stage.*.json", ".lock", ".lock.holder")


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
        See ``out``. Also redoes a stage whose files are missing or damaged
        (changed since the stage finished; each stage records its files'
        digests) and the stages after it, keeping the earlier ones; without
        it such a stage is refused, naming the file.
    redo : str, optional
        A stage (one of :data:`STAGES`) to redo with the stages after it;
        their files are moved to ``out/.previous/<time>/`` and the earlier
        stages are kept.

    Notes
    -----
    ``state.json`` lists the finished stages; each record is also kept in
    ``out/.stage.<stage>.json``, so a damaged ``state.json`` is rebuilt from
    them for every stage whose parameters and files still match (the
    others are refused, or redone with ``overwrite``). A ``config.toml``
    that cannot be read is rebuilt from the given config when the stage
    records agree with it. A config read from ``out/config.toml`` itself
    (:attr:`StudyConfig.source_file`) is never rewritten: it is the user's
    file, and the stage records tell what ran.

    Examples
    --------
    >>> import tempfile
    >>> s = Study(tempfile.mkdtemp(), StudyConfig(seed=1), verbose=False)
    >>> s.done("sample")
    False
    """

    def __init__(self, out, config=None, verbose=True, overwrite=False, redo=None):
        self.out = os.fspath(out)
        self.config = config if config is not None else StudyConfig()
        if not isinstance(self.config, StudyConfig):
            raise InputError(f"config must be a StudyConfig, got {type(self.config).__name__}")
        self.verbose = verbose
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise InputError(f"--out {self.out!r} is a file, not a directory; give a new or "
                             "study directory")
        # one run per directory: taken before anything is read, released by close()
        # (or when the last Study of this directory in this process is gone)
        if redo is not None and redo not in STAGES:
            raise InputError(f"redo={redo!r} is not a stage; use one of {', '.join(STAGES)}")
        try:
            self._lock = _lock(self.out)
        except OSError as err:
            raise _unwritable(self.out, err) from None
        try:
            self._open(overwrite, redo)
        except OSError as err:
            self.close()
            if isinstance(err, RcxaiError):
                raise
            raise _unwritable(self.out, err) from None
        except BaseException:
            self.close()
            raise

    def _open(self, overwrite, redo=None):
        self._state_path = self.path("state.json")
        cfg_path = self.path("config.toml")
        self.state = {}
        retire = []
        rebuilt = False
        if os.path.exists(self._state_path):
            try:
                self.state = read_json(self._state_path, "state.json")
            except InputError:
                # rebuilt from the stages' own records where parameters and files agree
                self.state, lost = self._rebuilt_state()
                if lost and not overwrite:
                    kept = ", ".join(self.state) or "no stage"
                    raise InputError(
                        f"--out {self.out!r}: its state.json is damaged; the records of "
                        f"{kept} were rebuilt from their files, but {', '.join(lost)} cannot be "
                        "verified; pass --overwrite to redo only those") from None
                retire, rebuilt = list(lost), True
        if os.path.exists(cfg_path):
            try:
                with open(cfg_path, encoding="utf-8") as fh:
                    old = StudyConfig.from_toml(fh.read())
            except (InputError, OSError, UnicodeDecodeError) as err:
                old = None  # the stage records below tell which stages these parameters made
                if not self.state:
                    if not overwrite:
                        raise InputError(
                            f"--out {self.out!r}: its config.toml cannot be read ({err}) and no "
                            "stage record tells what ran; use another --out or pass "
                            "--overwrite") from None
                    retire = list(STAGES)
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
                    "parameters (their records disagree with this config); use another --out, "
                    "or pass --overwrite to redo them")
            first = min(STAGES.index(st) for st in stale)
            retire = sorted(set(retire) | set(STAGES[first:]), key=STAGES.index)
        if redo is not None:
            retire = sorted(set(retire) | set(STAGES[STAGES.index(redo):]), key=STAGES.index)
        # a finished stage whose files are missing or changed since: name the file; redo
        # exactly that stage and those after it when asked to
        for i, st in enumerate(STAGES):
            why = None if st in retire or not self.done(st) else self._damaged(self.state[st])
            if why is None:
                continue
            if st == "report":  # a view of the results: rewritten without asking
                retire = sorted(set(retire) | {"report"}, key=STAGES.index)
                break
            if not overwrite:
                kept = ", ".join(STAGES[:i]) or "nothing"
                raise InputError(
                    f"--out {self.out!r}: {why} ({st} stage); rerun with --redo {st} (or "
                    f"--overwrite) to redo {st} and the stages after it, keeping {kept}")
            retire = sorted(set(retire) | set(STAGES[i:]), key=STAGES.index)
            break
        os.makedirs(self.out, exist_ok=True)
        if retire:
            self._retire(retire)
        elif rebuilt:
            write_json(self._state_path, self.state)
            log(f"   state.json was damaged: rebuilt from the records of "
                f"{', '.join(self.state) or 'no stage'}", self.verbose)
        src = self.config.source_file
        if not (src and os.path.exists(cfg_path) and os.path.samefile(src, cfg_path)):
            write_text(cfg_path, self.config.to_toml())  # never the user's own file

    # -- the lock ------------------------------------------------------------
    def close(self):
        """Release this study's hold on the directory's lock (idempotent)."""
        lock, self._lock = getattr(self, "_lock", None), None
        if lock is not None:
            lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

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

    def _artefact_dirs(self, stages):
        """Folders a stage writes (e.g. OPS committor storages, ``*_ops/``)."""
        return sorted({p for st in stages for pattern in ARTEFACTS[st]
                       for p in glob.glob(self.path(pattern)) if os.path.isdir(p)})

    def _retire(self, stages):
        """Move the files of ``stages`` to ``.previous/<time>/`` and forget the stages."""
        files = self._artefacts(stages) + self._artefact_dirs(stages)
        if files:
            dest = self.path(".previous", time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}")
            os.makedirs(dest, exist_ok=True)
            for f in files:
                shutil.move(f, os.path.join(dest, os.path.basename(f)))
            log(f"   moved {len(files)} file(s) of stage(s) {', '.join(stages)} to {dest}",
                self.verbose)
        for st in stages:
            self.state.pop(st, None)
            mirror = self.path(f".stage.{st}.json")
            if os.path.exists(mirror):
                os.remove(mirror)
        write_json(self._state_path, self.state)

    def _damaged(self, rec):
        """Why a stage record's files no longer match (missing, changed), or None.

        Records written before file digests were kept are not checked.
        """
        for name, digest in (rec.get("files") or {}).items():
            p = self.path(name)
            if not os.path.isfile(p):
                return f"{name} is missing"
            if _file_digest(p) != digest:
                return f"{name} has changed since the stage finished (damaged or edited)"
        return None

    def _rebuilt_state(self):
        """``(state, lost)``: the records in ``.stage.<stage>.json`` whose parameters and files still
        match, in stage order, and the stages after the first that does not (with a
        record or files) -- those cannot be verified."""
        state, lost = {}, []
        for st in STAGES:
            try:
                with open(self.path(f".stage.{st}.json"), encoding="utf-8") as fh:
                    rec = upgrade_keys(json.load(fh))  # 0.x's pB keys renamed
            except (OSError, ValueError):
                rec = None
            ok = (not lost and isinstance(rec, dict) and rec.get("digest") == self._digest(st)
                  and isinstance(rec.get("files"), dict) and self._damaged(rec) is None)
            if ok:
                state[st] = rec
            elif rec is not None or self._artefacts([st]):
                lost.append(st)
        return state, lost

    # -- bookkeeping ---------------------------------------------------------
    def _digest(self, stage):
        return self.config.digest(*DEPENDS[stage])

    def done(self, stage):
        """Whether ``stage`` finished with the current parameters."""
        rec = self.state.get(stage)
        return bool(rec) and rec.get("digest") == self._digest(stage)

    def record(self, stage, seconds, summary, **extra):
        """Mark a stage done (``state.json`` and ``.stage.<stage>.json``, written atomically).

        The record keeps the digest of each of the stage's files, so a file
        damaged or deleted later is named when the study is opened again.
        """
        files = {os.path.basename(p): _file_digest(p) for p in self._artefacts([stage])}
        self.state[stage] = {"digest": self._digest(stage), "seconds": seconds,
                             "summary": summary, **extra, "files": files}
        write_json(self.path(f".stage.{stage}.json"), self.state[stage])
        write_json(self._state_path, self.state)

    @contextmanager
    def stage(self, name):
        """Time a stage and print its header."""
        log(f"== {name} ==", self.verbose)
        t0 = time.perf_counter()
        box = {}
        yield box
        box["seconds"] = time.perf_counter() - t0


def _file_digest(path):
    """Short sha256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _unwritable(out, err):
    """The one-line error of an ``--out`` that cannot be created or written."""
    why = err.strerror or type(err).__name__
    name = getattr(err, "filename", None)
    where = f": {name}" if name and os.fspath(name) != os.fspath(out) else ""
    return InputError(f"--out {out!r} cannot be written ({why}{where}); give a writable "
                      "directory")


def _lock(out):
    """Take the advisory lock of study directory ``out`` (created) without waiting.

    The lock (:mod:`filelock`, ``out/.lock``) is re-entrant within one process
    (``is_singleton``), so code that opens the same study twice in one program
    works; a second process is refused with :class:`StudyInUseError` naming the
    holder recorded in ``out/.lock.holder``. The operating system frees the lock
    when its process ends, however it ends.
    """
    os.makedirs(out, exist_ok=True)
    lock = filelock.FileLock(os.path.join(out, ".lock"), timeout=0, is_singleton=True)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise StudyInUseError(f"--out {out!r} is in use by another run ({_holder(out)}); wait "
                              "for it to finish, stop it, or use another --out") from None
    if lock.lock_counter == 1:  # first hold in this process: say who holds it
        write_json(os.path.join(out, ".lock.holder"),
                   {"pid": os.getpid(), "host": socket.gethostname(),
                    "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")})
    return lock


def _holder(out):
    try:
        with open(os.path.join(out, ".lock.holder"), encoding="utf-8") as fh:
            h = json.load(fh)
        return f"pid {h['pid']} on {h['host']}, since {h['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"

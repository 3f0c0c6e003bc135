"""A study directory refuses, resumes or overwrites as a whole (no simulation needed)."""

import json
import os
import subprocess
import sys
import time

import pytest

from mda_rcxai.cli import main
from mda_rcxai.exceptions import InputError, StudyInUseError
from mda_rcxai.study import train
from mda_rcxai.study.config import StudyConfig
from mda_rcxai.study.directory import ARTEFACTS, STAGES, Study, derived_seed


def _finish(study, stages, files):
    for name in files:
        with open(study.path(name), "w") as fh:
            fh.write("x")
    for st in stages:
        study.record(st, 1.0, "done")


def test_new_seed_is_refused_before_anything_is_touched(tmp_path):
    out = tmp_path / "D1"
    s = Study(out, StudyConfig(seed=0), verbose=False)
    _finish(s, STAGES, ["paths.npz", "committor_round1.npz", "dataset.npz", "model.pt"])
    before = {p: (out / p).read_bytes() for p in os.listdir(out)}
    with pytest.raises(InputError, match=r"other parameters \(seed: 0 -> 5\).*--overwrite"):
        Study(out, StudyConfig(seed=5), verbose=False)
    assert {p: (out / p).read_bytes() for p in os.listdir(out)} == before
    # the original parameters still resume: every stage is done
    again = Study(out, StudyConfig(seed=0), verbose=False)
    assert all(again.done(st) for st in STAGES)


def test_refused_even_when_no_stage_finished(tmp_path):
    """A half-finished round with other parameters is refused too (not mixed in)."""
    out = tmp_path / "D"
    s = Study(out, StudyConfig(seed=0), verbose=False)
    _finish(s, ["sample"], ["paths.npz", "committor_round1.npz.partial"])
    with pytest.raises(InputError, match="committor.shots: 20 -> 7"):
        Study(out, StudyConfig.from_toml("[committor]\nshots = 7\n"), verbose=False)


def test_overwrite_moves_every_invalidated_artefact_and_keeps_the_rest(tmp_path):
    out = tmp_path / "D"
    s = Study(out, StudyConfig(seed=0), verbose=False)
    files = ["paths.npz", "tps_checkpoint.npz", "committor_round1.npz",
             "committor_round2.npz", "committor_round3.npz.partial", "dataset.npz",
             "features.npz", "model.pt", "model_ensemble.pt", "model_cv.pt", "fit.json",
             "explanations.json", "importance.csv", "explained.pdb", "validation.json",
             "committor_test.npz", "report.html"]
    _finish(s, STAGES, files)
    (out / "committor_round1_ops").mkdir()  # OPS storages of one round, a chunk each
    (out / "committor_round1_ops" / "ops_000000_000009.nc").write_text("x")
    cfg = StudyConfig.from_toml("[committor]\nshots = 7\n")
    s2 = Study(out, cfg, overwrite=True, verbose=False)
    left = sorted(p for p in os.listdir(out) if not p.startswith("."))
    # sampling does not depend on [committor]: its files and record stay
    assert left == ["config.toml", "paths.npz", "state.json", "tps_checkpoint.npz"]
    assert s2.done("sample") and not s2.done("committor")
    moved = os.listdir(out / ".previous" / os.listdir(out / ".previous")[0])
    assert sorted(moved) == sorted(set(files) - {"paths.npz", "tps_checkpoint.npz"}
                                   | {"committor_round1_ops"})
    assert StudyConfig.load(out / "config.toml") .committor.shots == 7
    assert set(json.loads((out / "state.json").read_text())) == {"sample"}


def test_speed_only_keys_resume(tmp_path):
    out = tmp_path / "D"
    s = Study(out, StudyConfig(seed=0, workers=1), verbose=False)
    _finish(s, ["sample", "committor"], ["paths.npz", "dataset.npz"])
    s2 = Study(out, StudyConfig(seed=0, workers=2), verbose=False)
    assert s2.done("committor")


def test_out_is_a_file_or_damaged(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        Study(f, StudyConfig(), verbose=False)
    out = tmp_path / "D"
    Study(out, StudyConfig(), verbose=False)
    (out / "state.json").write_text("{ trunc")
    # rebuilt from the stages' own records (none here); see test_dead_ends for the rest
    s = Study(out, StudyConfig(), verbose=False)
    assert s.state == {} and json.loads((out / "state.json").read_text()) == {}
    # files of a study without its config are not adopted silently
    out2 = tmp_path / "E"
    out2.mkdir()
    (out2 / "dataset.npz").write_text("x")
    with pytest.raises(InputError, match="no config.toml"):
        Study(out2, StudyConfig(), verbose=False)


def test_derived_seeds_do_not_collide_between_studies():
    seeds = {derived_seed(s, "committor", k) for s in range(50) for k in range(1, 4)}
    assert len(seeds) == 150


def test_records_of_other_parameters_are_refused_or_retired(tmp_path):
    """A stage recorded under another digest (a config key added by a new version) would
    rerun beside its old files: refused, and moved away with --overwrite."""
    out = tmp_path / "D"
    s = Study(out, StudyConfig(seed=0), verbose=False)
    _finish(s, ["sample", "committor"], ["paths.npz", "committor_round1.npz", "dataset.npz"])
    state = json.loads((out / "state.json").read_text())
    state["committor"]["digest"] = "0" * 16
    (out / "state.json").write_text(json.dumps(state))
    with pytest.raises(InputError, match="committor were run with other parameters"):
        Study(out, StudyConfig(seed=0), verbose=False)
    s2 = Study(out, StudyConfig(seed=0), verbose=False, overwrite=True)
    assert s2.done("sample") and "committor" not in s2.state
    assert sorted(p for p in os.listdir(out) if not p.startswith(".")) == [
        "config.toml", "paths.npz", "state.json"]


@pytest.mark.parametrize("toml", ["[model]\nensemble = 1\n", "[model]\nselect = false\n"])
def test_no_stale_model_after_overwrite(tmp_path, toml):
    """An overwrite that changes [model] retires the ensemble and the model selection too,
    so a later resume cannot load a model of the old parameters."""
    out = tmp_path / "D"
    s = Study(out, StudyConfig(seed=0), verbose=False)
    _finish(s, STAGES, ["paths.npz", "dataset.npz", "features.npz", "model.pt",
                        "model_ensemble.pt", "model_cv.pt", "fit.json"])
    s.close()
    Study(out, StudyConfig.from_toml(toml), overwrite=True, verbose=False).close()
    left = {p for p in os.listdir(out) if p.endswith(".pt")}
    assert left == set()
    assert set(train.WRITES) == set(ARTEFACTS["train"])


HOLD = """
import sys, time
from mda_rcxai.study.config import StudyConfig
from mda_rcxai.study.directory import Study
s = Study(sys.argv[1], StudyConfig(), verbose=False)
print("held", flush=True)
time.sleep(120)
"""


def _holder(out):
    """A child process that holds the study directory ``out`` until killed."""
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_second_run_on_the_same_out_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "D"
    child = _holder(out)
    before = {p: (out / p).read_bytes() for p in os.listdir(out)}
    try:
        with pytest.raises(StudyInUseError, match=rf"in use by another run \(pid {child.pid} "):
            Study(out, StudyConfig(), verbose=False)
        # the command line: exit status 2 and one line, before any simulation
        t0 = time.perf_counter()
        assert main(["demo", "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"pid {child.pid}" in err and "--out" in err
        assert time.perf_counter() - t0 < 60
        # the refused runs touched nothing
        assert {p: (out / p).read_bytes() for p in os.listdir(out)} == before
    finally:
        child.kill()
        child.wait()
    # the operating system frees the lock of a killed holder: the next run goes on
    Study(out, StudyConfig(), verbose=False).close()


def test_one_process_may_open_its_study_twice(tmp_path):
    out = tmp_path / "D"
    with Study(out, StudyConfig(), verbose=False):
        with Study(out, StudyConfig(), verbose=False) as again:
            assert not again.done("sample")
    # released: another process takes it at once
    r = subprocess.run([sys.executable, "-c",
                        "import sys; from mda_rcxai.study.directory import _lock; "
                        "_lock(sys.argv[1]).release()", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

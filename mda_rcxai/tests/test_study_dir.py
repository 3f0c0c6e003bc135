"""A study directory refuses, resumes or overwrites as a whole (no simulation needed)."""

import json
import os

import pytest

from mda_rcxai.study.config import StudyConfig
from mda_rcxai.exceptions import InputError
from mda_rcxai.study.directory import STAGES, Study, derived_seed


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
    files = ["paths.npz", "tps.nc", "committor_round1.npz", "committor_round2.npz",
             "committor_round3.npz.partial", "dataset.npz", "features.npz", "model.pt",
             "fit.json", "explanations.json", "importance.csv", "explained.pdb",
             "validation.json", "report.html"]
    _finish(s, STAGES, files)
    cfg = StudyConfig.from_toml("[committor]\nshots = 7\n")
    s2 = Study(out, cfg, overwrite=True, verbose=False)
    left = sorted(p for p in os.listdir(out) if not p.startswith("."))
    # sampling does not depend on [committor]: its files and record stay
    assert left == ["config.toml", "paths.npz", "state.json", "tps.nc"]
    assert s2.done("sample") and not s2.done("committor")
    moved = os.listdir(out / ".previous" / os.listdir(out / ".previous")[0])
    assert sorted(moved) == sorted(set(files) - {"paths.npz", "tps.nc"})
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
    with pytest.raises(InputError, match="state.json.*--overwrite"):
        Study(out, StudyConfig(), verbose=False)
    s = Study(out, StudyConfig(), verbose=False, overwrite=True)
    assert s.state == {}
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

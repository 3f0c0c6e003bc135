"""A study directory refuses, resumes or overwrites as a whole (no simulation needed)."""

import json
import os
import subprocess
import sys
import time

import numpy as np
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


class _FlatModel:
    """Stands in for a CommittorModel in the report: q = 0 everywhere."""

    def predict_q(self, X):
        return np.zeros(len(X))

    def predict_proba(self, X):
        return np.full(len(X), 0.5)


def _old_spelling(obj, new_to_old):
    """``obj`` with every renamed key back in its 0.x ``pB`` spelling, at any depth."""
    if isinstance(obj, dict):
        return {new_to_old.get(k, k): _old_spelling(v, new_to_old) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_old_spelling(v, new_to_old) for v in obj]
    return obj


def test_a_study_written_with_the_old_pB_keys_resumes_and_renders(tmp_path):
    """A study of 0.x holds validation.json, fit.json and state.json with the ``pB`` keys
    (mean_pB, std_pB, predicted_pB, rmse_pB_heldout): it still opens, its stages resume
    from disk with the ``p_B`` keys, and the report shows its numbers (not "n/a")."""
    from types import SimpleNamespace

    from mda_rcxai.sampling import committor_verdict
    from mda_rcxai.study.files import OLD_KEYS, read_json, write_json
    from mda_rcxai.study.report import write_report
    from mda_rcxai.study.results import ExplainResult, TrainResult
    from mda_rcxai.study.validate import stage_validate

    new_to_old = {v: k for k, v in OLD_KEYS.items()}
    n_B = np.array([3, 5, 6, 4, 7, 5, 2, 5])
    n_A = 10 - n_B
    ct = dict(committor_verdict(n_A, n_B, np.full(8, 0.5)).to_dict(), summary="",
              path_frames=list(range(8)))
    fit = {"rmse_p_B_heldout": 0.1234, "loglik_heldout": -0.61, "loglik_constant": -0.69,
           "heldout": "20 % of the configurations", "n_train": 6, "n_test": 2,
           "n_features": 2, "ensemble": 1, "params": {}}
    out, cfg = tmp_path / "D", StudyConfig(seed=0)
    s = Study(out, cfg, verbose=False)
    write_json(s.path("fit.json"), _old_spelling(fit, new_to_old))
    write_json(s.path("validation.json"), _old_spelling(
        {"committor_test": ct, "committor_test_naive": None, "naive": None, "baselines": [],
         "comparisons": []}, new_to_old))
    s.record("train", 1.0, "done", **_old_spelling(fit, new_to_old))
    s.record("validate", 1.0, "done")
    s.close()
    on_disk = (out / "validation.json").read_text() + (out / "state.json").read_text()
    assert all(f'"{k}"' in on_disk for k in ("mean_pB", "std_pB", "predicted_pB",
                                              "expected_std_pB", "rmse_pB_heldout"))

    with Study(out, cfg, verbose=False) as s2:
        assert s2.done("train") and s2.done("validate")
        assert s2.state["train"]["rmse_p_B_heldout"] == 0.1234
        assert "rmse_pB_heldout" not in s2.state["train"]
        val = stage_validate(s2, None, None, None, None)  # resumed from validation.json
        assert not set(OLD_KEYS) & set(val.committor_test)
        assert val.committor_test["mean_p_B"] == pytest.approx(ct["mean_p_B"])
        assert val.committor_test["predicted_p_B"] == ct["predicted_p_B"]
        train = TrainResult(model=_FlatModel(), X=np.zeros((8, 2)), n_A=n_A, n_B=n_B,
                            names=["a", "b"], groups=[0, 1], atom_indices=[[0], [1]],
                            columns=[], positions=None, X_paths=np.zeros((0, 2)),
                            path_is_training=np.zeros(0, bool),
                            fit=read_json(s2.path("fit.json"), "fit"))
        system = SimpleNamespace(name="toy", n_atoms=2, force_field="none",
                                 box_vectors=None, description=None)
        html_path = write_report(s2.path("report.html"), config=cfg, system=system,
                                 stages=s2.state, sample=None,
                                 committor=SimpleNamespace(method="batched", method_reason=""),
                                 train=train, explain=ExplainResult({}), validation=val)
    html = open(html_path, encoding="utf-8").read()
    assert "p_B RMSE 0.123," in html
    mean, std = f"{ct['mean_p_B']:.2f}", f"{ct['std_p_B']:.2f}"
    assert f"<td>{mean} [" in html and f"<td>{std}</td>" in html

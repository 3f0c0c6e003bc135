"""No dead ends, no silent mixing (issue 23): each case ends in one line naming the argument
or key and the fix, before any expensive work, or in a correct clean result.

The study-directory cases need no simulation: stage records and files are made by hand.
"""

import json
import os

import numpy as np
import pytest

from mda_rcxai.cli import main
from mda_rcxai.exceptions import InputError
from mda_rcxai.study.config import StudyConfig
from mda_rcxai.study.directory import STAGES, Study

PHI = ["resid 1 and name C", "resid 2 and name N", "resid 2 and name CA", "resid 2 and name C"]
PSI = ["resid 2 and name N", "resid 2 and name CA", "resid 2 and name C", "resid 3 and name N"]


def _own(states=None, **sections):
    from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    d = {"system": {"pdb": ALANINE_DIPEPTIDE_PDB,
                    "forcefield": ["amber14-all.xml", "implicit/obc2.xml"],
                    "nonbonded": "NoCutoff", "state_A": "C7eq", "state_B": "C7ax"},
         "states": states or {
             "C7eq": {"phi": {"atoms": PHI, "range": [-180.0, -50.0]},
                      "psi": {"atoms": PSI, "range": [0.0, 200.0]}},
             "C7ax": {"phi": {"atoms": PHI, "range": [40.0, 100.0]},
                      "psi": {"atoms": PSI, "range": [-110.0, 10.0]}}}}
    for k, v in sections.items():
        d.setdefault(k, {}).update(v) if isinstance(v, dict) else d.__setitem__(k, v)
    return d


def _one_line(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("mda-rcxai: error:"), err
    return err


def _files(study, stage, names, content=b"x" * 100):
    for name in names:
        with open(study.path(name), "wb") as fh:
            fh.write(content + name.encode())
    study.record(stage, 1.0, "done")


def _finished(out, cfg=None):
    s = Study(out, cfg or StudyConfig(), verbose=False)
    _files(s, "sample", ["paths.npz"])
    _files(s, "committor", ["committor_round1.npz", "dataset.npz"])
    _files(s, "train", ["features.npz", "model.pt", "fit.json"])
    _files(s, "explain", ["explanations.json", "importance.csv"])
    _files(s, "validate", ["validation.json"])
    _files(s, "report", ["report.html"])
    return s


def _visible(out):
    return sorted(p for p in os.listdir(out) if not p.startswith("."))


# -- case 3: a damaged or missing stage file ---------------------------------------------
@pytest.mark.parametrize("fault", ["truncate", "delete"])
def test_damaged_stage_file_is_named_and_redone_alone(tmp_path, fault):
    out = tmp_path / "D"
    _finished(out)
    p = out / "dataset.npz"
    if fault == "truncate":
        p.write_bytes(p.read_bytes()[:10])
    else:
        p.unlink()
    before = {f: (out / f).read_bytes() for f in _visible(out)}
    with pytest.raises(InputError, match=r"dataset.npz (has changed|is missing).*committor stage"
                                         r".*--redo committor .*keeping sample"):
        Study(out, StudyConfig(), verbose=False)
    assert {f: (out / f).read_bytes() for f in _visible(out)} == before  # nothing touched
    s = Study(out, StudyConfig(), verbose=False, overwrite=True)
    # exactly the damaged stage and those after it are retired; sample is kept
    assert s.done("sample") and not any(s.done(st) for st in STAGES[1:])
    assert _visible(out) == ["config.toml", "paths.npz", "state.json"]


def test_redo_retires_one_stage_and_those_after(tmp_path):
    out = tmp_path / "D"
    _finished(out)
    s = Study(out, StudyConfig(), verbose=False, redo="train")
    assert s.done("sample") and s.done("committor") and not s.done("train")
    assert "dataset.npz" in _visible(out) and "model.pt" not in _visible(out)
    with pytest.raises(InputError, match=r"redo='fit' is not a stage"):
        Study(out, StudyConfig(), verbose=False, redo="fit")


def test_redo_from_the_cli_names_a_stage(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--out", str(tmp_path / "D"), "--redo", "fit"])
    assert "--redo" in capsys.readouterr().err


def test_damaged_state_json_is_rebuilt_from_intact_files(tmp_path):
    out = tmp_path / "D"
    _finished(out)
    (out / "state.json").write_text("{ trunc")
    s = Study(out, StudyConfig(), verbose=False)  # every stage verifies: nothing redone
    assert all(s.done(st) for st in STAGES)
    assert json.loads((out / "state.json").read_text()).keys() == set(STAGES)


def test_damaged_state_json_redoes_only_the_unverifiable_stages(tmp_path):
    out = tmp_path / "D"
    _finished(out)
    (out / "state.json").write_text("{ trunc")
    (out / "model.pt").write_bytes(b"edited")  # train can no longer be verified
    with pytest.raises(InputError, match=r"state.json .*damaged.*rebuilt.*train, explain, "
                                         r"validate, report cannot be verified.*--overwrite"):
        Study(out, StudyConfig(), verbose=False)
    s = Study(out, StudyConfig(), verbose=False, overwrite=True)
    assert s.done("sample") and s.done("committor") and not s.done("train")
    assert "dataset.npz" in _visible(out) and "model.pt" not in _visible(out)


def test_damaged_config_toml_is_rebuilt_when_the_records_agree(tmp_path):
    out = tmp_path / "D"
    _finished(out)
    (out / "config.toml").write_text("[tps\n")
    s = Study(out, StudyConfig(), verbose=False)
    assert all(s.done(st) for st in STAGES)
    assert StudyConfig.load(out / "config.toml") == StudyConfig()


# -- case 4: [model] keys reach the fit, or are refused; a model change keeps the shots ----
def test_model_keys_with_select_reach_the_fitted_model():
    from mda_rcxai.study.train import fit_final
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    n_B = rng.binomial(4, (1 + np.tanh(X[:, 0])) / 2)
    cfg = StudyConfig.from_dict({"model": {"cv": 2, "ensemble": 2, "max_epochs": 2,
                                           "activation": "relu"}})
    model, ensemble, cv, fit, _ = fit_final(cfg, X, 4 - n_B, n_B, ["a", "b", "c"], seed=1)
    for m in (model, ensemble.models_[0]):
        assert m.get_params()["max_epochs"] == 2 and m.get_params()["activation"] == "relu"
    assert fit["params"]["max_epochs"] == 2


@pytest.mark.parametrize("key, value", [("weight_decay", 0.1), ("hidden_layers", [8]),
                                        ("learning_rate", 0.01), ("batch_size", 16)])
def test_model_keys_that_cannot_reach_the_fit_are_refused(key, value):
    with pytest.raises(InputError, match=rf"\[model\] {key}.*select = (true|false)|solver"):
        StudyConfig.from_dict({"model": {key: value}})
    # with select = false (and Adam for the Adam-only keys) they are used
    extra = {"solver": "adam"} if key in ("learning_rate", "batch_size") else {}
    StudyConfig.from_dict({"model": {key: value, "select": False, **extra}})


def test_a_model_or_explain_change_never_reruns_an_earlier_stage(tmp_path):
    out = tmp_path / "D"
    _finished(out)
    s = Study(out, StudyConfig.from_dict({"model": {"max_epochs": 3}}), overwrite=True,
              verbose=False)
    assert s.done("committor") and not s.done("train")
    _files(s, "train", ["features.npz", "model.pt", "fit.json"])
    cfg = StudyConfig.from_dict({"model": {"max_epochs": 3}, "explain": {"max_samples": 9}})
    s = Study(out, cfg, overwrite=True, verbose=False)
    assert s.done("train") and not s.done("explain")


# -- case 5: checks that came late ---------------------------------------------------------
def test_unknown_baseline_feature_fails_before_anything_runs(tmp_path):
    from mda_rcxai.study import run_study
    cfg = StudyConfig.from_dict({"explain": {"baselines": {"mine": ["phi", "nonexistent"]}}})
    with pytest.raises(InputError, match=r"\[explain\] baselines.mine: 'nonexistent' is neither"):
        run_study(tmp_path / "D", cfg, verbose=False)
    assert not (tmp_path / "D").exists()


def test_unknown_naive_coordinate_fails_before_anything_runs(tmp_path):
    """[validation] naive names features of this study (issue 21), checked before any stage."""
    from mda_rcxai.study import run_study
    from mda_rcxai.study.inputs import naive_coordinate
    cfg = StudyConfig.from_dict({"validation": {"naive": ["phi", "chi"]}})
    assert naive_coordinate(cfg) == ["phi", "chi"]
    with pytest.raises(InputError, match=r"\[validation\] naive: 'chi' is neither"):
        run_study(tmp_path / "D", cfg, verbose=False)
    assert not (tmp_path / "D").exists()


def test_unreachable_scheduler_fails_before_anything_runs(tmp_path):
    from mda_rcxai.study import run_study
    cfg = StudyConfig.from_dict({"committor": {"scheduler": "tcp://127.0.0.1:1"}})
    with pytest.raises(InputError, match=r"scheduler = 'tcp://127.0.0.1:1'.*no Dask scheduler"):
        run_study(tmp_path / "D", cfg, verbose=False)
    assert not (tmp_path / "D").exists()


# -- case 7: the user's own file is never rewritten ---------------------------------------
def test_the_users_config_in_out_is_not_rewritten(tmp_path):
    out = tmp_path / "D"
    out.mkdir()
    text = "# my notes: why seed 3\nseed = 3\n[tps]\nn_steps = 5  # short\n"
    (out / "config.toml").write_text(text)
    cfg = StudyConfig.load(out / "config.toml")
    s = Study(out, cfg, verbose=False)
    _files(s, "sample", ["paths.npz"])
    Study(out, StudyConfig.load(out / "config.toml"), verbose=False)
    assert (out / "config.toml").read_text() == text
    # the user edits it: the stage records still tell what ran under the old parameters
    (out / "config.toml").write_text(text.replace("seed = 3", "seed = 4"))
    with pytest.raises(InputError, match="sample were run with other parameters"):
        Study(out, StudyConfig.load(out / "config.toml"), verbose=False)


# -- case 8: misleading messages ----------------------------------------------------------
def test_state_ranges_in_radians_are_caught_at_load():
    rad = {"C7eq": {"phi": {"atoms": PHI, "range": [-3.1, -0.9]},
                    "psi": {"atoms": PSI, "range": [0.0, 3.0]}},
           "C7ax": {"phi": {"atoms": PHI, "range": [0.7, 1.7]},
                    "psi": {"atoms": PSI, "range": [-1.9, 0.2]}}}
    with pytest.raises(InputError, match=r"^config: \[states.C7eq\] phi range = \[-3.1, -0.9\]"
                                         r".*degrees\?"):
        StudyConfig.from_dict(_own(rad))
    StudyConfig.from_dict(_own())  # degrees pass


@pytest.mark.parametrize("where", ["bundled", "own"])
def test_pull_needs_states_on_one_distance(where):
    d = {"tps": {"initial_path": "pull"}} if where == "bundled" else _own(
        tps={"initial_path": "pull"})
    with pytest.raises(InputError, match=r"\[tps\] initial_path = 'pull' needs .* one distance"
                                         r".*'hot'"):
        StudyConfig.from_dict(d)
    StudyConfig.from_dict({"system": {"name": "nacl_water"}, "tps": {"initial_path": "pull"}})
    # states on one dihedral (phi) pull too
    StudyConfig.from_dict({"system": {"name": "alanine_water"}, "tps": {"initial_path": "pull"}})


@pytest.mark.parametrize("flag, value", [("--workers", "0"), ("--seed", "-1")])
def test_bad_flag_values_name_the_flag(tmp_path, capsys, flag, value):
    assert main(["demo", flag, value, "--out", str(tmp_path / "D"), "--print-config"]) == 2
    err = _one_line(capsys)
    assert f"{flag} {value}" in err and "config file" not in err


def test_out_that_cannot_be_written_names_out(tmp_path, monkeypatch):
    import errno

    import mda_rcxai.study.directory as directory

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(directory.os, "makedirs", read_only)
    with pytest.raises(InputError, match=r"--out .* cannot be written \(Read-only file system"
                                         r".*give a writable directory"):
        Study(tmp_path / "D", StudyConfig(), verbose=False)


def test_a_missing_report_is_rewritten_without_asking(tmp_path):
    """The report is a view of the results: a deleted report.html is simply redone."""
    out = tmp_path / "D"
    _finished(out)
    (out / "report.html").unlink()
    s = Study(out, StudyConfig(), verbose=False)
    assert s.done("validate") and not s.done("report")


def test_unknown_section_is_called_a_section():
    with pytest.raises(InputError, match=r"unknown section \[modle\]"):
        StudyConfig.from_toml("[modle]\ncv = 2\n")


def test_explain_files_without_model_fails_before_heavy_imports(tmp_path):
    """A missing --model is reported before shap/torch are imported (was ~30 s on 2 cores)."""
    import subprocess
    import sys
    code = ("import sys; from mda_rcxai.cli import main; "
            f"rc = main(['explain', '--features', {str(tmp_path / 'f.npz')!r}]); "
            "print(rc, 'shap' in sys.modules, 'torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["2", "False", "False"], r.stdout + r.stderr
    assert "--model is required" in r.stderr


@pytest.mark.parametrize("system, key", [({"name": "nacl_water", "cutoff": 2.0}, "cutoff"),
                                         ({"nonbonded": "PME"}, "nonbonded"),
                                         ({"constraints": "none"}, "constraints")])
def test_force_field_keys_of_a_bundled_system_are_refused_not_ignored(system, key):
    """Sweep: [system] cutoff on nacl_water was silently ignored (the box ran with its own)."""
    with pytest.raises(InputError, match=rf"^config: \[system\] {key} = .* applies to a system "
                                         r"from files; .*remove"):
        StudyConfig.from_dict({"system": system})


def test_pull_to_outside_the_gap_between_the_states_is_refused_at_once():
    """Sweep: pull_to = 0.5 Angstrom failed after 80 s naming r_shoot_nm and max_shots."""
    from mda_rcxai.study.inputs import build_system
    cfg = StudyConfig.from_dict({"system": {"name": "nacl_water"},
                                 "tps": {"initial_path": "pull", "pull_to": 0.5}})
    with pytest.raises(InputError, match=r"\[tps\] pull_to = 0.5 Angstrom is not between the "
                                         r"states \(CIP: .*e.g. 3.80"):
        build_system(cfg)

"""No dead ends, no silent mixing (issue 23): each case ends in one line naming the argument
or key and the fix, before any expensive work, or in a correct clean result.

The study-directory cases need no simulation: stage records and files are made by hand.
"""

import numpy as np
import pytest

from mda_rcxai.cli import main
from mda_rcxai.exceptions import InputError
from mda_rcxai.study.config import StudyConfig

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


# -- case 5: checks that came late ---------------------------------------------------------
def test_unknown_baseline_feature_fails_before_anything_runs(tmp_path):
    from mda_rcxai.study import run_study
    cfg = StudyConfig.from_dict({"explain": {"baselines": {"mine": ["phi", "nonexistent"]}}})
    with pytest.raises(InputError, match=r"\[explain\] baselines.mine: 'nonexistent' is neither"):
        run_study(tmp_path / "D", cfg, verbose=False)
    assert not (tmp_path / "D").exists()


def test_unreachable_scheduler_fails_before_anything_runs(tmp_path):
    from mda_rcxai.study import run_study
    cfg = StudyConfig.from_dict({"committor": {"scheduler": "tcp://127.0.0.1:1"}})
    with pytest.raises(InputError, match=r"scheduler = 'tcp://127.0.0.1:1'.*no Dask scheduler"):
        run_study(tmp_path / "D", cfg, verbose=False)
    assert not (tmp_path / "D").exists()


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


@pytest.mark.parametrize("flag, value", [("--workers", "0"), ("--seed", "-1")])
def test_bad_flag_values_name_the_flag(tmp_path, capsys, flag, value):
    assert main(["demo", flag, value, "--out", str(tmp_path / "D"), "--print-config"]) == 2
    err = _one_line(capsys)
    assert f"{flag} {value}" in err and "config file" not in err

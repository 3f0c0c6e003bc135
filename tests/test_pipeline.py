"""The whole study on the bundled system at a tiny size: files, report, resume, refusal,
overwrite, and a kill in the middle of committor shooting."""

import json
import os
import re

import numpy as np
import pytest

from mda_rcxai.config import StudyConfig
from mda_rcxai.exceptions import InputError
from mda_rcxai.pipeline import STAGES, run_study

TINY = """
seed = 1
workers = 1
[tps]
n_steps = 30
[committor]
shots = 6
rounds = 2
first_round = 40
later_rounds = 30
n_replicas = 32
[model]
max_epochs = 80
cv = 2
ensemble = 2
[explain]
max_samples = 30
background_size = 10
[validation]
configurations = 4
shots = 6
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    cfg = StudyConfig.from_toml(TINY)
    return out, cfg, run_study(str(out), cfg, verbose=False)


def test_outputs_and_report(study):
    out, cfg, res = study
    for name in ("report.html", "importance.csv", "explained.pdb", "model.pt", "dataset.npz",
                 "features.npz", "explanations.json", "config.toml", "paths.npz", "fit.json",
                 "validation.json"):
        assert os.path.getsize(out / name) > 0, name
    assert set(res["stages"]) == set(STAGES)
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 6
    ex = json.loads((out / "explanations.json").read_text())
    assert ex["shap/global"]["n_explained"] == 30
    # the report's grouped table shows, first in its SHAP-global column, the group that
    # explanations.json ranks first, with its importance and ensemble spread
    first = ex["shap/global"]["grouped_ranking"][0]
    imp = ex["shap/global"]["grouped_importance"][first]
    std = ex["shap/global"]["grouped_std"][first]
    assert f"<td>{first} ({imp:.3g} ± {std:.2g})</td>" in html.replace("&#x27;", "'")
    # the bundled system's own description (with its expected answer) is quoted
    from mda_rcxai.systems import alanine_dipeptide
    import html as html_mod
    assert html_mod.escape(alanine_dipeptide().description.split(".")[0]) in html
    # committor test verdict and baselines (phi, phi + psi, phi + theta) are in the report
    val = json.loads((out / "validation.json").read_text())
    assert re.search(r"Verdict: (PASS|FAIL|INCONCLUSIVE)", html)
    names = [b["name"] for b in val["baselines"]]
    assert {"phi", "phi + psi", "phi + theta"} <= set(names)
    for b in val["baselines"]:
        assert b["name"] in html
    # the annotated PDB carries importances scaled to a maximum of 100
    import MDAnalysis as mda
    u = mda.Universe(str(out / "explained.pdb"))
    assert abs(u.atoms.tempfactors.max() - 100.0) < 0.01


def test_rerun_resumes_without_redoing(study, capsys):
    out, cfg, res = study
    before = json.loads((out / "state.json").read_text())
    mtime = os.path.getmtime(out / "dataset.npz")
    run_study(str(out), cfg, verbose=True)
    text = capsys.readouterr().out
    for st in ("sample", "committor", "validate", "report"):
        assert f"{st}: done before" in text
    after = json.loads((out / "state.json").read_text())
    assert after["committor"] == before["committor"]
    assert os.path.getmtime(out / "dataset.npz") == mtime


def test_other_parameters_refused_then_overwritten(study, tmp_path):
    out, cfg, _ = study
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    other = StudyConfig.from_toml(TINY.replace("background_size = 10", "background_size = 12"))
    with pytest.raises(InputError, match=r"explain.background_size: 10 -> 12"):
        run_study(str(copy), other, verbose=False)
    d0 = np.load(copy / "dataset.npz")["n_B"].copy()
    res = run_study(str(copy), other, verbose=False, overwrite=True)
    # only explain and later reran: the committor data are the same file
    assert np.array_equal(np.load(copy / "dataset.npz")["n_B"], d0)
    assert res["stages"]["explain"]["digest"] != json.loads(
        (out / "state.json").read_text())["explain"]["digest"]
    moved = set(os.listdir(copy / ".previous" / os.listdir(copy / ".previous")[0]))
    invalidated = {"explained.pdb", "explanations.json", "importance.csv", "report.html",
                   "validation.json"}
    assert invalidated <= moved <= invalidated | {"committor_test.npz"}

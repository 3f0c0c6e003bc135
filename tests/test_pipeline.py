"""The whole study on the bundled system at a tiny size: files, report, resume, refusal."""

import json
import os

import pytest

from mda_rcxai.config import StudyConfig
from mda_rcxai.exceptions import InputError
from mda_rcxai.pipeline import run_study

TINY = """
seed = 1
workers = 1
[tps]
n_steps = 30
[committor]
shots = 6
rounds = 2
first_round = 40
later_rounds = 40
n_replicas = 32
[model]
max_epochs = 80
[explain]
max_samples = 30
background_size = 10
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    cfg = StudyConfig.from_toml(TINY)
    return out, cfg, run_study(str(out), cfg, verbose=False)


def test_outputs_and_report(study):
    out, cfg, res = study
    for name in ("report.html", "importance.csv", "explained.pdb", "model.pt", "dataset.npz",
                 "features.npz", "explanations.json", "config.toml", "tps.nc"):
        assert os.path.getsize(out / name) > 0, name
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 5
    assert "N-CA (phi)" in html and "seed = 1" in html
    ex = json.loads((out / "explanations.json").read_text())
    assert ex["shap/global"]["n_explained"] == 30
    # every stage recorded with its time and summary
    assert set(res["stages"]) == {"sample", "committor", "train", "explain", "report"}
    # the annotated PDB carries importances scaled to a maximum of 100
    import MDAnalysis as mda
    u = mda.Universe(str(out / "explained.pdb"))
    assert abs(u.atoms.tempfactors.max() - 100.0) < 0.01


def test_rerun_resumes_without_redoing(study, capsys):
    out, cfg, res = study
    before = json.loads((out / "state.json").read_text())
    run_study(str(out), cfg, verbose=True)
    text = capsys.readouterr().out
    assert "sample: done before" in text and "committor: done before" in text
    assert "report: done before" in text and "explain: done before" in text
    after = json.loads((out / "state.json").read_text())
    assert after["committor"] == before["committor"]


def test_other_parameters_refused(study):
    out, cfg, _ = study
    other = StudyConfig.from_toml(TINY.replace("shots = 6", "shots = 7"))
    with pytest.raises(InputError, match="different parameters"):
        run_study(str(out), other, verbose=False)

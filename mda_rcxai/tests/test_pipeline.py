"""The whole study on the bundled system at a tiny size: files, report, resume, refusal,
overwrite, and a kill in the middle of committor shooting."""

import fnmatch
import json
import os
import re

import numpy as np
import pytest

from mda_rcxai.study.config import StudyConfig
from mda_rcxai.exceptions import InputError
from mda_rcxai.study import STAGES, run_study
from mda_rcxai.study.directory import ARTEFACTS, BOOKKEEPING

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


@pytest.mark.slow  # the tiny study of the fixture: a minute or two
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
    from mda_rcxai.sampling import CommittorDataset
    n_data = len(CommittorDataset.load(out / "dataset.npz"))
    assert ex["shap/global"]["n_explained"] == min(30, n_data)
    # later rounds shot only the informative frames, and said how many
    state = json.loads((out / "state.json").read_text())
    picks = state["committor"]["round_picks"]
    assert [p["round"] for p in picks] == [2]
    for p in picks:
        assert p["informative"] <= p["candidates"]
        assert p["shot"] == min(p["asked"], p["informative"])
        assert (p["shot"] < p["asked"]) == ("note" in p)
    assert n_data == 40 + picks[0]["shot"]
    # the report's grouped table shows, first in its SHAP-global column, the group that
    # explanations.json ranks first, with its importance and ensemble spread
    first = ex["shap/global"]["grouped_ranking"][0]
    imp = ex["shap/global"]["grouped_importance"][first]
    std = ex["shap/global"]["grouped_std"][first]
    assert f"<td>{first} ({imp:.3g} ± {std:.2g})</td>" in html.replace("&#x27;", "'")
    # SHAP-LIME agreement as a table: the global single-feature row carries explanations.json's
    # Spearman correlation and top-k overlap
    agr = ex["agreement"]["global"]
    assert (f"<tr><td>global</td><td>features</td><td>{agr['spearman']:.2f}</td>"
            f"<td>{agr['top_k_overlap']:.0%} of {agr['top_k']}</td>") in html
    # the model-selection section names the penalty the chosen model was fitted with
    fit = json.loads((out / "fit.json").read_text())
    assert fit["params"]["penalty"] == "group"
    assert "Weight decay (of a group lasso on the input layer" in html
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


@pytest.mark.slow  # the tiny study of the fixture: a minute or two
def test_every_file_of_the_study_is_in_the_artefact_table(study):
    """What --overwrite retires is what the stages wrote: each file in the directory
    matches a glob some stage declares (``WRITES``) or is bookkeeping, and no temporary
    file is left behind."""
    out, cfg, _ = study
    declared = {p: st for st, pats in ARTEFACTS.items() for p in pats}
    names = set(os.listdir(out))
    for name in names:
        assert any(fnmatch.fnmatch(name, p) for p in (*declared, *BOOKKEEPING)), (
            f"{name} is written by a stage but in no stage's WRITES")
    # the tiny study runs every stage and fits an ensemble and a model selection
    assert {"model_ensemble.pt", "model_cv.pt", "report.html"} <= names


@pytest.mark.slow  # the tiny study of the fixture: a minute or two
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


@pytest.mark.slow  # the tiny study of the fixture: a minute or two
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
    assert invalidated <= moved <= invalidated | {"committor_test.npz",
                                                   "committor_test_naive.npz"}


def test_holdout_split_is_disjoint_and_covers_every_row():
    from mda_rcxai.study.train import holdout_split
    for n in (5, 12, 200):
        train, test = holdout_split(n, seed=3)
        assert len(test) == max(1, round(0.2 * n)) and len(np.intersect1d(train, test)) == 0
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(n))
    a, b = holdout_split(200, seed=3)[1], holdout_split(200, seed=4)[1]
    assert not np.array_equal(a, b)  # the seed decides which rows are held out


def test_fixed_network_heldout_numbers_match_the_metrics():
    """``[model] select = false``: the held-out numbers are the model module's metrics of a
    network trained on the split's training rows only, on its held-out rows, and beat a
    constant p_B."""
    from mda_rcxai.model import CommittorModel, constant_loglik, pb_rmse
    from mda_rcxai.study.files import derived_seed
    from mda_rcxai.study.train import fit_final, holdout_split

    cfg = StudyConfig.from_dict({"model": {"select": False, "ensemble": 1, "max_epochs": 5}})
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    n_B = rng.binomial(10, (1 + np.tanh(2 * X[:, 0])) / 2)
    n_A = 10 - n_B
    model, ensemble, cv, fit, selection = fit_final(cfg, X, n_A, n_B, list("abcd"), 1)
    assert cv is None and ensemble is None and selection == {}
    train, test = holdout_split(200, derived_seed(cfg.seed, "holdout"))
    assert fit["n_test"] == len(test) == 40 and fit["n_train"] == len(train) == 160
    p0 = n_B[train].sum() / (n_A[train] + n_B[train]).sum()
    assert fit["loglik_constant"] == pytest.approx(constant_loglik(n_A[test], n_B[test], p=p0))
    m80 = CommittorModel(seed=1, **{k: v for k, v in model.get_params().items()
                                    if k != "seed"}).fit(X[train], n_A[train], n_B[train])
    assert fit["rmse_p_B_heldout"] == pytest.approx(pb_rmse(m80.predict_q(X[test]), n_A[test],
                                                           n_B[test]))
    assert fit["loglik_heldout"] == pytest.approx(m80.score(X[test], n_A[test], n_B[test]))
    assert fit["loglik_heldout"] > fit["loglik_constant"] + 0.1


@pytest.mark.slow  # the tiny study of the fixture: a minute or two
def test_naive_coordinate_committor_test_beside_the_learned_one(study):
    """Issue 21: validation.json holds the committor test of the naive coordinate (phi for the
    bundled alanine dipeptide) beside the learned one's, both computed from fresh shots of path
    frames that were never training configurations; the report shows both verdicts and the
    baselines' intervals and verdicts."""
    from mda_rcxai.model.metrics import VERDICTS
    from mda_rcxai.systems import PHI, dihedral_degrees

    out, cfg, _ = study
    val = json.loads((out / "validation.json").read_text())
    assert val["naive"]["names"] == ["phi"] and val["naive"]["baseline"] == "phi"
    frames = np.load(out / "paths.npz")["positions"]
    train = np.load(out / "dataset.npz")["positions"]
    html = (out / "report.html").read_text()
    for key, npz, label in (("committor_test", "committor_test.npz", "learned q"),
                            ("committor_test_naive", "committor_test_naive.npz", "phi")):
        t = val[key]
        # the report's table of both tests: coordinate, verdict, configurations
        assert (f"<tr><td>{label}</td><td>{t['verdict'].upper()}</td>"
                f"<td>{t['n_configurations']}</td>") in html, key
        rows = np.asarray(t["path_frames"], int)
        assert len(rows) == len(t["indices"]) == len(t["n_A"]) == len(t["p_B"])
        assert len({frames[r].round(3).tobytes() for r in rows}) == len(rows)  # distinct
        if key == "committor_test_naive":
            assert len(rows) > 0, t["reason"]  # phi's barrier top has unseen frames
        if not len(rows):
            continue
        # counts from the shots file, cfg.validation.shots per configuration
        shots = np.load(out / npz)
        np.testing.assert_array_equal(shots["n_A"], t["n_A"])
        np.testing.assert_array_equal(shots["n_B"], t["n_B"])
        np.testing.assert_array_equal(np.asarray(t["n_A"]) + t["n_B"] + t["n_undecided"],
                                      np.full(len(rows), cfg.validation.shots))
        # shot from those path frames, none of which was a training configuration
        np.testing.assert_allclose(shots["positions"], frames[rows], atol=1e-3)
        gap = np.abs(frames[rows][:, None] - train[None]).max(axis=(2, 3))
        assert (gap > 1e-3).all(), f"{key} shot a training configuration"
    # the naive candidates sit at phi's own barrier top: p_B of the fit on phi alone,
    # recomputed from the frames' phi, lies in the window
    t = val["committor_test_naive"]
    c = t["coordinate"]
    assert c["kind"] == "naive" and c["names"] == ["phi"] and c["level"] is not None
    phi = dihedral_degrees(frames[np.asarray(t["path_frames"])], np.array([PHI]))[:, 0]
    p = (1 + np.tanh(c["weights"][0] * phi + c["intercept"])) / 2
    np.testing.assert_allclose(p, t["predicted_p_B"], atol=1e-6)
    assert ((p >= 0.4) & (p <= 0.6)).all()
    # every baseline but the full model carries its difference to the full model with an
    # interval and a verdict; the report's table shows them
    for b in val["baselines"]:
        if b["name"] == "full":
            assert b["vs_full"] is None
            continue
        vs = b["vs_full"]
        assert vs["ci_low"] <= vs["delta"] <= vs["ci_high"] and vs["verdict"] in VERDICTS
        # a tie says how many configurations would resolve a difference of its size:
        # n (half-width / |delta|)^2, so more than it had exactly when the interval is
        # wider than the difference
        shown = vs["verdict"]
        if vs["verdict"] == "tie" and vs["delta"] != 0:
            half = (vs["ci_high"] - vs["ci_low"]) / 2
            assert (vs["n_to_resolve"] > vs["n_configurations"]) == (half > abs(vs["delta"]))
            shown += f" (~{vs['n_to_resolve']:,} configurations to resolve)"
        assert f"<td>{shown}</td>" in html
    assert "minus full [95% interval]" in html

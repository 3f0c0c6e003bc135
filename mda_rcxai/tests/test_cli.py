import subprocess
import sys

import numpy as np
import pytest

from mda_rcxai.cli import main
from mda_rcxai.study.config import StudyConfig
from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
from mda_rcxai.exceptions import InputError


def test_config_round_trip_and_errors(tmp_path):
    cfg = StudyConfig(seed=4)
    cfg.committor.window = [0.2, 0.8]
    assert StudyConfig.from_toml(cfg.to_toml()) == cfg
    with pytest.raises(InputError, match="unknown key"):
        StudyConfig.from_toml("[tps]\nnsteps = 3\n")
    with pytest.raises(InputError, match="window"):
        StudyConfig.from_toml("[committor]\nwindow = [0.9, 0.1]\n")
    with pytest.raises(InputError, match="not valid TOML"):
        StudyConfig.from_toml("[tps\n")
    assert cfg.digest("tps") == StudyConfig(seed=9).digest("tps")
    assert cfg.digest("committor") != StudyConfig().digest("committor")


def test_print_config_is_loadable(tmp_path, capsys):
    assert main(["demo", "--print-config", "--seed", "7"]) == 0
    text = capsys.readouterr().out
    p = tmp_path / "c.toml"
    p.write_text(text)
    assert StudyConfig.load(p).seed == 7


def test_features_command_matches_api(tmp_path):
    from mda_rcxai.features import DihedralFeatures
    import MDAnalysis as mda
    out = tmp_path / "f.npz"
    assert main(["features", ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD, "--step", "10",
                 "--sincos", "-o", str(out), "--quiet"]) == 0
    from mda_rcxai.features import load_features
    d = load_features(out)
    u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    ref = DihedralFeatures(u.atoms, sincos=True).run(step=10).results
    np.testing.assert_array_equal(d.features, ref.features)
    assert list(d.names) == ref.names and d.columns == ref.columns


def test_errors_are_one_line_with_nonzero_status(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nlayers = 3\n")
    r = subprocess.run([sys.executable, "-m", "mda_rcxai.cli", "demo", "--config", str(bad),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("mda-rcxai: error:") and "layers" in r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "mda_rcxai.cli", "features", "missing.pdb"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "missing.pdb" in r.stderr and "Traceback" not in r.stderr


def test_train_and_explain_own_files(tmp_path):
    """features -> train -> explain chained on files, as a user with own data would."""
    import MDAnalysis as mda
    from mda_rcxai.features import DihedralFeatures
    u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    phi = DihedralFeatures(u.atoms, dihedrals=[(4, 6, 8, 14)]).run().results.features[:, 0]
    rng = np.random.default_rng(0)
    p_B = 1 / (1 + np.exp(-phi / 15.0))          # committor that depends on phi only
    n_B = rng.binomial(10, p_B)
    np.savez(tmp_path / "counts.npz", n_A=10 - n_B, n_B=n_B)
    f = tmp_path / "f.npz"
    assert main(["features", ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD, "-o", str(f),
                 "--quiet"]) == 0
    m = tmp_path / "m.pt"
    assert main(["train", "--features", str(f), "--dataset", str(tmp_path / "counts.npz"),
                 "-o", str(m), "--seed", "1", "--quiet"]) == 0
    out = tmp_path / "ex"
    assert main(["explain", "--features", str(f), "--model", str(m), "--topology",
                 ALANINE_DIPEPTIDE_PDB, "--out", str(out), "--method", "shap",
                 "--selection", "global", "--max-samples", "40"]) == 0
    import pandas as pd
    df = pd.read_csv(out / "importance.csv")
    assert (out / "explained_shap_global.pdb").exists()
    assert df.sort_values("importance", ascending=False)["feature"].iloc[0] == "phi"
    # a features file with another row count is refused with one clear line
    np.savez(tmp_path / "short.npz", n_A=np.ones(3), n_B=np.ones(3))
    with pytest.raises(InputError, match="rows"):
        main(["--debug", "train", "--features", str(f), "--dataset",
              str(tmp_path / "short.npz"), "-o", str(m)])

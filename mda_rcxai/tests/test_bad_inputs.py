"""Bad inputs and faults a new user meets, walked through the CLI and the API.

Each ends in one line naming the argument or key and the fix (exit status 2
on the command line, no traceback), before any expensive work, and leaves
nothing half-written behind. Cases that need a simulation live with their
layer (TPS resume in tests/sampling, Ctrl-C of Dask workers in
tests/sampling/test_committor.py).
"""

import subprocess
import sys

import numpy as np
import pytest

from mda_rcxai.cli import main
from mda_rcxai.study.config import StudyConfig
from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
from mda_rcxai.exceptions import InputError


def _cli(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "mda_rcxai.cli", *args], capture_output=True,
                       text=True, timeout=300, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


def _one_line_error(rc, err, *needles):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mda-rcxai: error:"), err
    assert "Traceback" not in err and "Exception ignored" not in err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("text, needle", [
    ("[committor]\nshots = 2.5\n", "[committor] shots = 2.5"),
    ("[model]\nvalidation_fraction = 1.5\n", "[model] validation_fraction"),
    ("[model]\nhidden_layers = 64\n", "[model] hidden_layers"),
    ('workers = "two"\n', "workers = 'two'"),
])
def test_config_values_fail_before_sampling(tmp_path, text, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    out = tmp_path / "o"
    rc, _, err = _cli("demo", "--config", str(cfg), "--out", str(out))
    _one_line_error(rc, err, needle)
    assert not out.exists()          # nothing written, not even config.toml
    rc, _, err = _cli("demo", "--config", str(cfg), "--print-config")
    _one_line_error(rc, err, needle)


def test_out_naming_a_file(tmp_path):
    f = tmp_path / "taken"
    f.write_text("keep me")
    rc, _, err = _cli("demo", "--out", str(f))
    _one_line_error(rc, err, "is a file")
    assert f.read_text() == "keep me"


@pytest.mark.parametrize("extra, needle", [
    (["--step", "0"], "--step 0"),
    (["--backend", "multiprocessing", "--workers", "0"], "--workers 0"),
    (["--start", "100000"], "--start 100000"),
    (["--select", "name ZZZ"], "matches no atom"),
])
def test_features_command_arguments(tmp_path, extra, needle):
    out = tmp_path / "f.npz"
    rc, _, err = _cli("features", ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD, "-o", str(out),
                      "--quiet", *extra)
    _one_line_error(rc, err, needle)
    assert not out.exists()


def test_features_of_a_file_that_is_not_a_trajectory(tmp_path):
    bogus = tmp_path / "x.npz"
    np.savez(bogus, a=np.arange(3))
    rc, _, err = _cli("features", ALANINE_DIPEPTIDE_PDB, str(bogus), "-o",
                      str(tmp_path / "f.npz"))
    _one_line_error(rc, err, "x.npz")


def test_train_refuses_negative_counts(tmp_path):
    f = tmp_path / "f.npz"
    assert main(["features", ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD, "--step", "50",
                 "-o", str(f), "--quiet"]) == 0
    n = len(np.load(f)["features"])
    n_A, n_B = np.full(n, 5), np.full(n, 5)
    n_A[3] = -3
    np.savez(tmp_path / "counts.npz", n_A=n_A, n_B=n_B)
    with pytest.raises(InputError, match=r"n_A must be .* >= 0 \(row 3 has -3\)"):
        main(["--debug", "train", "--features", str(f), "--dataset",
              str(tmp_path / "counts.npz"), "-o", str(tmp_path / "m.pt")])
    assert not (tmp_path / "m.pt").exists()


def test_damaged_study_file_is_named_not_a_bad_zip(tmp_path):
    """A truncated features.npz of a finished train stage: one line, the file and the fix."""
    from mda_rcxai.study.directory import Study, load_npz

    s = Study(tmp_path / "D", StudyConfig(), verbose=False)
    p = s.path("features.npz")
    np.savez_compressed(p, X=np.zeros((50, 45)))
    data = open(p, "rb").read()
    open(p, "wb").write(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"features.npz: damaged or unreadable .*--overwrite"):
        load_npz(p, "features")


def test_explain_needs_more_than_one_configuration():
    from mda_rcxai.explain.run import explain_all
    X = np.random.default_rng(0).normal(size=(1, 3))
    with pytest.raises(InputError, match="at least 2 configurations"):
        explain_all(lambda x: x[:, 0], X, methods=("shap",))


def test_unexpected_errors_are_still_one_line(tmp_path, monkeypatch):
    """An internal failure prints one line with the exception type and the --debug hint."""
    import mda_rcxai.cli as cli

    def boom(args):
        raise ZeroDivisionError("division by zero")
    monkeypatch.setattr(cli, "_cmd_features", boom)
    import io
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main(["features", "a.pdb"]) == 2
    line = err.getvalue().strip()
    assert line.count("\n") == 0 and "ZeroDivisionError" in line and "--debug" in line

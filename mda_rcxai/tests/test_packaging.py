"""What a user gets from the wheel: the bundled files the CLI opens, the tests, the
MDAKit registry's metadata."""

import os
import subprocess
import sys
import zipfile
from importlib.resources import files

import pytest
import yaml

import mda_rcxai
import mda_rcxai.data
from mda_rcxai.cli import build_parser
from mda_rcxai.study.bundled import BUNDLED, DEFAULT_SYSTEM
from mda_rcxai.study.config import BUNDLED_SYSTEMS, StudyConfig
from mda_rcxai.study.inputs import bundled_baselines, fes_axis, state_names

SOURCE = os.path.dirname(os.path.dirname(mda_rcxai.__file__))
IN_SOURCE_TREE = os.path.exists(os.path.join(SOURCE, "pyproject.toml"))

#: Every key of the MDAKit registry's template (mdakits/template/metadata.yaml).
REQUIRED = ("project_name", "authors", "maintainers", "description", "keywords", "license",
            "project_home", "documentation_home", "documentation_type")
OPTIONAL = ("install", "src_install", "import_name", "python_requires", "mdanalysis_requires",
            "run_tests", "test_dependencies", "project_org", "development_status",
            "publications", "community_home", "changelog")


def _system_choices():
    demo = build_parser()._subparsers._group_actions[0].choices["demo"]
    return next(a.choices for a in demo._actions if a.dest == "system")


def test_every_bundled_study_the_cli_offers_has_its_config_in_the_package():
    choices = _system_choices()
    assert "nacl_water" in choices
    for name in choices:
        if name == "alanine_dipeptide":  # the defaults of StudyConfig
            continue
        assert files("mda_rcxai.data").joinpath(f"{name}.toml").is_file(), name


def test_cli_config_and_inputs_read_one_registry_of_bundled_systems():
    assert sorted(_system_choices()) == sorted(BUNDLED) == sorted(BUNDLED_SYSTEMS)
    assert StudyConfig().system.bundled_name == DEFAULT_SYSTEM
    for name, entry in BUNDLED.items():
        cfg = (StudyConfig.load(str(files("mda_rcxai.data").joinpath(entry.config)))
               if entry.config else StudyConfig())
        # the study defaults shipped for it name it and use its feature kinds
        assert cfg.system.bundled_name == name
        assert list(cfg.features.kind) == list(entry.feature_kinds)
        assert state_names(cfg) == entry.states
        assert bundled_baselines(cfg) == {k: list(v) for k, v in entry.baselines.items()}
        assert fes_axis(cfg) == entry.fes_axis


def test_every_data_path_exists():
    for name in mda_rcxai.data.__all__:
        path = getattr(mda_rcxai.data, name)
        assert os.path.isfile(path) and os.path.getsize(path) > 0, name


@pytest.mark.skipif(not IN_SOURCE_TREE, reason="mdakit/metadata.yaml is in the source tree, "
                                                "not in the wheel")
def test_mdakit_metadata_has_every_field_of_the_template():
    with open(os.path.join(SOURCE, "mdakit", "metadata.yaml"), encoding="utf-8") as fh:
        meta = yaml.safe_load(fh)
    missing = [k for k in REQUIRED + OPTIONAL if not meta.get(k)]
    assert missing == []
    assert meta["import_name"] == "mda_rcxai"
    assert any("--pyargs mda_rcxai" in c for c in meta["run_tests"])
    assert any("10.1063/5.0087310" in p for p in meta["publications"])  # Kikutsuji 2022
    assert any("10.1063/5.0009066" in p for p in meta["publications"])  # Mori 2020
    for f in ("AUTHORS", "CHANGELOG", "LICENSE"):
        assert os.path.isfile(os.path.join(SOURCE, f)), f


@pytest.mark.slow
@pytest.mark.skipif(not IN_SOURCE_TREE, reason="builds the wheel from the source tree")
def test_the_wheel_holds_every_data_file_and_test(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(tmp_path), SOURCE], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("mda_rcxai-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "-C", SOURCE, "ls-files", "mda_rcxai"], capture_output=True,
                             text=True).stdout.split()
    if not tracked:  # not a git checkout: what lies in the folders
        tracked = [os.path.relpath(os.path.join(d, f), SOURCE)
                   for d, _, fs in os.walk(os.path.join(SOURCE, "mda_rcxai"))
                   if "__pycache__" not in d for f in fs]
    wanted = {p.replace(os.sep, "/") for p in tracked
              if p.startswith(("mda_rcxai/data/", "mda_rcxai/tests/")) or p.endswith(".py")}
    assert sorted(wanted - names) == []
    assert "mda_rcxai/data/nacl_water.toml" in names

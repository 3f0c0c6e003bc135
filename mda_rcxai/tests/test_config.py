"""The study config: types, ranges, files and sources are checked when it is read."""

import os
import tomllib

import pytest

from mda_rcxai.study.bundled import BUNDLED
from mda_rcxai.study.config import StudyConfig
from mda_rcxai.exceptions import InputError


def test_defaults_round_trip_through_toml():
    cfg = StudyConfig(seed=4)
    assert StudyConfig.from_toml(cfg.to_toml()) == cfg
    other = StudyConfig.from_toml("[committor]\nwindow = [0.2, 0.8]\n")
    assert other.committor.window == [0.2, 0.8]
    assert StudyConfig.from_toml(other.to_toml()) == other


@pytest.mark.parametrize("system", sorted(BUNDLED))
def test_written_toml_reads_back_as_the_same_dict(system, capsys):
    """tomli-w writes the config: ``tomllib`` reads back exactly ``to_dict()``, for each
    bundled study's printed config and for one with states, quoted keys and empty tables."""
    from mda_rcxai.cli import main
    assert main(["demo", "--system", system, "--print-config"]) == 0
    cfg = StudyConfig.from_toml(capsys.readouterr().out)
    assert tomllib.loads(cfg.to_toml()) == cfg.to_dict()
    phi = {"atoms": ["name C and resid 1", "name N and resid 2", "name CA and resid 2",
                     "name C and resid 2"]}
    own = cfg.to_dict()
    own["system"].update(state_A="C7 eq", state_B="C7ax")
    own["states"] = {"C7 eq": {"phi": {**phi, "range": [-180.0, -50.0]}},
                     "C7ax": {"phi": {**phi, "range": [40.0, 100.0]}}}
    own["features"]["neighbors"] = {"water O": "resname HOH and name O"}
    own["explain"]["baselines"] = {}
    cfg = StudyConfig.from_dict(own)
    text = cfg.to_toml()
    assert tomllib.loads(text) == cfg.to_dict()
    assert '[states."C7 eq".phi]' in text
    assert StudyConfig.from_toml(text) == cfg


@pytest.mark.parametrize("text, key, hint", [
    ("[committor]\nshots = 2.5\n", "[committor] shots", "integer"),
    ('workers = "two"\n', "workers", "integer"),
    ("workers = 0\n", "workers", "greater than or equal to 1"),
    ("[model]\nhidden_layers = 64\n", "[model] hidden_layers", "[64, 64]"),
    ("[model]\nvalidation_fraction = 1.5\n", "[model] validation_fraction", "less than 1"),
    ("[committor]\nwindow = [0.9, 0.1]\n", "[committor] window", "low < high"),
    ("[tps]\nnsteps = 3\n", "[tps] nsteps", "unknown key"),
    ("[system]\ntimestep = 0.002\n", "[system] timestep", "femtoseconds"),
    ("[system]\nname = 'argon'\n", "[system]", "not a bundled system"),
    ("[system]\npdb = 'x.pdb'\n", "[system]", "pdb + forcefield"),
    ("[system]\nnonbonded = 'pme'\n", "[system] nonbonded", "'PME'"),
    ("[features]\nkind = 'acsf'\n", "[features]", "centers"),
    ("[explain]\nmethods = ['shap', 'grad']\n", "[explain] methods", "'lime'"),
    ("[states.A]\nx = { atoms = ['name CA'], range = [0, 1] }\n", "[states.A] x.atoms", "at least 2"),
    ("[states.A]\nx = { atoms = ['name CA', 'name N'], range = [3, 1] }\n", "[states.A] x",
     "low > high"),
    ("[tps\n", "not valid TOML", "fix the file"),
])
def test_bad_values_are_one_line_naming_the_key(text, key, hint):
    with pytest.raises(InputError) as info:
        StudyConfig.from_toml(text)
    msg = str(info.value)
    assert "\n" not in msg
    assert key in msg and hint in msg, msg


def test_files_resolve_against_the_config_folder(tmp_path):
    from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB
    import shutil
    sub = tmp_path / "inputs"
    sub.mkdir()
    shutil.copy(ALANINE_DIPEPTIDE_PDB, sub / "ala.pdb")
    text = ("[system]\npdb = 'inputs/ala.pdb'\nforcefield = ['amber14-all.xml', "
            "'implicit/obc2.xml']\nstate_A = 'A'\nstate_B = 'B'\n"
            "[states.A]\nphi = { atoms = ['name C and resid 1', 'name N and resid 2', "
            "'name CA and resid 2', 'name C and resid 2'], range = [-180, -50] }\n"
            "[states.B]\nphi = { atoms = ['name C and resid 1', 'name N and resid 2', "
            "'name CA and resid 2', 'name C and resid 2'], range = [40, 100] }\n")
    cfg_file = tmp_path / "study.toml"
    cfg_file.write_text(text)
    cfg = StudyConfig.load(cfg_file)
    assert cfg.system.pdb == str(sub / "ala.pdb")
    # OpenMM's own force-field files stay names; a file next to the config becomes a path
    assert cfg.system.forcefield == ["amber14-all.xml", "implicit/obc2.xml"]
    assert cfg.system.source == "pdb"
    # the saved config (absolute paths) reads back identically from anywhere
    assert StudyConfig.from_toml(cfg.to_toml()) == cfg
    cfg_file.write_text(text.replace("inputs/ala.pdb", "inputs/missing.pdb"))
    with pytest.raises(InputError, match=r"\[system\] pdb = 'inputs/missing.pdb': no such file"):
        StudyConfig.load(cfg_file)


def test_states_must_name_tables_and_sources_must_be_complete():
    with pytest.raises(InputError, match="state_A = 'X' is not a table"):
        StudyConfig.from_toml("[system]\nstate_A = 'X'\nstate_B = 'B'\n"
                              "[states.B]\nd = { atoms = ['index 0', 'index 1'], range = [0, 3] }\n")
    with pytest.raises(InputError, match="state_A and state_B must name"):
        StudyConfig.from_dict({"system": {"prmtop": "a.prmtop", "inpcrd": "a.crd"}})
    with pytest.raises(InputError, match="implicit_solvent applies to AMBER"):
        StudyConfig.from_dict({"system": {"pdb": "a.pdb", "forcefield": ["x.xml"],
                                          "implicit_solvent": "OBC2", "state_A": "a",
                                          "state_B": "b"}})


def test_digest_and_differences_ignore_speed_only_keys():
    a = StudyConfig(seed=1)
    b = a.replace(workers=7)
    assert a.digest() == b.digest() and a.differences(b) == []
    c = StudyConfig.from_toml("seed = 1\n[committor]\nshots = 7\n")
    assert a.differences(c) == ["committor.shots: 20 -> 7"]
    assert a.digest("tps") == c.digest("tps") and a.digest("committor") != c.digest("committor")


def test_config_is_not_a_directory(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        StudyConfig.load(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        StudyConfig.load(os.path.join(tmp_path, "nope.toml"))

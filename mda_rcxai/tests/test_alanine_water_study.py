"""The bundled alanine-in-water study (``mda-rcxai demo --system alanine_water``): its
registry entry and shipped config, its features (dihedrals + the solvent potential at the
22 solute atoms, named in the papers' numbering), and the whole study at a tiny size, where
a solvent-potential column groups with its solute atom in SHAP/LIME and in the annotated
PDB."""

import json
from importlib.resources import files

import numpy as np
import pytest

pytest.importorskip("openmm")

from mda_rcxai.exceptions import InputError  # noqa: E402
from mda_rcxai.study.config import StudyConfig  # noqa: E402

#: The quick study: the shipped config with tiny sampling (scripts/configs/alanine_water_quick.toml).
QUICK = {"seed": 0, "workers": 2,
         "tps": {"n_steps": 20, "max_path_frames": 300},
         "committor": {"shots": 4, "rounds": 1, "first_round": 24, "max_frames": 300},
         "model": {"ensemble": 1, "cv": 2},
         "explain": {"max_samples": 20, "background_size": 10},
         "validation": {"configurations": 4, "shots": 4}}


def _shipped():
    return StudyConfig.load(str(files("mda_rcxai.data").joinpath("alanine_water.toml")))


def _quick():
    d = _shipped().model_dump(exclude_none=True)
    for section, values in QUICK.items():
        if isinstance(values, dict):
            d[section].update(values)
        else:
            d[section] = values
    return StudyConfig.from_dict(d)


def test_shipped_config_builds_the_system_and_its_features():
    from mda_rcxai.study.bundled import BUNDLED
    from mda_rcxai.study.inputs import (build_system, bundled_baselines, bundled_comparisons,
                                        check_features, naive_coordinate)
    cfg = _shipped()
    assert BUNDLED["alanine_water"].config == "alanine_water.toml"
    system = build_system(cfg)
    assert system.name == "alanine_water" and sorted(system.states) == ["C7ax", "C7eq"]
    r = check_features(cfg, system)
    assert r.features.shape == (1, 45 + 22)
    k = r.names.index("V[H18|water]")
    col = r.columns[k]
    assert col.atoms == (17,) and col.center == (17,) and col.kind == "solvent_potential"
    assert col.group == "H18 / water" and col.is_solvent
    assert r.features[0, k] == pytest.approx(-95.0, abs=0.5)  # kJ/mol/e, Ewald
    assert set(bundled_baselines(cfg)) == {"phi + theta", "phi + theta + V[H18]"}
    assert bundled_comparisons(cfg) == [("phi + theta + V[H18]", "phi + theta")]
    assert naive_coordinate(cfg) == ["phi"]


def test_pull_to_on_phi_is_in_degrees_and_checked_at_once():
    from mda_rcxai.study.inputs import build_system
    d = _shipped().model_dump(exclude_none=True)
    d["tps"]["pull_to"] = 70.0
    with pytest.raises(InputError, match=r"^config: \[tps\] pull_to = 70.0 degrees lies inside "
                                         r"state C7eq or C7ax.*e.g. -5.0"):
        build_system(StudyConfig.from_dict(d))
    d["tps"]["pull_to"] = -10.0
    build_system(StudyConfig.from_dict(d))


def test_paper_labels_refused_on_another_system():
    from mda_rcxai.study.inputs import check_features, build_system
    cfg = StudyConfig.from_dict({"system": {"name": "nacl_water"},
                                 "features": {"kind": ["solvent_potential"],
                                              "centers": "name NA CL",
                                              "neighbors": {"water": "resname HOH"},
                                              "center_labels": "paper"}})
    with pytest.raises(InputError, match=r"^config: \[features\] center_labels = 'paper' "
                                         r"names the atoms of the bundled alanine dipeptide"):
        check_features(cfg, build_system(cfg))


def test_solvent_potential_needs_one_solvent_set():
    with pytest.raises(InputError, match="kind 'solvent_potential' needs centers"):
        StudyConfig.from_dict({"features": {"kind": ["solvent_potential"],
                                            "centers": "resname ALA"}})


def test_build_features_takes_the_potential_options_flat():
    """``potential_method``/``potential_cutoff`` reach SolventPotentialFeatures: the plain
    per-atom cutoff sum at H18 differs from Ewald (-423.6 against -95.0 kJ/mol/e)."""
    import MDAnalysis as mda

    from mda_rcxai.features import build_features
    from mda_rcxai.systems import PAPER_ATOM_NAMES, alanine_dipeptide_water
    from mda_rcxai.systems.alanine_water import ALANINE_WATER_PDB
    system = alanine_dipeptide_water()
    u = mda.Universe(ALANINE_WATER_PDB)
    r = build_features(u.atoms[:22], kinds=("dihedrals", "solvent_potential"),
                       centers="resname ACE ALA NME", neighbors={"water": "resname HOH"},
                       center_labels=list(PAPER_ATOM_NAMES), potential_method="cutoff",
                       potential_cutoff=9.0, charges=system.system)
    k = r.names.index("V[H18|water]")
    assert r.kinds[k] == "solvent_potential" and r.units[k] == "kJ/mol/e"
    assert r.features[0, k] == pytest.approx(-423.6, abs=0.5)
    assert list(r.atom_indices[k][r.atom_indices[k] >= 0]) == [17]
    # each potential column is its own group, apart from the dihedrals' groups
    g = np.asarray(r.groups)
    n_dih = r.kinds.count("dihedrals")
    assert n_dih > 0 and np.sum(g == g[k]) == 1 and g[k] > g[:n_dih].max()


@pytest.mark.slow  # the quick study: 527 s on 2 loaded cores (sample 90, committor 196,
#                    train 108, explain 23, validate 96 s)
def test_quick_study_end_to_end_groups_a_potential_column_with_its_atom(tmp_path):
    import MDAnalysis as mda
    import pandas as pd

    from mda_rcxai.study import run_study
    out = tmp_path / "aw"
    run_study(str(out), _quick(), verbose=False)
    summary = json.loads((out / "explanations.json").read_text())
    for key in ("shap/global", "lime/global"):
        members = summary[key]["grouped_members"]
        potential = {g: m for g, m in members.items() if any(n.startswith("V[") for n in m)}
        assert potential, f"{key}: no solvent-potential column among the ranked groups"
        for group, cols in potential.items():  # 'H18 / water' holds V[H18|water] alone
            assert len(cols) == 1 and group == cols[0][2:cols[0].index("|")] + " / water"
    # explained.pdb: SHAP (global) importance per atom, each column's importance on its
    # atoms; a potential column's all on its solute atom, none on the water
    table = pd.read_csv(out / "importance.csv")
    rows = table[(table["method"] == "shap") & (table["selection"] == "global")]
    u = mda.Universe(str(out / "explained.pdb"))
    expected = np.zeros(len(u.atoms))
    for _, row in rows.iterrows():
        atoms = [int(a) for a in str(row["atoms"]).split()]
        expected[atoms] += row["importance"] / len(atoms)
        if row["feature"].startswith("V["):
            assert len(atoms) == 1 and atoms[0] < 22
    h18 = rows[rows["feature"] == "V[H18|water]"]
    assert [int(a) for a in str(h18["atoms"].iloc[0]).split()] == [17]
    np.testing.assert_allclose(u.atoms.tempfactors, 100 * expected / expected.max(), atol=0.02)
    assert not u.atoms[22:].tempfactors.any()
    v = json.loads((out / "validation.json").read_text())
    names = {b["name"] for b in v["baselines"]}
    assert {"phi + theta", "phi + theta + V[H18]"} <= names
    pairs = {(c["a"], c["b"]) for c in v["comparisons"]}
    assert ("phi + theta + V[H18]", "phi + theta") in pairs
    ranked = summary["shap/transition_state"].get("ranking", []) + \
        summary["shap/global"]["ranking"]
    top = next((n for n in ranked if n.startswith("V[")), None)
    if top is not None:  # the top solvent column SHAP found, added to phi + theta
        assert (f"phi + theta + top solvent: {top}", "phi + theta") in pairs

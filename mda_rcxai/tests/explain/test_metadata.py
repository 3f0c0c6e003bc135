"""Explanations read column metadata (FeatureColumn) instead of parsing names:
sin/cos pairs, impropers, aliases, solvent descriptor blocks, and mapping solvent
importance onto the centre atom and the water molecules it counts."""

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.lib.distances import distance_array

from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
from mda_rcxai.exceptions import InputError
from mda_rcxai.explain import Explanation, explain
from mda_rcxai.features import DihedralFeatures, build_features
from mda_rcxai.tests.features.waterbox import make_nacl_box


@pytest.fixture(scope="module")
def sincos_features():
    u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    return u, DihedralFeatures(u.atoms, sincos=True).run(step=4).results


def test_sincos_pairs_and_bond_groups_from_metadata(sincos_features):
    u, r = sincos_features
    X = r.features.astype(float)
    iphi = r.names.index("sin(phi)")

    def q(X):  # q depends on phi only, through its sine and cosine
        return 2.0 * X[:, iphi] - 1.0 * X[:, iphi + 1]
    # no groups= and names that say nothing: the metadata alone pairs sin and cos
    plain = [f"c{k}" for k in range(X.shape[1])]
    cols = [c.replace(name=p) for c, p in zip(r.columns, plain)]
    ex = explain(q, X, feature_names=plain, columns=cols, method="shap", algorithm="kernel",
                 max_samples=5, background_size=10, seed=0, atom_names=u)
    assert len(ex.feature_names) == 45 and ex.ranking[0] == r.columns[iphi].base
    assert ex.columns[0]["kind"] == "dihedral"
    np.testing.assert_allclose(ex.data[:, ex.feature_names.index("phi")],
                               np.degrees(np.arctan2(X[ex.indices, iphi],
                                                     X[ex.indices, iphi + 1])), atol=1e-3)
    g = ex.grouped(by="bond")
    assert g.ranking[0] == "N-CA (phi)"
    # by="group" uses the feature class's own group labels: the same bonds
    gg = ex.grouped(by="group")
    assert gg.ranking[0] == "N-CA (phi)"
    assert set(gg.feature_names) == set(g.feature_names)
    # impropers are told by metadata, not by an "improper " prefix
    imp = [k for k, c in enumerate(ex.columns) if c["measure"] == "improper"]
    assert len(imp) == 4
    for k in imp:
        assert ex.feature_names[k] in g.feature_names  # own group, named after the feature


def test_solvent_groups_and_atom_mapping(tmp_path):
    u = make_nacl_box(n_frames=40, seed=7)
    sets = {"water O": u.select_atoms("resname HOH and name O"),
            "water H": u.select_atoms("resname HOH and name H1 H2")}
    r = build_features(u.atoms, kinds=("acsf",),
                       acsf={"centers": u.select_atoms("name NA CL"), "neighbors": sets,
                             "r_cut": 6.0, "g2": [(0.5, 2.5), (0.1, 3.5)],
                             "g5": [(0.01, 1, -1)]})
    X = r.features
    na_o = [k for k, c in enumerate(r.columns) if c.group == "NA1:NA / water O"]
    assert len(na_o) == 3

    def q(X):  # q reads the Na+ / water O block only
        return X[:, na_o] @ np.array([1.0, -0.5, 2.0])
    ex = explain(q, X, feature_names=r.names, columns=r.columns,
                 atom_indices=r.atom_indices, method="shap", algorithm="kernel",
                 max_samples=8, background_size=10, seed=0)
    g = ex.grouped(by="group")
    assert g.ranking[0] == "NA1:NA / water O"
    assert g.members["NA1:NA / water O"] == tuple(r.names[k] for k in na_o)
    assert set(g.feature_names) == {"NA1:NA / water O", "NA1:NA / water H",
                                    "CL2:CL / water O", "CL2:CL / water H"}
    assert ex.grouped(by="neighbors").feature_names[0] in ("water O", "water H")
    # importance on the centre atom only without a frame
    ag = ex.to_atomgroup(u)
    na = u.select_atoms("name NA")[0].index
    top = np.argsort(-ag.tempfactors)
    assert top[0] == na
    np.testing.assert_allclose(ag.tempfactors.sum(), ex.importance.sum())
    # with a frame: half of each descriptor goes to the water molecules it counts
    frame = 3
    ag = ex.to_atomgroup(u, frame=frame, neighbor_share=0.5)
    np.testing.assert_allclose(ag.tempfactors.sum(), ex.importance.sum(), rtol=1e-9)
    u.trajectory[frame]
    d = distance_array(u.atoms.positions[[na]], sets["water O"].positions,
                       box=u.dimensions)[0]
    inside = sets["water O"][d < 6.0 * 0.9].residues
    # Na+ keeps the largest single value; waters counted by Na+ / water O get a share,
    # whole molecules (O and both H), and waters far from both ions get nothing
    assert np.argmax(ag.tempfactors) == na
    assert all(res.atoms.tempfactors.min() > 0 for res in inside)
    cl = u.select_atoms("name CL")[0].index
    dcl = distance_array(u.atoms.positions[[cl]], sets["water O"].positions,
                         box=u.dimensions)[0]
    far = sets["water O"][(d > 6.0) & (dcl > 6.0)].residues
    # the shell and far-water checks hold for some molecules, not vacuously for none
    assert len(inside) > 3 and len(far) > 3
    assert all(res.atoms.tempfactors.max() == 0 for res in far)
    # a grouped explanation maps the same way
    gag = g.to_atomgroup(u.copy(), frame=frame)
    np.testing.assert_allclose(gag.tempfactors.sum(), g.importance.sum(), rtol=1e-9)
    path = tmp_path / "na_shell.pdb"
    ag.write(str(path))
    assert path.stat().st_size > 0


def test_metadata_errors():
    ex = Explanation(np.array([[1.0, 2.0]]), ["a", "b"])
    with pytest.raises(InputError, match="needs column metadata"):
        ex.grouped(by="group")
    with pytest.raises(InputError, match="columns has 1 records"):
        Explanation(np.array([[1.0, 2.0]]), ["a", "b"], columns=[{"name": "a"}])
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(InputError, match=r"columns\[1\] describes 'z'"):
        explain(lambda X: X[:, 0], X, feature_names=["a", "b"],
                columns=[{"name": "a"}, {"name": "z"}], method="lime")


def test_explanation_pickles_with_its_metadata():
    import pickle
    ex = Explanation(np.array([[0.5, -0.2]]), ["G2[NA1:NA|O](eta=1,r_s=2)", "psi"],
                     atom_indices=[(0,), (6, 8, 14, 16)],
                     columns=[{"name": "G2[NA1:NA|O](eta=1,r_s=2)", "kind": "acsf_g2",
                               "atoms": (0,), "center": (0,), "neighbors": "O",
                               "params": {"eta": 1.0, "r_s": 2.0, "r_cut": 6.0},
                               "group": "NA1:NA / O"},
                              {"name": "psi", "kind": "dihedral", "alias": "psi",
                               "atoms": (6, 8, 14, 16)}],
                     info={"seed": 3})
    back = pickle.loads(pickle.dumps(ex))
    np.testing.assert_array_equal(back.values, ex.values)
    assert back.columns == ex.columns and back.info["seed"] == 3
    assert back.grouped(by="group").feature_names == ("NA1:NA / O", "psi")


def test_saved_features_explain_like_fresh_ones(tmp_path, sincos_features):
    from mda_rcxai.features import load_features, save_features
    u, r = sincos_features
    save_features(tmp_path / "f.npz", r)
    back = load_features(tmp_path / "f.npz")
    X = back.features.astype(float)
    iphi = back.names.index("sin(phi)")
    kw = dict(method="shap", algorithm="kernel", max_samples=3, background_size=8, seed=0,
              atom_names=u)
    q = lambda X: X[:, iphi] - X[:, iphi + 1]  # noqa: E731
    a = explain(q, X, feature_names=back.names, columns=back.columns,
                atom_indices=back.atom_indices, **kw)
    b = explain(q, r.features.astype(float), feature_names=r.names, columns=r.columns,
                atom_indices=r.atom_indices, **kw)
    np.testing.assert_allclose(a.values, b.values)
    assert a.grouped(by="group").ranking[0] == "N-CA (phi)" == b.grouped(by="bond").ranking[0]

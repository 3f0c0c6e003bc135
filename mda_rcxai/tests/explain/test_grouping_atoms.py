"""Grouping by bond, per-atom values, PDB output, and the real alanine dipeptide features."""

import numpy as np
import pytest
import torch

from mda_rcxai.exceptions import InputError, InputTypeError
from mda_rcxai.explain import Explanation, bond_groups, compare, explain

# alanine dipeptide atom indices (bundled PDB, 0-based)
PHI = (4, 6, 8, 14)             # C-N-CA-C
H_N_CA_CB = (7, 6, 8, 10)
C_N_CA_CB = (4, 6, 8, 10)
PSI = (6, 8, 14, 16)            # N-CA-C-N
THETA = (5, 4, 6, 8)            # O-C-N-CA
OMEGA0 = (1, 4, 6, 8)           # CH3-C-N-CA
NAMES = ["phi", "ALA2:H-N-CA-CB", "ACE1:C-ALA2:N-ALA2:CA-ALA2:CB", "psi", "theta",
         "omega(ACE1)"]
ROWS = [PHI, H_N_CA_CB, C_N_CA_CB, PSI, THETA, OMEGA0]


def hidden_angle_data(seed=0, n=600):
    """One hidden angle a copied into three collinear features (all about N-CA)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    b, c, d = rng.normal(size=(3, n))
    X = np.column_stack([a, a + 0.01 * rng.normal(size=n), -a + 0.01 * rng.normal(size=n),
                         b, c, d])
    return X


def hidden_q(X):
    # 1.0 * a spread over three copies; psi (independent) has weight 0.6
    return (X[:, 0] + X[:, 1] - X[:, 2]) / 3 + 0.6 * X[:, 3] + 0.05 * X[:, 4]


@pytest.mark.parametrize("model_kind", ["callable", "torch"])
def test_grouped_hidden_angle_on_top(ala_atoms, model_kind):
    X = hidden_angle_data()
    if model_kind == "torch":
        model = torch.nn.Linear(6, 1)
        with torch.no_grad():
            model.weight.copy_(torch.tensor([[1 / 3, 1 / 3, -1 / 3, 0.6, 0.05, 0.0]]))
            model.bias.zero_()
    else:
        model = hidden_q
    ex = explain(model, X, feature_names=NAMES, atom_indices=ROWS, max_samples=40,
                 background_size=20, seed=0, atom_names=ala_atoms, n_samples=300)
    # single features: credit for the hidden angle is split three ways, psi wins
    assert ex.ranking[0] == "psi"
    g = ex.grouped(by="bond")
    assert g.ranking[0] == "N-CA (phi)"
    assert g.ranking[1] == "CA-C (psi)"
    assert set(g.feature_names) == {"N-CA (phi)", "CA-C (psi)", "C-N (theta/omega)"}
    assert g.members["N-CA (phi)"] == tuple(NAMES[:3])
    k = g.feature_names.index("N-CA (phi)")
    members = ex.values[:, :3].sum(axis=1)
    np.testing.assert_allclose(g.values[:, k], members)
    np.testing.assert_allclose(g.importance[k], np.abs(members).mean())
    assert g.importance[k] > 1.3 * ex.importance[3]
    assert g.atom_indices[k] == (6, 8)
    # additivity survives grouping
    np.testing.assert_allclose(g.values.sum(1), ex.values.sum(1))
    assert g.n_explained == ex.n_explained and np.array_equal(g.indices, ex.indices)


def test_bond_group_names_rules(ala_atoms):
    labels, atoms = bond_groups(NAMES + ["improper ACE1:C-ALA2:H-ALA2:N-ALA2:CA", "d"],
                                ROWS + [(4, 7, 6, 8), (0, 21)],
                                [str(n) for n in ala_atoms.atoms.names])
    assert labels[:3] == ["N-CA (phi)"] * 3
    assert labels[4:6] == ["C-N (theta/omega)"] * 2
    assert labels[6] == "improper ACE1:C-ALA2:H-ALA2:N-ALA2:CA"  # impropers stay alone
    assert labels[7] == "HH31-HH33 (d)"  # a distance: its pair (+ its name: no ':' or '-')
    assert atoms["HH31-HH33 (d)"] == (0, 21)
    # no atom names: indices
    assert bond_groups(["phi"], [PHI])[0] == ["6-8 (phi)"]
    # clashing names are qualified by residue (universe) or index (names only)
    two = ["omega(ACE1)", "omega(ALA2)"]
    rows = [OMEGA0, (8, 14, 16, 18)]
    ala_names = [str(n) for n in ala_atoms.atoms.names]
    lab = bond_groups(two, rows, ala_names)[0]
    assert lab == ["C4-N6 (omega(ACE1))", "C14-N16 (omega(ALA2))"]
    assert bond_groups(two, rows, ala_atoms)[0] == ["ACE1:C-ALA2:N (omega(ACE1))",
                                                    "ALA2:C-NME3:N (omega(ALA2))"]
    plain = bond_groups(["r:a-b-c-d", "r:e-f-g-h"], [(0, 4, 6, 1), (0, 14, 16, 1)], ala_names)[0]
    assert plain == ["C4-N6", "C14-N16"]
    qual = bond_groups(["r:a-b-c-d", "r:e-f-g-h"], [(0, 4, 6, 1), (0, 14, 16, 1)], ala_atoms)[0]
    assert qual == ["ACE1:C-ALA2:N", "ALA2:C-NME3:N"]


def test_grouped_by_user_mapping_and_errors():
    ex = Explanation(np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -0.5]]), ["a", "b", "c"],
                     atom_indices=[(0, 1), (1, 2), (5,)])
    g = ex.grouped(by={"a": "ab", "b": "ab"})
    assert g.feature_names == ("ab", "c")
    np.testing.assert_allclose(g.values, [[-1.0, 0.5], [4.0, -0.5]])
    assert g.atom_indices[0] == (0, 1, 2)
    g2 = ex.grouped(by=["g1", "g2", "g1"])
    np.testing.assert_allclose(g2.values[:, 0], [1.5, 2.5])
    with pytest.raises(InputError, match="not in this explanation"):
        ex.grouped(by={"zz": "q"})
    with pytest.raises(InputError, match="one per feature"):
        ex.grouped(by=["g1"])
    with pytest.raises(InputError, match="by='bond'"):
        ex.grouped(by="residue")
    with pytest.raises(InputError, match="atom_indices"):
        Explanation(np.zeros((1, 1)), ["a"]).grouped()


def test_per_atom_and_to_atomgroup_pdb(ala_atoms, tmp_path):
    import MDAnalysis as mda
    u = ala_atoms.copy()
    vals = np.array([[0.8, -0.4], [-0.8, 0.0]])  # importance 0.8, 0.2
    ex = Explanation(vals, ["phi", "omega(ACE1)"], atom_indices=[PHI, OMEGA0])
    expect = np.zeros(22)
    expect[list(PHI)] += 0.8 / 4
    expect[list(OMEGA0)] += 0.2 / 4
    np.testing.assert_allclose(ex.per_atom(22), expect)
    assert ex.per_atom(22).sum() == pytest.approx(ex.importance.sum())
    before = u.atoms.positions.copy()
    ag = ex.to_atomgroup(u, scale=100)
    np.testing.assert_allclose(ag.tempfactors, 100 * expect)
    assert ag.universe is u and len(ag) == 22
    np.testing.assert_array_equal(u.atoms.positions, before)  # only tempfactors change
    out = tmp_path / "explained.pdb"
    ag.write(str(out))
    back = mda.Universe(str(out))
    np.testing.assert_allclose(back.atoms.tempfactors, 100 * expect, atol=0.005)
    assert list(back.atoms.names) == list(u.atoms.names)
    assert back.atoms[8].name == "CA" and back.atoms[8].tempfactor == pytest.approx(
        100 * (0.2 + 0.05), abs=0.005)
    np.testing.assert_allclose(ex.to_atomgroup(u, scale="max").tempfactors,
                               100 * expect / expect.max())
    with pytest.raises(InputError, match="scale"):
        ex.to_atomgroup(u, scale="min")
    # an AtomGroup: only its atoms get (and return) values; it must hold the atoms that
    # carry importance (PHI and OMEGA0 span atoms 1..14)
    sub = u.atoms[1:15]
    assert ex.to_atomgroup(sub).tempfactors.tolist() == pytest.approx(expect[1:15].tolist())


def test_to_atomgroup_adds_tempfactors_and_checks_range():
    import MDAnalysis as mda
    u = mda.Universe.empty(5, trajectory=True)
    assert not hasattr(u.atoms, "tempfactors")
    ex = Explanation(np.array([[2.0]]), ["d"], atom_indices=[(1, 3)])
    ag = ex.to_atomgroup(u)
    assert ag.tempfactors.tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]
    small = mda.Universe.empty(3, trajectory=True)
    with pytest.raises(InputError, match="atom index 3 but the universe has 3 atoms"):
        ex.to_atomgroup(small)
    with pytest.raises(InputTypeError):
        ex.to_atomgroup(np.zeros(3))
    with pytest.raises(InputError, match="atom_indices"):
        Explanation(np.zeros((1, 1)), ["a"]).per_atom(3)


def test_to_dataframe(ala_atoms):
    ex = Explanation(np.array([[0.5, -0.1], [-0.7, 0.2]]), ["phi", "psi"],
                     atom_indices=[PHI, PSI], indices=[3, 9], data=[[1, 2], [3, 4]])
    df = ex.to_dataframe()
    assert list(df["feature"]) == ["phi", "psi"] and list(df["rank"]) == [1, 2]
    assert df.loc[0, "atoms"] == "4 6 8 14"
    assert df.loc[0, "mean_attribution"] == pytest.approx(-0.1)
    assert "method" not in df.columns and "selection" not in df.columns  # the pipeline adds them
    long = ex.to_dataframe(per_configuration=True)
    assert len(long) == 4 and list(long["index"]) == [3, 3, 9, 9]
    assert list(long["value"]) == [1, 2, 3, 4]


def test_alanine_dipeptide_features_grouped(ala_universe):
    """The real 45 dihedrals (and their sin/cos) with q = f(phi, theta): bonds N-CA, C-N top."""
    from mda_rcxai.features import DihedralFeatures
    ref = DihedralFeatures(ala_universe.atoms).run(step=4).results
    i_phi, i_th = ref.names.index("phi"), ref.names.index("theta")
    th = ref.features[:, i_th]
    th0, ths = np.mean(np.where(th < 0, th + 360, th)), np.std(np.where(th < 0, th + 360, th))

    for sincos in (False, True):
        r = DihedralFeatures(ala_universe.atoms, sincos=sincos).run(step=4).results

        def q(X, sincos=sincos, names=r.names):
            if sincos:
                phi = np.arctan2(X[:, names.index("sin(phi)")], X[:, names.index("cos(phi)")])
                t = np.degrees(np.arctan2(X[:, names.index("sin(theta)")],
                                          X[:, names.index("cos(theta)")]))
            else:
                phi, t = np.radians(X[:, names.index("phi")]), X[:, names.index("theta")]
            t = np.where(t < 0, t + 360, t)
            return 2.0 * np.sin(phi) + (t - th0) / ths

        ex = explain(q, r.features, feature_names=r.names, atom_indices=r.atom_indices,
                     groups=r.groups, atom_names=ala_universe, max_samples=8,
                     background_size=10, seed=0, n_samples=800)
        assert len(ex.feature_names) == 45
        g = ex.grouped(by="bond")
        assert g.ranking[:2] == ["N-CA (phi)", "C-N (theta/omega)"], g.ranking[:4]
        ag = g.to_atomgroup(ala_universe.copy())
        top = ag.atoms[np.argsort(-ag.tempfactors)[:2]]
        assert sorted(top.names) == ["CA", "N"]


def test_compare_grouped(ala_atoms):
    rng = np.random.default_rng(0)
    a = Explanation(rng.normal(size=(5, 6)) * [3, 0.1, 0.1, 1, 0.5, 0.2], NAMES,
                    atom_indices=ROWS, atom_names=ala_atoms)
    b = Explanation(rng.normal(size=(5, 6)) * [0.1, 3, 0.1, 1, 0.5, 0.2], NAMES,
                    atom_indices=ROWS)
    r = compare(a, b, top_k=1)
    assert not r["top1_agree"] and r["grouped_top1_agree"]
    assert r["grouped_top_k_shared"] == ["N-CA (phi)"]
    assert r["grouped_n_features"] == 3


def test_to_atomgroup_refuses_another_system_or_a_cut_atomgroup(ala_atoms):
    """Issue 23 case 6: another system's Universe, or an AtomGroup that drops feature atoms,
    is refused in one line saying what differs (was: silently annotated)."""
    import MDAnalysis as mda
    from mda_rcxai.data import NACL_WATER_PDB
    u = ala_atoms.copy()
    vals = np.array([[0.8, -0.4], [-0.8, 0.0]])
    ex = Explanation(vals, ["phi", "omega(ACE1)"], atom_indices=[PHI, OMEGA0],
                     atom_names=list(u.atoms.names))
    nacl = mda.Universe(NACL_WATER_PDB)
    with pytest.raises(InputError, match=r"atom 1 is named 'CH3' in the features' system but "
                                         r".* here \(5 of 5 feature atoms differ; the universe "
                                         r"has \d+ atoms but the features were computed on 22"):
        ex.to_atomgroup(nacl)
    # names given as a Universe: the atom count must match too
    ex_u = Explanation(vals, ["phi", "omega(ACE1)"], atom_indices=[PHI, OMEGA0], atom_names=u)
    bigger = mda.Merge(u.atoms, u.atoms)
    with pytest.raises(InputError, match="the universe has 44 atoms but the features were "
                                         "computed on 22"):
        ex_u.to_atomgroup(bigger)
    renamed = u.copy()
    renamed.atoms[6].name = "NX"
    with pytest.raises(InputError, match="atom 6 is named 'N' in the features' system but "
                                         "'NX' here"):
        ex.to_atomgroup(renamed)
    # an AtomGroup that leaves out atoms carrying importance
    with pytest.raises(InputError, match=r"the AtomGroup holds 10 of the universe's 22 atoms and "
                                         r"leaves out 1 atoms that carry importance \(indices 14;"
                                         r".*select_atoms"):
        ex.to_atomgroup(u.atoms[:10])
    assert len(ex.to_atomgroup(u)) == 22  # the matching universe still works

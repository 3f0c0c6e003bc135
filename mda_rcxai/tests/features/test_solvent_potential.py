"""SolventPotentialFeatures against OpenMM itself (the potential at atom i is dE/dq_i of a
NonbondedForce holding the solvent and atom i; the field is F_i / q_i) and against a
brute-force numpy sum over periodic images, on TIP3P boxes with Na+ and Cl- built by
OpenMM's Modeller: cubic and triclinic cells, molecules broken across the boundary."""

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.lib.mdamath import triclinic_box

from mda_rcxai.exceptions import InputError, RcxaiError
from mda_rcxai.features import SolventPotentialFeatures, charges_from_system
from mda_rcxai.features.solvent_potential import COULOMB_KJ_ANGSTROM
from mda_rcxai.tests.features.waterbox import make_nacl_box

TIP3P = {"O": -0.834, "H1": 0.417, "H2": 0.417, "NA": 1.0, "CL": -1.0}
RC = 7.0  # Angstrom; the 1.6 nm box allows < 8


def _charged(u):
    u.add_TopologyAttr("charges", np.array([TIP3P[n] for n in u.atoms.names]))
    return u


@pytest.fixture(scope="module")
def box():
    return _charged(make_nacl_box(n_frames=3, seed=2, box_nm=1.6))


# -- an independent reference: brute force over the 27 neighbouring cells ------------------
def _images(h):
    n = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)])
    return n @ h


def _numpy_reference(pos, h, c_idx, s_idx, q, kernel, dkernel, rc):
    """Potential and field (per solute atom) from the nearest image within rc."""
    shifts = _images(h)
    pot, field = [], []
    for i in c_idx:
        d = pos[i] - pos[s_idx]                                 # (n_s, 3)
        dd = d[:, None, :] + shifts[None, :, :]                 # every image
        r = np.linalg.norm(dd, axis=2)
        best = np.argmin(r, axis=1)
        d = dd[np.arange(len(d)), best]
        r = r[np.arange(len(d)), best]
        m = r < rc
        pot.append(COULOMB_KJ_ANGSTROM * np.sum(q[m] * kernel(r[m])))
        field.append(COULOMB_KJ_ANGSTROM * np.sum((q[m] * dkernel(r[m]))[:, None] * d[m], axis=0))
    return np.array(pot), np.array(field)


def _kernels(method, rc, eps=78.3):
    if method == "cutoff":
        return (lambda r: 1 / r), (lambda r: 1 / r ** 3)
    if method == "shifted":
        eps = 1.0
    krf = (eps - 1) / ((2 * eps + 1) * rc ** 3)
    crf = 1 / rc + krf * rc ** 2
    return (lambda r: 1 / r + krf * r * r - crf), (lambda r: 1 / r ** 3 - 2 * krf)


@pytest.mark.parametrize("method", ["cutoff", "shifted", "reaction_field"])
def test_cutoff_forms_match_numpy_sum_over_images(box, method):
    u = box
    ions, water = u.select_atoms("name NA CL"), u.select_atoms("resname HOH")
    res = SolventPotentialFeatures(ions, {"water": water}, method=method, cutoff=RC,
                                   field_bonds=[(0, 1)]).run().results
    assert res.names == ["V[NA1:NA|water]", "V[CL2:CL|water]", "E[NA1:NA-CL2:CL|water]"]
    assert [c.kind for c in res.columns] == ["solvent_potential"] * 2 + ["solvent_field"]
    assert res.columns[0].group == "NA1:NA / water" and res.columns[0].atoms == (0,)
    assert res.columns[0].unit == "kJ/mol/e"
    g, dg = _kernels(method, RC)
    q = u.atoms.charges[water.indices]
    for f, ts in enumerate(u.trajectory):
        h = np.diag(ts.dimensions[:3]).astype(np.float64)
        pos = u.atoms.positions.astype(np.float64)
        pot, fld = _numpy_reference(pos, h, ions.indices, water.indices, q, g, dg, RC)
        np.testing.assert_allclose(res.features[f, :2], pot, rtol=1e-6, atol=1e-6)
        bond = pos[1] - pos[0]
        bond -= h[0, 0] * np.round(bond / h[0, 0])
        ref_e = 0.5 * (fld[0] + fld[1]) @ (bond / np.linalg.norm(bond))
        assert res.features[f, 2] == pytest.approx(ref_e, rel=1e-6, abs=1e-6)


def _numpy_molecule_reference(pos, h, c_idx, residues, q_of, rc):
    """Plain Coulomb from whole residues whose first atom's nearest image is within rc."""
    shifts = _images(h)
    out = []
    for i in c_idx:
        v = 0.0
        for atoms in residues:
            d0 = pos[i] - pos[atoms[0]] + shifts
            r0 = np.linalg.norm(d0, axis=1)
            k = np.argmin(r0)
            if r0[k] >= rc:
                continue
            for a in atoms:
                da = pos[a] - pos[atoms[0]]
                da = (da[None] + shifts)[np.argmin(np.linalg.norm(da[None] + shifts, axis=1))]
                v += q_of[a] / np.linalg.norm(d0[k] - da)
        out.append(COULOMB_KJ_ANGSTROM * v)
    return np.array(out)


def test_molecule_cutoff_matches_numpy_and_is_blind_to_the_shift(box):
    u = box
    ions, water = u.select_atoms("name NA CL"), u.select_atoms("resname HOH")
    res = SolventPotentialFeatures(ions, water, method="cutoff", cutoff=RC,
                                   cutoff_by="molecule").run().results
    assert res.columns[0].param("cutoff_by") == "molecule"
    residues = [r.atoms.indices for r in water.residues]
    for f, ts in enumerate(u.trajectory):
        h = np.diag(ts.dimensions[:3]).astype(np.float64)
        ref = _numpy_molecule_reference(u.atoms.positions.astype(np.float64), h,
                                        ions.indices, residues, u.atoms.charges, RC)
        np.testing.assert_allclose(res.features[f], ref, rtol=1e-6)
    # neutral molecules: the -1/r_c shift cancels within each molecule
    shifted = SolventPotentialFeatures(ions, water, method="shifted", cutoff=RC,
                                       cutoff_by="molecule").run().results
    np.testing.assert_allclose(shifted.features, res.features, rtol=1e-9, atol=1e-8)
    with pytest.raises(InputError, match="cutoff_by='molecule' applies to the cutoff"):
        SolventPotentialFeatures(ions, water, method="ewald", cutoff_by="molecule")


# -- OpenMM as the reference -----------------------------------------------------------------
def _openmm_potential_and_field(u, probe, charged, method, rc_nm, box_vectors_nm,
                                tol=1e-6, delta=1e-3):
    """(dE/dq_i by central differences, F_i/q_i in kJ/mol/e/Angstrom) for each probe atom,
    with only ``charged`` atoms carrying their charges (intramolecular pairs excluded)."""
    openmm = pytest.importorskip("openmm")
    unit = pytest.importorskip("openmm.unit")
    q = u.atoms.charges
    charged = set(int(i) for i in charged)
    system, nb = openmm.System(), openmm.NonbondedForce()
    for k in range(len(u.atoms)):
        system.addParticle(1.0)
        nb.addParticle(float(q[k]) if k in charged else 0.0, 0.1, 0.0)
    for res in u.residues:
        a = [int(x) for x in res.atoms.indices]
        for x in range(len(a)):
            for y in range(x + 1, len(a)):
                nb.addException(a[x], a[y], 0.0, 0.1, 0.0)
    nb.setNonbondedMethod(method)
    nb.setCutoffDistance(rc_nm)
    nb.setEwaldErrorTolerance(tol)
    nb.setUseDispersionCorrection(False)
    system.addForce(nb)
    system.setDefaultPeriodicBoxVectors(*[openmm.Vec3(*v) for v in box_vectors_nm])
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(u.atoms.positions.astype(np.float64) / 10.0)
    pot, field = [], []
    kj = unit.kilojoule_per_mole
    for i in probe:
        i = int(i)
        e = {}
        for sign in (1, -1):
            nb.setParticleParameters(i, sign * delta, 0.1, 0.0)
            nb.updateParametersInContext(ctx)
            st = ctx.getState(getEnergy=True, getForces=True)
            e[sign] = st.getPotentialEnergy().value_in_unit(kj)
            if sign == 1:
                f = st.getForces(asNumpy=True)[i].value_in_unit(kj / unit.nanometer)
                field.append(np.asarray(f) / delta / 10.0)  # per Angstrom
        nb.setParticleParameters(i, 0.0, 0.1, 0.0)
        nb.updateParametersInContext(ctx)
        pot.append((e[1] - e[-1]) / (2 * delta))
    return np.array(pot), np.array(field)


def _assert_close_1pc(ours, ref):
    """Within 1 % of the reference's scale (measured agreement is ~1e-5)."""
    scale = np.max(np.abs(ref))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=0.01 * scale)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3 * scale)


def test_ewald_matches_openmm_ewald_and_pme_cubic(box):
    openmm = pytest.importorskip("openmm")
    u = box
    ions, water = u.select_atoms("name NA CL"), u.select_atoms("resname HOH")
    res = SolventPotentialFeatures(ions, {"water": water}, method="ewald", cutoff=RC,
                                   field_bonds=[(0, 1)]).run().results
    u.trajectory[0]
    L = u.dimensions[0] / 10.0
    vecs = np.eye(3) * L
    for method in (openmm.NonbondedForce.Ewald, openmm.NonbondedForce.PME):
        pot, field = _openmm_potential_and_field(u, ions.indices, water.indices, method,
                                                 RC / 10.0, vecs)
        _assert_close_1pc(res.features[0, :2], pot)
        bond = u.atoms.positions[1].astype(float) - u.atoms.positions[0]
        bond -= u.dimensions[0] * np.round(bond / u.dimensions[0])
        ref_e = 0.5 * (field[0] + field[1]) @ (bond / np.linalg.norm(bond))
        assert res.features[0, 2] == pytest.approx(ref_e, rel=1e-3)
    # the Ewald potential does not depend on the splitting beyond the truncation error
    other = SolventPotentialFeatures(ions, water, method="ewald", cutoff=5.0,
                                     ewald_tolerance=1e-6).run().results
    np.testing.assert_allclose(other.features[:, :2], res.features[:, :2], rtol=1e-4)
    # and it is not the plain cutoff sum (the test would be empty otherwise)
    plain = SolventPotentialFeatures(ions, water, method="cutoff", cutoff=RC).run().results
    assert np.max(np.abs(plain.features - res.features[:, :2])) > 1.0


def test_ewald_matches_openmm_in_a_triclinic_box_with_a_charged_solvent():
    """Triclinic (reduced) cell, atoms wrapped one by one into it (molecules broken), and
    a solvent with net charge -1 (water + Cl-): checks the neutralising-background term."""
    openmm = pytest.importorskip("openmm")
    u = _charged(make_nacl_box(n_frames=1, seed=5, box_nm=1.6, broken=False))
    L = 16.0
    h = np.array([[L, 0, 0], [4.0, L, 0], [-3.0, 4.0, L]])
    frac = u.atoms.positions.astype(np.float64) @ np.linalg.inv(h)
    pos = (frac - np.floor(frac)) @ h  # wrapped atom by atom
    u.atoms.positions = pos
    u.dimensions = triclinic_box(*h)
    probe = u.select_atoms("name NA")
    solvent = u.select_atoms("resname HOH or name CL")
    res = SolventPotentialFeatures(probe, solvent, method="ewald", cutoff=RC).run().results
    pot, _ = _openmm_potential_and_field(u, probe.indices, solvent.indices,
                                         openmm.NonbondedForce.PME, RC / 10.0, h / 10.0)
    _assert_close_1pc(res.features[0], pot)
    # without the background term the result would be off by pi Q / (V alpha^2)
    alpha = res.alpha
    shift = COULOMB_KJ_ANGSTROM * np.pi * 1.0 / (L ** 3 * alpha ** 2)
    assert shift > 0.02 * abs(pot[0])  # so the 1 % comparison above would catch it
    # cutoff form in the triclinic cell against the brute-force image sum
    g, dg = _kernels("cutoff", RC)
    cut = SolventPotentialFeatures(probe, solvent, method="cutoff", cutoff=RC).run().results
    ref, _ = _numpy_reference(pos, h, probe.indices, solvent.indices,
                              u.atoms.charges[solvent.indices], g, dg, RC)
    np.testing.assert_allclose(cut.features[0], ref, rtol=1e-6)


def test_broken_and_whole_molecules_give_the_same_values():
    whole = _charged(make_nacl_box(n_frames=2, seed=4, box_nm=1.6, broken=False))
    broken = _charged(make_nacl_box(n_frames=2, seed=4, box_nm=1.6, broken=True))
    for method, by in (("ewald", "atom"), ("reaction_field", "atom"), ("cutoff", "molecule")):
        a, b = (SolventPotentialFeatures(x.select_atoms("name NA CL"),
                                         x.select_atoms("resname HOH"), method=method,
                                         cutoff=RC, field_bonds=[(0, 1)],
                                         cutoff_by=by).run().results
                for x in (whole, broken))
        np.testing.assert_allclose(a.features, b.features, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("backend", ["multiprocessing", "dask"])
def test_backends_agree_with_serial(box, backend):
    ions, water = box.select_atoms("name NA CL"), box.select_atoms("resname HOH")
    kw = dict(method="ewald", cutoff=RC, field_bonds=[(0, 1)], ewald_tolerance=1e-4)
    serial = SolventPotentialFeatures(ions, water, **kw).run()
    par = SolventPotentialFeatures(ions, water, **kw).run(backend=backend, n_workers=2)
    np.testing.assert_allclose(par.results.features, serial.results.features, atol=1e-10)
    assert par.results.columns == serial.results.columns
    assert par.results.alpha == serial.results.alpha
    np.testing.assert_array_equal(par.frames, serial.frames)


def test_charges_from_openmm_system_match_the_force_field():
    openmm = pytest.importorskip("openmm")
    app = pytest.importorskip("openmm.app")
    u = make_nacl_box(n_frames=1, seed=0, box_nm=1.6)
    top = app.Topology()
    chain = top.addChain()
    for res in u.residues:
        r = top.addResidue(res.resname, chain)
        for a in res.atoms:
            top.addAtom(a.name, app.element.Element.getBySymbol(a.element), r)
    atoms = list(top.atoms())
    for i, j in u.bonds.indices:
        top.addBond(atoms[i], atoms[j])
    top.setPeriodicBoxVectors(np.eye(3) * 1.6)
    system = app.ForceField("amber14-all.xml", "amber14/tip3p.xml").createSystem(
        top, nonbondedMethod=app.PME, nonbondedCutoff=0.7)
    q = charges_from_system(system)
    np.testing.assert_allclose(q, [TIP3P[n] for n in u.atoms.names], atol=1e-6)
    ions, water = u.select_atoms("name NA CL"), u.select_atoms("resname HOH")
    a = SolventPotentialFeatures(ions, water, charges=system, cutoff=RC).run().results
    b = SolventPotentialFeatures(ions, water, charges=q[water.indices], cutoff=RC).run().results
    np.testing.assert_allclose(a.features, b.features)
    with pytest.raises(InputError, match="no NonbondedForce"):
        charges_from_system(openmm.System())


def test_without_box_the_cutoff_forms_use_plain_distances():
    u = mda.Universe.empty(3, trajectory=True)
    u.add_TopologyAttr("name", ["P", "A", "B"])
    u.atoms.positions = np.array([[0, 0, 0], [3, 0, 0], [0, 4, 0]], float)
    r = SolventPotentialFeatures(u.atoms[:1], u.atoms[1:], method="reaction_field",
                                 cutoff=10.0, charges=[0.0, 0.5, -0.5]).run().results
    krf = 77.3 / (157.6 * 1000.0)
    crf = 0.1 + krf * 100.0
    ref = COULOMB_KJ_ANGSTROM * (0.5 * (1 / 3 + krf * 9 - crf) - 0.5 * (1 / 4 + krf * 16 - crf))
    assert r.features[0, 0] == pytest.approx(ref, rel=1e-9)


def test_errors(box):
    ions, water = box.select_atoms("name NA CL"), box.select_atoms("resname HOH")
    with pytest.raises(InputError, match="method='pme' is not known"):
        SolventPotentialFeatures(ions, water, method="pme")
    with pytest.raises(InputError, match="share atoms"):
        SolventPotentialFeatures(ions, box.atoms)
    with pytest.raises(InputError, match="not below half the box"):
        SolventPotentialFeatures(ions, water, cutoff=9.0).run()
    with pytest.raises(InputError, match=r"charges has 5 values"):
        SolventPotentialFeatures(ions, water, charges=np.zeros(5))
    with pytest.raises(InputError, match=r"field_bonds\[0\]"):
        SolventPotentialFeatures(ions, water, field_bonds=[(0, 5)])
    bare = make_nacl_box(n_frames=1, seed=0, box_nm=1.6)
    with pytest.raises(RcxaiError, match="no partial charges"):
        SolventPotentialFeatures(bare.select_atoms("name NA"), bare.select_atoms("resname HOH"))
    u = mda.Universe.empty(2, trajectory=True)
    u.add_TopologyAttr("charges", [0.0, 1.0])
    with pytest.raises(InputError, match="needs a periodic box"):
        SolventPotentialFeatures(u.atoms[:1], u.atoms[1:]).run()


def test_explanations_put_a_potential_column_on_its_atom():
    """SHAP reads the column metadata: the group of a potential column is its atom's,
    and the annotated structure puts the importance on that atom (not on the waters)."""
    pytest.importorskip("shap")
    from mda_rcxai.explain import explain
    u = _charged(make_nacl_box(n_frames=24, seed=9, box_nm=1.6))
    r = SolventPotentialFeatures(u.select_atoms("name NA CL"), {"water": u.select_atoms(
        "resname HOH")}, cutoff=RC, ewald_tolerance=1e-4).run().results
    X = r.features
    ina = r.names.index("V[NA1:NA|water]")
    mu, sd = X[:, ina].mean(), X[:, ina].std()

    def q(X):  # the committor reads the potential at Na+ only
        return (X[:, ina] - mu) / sd
    ex = explain(q, X, feature_names=r.names, columns=r.columns, atom_indices=r.atom_indices,
                 method="shap", algorithm="kernel", max_samples=8, background_size=10, seed=0)
    g = ex.grouped(by="group")
    assert g.ranking[0] == "NA1:NA / water"
    for frame in (None, 2):
        kw = {} if frame is None else {"frame": frame}
        ag = ex.to_atomgroup(u, **kw)
        assert np.argmax(ag.tempfactors) == u.select_atoms("name NA")[0].index
        assert ag.tempfactors[u.select_atoms("resname HOH").indices].max() == 0.0
        np.testing.assert_allclose(ag.tempfactors.sum(), ex.importance.sum(), rtol=1e-9)

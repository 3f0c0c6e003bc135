"""States from MDAnalysis selections (Angstrom, degrees) -> StateDefinition."""

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.lib.distances import calc_angles, calc_bonds, calc_dihedrals

from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
from mda_rcxai.exceptions import InputError, InputTypeError, StateError
from mda_rcxai.systems import (ALANINE_DIPEPTIDE_STATES, PHI, PSI,
                               states_from_selections, validate_state_spec)

PHI_SEL = ["resid 1 and name C", "resid 2 and name N", "resid 2 and name CA",
           "resid 2 and name C"]
PSI_SEL = ["resid 2 and name N", "resid 2 and name CA", "resid 2 and name C",
           "resid 3 and name N"]
SPEC = {  # the example: the bundled states written as selections
    "C7eq": {"phi": {"atoms": PHI_SEL, "range": [-180, -50]},
             "psi": {"atoms": PSI_SEL, "range": [0, 200]}},
    "C7ax": {"phi": {"atoms": PHI_SEL, "range": [40, 100]},
             "psi": {"atoms": PSI_SEL, "range": [-110, 10]}},
}


@pytest.fixture(scope="module")
def u():
    return mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)


def test_selections_give_the_bundled_states(u):
    st = states_from_selections(u, SPEC)
    for name in ("C7eq", "C7ax"):
        assert st[name] == ALANINE_DIPEPTIDE_STATES[name]
        assert [f.atoms for f in st[name].features] == [PHI, PSI]
    # membership over the bundled trajectory, against MDAnalysis' dihedrals
    x = np.array([u.atoms.positions.copy() for _ in u.trajectory])
    ag = [u.atoms[list(i)] for i in (PHI, PSI)]
    phi, psi = (np.degrees(np.array([calc_dihedrals(*[a[k].position for k in
                                                      range(4)])
                                     for _ in u.trajectory])) for a in ag)
    ref_eq = (phi <= -50) & ((psi >= 0) | (psi <= -160))
    assert np.array_equal(st["C7eq"].contains(x / 10.0), ref_eq)
    assert 0 < ref_eq.sum() < len(x)


def test_wrapping_ranges_and_kinds(u):
    spec = {"A": {"psi": {"atoms": PSI_SEL, "range": [100, 200]},
                  "d": {"atoms": ["resid 1 and name O", "resid 3 and name H"],
                        "range": [1.5, 2.5]},
                  "ang": {"atoms": ["resid 1 and name C", "resid 2 and name N",
                                    "resid 2 and name CA"],
                          "range": [100, 140]}}}
    a = states_from_selections(u, spec)["A"]
    wrapped = states_from_selections(u, {"A": {"psi": {
        "atoms": PSI_SEL, "range": [100, -160]}}})["A"]
    assert a.ranges[0] == wrapped.ranges[0] == (100.0, 200.0)
    assert [f.kind for f in a.features] == ["dihedral", "distance", "angle"]
    assert a.ranges[1] == pytest.approx((0.15, 0.25))  # Angstrom -> nm
    assert a.units == ("degree", "nm", "degree")
    u.trajectory[0]
    pos = u.atoms.positions
    i, j = a.features[1].atoms
    k0, k1, k2 = a.features[2].atoms
    vals = a.values(pos / 10.0)[0]
    assert vals[1] * 10 == pytest.approx(calc_bonds(pos[i], pos[j]), abs=1e-4)
    assert vals[2] == pytest.approx(np.degrees(calc_angles(
        pos[k0], pos[k1], pos[k2])), abs=1e-3)


def test_selection_errors(u):
    bad = {"A": {"phi": {"atoms": ["name C", *PHI_SEL[1:]],
                         "range": [0, 10]}}}
    with pytest.raises(InputError, match=r"states.A.phi: selection 'name C' "
                                         r"matched 2 atoms"):
        states_from_selections(u, bad)
    none = {"A": {"d": {"atoms": ["name XX", "index 0"], "range": [0, 1]}}}
    with pytest.raises(InputError, match="'name XX' matched 0 atoms"):
        states_from_selections(u, none)
    syntax = {"A": {"d": {"atoms": ["resid and and", "index 0"],
                          "range": [0, 1]}}}
    with pytest.raises(InputError, match="not valid MDAnalysis syntax"):
        states_from_selections(u, syntax)
    same = {"A": {"d": {"atoms": ["index 0", "index 0"], "range": [0, 1]}}}
    with pytest.raises(InputError, match="same atom twice"):
        states_from_selections(u, same)
    overlap = {"A": {"phi": {"atoms": PHI_SEL, "range": [-180, -50]}},
               "B": {"phi": {"atoms": PHI_SEL, "range": [-60, 0]}}}
    with pytest.raises(StateError, match="overlap"):
        states_from_selections(u, overlap)
    with pytest.raises(InputTypeError, match="Universe"):
        states_from_selections("top.pdb", SPEC)
    boxed = {"A": {"d": {"atoms": ["index 0", "index 5"], "range": [12, 20]}}}
    with pytest.raises(InputError, match="half the shortest box length"):
        states_from_selections(u, boxed, box=[20, 20, 20, 90, 90, 90])


@pytest.mark.parametrize("spec, match", [
    ([], "table of states"),
    ({}, "empty"),
    ({"A": []}, "states.A must be a table"),
    ({"A": {"phi": {"atoms": PHI_SEL}}}, "states.A.phi.range is missing"),
    ({"A": {"phi": {"atoms": PHI_SEL, "range": [0, 10], "unit": "rad"}}},
     "unknown keys"),
    ({"A": {"phi": {"atoms": "name CA", "range": [0, 10]}}}, "list of 2, 3"),
    ({"A": {"phi": {"atoms": ["name CA"], "range": [0, 10]}}}, "1 selections"),
    ({"A": {"phi": {"atoms": [1, 2], "range": [0, 10]}}}, "selection strings"),
    ({"A": {"phi": {"atoms": PHI_SEL, "range": [0, "x"]}}}, "two numbers"),
    ({"A": {"phi": {"atoms": PHI_SEL, "range": [0, 10, 20]}}}, "two numbers"),
    ({"A": {"d": {"atoms": PHI_SEL[:2], "range": [3, 1]}}}, "lo > hi"),
    ({"A": {"d": {"atoms": PHI_SEL[:2], "range": [-1, 1]}}}, ">= 0 Angstrom"),
    ({"A": {"a": {"atoms": PHI_SEL[:3], "range": [0, 200]}}}, r"\[0, 180\]"),
    ({"A": {"phi": {"atoms": PHI_SEL, "range": [0, 400]}}}, "wider than 360"),
])
def test_validate_state_spec(spec, match):
    with pytest.raises((InputError, InputTypeError), match=match):
        validate_state_spec(spec)


def test_validate_state_spec_ok():
    out = validate_state_spec(SPEC)
    assert out["C7eq"]["psi"]["range"] == [0.0, 200.0]
    assert out["C7ax"]["phi"]["atoms"] == PHI_SEL

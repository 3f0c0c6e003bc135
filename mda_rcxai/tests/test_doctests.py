"""The Examples sections of the docstrings run as tests (they must stay true)."""

import doctest
import importlib

import pytest

MODULES = [
    "mda_rcxai.exceptions",
    "mda_rcxai.data",
    "mda_rcxai.study.config",
    "mda_rcxai.study.html",
    "mda_rcxai.features",
    "mda_rcxai.features._base",
    "mda_rcxai.features.dihedrals",
    "mda_rcxai.features.distances",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    import matplotlib
    matplotlib.use("Agg")
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0, f"no examples found in {name}"
    assert res.failed == 0, f"{res.failed} docstring example(s) failed in {name}"

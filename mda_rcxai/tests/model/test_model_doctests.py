"""The Examples sections of the model layer's docstrings run as tests."""

import doctest
import importlib

import pytest

MODULES = ["mda_rcxai.model", "mda_rcxai.model.loss", "mda_rcxai.model.committor",
           "mda_rcxai.model.metrics", "mda_rcxai.model.selection", "mda_rcxai.model.ensemble",
           "mda_rcxai.exceptions"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0, f"no examples found in {name}"
    assert res.failed == 0, f"{res.failed} docstring example(s) failed in {name}"

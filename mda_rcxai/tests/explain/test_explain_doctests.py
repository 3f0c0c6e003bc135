"""The Examples sections of mda_rcxai.explain run as tests."""

import doctest
import importlib

import pytest

MODULES = ["mda_rcxai.explain", "mda_rcxai.explain._core", "mda_rcxai.explain._explanation",
           "mda_rcxai.explain._plots"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    import matplotlib
    matplotlib.use("Agg")
    res = doctest.testmod(importlib.import_module(name),
                          optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0

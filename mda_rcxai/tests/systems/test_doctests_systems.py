"""The Examples sections of the systems and sampling docstrings run."""

import doctest
import importlib

import pytest

MODULES = [
    "mda_rcxai.systems",
    "mda_rcxai.systems.core",
    "mda_rcxai.systems.states",
    "mda_rcxai.systems.selection",
    "mda_rcxai.sampling.ops",
    "mda_rcxai.sampling.core",
    "mda_rcxai.sampling.replicas",
    "mda_rcxai.sampling.shooting",
    "mda_rcxai.sampling.initial",
    "mda_rcxai.sampling.harvest",
    "mda_rcxai.sampling.tps",
    "mda_rcxai.sampling.tps_fast",
    "mda_rcxai.sampling.progress",
    "mda_rcxai.sampling.paths",
    "mda_rcxai.sampling.dataset",
    "mda_rcxai.sampling.committor",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS
                          | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0, f"no examples found in {name}"
    assert res.failed == 0, f"{res.failed} docstring example(s) failed in {name}"

"""Every Examples section of the package runs as a test (one collector for all modules).

The modules are found by walking the package, so a new module's examples run
without being listed anywhere.
"""

import doctest
import importlib
import pkgutil

import pytest

import mda_rcxai

MODULES = sorted(m.name for m in pkgutil.walk_packages(mda_rcxai.__path__, "mda_rcxai.")
                 if ".tests" not in m.name)


def test_the_walk_finds_every_layer():
    for name in ("mda_rcxai.features.dihedrals", "mda_rcxai.model.committor",
                 "mda_rcxai.explain._explanation", "mda_rcxai.systems.core",
                 "mda_rcxai.sampling.dataset", "mda_rcxai.study.config", "mda_rcxai.fileio"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    import matplotlib
    matplotlib.use("Agg")
    res = doctest.testmod(importlib.import_module(name),
                          optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0, f"{res.failed} docstring example(s) failed in {name}"

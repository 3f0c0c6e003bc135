"""The scripts in examples/ run (small sizes) and give sensible results."""

import importlib.util
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_features_own_trajectory():
    backbone, every = _load("features_own_trajectory").main()
    assert backbone.results.names == ["omega(ACE1)", "phi", "psi", "omega(ALA2)"]
    assert every.results.features.shape == (1000, 90)


def test_tutorial_and_annotated_atomgroup(tmp_path):
    out = str(tmp_path / "tut")
    result = _load("tutorial").main(out, n_tps=100, n_configs=30, n_shots=6, seed=1)
    ex = result["shap", "global"]
    assert ex.values.shape[1] == 45 and np.all(np.isfinite(ex.values))
    assert os.path.getsize(os.path.join(out, "committor_fit.png")) > 5000
    important = _load("annotated_atomgroup").main(os.path.join(out, "explained.pdb"))
    assert len(important) >= 1


def test_tutorial_notebook_cells_run(tmp_path, monkeypatch):
    """The notebook's code cells run in order (sizes shrunk for the test)."""
    import json
    import matplotlib
    matplotlib.use("Agg")
    nb = json.load(open(os.path.join(ROOT, "examples", "tutorial.ipynb")))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    code = code.replace("n_steps=200", "n_steps=20").replace("harvest(tps, 150", "harvest(tps, 24")
    code = code.replace("max_samples=100", "max_samples=20")
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(code, "tutorial.ipynb", "exec"), ns)
    assert os.path.getsize(tmp_path / "explained.pdb") > 0
    assert ns["X"].shape[1] == 45

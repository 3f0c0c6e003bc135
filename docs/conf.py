"""Sphinx configuration for the mda_rcxai documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
import mda_rcxai  # noqa: E402

project = "mda_rcxai"
author = "The mda_rcxai developers"
copyright = "2026, The mda_rcxai developers"
release = mda_rcxai.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    # scikit-learn's generated metadata-routing methods (BaseEstimator) refer to its own glossary
    "exclude-members": "set_fit_request, set_score_request, set_predict_request, "
                       "set_predict_proba_request, set_predict_q_request, model_config, "
                       "model_fields, model_computed_fields",
}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"mda_rcxai {release}"
suppress_warnings = ["autosummary", "autodoc.import_object"]

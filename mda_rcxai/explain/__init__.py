"""Which features decide the reaction: SHAP and LIME attributions of ``q(x)``.

:func:`explain` runs the real ``shap`` (Deep, Gradient, Kernel, Permutation
or Partition explainers) or ``lime`` package on a fitted
:class:`~mda_rcxai.model.CommittorModel` (or any callable ``f(X) -> q``),
globally or on the transition-state ensemble (predicted ``p_B`` in a
window), and returns an immutable :class:`Explanation`: attributions per
configuration and feature, importance (mean ``|attribution|``), ranking,
grouping by rotatable bond or by the columns' metadata (``columns=``: e.g.
all symmetry functions of Na+ over water O), per-atom values for a PDB
(solvent descriptors on their centre and, for one frame, the waters they
count), a DataFrame and plots. :func:`compare` measures how well two explanations (SHAP vs LIME)
agree.

Which SHAP algorithm
--------------------
``method="shap"`` uses ``shap.DeepExplainer`` for torch-backed models: on
``CommittorModel.to_torch()`` (Linear + Tanh/ReLU/... layers, all handled by
shap 0.49's DeepExplainer) it runs with torch 2.13, is the fastest algorithm
and its values add up to ``f(x) - E_background[f]`` to float32 precision
(DeepLIFT's summation-to-delta), whereas ``shap.GradientExplainer``
(expected gradients) is stochastic and additive only on average. For any
other callable the default is ``shap.KernelExplainer`` (exactly additive
by construction); ``algorithm="permutation"`` is the alternative.
``method="shap-partition"`` gives Owen values over a correlation
clustering of the columns: prefer it for single-feature rankings when
features are strongly correlated (collinear dihedrals, sin/cos pairs);
prefer ``method="shap"`` followed by ``Explanation.grouped(by="bond")`` to
rank rotatable bonds.

Examples
--------
>>> import numpy as np
>>> from mda_rcxai.explain import explain
>>> X = np.random.default_rng(0).normal(size=(300, 5))
>>> f = lambda X: 3 * X[:, 1] - X[:, 4]
>>> ex = explain(f, X, method="lime", max_samples=5, seed=0, n_samples=300)
>>> ex.ranking[:2]
['x1', 'x4']
"""

from ._core import ALGORITHMS, METHODS, explain
from ._explanation import Explanation
from .agreement import compare
from .grouping import ALIAS_PRIORITY, GROUP_FIELDS, bond_groups, legacy_columns
from ._plots import plot_beeswarm, plot_committor_fit, plot_free_energy, plot_importance

__all__ = [
    "explain",
    "Explanation",
    "compare",
    "bond_groups",
    "plot_importance",
    "plot_beeswarm",
    "plot_committor_fit",
    "plot_free_energy",
    "METHODS",
    "ALGORITHMS",
    "ALIAS_PRIORITY",
    "GROUP_FIELDS",
    "legacy_columns",
]

from .uncertainty import importance_with_errors  # noqa: E402
__all__ += ["importance_with_errors"]

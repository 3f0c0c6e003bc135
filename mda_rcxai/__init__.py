"""mda_rcxai: explained reaction coordinates for MDAnalysis.

Transition path sampling and committor shooting (OpenPathSampling + OpenMM),
a neural-network reaction coordinate ``q`` with ``p_B = (1 + tanh q) / 2``,
and SHAP / LIME explanations mapped back onto atoms, after Kikutsuji et al.,
J. Chem. Phys. 156, 154108 (2022).

The layers are imported on demand so that ``import mda_rcxai.features`` stays
light (no torch, no OpenPathSampling)::

    from mda_rcxai.features import DihedralFeatures
    from mda_rcxai.model import CommittorModel
    from mda_rcxai.explain import explain
"""

__version__ = "0.1.0"

from .exceptions import RcxaiError  # noqa: F401

__all__ = ["__version__", "RcxaiError"]

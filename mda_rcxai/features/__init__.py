"""Features: MDAnalysis ``AnalysisBase`` classes that turn any trajectory into
internal coordinates for a reaction-coordinate model.

Imports only numpy, MDAnalysis and networkx, so it is fast and works without
torch or OpenPathSampling.

Examples
--------
>>> import MDAnalysis as mda
>>> from mda_rcxai.data import ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD
>>> from mda_rcxai.features import DihedralFeatures
>>> u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
>>> X = DihedralFeatures(u.atoms).run(backend="serial").results.features
>>> X.shape
(1000, 45)
"""

from ._base import bond_graph
from .dihedrals import DihedralFeatures, dihedral_alias, enumerate_dihedrals
from .build import FEATURE_KINDS, build_features, load_features, save_features
from .columns import FeatureColumn
from .distances import AngleFeatures, DistanceFeatures
from .solvent_potential import SolventPotentialFeatures, charges_from_system
from .solvent import (CoordinationFeatures, SymmetryFunctionFeatures, cosine_cutoff,
                      switching_function)

__all__ = ["DihedralFeatures", "DistanceFeatures", "AngleFeatures",
           "SymmetryFunctionFeatures", "CoordinationFeatures", "FeatureColumn",
           "switching_function", "cosine_cutoff", "build_features", "save_features",
           "load_features", "FEATURE_KINDS",
           "enumerate_dihedrals", "dihedral_alias", "bond_graph"]
__all__ += ["SolventPotentialFeatures", "charges_from_system"]

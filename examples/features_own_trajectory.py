"""Features from your own trajectory, with MDAnalysis' parallel backends.

Replace the bundled alanine dipeptide files by your topology (with bonds:
PSF, prmtop, TPR, PDB with CONECT; or guessable) and trajectory.

Run: ``python examples/features_own_trajectory.py``
"""

import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)


def main():
    import MDAnalysis as mda
    import numpy as np

    from mda_rcxai.data import ALANINE_DIPEPTIDE_DCD, ALANINE_DIPEPTIDE_PDB
    from mda_rcxai.features import AngleFeatures, DihedralFeatures, DistanceFeatures

    u = mda.Universe(ALANINE_DIPEPTIDE_PDB, ALANINE_DIPEPTIDE_DCD)
    protein = u.select_atoms("all")

    backbone = DihedralFeatures(protein, dihedrals="backbone").run()
    print("backbone dihedrals:", backbone.results.names)

    every = DihedralFeatures(protein, sincos=True).run(backend="multiprocessing", n_workers=2)
    print("all dihedrals as sin/cos:", every.results.features.shape,
          "groups:", np.unique(every.results.groups).size)

    dist = DistanceFeatures(protein, pairs="heavy", exclude_bonded=True).run(step=10)
    ang = AngleFeatures(protein, angles="heavy").run(step=10)
    print("heavy-atom distances:", dist.results.features.shape,
          "heavy-atom angles:", ang.results.features.shape)
    return backbone, every


if __name__ == "__main__":
    main()

"""Read the per-atom importance of a study in your own MDAnalysis script.

``explained.pdb`` (written by ``mda-rcxai demo`` or ``Explanation.to_atomgroup``)
carries the importance of each atom in the B-factor column.

Run: ``python examples/annotated_atomgroup.py demo_out/explained.pdb``
"""

import sys


def main(pdb):
    import MDAnalysis as mda

    u = mda.Universe(pdb)
    order = u.atoms.tempfactors.argsort()[::-1]
    for atom in u.atoms[order[:6]]:
        print(f"{atom.resname}{atom.resid}:{atom.name:4s} importance {atom.tempfactor:6.1f}")
    important = u.select_atoms("prop tempfactor > 50")
    print("atoms above half of the maximum:", " ".join(important.names))
    return important


if __name__ == "__main__":
    main(sys.argv[1])

"""Your own periodic system: alanine dipeptide in a TIP3P box, through committor shooting.

Builds the box with OpenMM's Modeller (amber14-all.xml + amber14/tip3p.xml,
PME), writes it as a PDB next to a study config with states from MDAnalysis
selections, and runs the study up to committor shooting with the command
line -- what you would do with your own solvated PDB. Small numbers so that
it finishes in about a minute on one core; raise them for a real study.

Run: ``python examples/own_system/water_box.py OUTDIR``
"""

import os
import sys

PHI = ["resid 1 and name C", "resid 2 and name N", "resid 2 and name CA", "resid 2 and name C"]

CONFIG = """\
workers = 1

[system]
pdb = "ala_water.pdb"
forcefield = ["amber14-all.xml", "amber14/tip3p.xml"]
nonbonded = "PME"
cutoff = 0.9
state_A = "A"
state_B = "B"

# two neighbouring ranges of phi, so that a 300 K path is found in seconds;
# the minimised start (phi about -76 degrees) lies well inside A
[states.A]
phi = {{ atoms = {phi}, range = [-100, -55] }}

[states.B]
phi = {{ atoms = {phi}, range = [-180, -120] }}

[tps]
n_steps = 3
initial_temperature = 400.0
max_path_frames = 200

[committor]
shots = 2
rounds = 1
first_round = 3
max_frames = 200
"""


def main(out):
    """Write ``out/ala_water.pdb`` and ``out/study.toml``; run ``mda-rcxai committor``."""
    from mda_rcxai.cli import main as cli
    from mda_rcxai.systems import alanine_dipeptide_in_water

    os.makedirs(out, exist_ok=True)
    alanine_dipeptide_in_water(pdb_out=os.path.join(out, "ala_water.pdb"), box_nm=2.0)
    cfg = os.path.join(out, "study.toml")
    with open(cfg, "w") as fh:
        fh.write(CONFIG.format(phi=str(PHI).replace("'", '"')))
    status = cli(["committor", "--config", cfg, "--out", os.path.join(out, "study"), "--quiet"])
    return status, os.path.join(out, "study")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "water_box_out")[0])

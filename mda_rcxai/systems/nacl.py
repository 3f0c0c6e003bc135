"""Na+ Cl- in TIP3P water: the bundled solvated system (OpenMM + numpy only).

Atom 0 is Na+, atom 1 is Cl-, then the waters (O, H1, H2 each). Positions
are in nm; the box is cubic and periodic (PME).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import InputError, InputTypeError
from .nacl_build import (CL_INDEX, NA_INDEX, NACL_CUTOFF_NM, NACL_FORCEFIELD,
                         add_distance_restraint, build_nacl_water, create_nacl_system,
                         minimum_image_distance, pdb_text)
from .states import StateDefinition

__all__ = ["nacl_water", "NACL_STATES", "NA_INDEX", "CL_INDEX",
           "NACL_FORCEFIELD", "NACL_CUTOFF_NM", "create_nacl_system",
           "add_distance_restraint", "minimum_image_distance"]

# ----------------------------------------------------------------------
# States (ranges from the PMF in mda_rcxai/data/nacl_pmf.txt; see
# docs/nacl.rst). Distances in nm, minimum image in the periodic box.
_CIP_RANGE_NM = (0.0, 0.30)
_SSIP_RANGE_NM = (0.46, 0.56)

_STATES_SOURCE = (
    "Na-Cl distance ranges (nm, minimum image) from the umbrella-sampling "
    "PMF of this box (mda_rcxai/data/nacl_pmf.txt, made by "
    "scripts/nacl_pmf.py): CIP minimum at 2.75 A, barrier at 3.55 A "
    "(4.9 kT above CIP), SSIP minimum at 5.05 A (0.6 kT above CIP). CIP = "
    "r <= 3.0 A (the contact well up to ~1.4 kT above its minimum); SSIP = "
    "4.6-5.6 A (the solvent-separated well within ~0.7 kT of its minimum); "
    "the 3.0-4.6 A gap holds the barrier.")

#: Stable states of the bundled NaCl box: contact (CIP) and
#: solvent-separated (SSIP) ion pair, on the Na-Cl distance in nm.
NACL_STATES = {
    "CIP": StateDefinition("CIP", [("distance", (NA_INDEX, CL_INDEX))],
                           [_CIP_RANGE_NM], description=_STATES_SOURCE),
    "SSIP": StateDefinition("SSIP", [("distance", (NA_INDEX, CL_INDEX))],
                            [_SSIP_RANGE_NM], description=_STATES_SOURCE),
}

_DESCRIPTION = """\
Na+ and Cl- in a cubic box of TIP3P water (OpenMM amber14-all.xml +
amber14/tip3p.xml, Joung-Cheatham ions), PME with a 0.9 nm cutoff, bonds to
H constrained, rigid water; equilibrated at 300 K and 1 bar, then NVT
(scripts/make_nacl_water.py; recipe: mda_rcxai.systems.nacl_build).
Atom 0 is Na+, atom 1 Cl-.
States on the minimum-image Na-Cl distance r: CIP (contact ion pair) and
SSIP (solvent-separated ion pair), chosen from the potential of mean force
w(r) computed for this box by umbrella sampling + WHAM
(scripts/nacl_pmf.py, table mda_rcxai/data/nacl_pmf.txt); a gap is
left around the barrier between them.
Expected from the literature (Geissler, Dellago and Chandler, J. Phys.
Chem. B 103, 3706 (1999)): r alone is not a good reaction coordinate;
configurations at the top of w(r) have committors spread from 0 to 1, and
the solvent (the number of water molecules coordinating the ions, in
particular Na+) decides whether the pair separates. Measured on this box
(scripts/nacl_pmf.py --committor): 20 configurations at r = 3.50-3.59 A
(the PMF top) had p_SSIP from 0.1 to 1.0 (10 shots each). Okada et al.
(arXiv:2512.09468) found water-oxygen coordination of Na+ and the waters
bridging both ions among the decisive descriptors."""


def _description(marks=None):
    text = _DESCRIPTION
    cip = tuple(10 * x for x in _CIP_RANGE_NM)
    ssip = tuple(10 * x for x in _SSIP_RANGE_NM)
    text += (f"\nCIP: r in [{cip[0]:.1f}, {cip[1]:.1f}] A; SSIP: r in "
             f"[{ssip[0]:.1f}, {ssip[1]:.1f}] A.")
    if marks:
        text += (f" PMF: CIP minimum at {marks['r_cip']:.2f} A, barrier at "
                 f"{marks['r_ts']:.2f} A ({marks['barrier_kT']:.1f} kT above "
                 f"CIP), SSIP minimum at {marks['r_ssip']:.2f} A "
                 f"({marks['ssip_kT']:+.1f} kT).")
    return text


def _pmf_marks():
    from ..data import NACL_PMF_TXT
    import os
    if not os.path.exists(NACL_PMF_TXT):
        return None
    from .nacl_pmf import read_table
    t = read_table(NACL_PMF_TXT)
    keys = ("r_cip", "r_ts", "barrier_kT", "r_ssip", "ssip_kT")
    return {k: t[k] for k in keys} if all(k in t for k in keys) else None


def nacl_water(box_nm: float | None = None, *, seed: int = 2026,
               platform: str = "CPU"):
    """Na+ Cl- in TIP3P water (PME, periodic cube) with states CIP and SSIP.

    Parameters
    ----------
    box_nm : float or None
        None (default): the bundled, equilibrated box (245 waters, 737
        atoms, side 1.954 nm, ions in contact). A number: build a new box of
        that side with :func:`mda_rcxai.systems.nacl_build.build_nacl_water`
        (Modeller, minimisation, NVT/NPT/NVT equilibration, about 40 ps of
        MD: minutes on one core); the final side is a few percent smaller
        after NPT. At least 1.95 nm (the 0.9 nm cutoff must stay below half
        the box).
    seed : int
        Seed of the equilibration when ``box_nm`` is given (ignored
        otherwise).
    platform : str
        OpenMM platform for that equilibration ("CPU", "CUDA", ...).

    Returns
    -------
    MolecularSystem
        Name ``"nacl_water"``; ``box_vectors`` (nm), ``description``
        (the system, the states and what the literature expects), states
        ``"CIP"`` and ``"SSIP"`` on the distance between atoms 0 (Na+) and
        1 (Cl-) in nm (see :data:`NACL_STATES`).

    Raises
    ------
    InputError
        ``box_nm`` not a number or too small.

    Examples
    --------
    >>> from mda_rcxai.systems import nacl_water
    >>> s = nacl_water()
    >>> s.n_atoms, s.periodic, sorted(s.states)
    (737, True, ['CIP', 'SSIP'])
    >>> bool(s.states["CIP"].contains(s.positions)[0])
    True
    """
    from ..data import NACL_WATER_PDB
    from .core import from_pdb_and_forcefield
    if box_nm is None:
        s = from_pdb_and_forcefield(NACL_WATER_PDB, list(NACL_FORCEFIELD),
                                    NACL_STATES, nonbonded="PME",
                                    cutoff_nm=NACL_CUTOFF_NM,
                                    constraints="HBonds", name="nacl_water")
        s.source = {"loader": "nacl_water", "pdb": NACL_WATER_PDB,
                    "box_nm": None}
    else:
        if isinstance(box_nm, bool) or not isinstance(
                box_nm, (int, float, np.integer, np.floating)):
            raise InputTypeError(f"box_nm must be a number (nm) or None, "
                                 f"got {type(box_nm).__name__}")
        if not np.isfinite(box_nm) or box_nm < 1.95:
            raise InputError(
                f"box_nm={box_nm} is too small: the 0.9 nm PME cutoff must "
                "stay below half the box after NPT; use box_nm >= 1.95 or "
                "None for the bundled box")
        import os
        import tempfile

        top, pos, info = build_nacl_water(float(box_nm), seed,
                                          platform=platform)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "nacl_water.pdb")
            with open(path, "w") as fh:
                fh.write(pdb_text(top, pos))
            s = from_pdb_and_forcefield(path, list(NACL_FORCEFIELD),
                                        NACL_STATES, nonbonded="PME",
                                        cutoff_nm=NACL_CUTOFF_NM,
                                        constraints="HBonds",
                                        name="nacl_water")
        s.pdb_path = None
        s.source = {"loader": "nacl_water", "box_nm": float(box_nm),
                    "seed": int(seed), "final_box_nm": info["box_nm"],
                    "n_waters": info["n_waters"],
                    "r_nacl_nm": info["r_nacl_nm"],
                    "potential_kj_mol": info["potential_kj_mol"]}
    s.force_field = "amber14-all.xml+amber14/tip3p.xml"
    s.description = _description(_pmf_marks())
    return s

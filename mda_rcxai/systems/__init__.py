"""OpenMM systems and stable-state definitions (OpenMM + numpy only).

* :func:`alanine_dipeptide` -- the bundled ACE-ALA-NME, vacuum, amber99sb,
  with states ``C7eq`` and ``C7ax`` on phi/psi;
* :func:`from_pdb_and_forcefield`, :func:`from_amber`,
  :func:`from_system_xml` -- your own system;
* :func:`states_from_selections` -- states from MDAnalysis selections
  (the one module here that imports MDAnalysis);
* :class:`StateDefinition` -- a state as a box on dihedrals, angles or
  distances (periodic dihedrals handled).

Positions are in nm here (OpenMM's unit); the sampling layer converts to
Angstrom for MDAnalysis.

Examples
--------
>>> from mda_rcxai.systems import alanine_dipeptide
>>> s = alanine_dipeptide()
>>> s.states["C7eq"].contains(s.positions).tolist()
[True]
"""

from .core import (ALANINE_DIPEPTIDE_DESCRIPTION, ALANINE_DIPEPTIDE_STATES,
                   IMPLICIT_SOLVENTS, NONBONDED_METHODS, PHI, PSI, THETA,
                   MolecularSystem,
                   alanine_dipeptide, alanine_dipeptide_in_water,
                   from_amber, from_pdb_and_forcefield,
                   from_system_xml, platform_properties)
from .states import (Feature, StateDefinition, check_states, dihedral_degrees,
                     minimum_image)
from .nacl import NACL_STATES, nacl_water
from .alanine_water import ALANINE_WATER_STATES, PAPER_ATOM_NAMES, alanine_dipeptide_water

__all__ = [
    "MolecularSystem", "StateDefinition", "Feature", "alanine_dipeptide",
    "from_pdb_and_forcefield", "from_amber", "from_system_xml",
    "check_states", "dihedral_degrees", "ALANINE_DIPEPTIDE_STATES",
    "ALANINE_DIPEPTIDE_DESCRIPTION", "IMPLICIT_SOLVENTS", "NONBONDED_METHODS",
    "PHI", "PSI", "THETA", "states_from_selections", "validate_state_spec",
    "alanine_dipeptide_in_water", "minimum_image", "platform_properties",
]
__all__ += ["nacl_water", "NACL_STATES"]
__all__ += ["alanine_dipeptide_water", "ALANINE_WATER_STATES", "PAPER_ATOM_NAMES"]


def __getattr__(name):  # MDAnalysis is imported only when selections are used
    if name in ("states_from_selections", "validate_state_spec"):
        from . import selection
        return getattr(selection, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

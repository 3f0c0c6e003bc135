"""The bundled systems: one registry that the command line, the config and the study read.

Each entry says how to build the system, its reactant and product, the
feature kinds its study uses by default, the named baselines and head-to-head
comparisons of the validation, its naive coordinate, the first axis of the
report's free-energy surface, and the package file with its study defaults.
What the literature expects of it (its "expected answer") is part of the
built system's ``description``, which the report quotes.

This module imports nothing heavy: the builder is named, and imported only by
:meth:`BundledSystem.build`.

Examples
--------
>>> sorted(BUNDLED)
['alanine_dipeptide', 'alanine_water', 'nacl_water']
>>> BUNDLED["nacl_water"].states
('CIP', 'SSIP')
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

__all__ = ["BundledSystem", "BUNDLED", "DEFAULT_SYSTEM"]


@dataclass(frozen=True)
class BundledSystem:
    """What the package knows about one bundled system.

    Attributes
    ----------
    name : str
        ``[system] name`` and ``mda-rcxai demo --system``.
    builder : str
        ``"module:function"`` returning the :class:`~mda_rcxai.systems.MolecularSystem`.
    states : tuple of str
        ``(state_A, state_B)``: reactant and product.
    feature_kinds : tuple of str
        ``[features] kind`` of its study defaults.
    baselines : dict
        Named feature sets (name -> feature names, aliases or groups) whose
        held-out log-likelihood the validation reports.
    comparisons : tuple of tuple
        Pairs of those baselines compared head to head.
    naive : tuple of str or None
        Features of the naive coordinate whose committor test runs beside the
        learned one's.
    fes_axis : str or None
        Feature on the first axis of the report's free-energy surface (None:
        the top-ranked group's).
    config : str or None
        File in :mod:`mda_rcxai.data` with its study defaults (None: the
        defaults of :class:`~mda_rcxai.study.config.StudyConfig`).
    pull : bool
        Its states lie on one distance or one dihedral, so ``[tps]
        initial_path = "pull"`` (:func:`mda_rcxai.sampling.pull_initial_path`)
        applies.
    plus_top_solvent : str or None
        A baseline to which the validation adds the top-ranked solvent
        column (SHAP at the transition state, else global; see
        :func:`~mda_rcxai.study.validate.top_solvent_column`), as the set
        ``"<baseline> + top solvent: <column>"``, compared head to head with
        the baseline alone.
    """

    name: str
    builder: str
    states: tuple
    feature_kinds: tuple
    baselines: dict = field(default_factory=dict)
    comparisons: tuple = ()
    naive: tuple | None = None
    fes_axis: str | None = None
    config: str | None = None
    pull: bool = False
    plus_top_solvent: str | None = None

    def build(self):
        """The system (:class:`~mda_rcxai.systems.MolecularSystem`), from its builder."""
        module, func = self.builder.split(":")
        return getattr(importlib.import_module(module), func)()


#: The bundled system a study uses when its config names none.
DEFAULT_SYSTEM = "alanine_dipeptide"

#: Every bundled system, by name.
BUNDLED = {s.name: s for s in (
    BundledSystem(
        name="alanine_dipeptide", builder="mda_rcxai.systems:alanine_dipeptide",
        states=("C7eq", "C7ax"), feature_kinds=("dihedrals",),
        baselines={"phi": ["phi"], "phi + psi": ["phi", "psi"],
                   "phi + theta": ["phi", "theta"]},
        comparisons=(("phi + theta", "phi + psi"),), naive=("phi",)),
    BundledSystem(
        name="nacl_water", builder="mda_rcxai.systems:nacl_water",
        states=("CIP", "SSIP"), feature_kinds=("acsf", "coordination"),
        baselines={"distance": ["d[NA1:NA-CL2:CL]"]}, naive=("d[NA1:NA-CL2:CL]",),
        fes_axis="d[NA1:NA-CL2:CL]", config="nacl_water.toml", pull=True),
    BundledSystem(
        name="alanine_water", builder="mda_rcxai.systems:alanine_dipeptide_water",
        states=("C7eq", "C7ax"), feature_kinds=("dihedrals", "solvent_potential"),
        # does the solvent add to the vacuum answer? phi + theta against phi + theta + the
        # potential of the water at H18 (Kawashima et al.'s column); the report ranks the
        # top solvent column the study itself finds
        baselines={"phi + theta": ["phi", "theta"],
                   "phi + theta + V[H18]": ["phi", "theta", "V[H18|water]"]},
        comparisons=(("phi + theta + V[H18]", "phi + theta"),), naive=("phi",),
        fes_axis="phi", config="alanine_water.toml", pull=True,
        plus_top_solvent="phi + theta"),
)}

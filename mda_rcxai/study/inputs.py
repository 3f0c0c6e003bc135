"""From a study config to the objects the stages use: the system, its states, the features.

Everything here runs in seconds and before any simulation, so that a bad
config (a missing force-field file, a selection that matches two atoms,
overlapping states) ends in a one-line error instead of a traceback after
minutes of sampling.

Examples
--------
>>> from mda_rcxai.study.config import StudyConfig
>>> from mda_rcxai.study.inputs import build_system
>>> system = build_system(StudyConfig())
>>> system.name, sorted(system.states)
('alanine_dipeptide', ['C7ax', 'C7eq'])
"""

from __future__ import annotations

import numpy as np

from .bundled import BUNDLED
from .config import SOLUTE_SELECTION, StudyConfig
from ..exceptions import InputError, RcxaiError

__all__ = ["build_system", "state_names", "topology_universe", "featurize",
           "feature_options", "bundled_baselines", "check_features", "baseline_columns",
           "check_scheduler", "SOLUTE_SELECTION"]



def state_names(cfg: StudyConfig) -> tuple[str, str]:
    """``(state_A, state_B)`` of a study: the config's, else the bundled system's defaults.

    Examples
    --------
    >>> from mda_rcxai.study.config import StudyConfig
    >>> state_names(StudyConfig())
    ('C7eq', 'C7ax')
    """
    s = cfg.system
    if s.state_A is not None:
        return s.state_A, s.state_B
    return BUNDLED[s.bundled_name].states


def _load(cfg: StudyConfig):
    from .. import systems

    s = cfg.system
    opts = {}
    if s.nonbonded is not None:
        opts["nonbonded"] = s.nonbonded
    if s.cutoff is not None:
        opts["cutoff_nm"] = s.cutoff
    constraints = None if s.constraints == "none" else s.constraints
    if s.source == "bundled":
        return BUNDLED[s.bundled_name].build()
    if s.source == "amber":
        return systems.from_amber(s.prmtop, s.inpcrd, implicit_solvent=s.implicit_solvent,
                                  constraints=constraints, **opts)
    if s.source == "pdb":
        return systems.from_pdb_and_forcefield(s.pdb, list(s.forcefield),
                                               constraints=constraints, **opts)
    return systems.from_system_xml(s.system_xml, s.pdb)


def topology_universe(cfg: StudyConfig, system=None):
    """An MDAnalysis Universe with the system's atoms, bonds and starting positions (Angstrom).

    Parameters
    ----------
    cfg : StudyConfig
    system : MolecularSystem, optional
        Already built (default: :func:`build_system` without states).

    Returns
    -------
    MDAnalysis.Universe
    """
    from ..sampling import universe_from_system

    system = system if system is not None else _load(cfg)
    return universe_from_system(system, np.asarray(system.positions)[None] * 10.0)


def build_system(cfg: StudyConfig):
    """The :class:`~mda_rcxai.systems.MolecularSystem` a config describes, with its states.

    States given under ``[states]`` (MDAnalysis selections, Angstrom and
    degrees) replace a bundled system's own. Raises :class:`InputError`
    naming the key for anything that does not fit (missing force-field
    file, selection matching 0 or 2 atoms, overlapping states, cutoff above
    half the box, ...).

    Parameters
    ----------
    cfg : StudyConfig

    Returns
    -------
    MolecularSystem

    Examples
    --------
    >>> from mda_rcxai.study.config import StudyConfig
    >>> build_system(StudyConfig()).n_atoms
    22
    """
    try:
        system = _load(cfg)
    except RcxaiError as err:
        raise InputError(f"config: [system]: {err}") from None
    if cfg.states:
        from ..systems import states_from_selections

        u = topology_universe(cfg, system)
        spec = {name: {v: var.model_dump() for v, var in vars_.items()}
                for name, vars_ in cfg.states.items()}
        try:
            states = states_from_selections(u, spec)
        except RcxaiError as err:
            raise InputError(f"config: [states]: {err}") from None
        system = system.with_states(states)
    a, b = state_names(cfg)
    for key, name in (("state_A", a), ("state_B", b)):
        if name not in system.states:
            raise InputError(f"config: [system] {key} = {name!r} is not a state of "
                             f"{system.name} (have {sorted(system.states)}); define it under "
                             f"[states.{name}]")
    from ..systems import check_states
    try:
        check_states(system.states, [a, b], system.n_atoms)
    except RcxaiError as err:
        raise InputError(f"config: [states]: {err}") from None
    if cfg.tps.initial_path == "pull" and cfg.tps.pull_to is not None:
        _check_pull_to(cfg.tps.pull_to, system, a, b)
    return system


def _check_pull_to(pull_to, system, a, b):
    """``[tps] pull_to`` must lie between the two states: Angstrom on a distance, degrees on a
    dihedral (either gap between the two ranges)."""
    if system.states[a].features[0].kind == "dihedral":
        from ..sampling.initial import _dihedral_gaps
        gaps = _dihedral_gaps(system.states[a].ranges[0], system.states[b].ranges[0])
        if not any(0.0 < (pull_to - start) % 360.0 < width for start, width, _ in gaps):
            start, width, _ = max(gaps, key=lambda g: g[1])
            mid = (start + 0.5 * width + 180.0) % 360.0 - 180.0
            raise InputError(
                f"config: [tps] pull_to = {pull_to} degrees lies inside state {a} or {b}, not "
                f"between them; give an angle between them, e.g. {mid:.1f} (midway across the "
                "wider gap, the default when left out)")
        return
    (lo_a, hi_a), (lo_b, hi_b) = (np.asarray(system.states[s].ranges[0], float) * 10.0
                                  for s in (a, b))
    (n1, r1), (n2, r2) = sorted([(a, (lo_a, hi_a)), (b, (lo_b, hi_b))], key=lambda t: t[1][0])
    if not r1[1] < pull_to < r2[0]:
        raise InputError(
            f"config: [tps] pull_to = {pull_to} Angstrom is not between the states ({n1}: "
            f"{r1[0]:.2f}-{r1[1]:.2f}, {n2}: {r2[0]:.2f}-{r2[1]:.2f} Angstrom); give a distance "
            f"between them, e.g. {0.5 * (r1[1] + r2[0]):.2f} (midway, the default when left out)")


def bundled_baselines(cfg: StudyConfig) -> dict:
    """The bundled system's baseline feature sets (name -> feature names); empty otherwise.

    Examples
    --------
    >>> from mda_rcxai.study.config import StudyConfig
    >>> sorted(bundled_baselines(StudyConfig()))
    ['phi', 'phi + psi', 'phi + theta']
    """
    b = _bundled_defaults(cfg)
    return {k: list(v) for k, v in b.baselines.items()} if b else {}


def bundled_comparisons(cfg: StudyConfig) -> list:
    """Pairs of :func:`bundled_baselines` sets that the validation compares head to head.

    Examples
    --------
    >>> from mda_rcxai.study.config import StudyConfig
    >>> bundled_comparisons(StudyConfig())
    [('phi + theta', 'phi + psi')]
    """
    b = _bundled_defaults(cfg)
    return list(b.comparisons) if b else []


def naive_coordinate(cfg: StudyConfig):
    """Feature names of the naive coordinate whose committor test runs beside the learned one.

    ``[validation] naive`` when given (``[]``: none); else the bundled
    system's (alanine dipeptide: phi; NaCl in water: the Na-Cl distance)
    with its default features; else None.

    Examples
    --------
    >>> from mda_rcxai.study.config import StudyConfig
    >>> naive_coordinate(StudyConfig())
    ['phi']
    >>> naive_coordinate(StudyConfig.from_dict({"validation": {"naive": []}})) is None
    True
    """
    given = cfg.validation.naive
    if given is not None:
        return list(given) or None
    b = _bundled_defaults(cfg)
    return list(b.naive) if b and b.naive else None


def fes_axis(cfg: StudyConfig):
    """Feature name for the first axis of the report's free-energy surface, or None.

    For ``nacl_water`` the interionic distance, so that the report shows the
    free energy over the distance and the top solvent descriptor.
    """
    name = cfg.system.bundled_name
    return BUNDLED[name].fes_axis if name else None


def _bundled_defaults(cfg: StudyConfig):
    """The bundled system's registry entry when the study keeps its states and feature
    kinds (its named feature sets only exist then), else None."""
    name = cfg.system.bundled_name
    if name is None or cfg.states or list(cfg.features.kind) != list(BUNDLED[name].feature_kinds):
        return None
    return BUNDLED[name]


def feature_options(cfg: StudyConfig) -> dict:
    """Keyword options of :func:`mda_rcxai.features.build_features` from ``[features]``.

    With ``kind = "solvent_potential"`` also ``charges`` (from the study's
    OpenMM System: the universes of a study carry no charges) and the
    potential's method and cutoff.

    Examples
    --------
    >>> from mda_rcxai.study.config import StudyConfig
    >>> feature_options(StudyConfig())["kinds"]
    ('dihedrals',)
    """
    f = cfg.features
    opts = {"kinds": tuple(f.kind), "dihedrals": f.dihedrals, "sincos": f.sincos,
            "pairs": f.pairs, "centers": f.centers, "neighbors": dict(f.neighbors),
            "r_cut": f.r_cut, "g2": [tuple(p) for p in f.g2],
            "g5": [tuple(p) for p in f.g5], "r0": f.r0}
    if "solvent_potential" in f.kind:
        opts.update(potential_method=f.potential_method, potential_cutoff=f.potential_cutoff,
                    potential_cutoff_by=f.potential_cutoff_by, charges=_charges(cfg))
    return opts


_CHARGES = {}


def _charges(cfg: StudyConfig):
    """Partial charges (e) of the study's System, one per atom (built once per system)."""
    from ..features import charges_from_system

    key = cfg.system.model_dump_json()
    if key not in _CHARGES:
        _CHARGES.clear()
        _CHARGES[key] = charges_from_system(_load(cfg).system)
    return _CHARGES[key]


def _center_labels(cfg: StudyConfig, universe):
    """``[features] center_labels = "paper"``: the papers' names of the centre atoms."""
    from ..systems import PAPER_ATOM_NAMES

    if cfg.system.bundled_name not in ("alanine_dipeptide", "alanine_water"):
        raise InputError("config: [features] center_labels = 'paper' names the atoms of the "
                         "bundled alanine dipeptide (H1..H22); this system is not it; leave "
                         "the key out")
    try:
        idx = universe.select_atoms(cfg.features.centers).indices
    except Exception as err:  # MDAnalysis raises SelectionError/ValueError
        raise InputError(f"config: [features] centers = {cfg.features.centers!r} is not a valid "
                         f"MDAnalysis selection ({err})") from None
    if len(idx) == 0 or idx.max() >= len(PAPER_ATOM_NAMES):
        raise InputError(f"config: [features] center_labels = 'paper' names the 22 solute "
                         f"atoms only; centers = {cfg.features.centers!r} selects others; "
                         "select solute atoms (e.g. 'resname ACE ALA NME') or leave the key out")
    return [PAPER_ATOM_NAMES[i] for i in idx]


def featurize(cfg: StudyConfig, universe):
    """Features of every frame of ``universe`` as ``[features]`` asks.

    Parameters
    ----------
    cfg : StudyConfig
    universe : MDAnalysis.Universe
        The system's atoms (with bonds) and the frames to describe.

    Returns
    -------
    MDAnalysis.analysis.results.Results
        ``features`` ``(n_frames, n_features)``, ``names``, ``atom_indices``,
        ``groups``, ``columns`` (structured metadata per column).
    """
    from ..features import build_features

    sel = cfg.features.selection or SOLUTE_SELECTION
    if not {"dihedrals", "distances", "angles"} & set(cfg.features.kind):
        sel = cfg.features.selection or "all"  # solvent descriptors select their own atoms
    try:
        ag = universe.select_atoms(sel)
    except Exception as err:
        raise InputError(f"config: [features] selection = {sel!r} is not a valid MDAnalysis "
                         f"selection ({err})") from None
    if len(ag) == 0:
        raise InputError(f"config: [features] selection = {sel!r} matches no atom; "
                         "give a selection of the molecule to describe")
    opts = feature_options(cfg)
    kinds = opts.pop("kinds")
    if cfg.features.center_labels == "paper" and cfg.features.centers:
        opts["center_labels"] = _center_labels(cfg, universe)
    try:
        return build_features(ag, kinds=kinds, **opts)
    except RcxaiError as err:
        raise InputError(f"config: [features]: {err}") from None


def check_features(cfg: StudyConfig, system):
    """Compute the features of the starting structure once (catches bad selections early).

    Also checks that every ``[explain] baselines`` entry names features of
    this study (:func:`baseline_columns`), so a typo fails here and not after
    every stage has run.
    """
    res = featurize(cfg, topology_universe(cfg, system))
    if res.features.shape[1] == 0:
        raise InputError("config: [features] gives no feature for this system; choose another "
                         "kind or selection")
    columns = list(getattr(res, "columns", None) or [])
    for name, wanted in cfg.explain.baselines.items():
        baseline_columns(name, wanted, list(res.names), columns)
    naive = naive_coordinate(cfg)
    if naive:
        baseline_columns("naive", naive, list(res.names), columns, key="[validation] naive")
    return res


def baseline_columns(name, wanted, names, columns=None, key=None):
    """Column indices of a named baseline feature set.

    Parameters
    ----------
    name : str
        The set's name (``[explain] baselines.NAME``), for the error message.
    wanted : sequence of str
        Feature names, aliases (``"phi"``) or group labels of the columns.
    names : sequence of str
        Column names.
    columns : sequence of FeatureColumn or dict, optional
        Column metadata (``group``, ``alias``).
    key : str, optional
        The config key the error names (default ``[explain] baselines.NAME``).

    Returns
    -------
    list of int
        Sorted column indices.

    Raises
    ------
    InputError
        An entry that matches no column, naming the key and what it may be.

    Examples
    --------
    >>> baseline_columns("x", ["b"], ["a", "b"])
    [1]
    """
    def field(c, key):
        return c.get(key) if isinstance(c, dict) else getattr(c, key, None)

    cols = []
    for m in wanted:
        hit = [i for i, n in enumerate(names)
               if m == n or (columns and (m == field(columns[i], "group")
                                          or m == field(columns[i], "alias")))]
        if not hit:
            shown = ", ".join(list(names)[:4]) + (", ..." if len(names) > 4 else "")
            where = key or f"[explain] baselines.{name}"
            raise InputError(f"config: {where}: {m!r} is neither a feature "
                             f"name, an alias nor a group label of this study's features "
                             f"({len(names)}: {shown}); fix the entry")
        cols += hit
    return sorted(set(cols))


def check_scheduler(cfg: StudyConfig, timeout=5.0):
    """Refuse a ``[committor] scheduler`` (``--scheduler``) where no Dask scheduler answers.

    Connects once (at most ``timeout`` seconds) and disconnects, so an
    unreachable address fails before any simulation instead of after TPS.
    """
    addr = cfg.committor.scheduler
    if not addr:
        return
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover
        raise InputError(f"config: [committor] scheduler = {addr!r} needs dask.distributed; "
                         "install it or leave the key out") from None
    try:
        client = Client(addr, timeout=timeout, set_as_default=False)
    except Exception as err:
        raise InputError(
            f"config: [committor] scheduler = {addr!r} (or --scheduler): no Dask scheduler "
            f"answers there ({type(err).__name__}); start one ('dask scheduler') or leave the "
            "key out for a local cluster") from None
    client.close()

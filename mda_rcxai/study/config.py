"""The parameters of a study: one typed schema, validated when it is read.

A study is described by one TOML file (``mda-rcxai run --config study.toml``;
``mda-rcxai demo --print-config`` prints the defaults). The schema below is
written with `pydantic <https://docs.pydantic.dev>`_: every key has a type
and a range, unknown keys are refused, and a bad value is reported as one
line that names the key and the fix, *before* anything is simulated.
Relative file names resolve against the folder of the config file.

Units: one unit per quantity, named here and in the docs -- temperature in
K, ``timestep`` in **fs** (as in the Python API's ``timestep_fs``),
``friction`` in 1/ps, ``cutoff`` in nm (OpenMM input), state ranges and
feature options in MDAnalysis units (Angstrom, degrees).

A study directory keeps the config it ran with (``config.toml``); a rerun
with the same parameters resumes, a rerun with other parameters is refused
(naming what differs) unless ``--overwrite`` is given.

Examples
--------
>>> from mda_rcxai.study.config import StudyConfig
>>> cfg = StudyConfig(seed=3)
>>> cfg.committor.shots
20
>>> StudyConfig.from_toml(cfg.to_toml()) == cfg
True
>>> StudyConfig.from_toml("[committor]\\nshots = 2.5\\n")
Traceback (most recent call last):
...
mda_rcxai.exceptions.InputError: config: [committor] shots = 2.5: Input should be a valid integer; fix this key in the config file

(About 950 lines: one typed schema for the whole study, its sections, cross-key
checks and one-line errors read in one place; over a third of it is the
documentation of each key, its unit and range.)
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from typing import Literal, Optional

import tomli_w
from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError,
                      field_validator, model_validator)

from ..exceptions import InputError
from .bundled import BUNDLED, DEFAULT_SYSTEM

__all__ = ["StudyConfig", "SystemConfig", "StateVariable", "TPSConfig",
           "CommittorConfig", "FeaturesConfig", "ModelConfig", "ExplainConfig",
           "ValidationConfig", "BUNDLED_SYSTEMS", "SPEED_ONLY_KEYS"]

#: Bundled systems a ``[system] name`` may choose.
BUNDLED_SYSTEMS = tuple(BUNDLED)  # the registry in mda_rcxai.study.bundled

#: Keys that change how fast a study runs, not what it computes: a rerun
#: that changes only these resumes instead of being refused.
SPEED_ONLY_KEYS = ("workers", "committor.scheduler", "system.platform")

_SOLVENT_RESNAMES = ("HOH", "WAT", "SOL", "TIP3", "TIP4", "TIP5", "SPC", "T3P", "T4P",
                     "NA", "CL", "K", "Na+", "Cl-", "K+", "MG", "CA", "ZN", "LI", "RB",
                     "CS", "F", "BR", "I", "IOD", "NA+", "CL-")
#: MDAnalysis selection of the solute: everything that is not water or a monatomic ion.
SOLUTE_SELECTION = "not resname " + " ".join(_SOLVENT_RESNAMES)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True,
                              frozen=False)


def _window(v, key):
    if len(v) != 2 or not (0.0 <= v[0] < v[1] <= 1.0):
        raise ValueError(f"must be [low, high] with 0 <= low < high <= 1 (got {v}) ({key})")
    return v


class StateVariable(_Section):
    """One variable of a stable state, from MDAnalysis selections.

    Attributes
    ----------
    atoms : list of str
        2 (distance, Angstrom, minimum image in a periodic box), 3 (angle,
        degrees) or 4 (dihedral, degrees) MDAnalysis selections, each
        matching exactly one atom.
    range : list of float
        ``[low, high]``; dihedral ranges may wrap (``[0, 200]`` means
        [0, 180] U [-180, -160]).
    """

    atoms: list[str] = Field(min_length=2, max_length=4)
    range: list[float] = Field(min_length=2, max_length=2)

    @model_validator(mode="after")
    def _order(self):
        lo, hi = self.range
        if len(self.atoms) != 4 and hi < lo:
            raise ValueError(f"range {self.range} has low > high (only dihedral ranges wrap)")
        return self


class SystemConfig(_Section):
    """The molecular system and the simulation conditions.

    Give exactly one source: a bundled ``name``; ``prmtop`` + ``inpcrd``
    (AMBER; ``.inpcrd``, ``.rst7`` or ``.crd``); ``pdb`` + ``forcefield``
    (OpenMM force-field XML files); or ``system_xml`` + ``pdb`` (a
    serialized OpenMM System). Nothing at all means the bundled
    ``alanine_dipeptide``.

    Attributes
    ----------
    name : str, optional
        ``"alanine_dipeptide"`` (vacuum, amber99sb) or ``"nacl_water"``
        (Na+ and Cl- in TIP3P, PME).
    prmtop, inpcrd, pdb, system_xml : str, optional
        Files; relative names resolve against the config file's folder.
    forcefield : list of str, optional
        OpenMM force-field files, e.g. ``["amber14-all.xml", "implicit/obc2.xml"]``.
    implicit_solvent : str, optional
        AMBER input only: an OpenMM implicit-solvent model (``"OBC2"``,
        ``"GBn2"``, ``"HCT"``, ``"OBC1"``, ``"GBn"``).
    nonbonded : str, optional
        ``"NoCutoff"``, ``"CutoffNonPeriodic"``, ``"CutoffPeriodic"`` or
        ``"PME"``; default PME with a periodic box, NoCutoff without.
    cutoff : float, optional
        Nonbonded cutoff, nm (below half the shortest box length).
    constraints : str
        ``"HBonds"``, ``"AllBonds"``, ``"HAngles"`` or ``"none"``.
    platform : str
        OpenMM platform: ``"auto"``, ``"CPU"``, ``"CUDA"``, ``"OpenCL"``, ``"Reference"``.
    temperature : float
        Kelvin.
    timestep : float
        Femtoseconds.
    steps_per_frame : int
        Integration steps between saved frames / state checks.
    friction : float
        Langevin collision rate, 1/ps.
    state_A, state_B : str
        Names of the reactant and product states (bundled, or tables under
        ``[states]``).
    """

    name: Optional[str] = None
    prmtop: Optional[str] = None
    inpcrd: Optional[str] = None
    pdb: Optional[str] = None
    forcefield: Optional[list[str]] = None
    system_xml: Optional[str] = None
    implicit_solvent: Optional[Literal["OBC2", "GBn2", "HCT", "OBC1", "GBn"]] = None
    nonbonded: Optional[Literal["NoCutoff", "CutoffNonPeriodic", "CutoffPeriodic", "PME"]] = None
    cutoff: Optional[float] = Field(default=None, gt=0.0, le=5.0)
    constraints: Literal["HBonds", "AllBonds", "HAngles", "none"] = "HBonds"
    platform: Literal["auto", "CPU", "CUDA", "OpenCL", "Reference"] = "auto"
    temperature: float = Field(default=300.0, gt=0.0, le=5000.0)
    timestep: float = Field(default=2.0, gt=0.0, le=10.0)
    steps_per_frame: int = Field(default=10, ge=1)
    friction: float = Field(default=1.0, gt=0.0)
    state_A: Optional[str] = None
    state_B: Optional[str] = None

    @field_validator("timestep")
    @classmethod
    def _fs(cls, v):
        if v < 0.1:
            raise ValueError(f"{v} fs is below 0.1 fs; the time step is in femtoseconds "
                             "(2.0 = 2 fs), not picoseconds")
        return v

    @model_validator(mode="after")
    def _one_source(self):
        files = {k: getattr(self, k) for k in ("prmtop", "inpcrd", "pdb", "forcefield",
                                               "system_xml") if getattr(self, k) is not None}
        if self.name is not None and files:
            raise ValueError(f"give either name = {self.name!r} (bundled) or files "
                             f"{sorted(files)}, not both")
        if self.name is not None and self.name not in BUNDLED_SYSTEMS:
            raise ValueError(f"name = {self.name!r} is not a bundled system; use one of "
                             f"{list(BUNDLED_SYSTEMS)} or give files (prmtop + inpcrd, "
                             "pdb + forcefield, or system_xml + pdb)")
        if files:
            kinds = [("prmtop", "inpcrd"), ("system_xml", "pdb"), ("pdb", "forcefield")]
            match = [k for k in kinds if all(f in files for f in k)]
            if not match:
                raise ValueError(f"files {sorted(files)} do not make a system; give "
                                 "prmtop + inpcrd, pdb + forcefield, or system_xml + pdb")
            used = set(match[0])
            extra = set(files) - used
            if extra:
                raise ValueError(f"{sorted(extra)} cannot be combined with "
                                 f"{' + '.join(match[0])}")
            if self.implicit_solvent is not None and match[0][0] != "prmtop":
                raise ValueError("implicit_solvent applies to AMBER input (prmtop + inpcrd); "
                                 "with pdb + forcefield add e.g. 'implicit/obc2.xml' to forcefield")
            if (self.state_A is None) != (self.state_B is None) or self.state_A is None:
                raise ValueError("state_A and state_B must name two tables under [states] "
                                 "for a system from files")
        if self.name is not None or not files:  # a bundled system brings its own force field
            given = {k: getattr(self, k) for k in ("nonbonded", "cutoff", "implicit_solvent")
                     if getattr(self, k) is not None}
            if self.constraints != "HBonds":
                given["constraints"] = self.constraints
            if given:
                k, v = next(iter(given.items()))
                raise ValueError(
                    f"[system] {k} = {v!r} applies to a system from files; the bundled "
                    f"{self.name or 'alanine_dipeptide'} brings its own force field, "
                    f"nonbonded method and constraints; remove {', '.join(given)}")
        if self.state_A is not None and self.state_A == self.state_B:
            raise ValueError(f"state_A and state_B are both {self.state_A!r}")
        return self

    @property
    def source(self) -> str:
        """``"bundled"``, ``"amber"``, ``"pdb"`` or ``"system_xml"``."""
        if self.prmtop:
            return "amber"
        if self.system_xml:
            return "system_xml"
        if self.pdb:
            return "pdb"
        return "bundled"

    @property
    def bundled_name(self) -> str | None:
        """The bundled system's name, or None for files."""
        return (self.name or DEFAULT_SYSTEM) if self.source == "bundled" else None


class TPSConfig(_Section):
    """Transition path sampling.

    Attributes
    ----------
    n_steps : int
        Monte Carlo moves (two-way shooting), over all chains. The default,
        3000, gives the bundled alanine dipeptide ~300 accepted paths in
        ~20 s on 2 cores, so that later committor rounds find unshot frames
        near p_B = 1/2 (with 1000 moves round 3 found 27 of 300).
    chains : int
        Independent TPS chains from the same initial path (own seeds), run
        on up to ``workers`` processes; ``n_steps`` is split among them.
    initial_path : str
        ``"hot"`` (high-temperature MD finds the first A -> B path),
        ``"pull"`` (states on one distance, e.g. an ion pair or a ligand and
        its pocket, or on one dihedral, e.g. phi of a peptide in water: a
        restraint pulls the coordinate to ``pull_to`` near the
        barrier, then unrestrained two-way shots at the study temperature
        until one half reaches A and the other B; no hot MD, which would boil
        water), a
        trajectory file readable by MDAnalysis with the system's atoms that
        goes from A to B, or an OpenPathSampling storage file (``.nc``; its
        last accepted path).
    pull_to : float, optional
        ``initial_path = "pull"``: where the restraint pulls to, between the
        two states: a distance (Angstrom) for states on a distance, an angle
        (degrees) for states on a dihedral; default: midway between the two
        states' ranges (on a dihedral, across the wider gap).
    initial_temperature : float
        Kelvin; temperature of the hot MD (``initial_path = "hot"``).
    max_path_frames : int
        Longest path (frames) the engine integrates before giving up a trial.
    method : str, optional
        Unset or ``"auto"`` (measured: OpenPathSampling's ``PathSampling`` where its
        bookkeeping per frame is small beside the MD, as in a solvated box;
        the fast route on the dynamics core where it dominates, as for a
        small molecule in vacuum; see :func:`mda_rcxai.sampling.choose_route`),
        ``"ops"`` (OPS with its storage ``tps_ops.nc``, one chain, resumed
        from the storage) or ``"fast"`` (``chains`` chains with checkpoints).
    """

    n_steps: int = Field(default=3000, ge=1)
    method: Optional[Literal["auto", "fast", "ops"]] = None
    chains: int = Field(default=2, ge=1, le=64)
    initial_path: str = "hot"
    pull_to: Optional[float] = None
    initial_temperature: float = Field(default=1300.0, gt=0.0, le=5000.0)
    max_path_frames: int = Field(default=1000, ge=3)


class CommittorConfig(_Section):
    """Committor shooting in rounds (round 1 along paths, later rounds where the model is unsure).

    Attributes
    ----------
    shots : int
        Shots (random Maxwell-Boltzmann velocities) per configuration.
    rounds : int
        Rounds of shooting; the model is retrained after each.
    first_round : int
        Configurations spread along the accepted paths in round 1.
    later_rounds : int
        Configurations per later round, chosen from path frames whose
        predicted p_B lies in ``window``.
    window : list of float
        ``[low, high]`` predicted-p_B window for later rounds.
    max_frames : int
        Longest shot (frames) before it is counted as undecided.
    engine : str
        ``"auto"`` (the fastest engine valid for the system: batched for a
        non-periodic system whose forces it can copy, else per
        configuration), ``"batched"``, ``"lean"`` (per configuration over
        Dask workers) or ``"ops"`` (OPS CommittorSimulation with storage).
    n_replicas : int
        Replicas per batched engine.
    scheduler : str, optional
        Address of a running Dask scheduler (``"tcp://host:8786"``) to shoot
        on instead of a local cluster.
    reserve : float
        Fraction of the TPS path frames kept out of every round (chosen by a
        hash of the seed and the coordinates): the committor test draws its
        unseen configurations from them.
    """

    shots: int = Field(default=20, ge=1)
    rounds: int = Field(default=3, ge=1)
    first_round: int = Field(default=300, ge=2)
    later_rounds: int = Field(default=300, ge=1)
    window: list[float] = Field(default_factory=lambda: [0.1, 0.9])
    max_frames: int = Field(default=2000, ge=2)
    engine: Literal["auto", "batched", "lean", "ops"] = "auto"
    n_replicas: int = Field(default=64, ge=1)
    scheduler: Optional[str] = None
    reserve: float = Field(default=0.15, ge=0.0, lt=1.0)

    @field_validator("window")
    @classmethod
    def _w(cls, v):
        return _window(v, "predicted-p_B window")

    @field_validator("scheduler")
    @classmethod
    def _addr(cls, v):
        if v is not None and "://" not in v:
            raise ValueError(f"{v!r} is not a scheduler address; write e.g. 'tcp://127.0.0.1:8786'")
        return v


class FeaturesConfig(_Section):
    """Input features of the model.

    Attributes
    ----------
    kind : list of str
        Any of ``"dihedrals"`` (the paper's inputs), ``"distances"``,
        ``"angles"``, ``"acsf"`` (atom-centred symmetry functions),
        ``"coordination"``, ``"solvent_potential"`` (the electrostatic
        potential of the solvent at each ``centers`` atom, kJ/mol/e); several
        at once are concatenated.
    selection : str, optional
        MDAnalysis selection of the atoms the internal coordinates use;
        default: the solute (everything that is not water or an ion).
    dihedrals : str
        ``"all"`` (41 proper + 4 improper for alanine dipeptide), ``"heavy"``
        or ``"backbone"``.
    pairs : str
        Distances: ``"heavy"`` or ``"all"`` pairs of the selection.
    sincos : bool
        Use sin/cos of each dihedral instead of the angle in degrees.
    centers : str, optional
        ACSF / coordination: selection of the centre atoms (e.g. the ions).
    neighbors : dict of str to str
        ACSF / coordination: named neighbour selections (e.g.
        ``{ O = "resname HOH and name O", H = "resname HOH and name H*" }``);
        solvent potential: one entry, the solvent (``{ water = "resname HOH" }``),
        whose partial charges act on each ``centers`` atom.
    r_cut : float
        ACSF cutoff radius, Angstrom.
    g2 : list of [eta, r_s]
        ACSF radial functions: eta in 1/Angstrom^2, r_s in Angstrom.
    g5 : list of [eta, zeta, lambda]
        ACSF angular functions: eta in 1/Angstrom^2.
    r0 : float or list of float
        Coordination: switching distance, Angstrom (one for all, or one per
        centre atom).
    potential_method : str
        Solvent potential: ``"ewald"`` (as PME feels it), ``"reaction_field"``,
        ``"shifted"`` or ``"cutoff"``.
    potential_cutoff : float
        Solvent potential: real-space cutoff, Angstrom (below half the box).
    potential_cutoff_by : str
        Solvent potential, cutoff methods: ``"atom"`` or ``"molecule"``
        (whole solvent molecules in or out).
    center_labels : str, optional
        ``"paper"``: name the centres of the bundled alanine dipeptide in
        the papers' numbering (``V[H18|water]``); default residue:atom names.
    """

    kind: list[Literal["dihedrals", "distances", "angles", "acsf", "coordination",
                       "solvent_potential"]] = Field(
        default_factory=lambda: ["dihedrals"], min_length=1)
    selection: Optional[str] = None
    dihedrals: Literal["all", "heavy", "backbone"] = "all"
    pairs: Literal["heavy", "all"] = "heavy"
    sincos: bool = False
    centers: Optional[str] = None
    neighbors: dict[str, str] = Field(default_factory=dict)
    r_cut: float = Field(default=6.0, gt=0.0)
    g2: list[list[float]] = Field(default_factory=lambda: [[0.5, 2.5], [0.5, 3.5], [0.5, 4.5],
                                                           [0.5, 5.5]])
    g5: list[list[float]] = Field(default_factory=lambda: [[0.05, 1.0, 1.0], [0.05, 1.0, -1.0]])
    r0: float | list[float] = 3.2
    potential_method: Literal["ewald", "reaction_field", "shifted", "cutoff"] = "ewald"
    potential_cutoff: float = Field(default=9.0, gt=0.0)
    potential_cutoff_by: Literal["atom", "molecule"] = "atom"
    center_labels: Optional[Literal["paper"]] = None

    @field_validator("r0")
    @classmethod
    def _r0(cls, v):
        vals = v if isinstance(v, list) else [v]
        if not vals or any(x <= 0 for x in vals):
            raise ValueError(f"must be a distance > 0 in Angstrom, or one per centre, got {v}")
        return v

    @field_validator("kind", mode="before")
    @classmethod
    def _listify(cls, v):
        return [v] if isinstance(v, str) else v

    @field_validator("g2")
    @classmethod
    def _g2(cls, v):
        for p in v:
            if len(p) != 2 or p[0] <= 0:
                raise ValueError(f"each g2 entry is [eta > 0 (1/Angstrom^2), r_s (Angstrom)], got {p}")
        return v

    @field_validator("g5")
    @classmethod
    def _g5(cls, v):
        for p in v:
            if len(p) != 3 or p[0] <= 0 or p[1] < 1 or p[2] not in (1.0, -1.0):
                raise ValueError(f"each g5 entry is [eta > 0, zeta >= 1, lambda = +1 or -1], got {p}")
        return v

    @model_validator(mode="after")
    def _solvent_needs(self):
        if "solvent_potential" in self.kind and (not self.centers or len(self.neighbors) != 1):
            raise ValueError("kind 'solvent_potential' needs centers (the solute atoms) and "
                             "one neighbors entry (the solvent, e.g. { water = 'resname HOH' })")
        if self.potential_cutoff_by == "molecule" and self.potential_method == "ewald":
            raise ValueError("potential_cutoff_by = 'molecule' applies to the cutoff methods; "
                             "with potential_method = 'ewald' leave it out")
        if {"acsf", "coordination"} & set(self.kind):
            if not self.centers or not self.neighbors:
                raise ValueError("kind 'acsf'/'coordination' needs centers (a selection) and "
                                 "neighbors (a table of named selections)")
        if len(set(self.kind)) != len(self.kind):
            raise ValueError(f"kind {self.kind} names a kind twice")
        return self


class ModelConfig(_Section):
    """The committor network (see :class:`mda_rcxai.model.CommittorModel`).

    Every key reaches the model that is fitted, or is refused when it cannot:
    with ``select = true`` (the default) :class:`~mda_rcxai.model.CommittorModelCV`
    chooses ``weight_decay`` and ``hidden_layers`` by cross-validation, so
    those two are refused there (set ``select = false`` to fix them); the
    other keys are passed to every fit of the search, to the final model and
    to the ensemble members. A key left out takes the fitting routine's
    default (:data:`~mda_rcxai.model.DEFAULT_CV_PARAMS` with ``select``,
    :class:`~mda_rcxai.model.CommittorModel`'s defaults without).

    Attributes
    ----------
    hidden_layers : list of int, optional
        Widths of the hidden layers (``select = false`` only).
    activation : str, optional
        ``"tanh"``, ``"relu"``, ``"elu"``, ``"gelu"``, ``"silu"`` or ``"sigmoid"``.
    weight_decay : float, optional
        Penalty strength (``select = false`` only).
    solver : str, optional
        ``"lbfgs"`` (full batch) or ``"adam"`` (mini-batches, early stopping).
    learning_rate : float, optional
        Adam step size (``solver = "adam"`` only).
    max_epochs : int, optional
        Adam epochs, or blocks of 20 L-BFGS iterations.
    batch_size : int, optional
        Adam mini-batch size (``solver = "adam"`` only).
    validation_fraction : float, optional
        Fraction held out for early stopping, in [0, 1).
    early_stopping : int, optional
        Patience in epochs.
    select : bool
        Choose weight decay and architecture by k-fold cross-validated
        log-likelihood (``CommittorModelCV``) for the final model.
    cv : int
        Folds of the selection.
    ensemble : int
        Members of the ensemble that gives q and the importances error bars
        (1 = a single model, no error bars); also the size of the ensemble
        that picks each later committor round.
    """

    hidden_layers: Optional[list[int]] = Field(default=None, min_length=1)
    activation: Optional[Literal["tanh", "relu", "elu", "gelu", "silu", "sigmoid"]] = None
    weight_decay: Optional[float] = Field(default=None, ge=0.0)
    solver: Optional[Literal["lbfgs", "adam"]] = None
    learning_rate: Optional[float] = Field(default=None, gt=0.0, le=1.0)
    max_epochs: Optional[int] = Field(default=None, ge=1)
    batch_size: Optional[int] = Field(default=None, ge=1)
    validation_fraction: Optional[float] = Field(default=None, ge=0.0, lt=1.0)
    early_stopping: Optional[int] = Field(default=None, ge=1)
    select: bool = True
    cv: int = Field(default=3, ge=2, le=20)
    ensemble: int = Field(default=5, ge=1, le=50)

    @field_validator("hidden_layers", mode="before")
    @classmethod
    def _layers(cls, v):
        if isinstance(v, int) and not isinstance(v, bool):
            raise ValueError(f"must be a list of layer widths, e.g. [{v}] or [{v}, {v}]")
        return v

    @field_validator("hidden_layers")
    @classmethod
    def _pos(cls, v):
        if v is not None and any(w < 1 for w in v):
            raise ValueError(f"layer widths must be >= 1, got {v}")
        return v

    @model_validator(mode="after")
    def _reaches_the_fit(self):
        if self.select:
            for key in ("weight_decay", "hidden_layers"):
                if getattr(self, key) is not None:
                    raise ValueError(
                        f"[model] {key} = {getattr(self, key)} is chosen by cross-validation "
                        "when select = true (a grid of weight_decay x hidden_layers); remove "
                        "it, or set select = false to fit exactly this value")
        if self.solver != "adam":
            for key in ("learning_rate", "batch_size"):
                if getattr(self, key) is not None:
                    raise ValueError(
                        f"[model] {key} = {getattr(self, key)} is used by solver = 'adam' only "
                        f"(select = {str(self.select).lower()} fits with L-BFGS unless told "
                        "otherwise); add solver = \"adam\" or remove the key")
        return self

    def fit_params(self):
        """The keys given, as :class:`~mda_rcxai.model.CommittorModel` arguments.

        Examples
        --------
        >>> ModelConfig(max_epochs=3, select=False, hidden_layers=[8]).fit_params()
        {'hidden_layers': (8,), 'max_epochs': 3}
        """
        out = {}
        for key in ("hidden_layers", "activation", "weight_decay", "solver", "learning_rate",
                    "max_epochs", "batch_size", "validation_fraction", "early_stopping"):
            v = getattr(self, key)
            if v is not None:
                out[key] = tuple(v) if key == "hidden_layers" else v
        return out


class ExplainConfig(_Section):
    """SHAP and LIME.

    Attributes
    ----------
    methods : list of str
        ``"shap"`` and/or ``"lime"``.
    ts_window : list of float
        Predicted-p_B window of the transition-state analysis.
    max_samples : int
        Most configurations explained per method and selection.
    background_size : int
        SHAP background set size (k-means of the data).
    baselines : dict of str to list of str
        Named feature sets (feature names or group labels) whose restricted
        models are compared with the full model by held-out log-likelihood;
        for the bundled alanine dipeptide ``phi``, ``phi + psi`` and
        ``phi + theta`` are added automatically.
    """

    methods: list[Literal["shap", "lime"]] = Field(default_factory=lambda: ["shap", "lime"],
                                                   min_length=1)
    ts_window: list[float] = Field(default_factory=lambda: [0.4, 0.6])
    max_samples: int = Field(default=200, ge=2)
    background_size: int = Field(default=50, ge=2)
    baselines: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("ts_window")
    @classmethod
    def _w(cls, v):
        return _window(v, "transition-state window")


class ValidationConfig(_Section):
    """The committor test of the learned coordinate, and of a naive one beside it.

    Attributes
    ----------
    committor_test : bool
        Shoot fresh trajectories from unseen path frames whose predicted p_B
        lies in ``window`` and check that their p_B peaks at 1/2.
    configurations : int
        Configurations tested (per coordinate).
    shots : int
        Fresh shots per configuration.
    window : list of float
        Predicted-p_B window of the tested configurations.
    naive : list of str, optional
        The naive coordinate whose committor test runs beside the learned
        one's, with the same criterion: feature names, aliases (``"phi"``)
        or group labels. Candidates are unseen path frames at its own barrier
        top (p_B of a fit on these features alone in ``window``). Left out:
        the bundled system's (alanine dipeptide: phi; NaCl: the Na-Cl
        distance), none for other systems; ``[]`` switches it off.
    """

    committor_test: bool = True
    configurations: int = Field(default=30, ge=2)
    shots: int = Field(default=20, ge=2)
    window: list[float] = Field(default_factory=lambda: [0.4, 0.6])
    naive: Optional[list[str]] = None

    @field_validator("window")
    @classmethod
    def _w(cls, v):
        return _window(v, "committor-test window")


#: A config whose every angle and dihedral state range lies within +-this is in radians.
_RADIAN_LIMIT = 3.2

_SECTIONS = ("system", "tps", "committor", "features", "model", "explain", "validation")


class StudyConfig(BaseModel):
    """All parameters of a study.

    Attributes
    ----------
    seed : int
        Seed of every random step (sampling, model, explanations).
    workers : int
        Processes for committor shooting (Dask LocalCluster when > 1).
    system, tps, committor, features, model, explain, validation
        The sections, see their classes.
    states : dict of str to dict of str to StateVariable
        Stable states from MDAnalysis selections: ``[states.NAME]`` tables of
        variables ``{ atoms = [...], range = [lo, hi] }``. Bundled systems
        bring their own; these replace them when given.

    Examples
    --------
    >>> cfg = StudyConfig.from_toml("seed = 2\\n[tps]\\nn_steps = 50\\n")
    >>> cfg.seed, cfg.tps.n_steps, cfg.committor.rounds
    (2, 50, 3)
    """

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)
    _source: Optional[str] = PrivateAttr(default=None)

    seed: int = Field(default=0, ge=0, lt=2**31)
    workers: int = Field(default=2, ge=1, le=256)
    system: SystemConfig = Field(default_factory=SystemConfig)
    states: dict[str, dict[str, StateVariable]] = Field(default_factory=dict)
    tps: TPSConfig = Field(default_factory=TPSConfig)
    committor: CommittorConfig = Field(default_factory=CommittorConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    explain: ExplainConfig = Field(default_factory=ExplainConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)

    @model_validator(mode="after")
    def _states_named(self):
        for name, vars_ in self.states.items():
            if not vars_:
                raise ValueError(f"[states.{name}] has no variables")
        a, b = self.system.state_A, self.system.state_B
        if self.states and a is None:
            raise ValueError("[states] given: name two of them with [system] state_A and state_B")
        for key, st in (("state_A", a), ("state_B", b)):
            if st is not None and self.states and st not in self.states:
                raise ValueError(f"[system] {key} = {st!r} is not a table under [states] "
                                 f"(have {sorted(self.states)})")
        angular = [(s, v, var) for s, vars_ in self.states.items() for v, var in vars_.items()
                   if len(var.atoms) in (3, 4)]
        if angular and all(-_RADIAN_LIMIT <= min(var.range) and max(var.range) <= _RADIAN_LIMIT
                           for _, _, var in angular):
            s, v, var = angular[0]
            raise ValueError(
                f"[states.{s}] {v} range = {var.range}: every angle and dihedral range lies "
                f"within [-{_RADIAN_LIMIT}, {_RADIAN_LIMIT}], as radians would; state ranges are "
                "in degrees? (multiply radians by 57.2958, e.g. [-180, -50])")
        if self.tps.initial_path == "pull":
            self._check_pull(a, b)
        return self

    def _check_pull(self, a, b):
        """``initial_path = "pull"`` pulls one distance or dihedral: both states must be ranges
        on the same one."""
        fix = ("use initial_path = 'hot' (hot MD) or a trajectory file that goes from A to B")
        if not self.states:
            name = self.system.bundled_name
            if name is None or not BUNDLED[name].pull:
                raise ValueError(
                    f"[tps] initial_path = 'pull' needs states on one distance or one dihedral "
                    f"each (as nacl_water's CIP and SSIP, alanine_water's C7eq and C7ax); the "
                    f"states of {name or 'this system'} are not; {fix}")
            return
        for name in (a, b):
            vars_ = self.states[name]
            kinds = {2: "distance", 3: "angle", 4: "dihedral"}
            if len(vars_) != 1 or len(next(iter(vars_.values())).atoms) not in (2, 4):
                have = ", ".join(f"{v} ({kinds[len(var.atoms)]})" for v, var in vars_.items())
                raise ValueError(
                    f"[tps] initial_path = 'pull' needs states on one distance (2 atoms) or one "
                    f"dihedral (4 atoms) each; [states.{name}] has {have}; {fix}")
        pa, pb = (next(iter(self.states[n].values())).atoms for n in (a, b))
        if pa != pb:
            raise ValueError(f"[tps] initial_path = 'pull' needs both states on the same "
                             f"distance or dihedral; [states.{a}] uses {pa}, [states.{b}] {pb}; "
                             f"{fix}")

    def __eq__(self, other):
        """Equal parameters (where a config was read from does not count)."""
        if not isinstance(other, StudyConfig):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    @property
    def source_file(self):
        """Absolute path of the TOML file this config was read from (:meth:`load`), or None.

        A study never rewrites this file (``run --config D/config.toml --out D``
        keeps the user's comments); the parameters a study ran with are then
        told by its stage records.
        """
        return self._source

    # -- reading ------------------------------------------------------------
    @classmethod
    def from_dict(cls, d, base_dir=None):
        """Build from a nested dict; any bad key or value raises one-line :class:`InputError`.

        Parameters
        ----------
        d : dict
            Nested parameters, as read from TOML.
        base_dir : str, optional
            Folder that relative file names resolve against (the config
            file's folder); default: leave them as given.
        """
        if not isinstance(d, dict):
            raise InputError(f"config: expected a table of parameters, got {type(d).__name__}")
        try:
            cfg = cls.model_validate(d)
        except ValidationError as err:
            raise InputError(_one_line(err, d)) from None
        if base_dir is not None:
            cfg = cfg.resolved(base_dir)
        return cfg

    @classmethod
    def from_toml(cls, text, base_dir=None):
        """Parse TOML text (see :meth:`to_toml`)."""
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"config: not valid TOML ({err}); fix the file") from None
        return cls.from_dict(d, base_dir=base_dir)

    @classmethod
    def load(cls, path):
        """Read a TOML file; relative file names resolve against its folder."""
        path = os.fspath(path)
        if os.path.isdir(path):
            raise InputError(f"--config {path!r} is a directory; give a TOML file")
        if not os.path.exists(path):
            raise InputError(f"--config {path!r}: no such file")
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"--config {path!r} cannot be read as text: {err}") from None
        cfg = cls.from_toml(text, base_dir=os.path.dirname(os.path.abspath(path)))
        cfg._source = os.path.abspath(path)
        return cfg

    def resolved(self, base_dir):
        """A copy whose relative file names are made absolute against ``base_dir``;
        files that do not exist raise :class:`InputError` naming the key."""
        sysd = self.system.model_dump()
        for key in ("prmtop", "inpcrd", "pdb", "system_xml"):
            v = sysd.get(key)
            if v is not None:
                p = v if os.path.isabs(v) else os.path.normpath(os.path.join(base_dir, v))
                if not os.path.isfile(p):
                    raise InputError(f"config: [system] {key} = {v!r}: no such file ({p}); "
                                     "relative names resolve against the config file's folder")
                sysd[key] = p
        if sysd.get("forcefield"):
            ff = []
            for v in sysd["forcefield"]:
                p = v if os.path.isabs(v) else os.path.join(base_dir, v)
                # OpenMM's own files (amber14-all.xml, implicit/obc2.xml) are found by name
                ff.append(os.path.normpath(p) if os.path.isfile(p) else v)
            sysd["forcefield"] = ff
        tps = self.tps.model_dump()
        ip = tps["initial_path"]
        if ip not in ("hot", "pull"):
            p = ip if os.path.isabs(ip) else os.path.normpath(os.path.join(base_dir, ip))
            if not os.path.isfile(p):
                raise InputError(f"config: [tps] initial_path = {ip!r}: no such file ({p}); "
                                 "use 'hot', 'pull' or a trajectory / OPS storage file")
            tps["initial_path"] = p
        return self.model_copy(update={"system": SystemConfig(**sysd), "tps": TPSConfig(**tps)})

    # -- writing ------------------------------------------------------------
    def to_dict(self):
        """Nested dict of all parameters (None values left out, as TOML has no null)."""
        return self.model_dump(exclude_none=True)

    def to_toml(self):
        """All parameters as TOML text (round-trips through :meth:`from_toml`).

        Written by `tomli-w <https://github.com/hukkin/tomli-w>`_: ``seed`` and
        ``workers`` first, then the sections in a fixed order and ``[states.NAME]``
        last; lists are written one item a line.
        """
        d = self.to_dict()
        ordered = {"seed": d.pop("seed"), "workers": d.pop("workers")}
        for name in _SECTIONS:
            ordered[name] = d.pop(name, {})
        ordered["states"] = d.pop("states", {})
        ordered.update(d)  # a top-level key added later is written, not dropped
        return tomli_w.dumps(ordered)

    def digest(self, *sections):
        """Short hash of the given sections or dotted keys (all when none): what a stage
        depends on.

        Speed-only keys (:data:`SPEED_ONLY_KEYS`) and keys left unset (None) are left
        out, so a new optional key does not make the studies of earlier versions stale.
        """
        d = _without_speed_keys(self.model_dump(exclude_none=True))
        keep = {}
        for key in (sections or d):  # a section ("model") or one key of it ("model.ensemble")
            node = d
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            keep[key] = node
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]

    def differences(self, other):
        """``["committor.shots: 20 -> 7", ...]``: keys whose values differ (speed-only keys excluded)."""
        a = _flatten(_without_speed_keys(self.model_dump(exclude_none=True)))
        b = _flatten(_without_speed_keys(other.model_dump(exclude_none=True)))
        out = []
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                out.append(f"{k}: {a.get(k)!r} -> {b.get(k)!r}")
        return out

    def replace(self, **changes):
        """Copy with top-level fields changed (validated)."""
        d = self.model_dump()
        d.update(changes)
        new = type(self).from_dict(_drop_none(d))
        new._source = self._source  # still the user's file: never to be rewritten
        return new

    def validate(self):
        """Check again (the schema already validated on construction); returns self."""
        try:
            type(self).model_validate(self.model_dump())
        except ValidationError as err:
            raise InputError(_one_line(err, self.model_dump())) from None
        return self


def _drop_none(d):
    if isinstance(d, dict):
        return {k: _drop_none(v) for k, v in d.items() if v is not None}
    return d


def _without_speed_keys(d):
    d = json.loads(json.dumps(d))
    for key in SPEED_ONLY_KEYS:
        parts = key.split(".")
        node = d
        for p in parts[:-1]:
            node = node.get(p, {})
        node.pop(parts[-1], None)
    return d


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and not (prefix.startswith("states") and k in ()):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _one_line(err: ValidationError, given) -> str:
    """The first error of a pydantic ValidationError as one line naming the key."""
    e = err.errors()[0]
    loc = [str(x) for x in e["loc"]]
    # pydantic adds the validator's tag to union/literal locations; keep the keys
    keys = [x for x in loc if not x.startswith(("function-", "literal[", "list[", "dict["))]
    if keys and keys[0] == "states" and len(keys) > 2:
        where = f"[states.{keys[1]}] {'.'.join(keys[2:])}"
    elif keys and keys[0] in _SECTIONS + ("states",):
        where = f"[{keys[0]}] {'.'.join(keys[1:])}".rstrip()
    elif keys:
        where = ".".join(keys)
    else:
        where = "[" + (loc[0] if loc else "config") + "]"
    value = given
    for k in e["loc"]:
        if isinstance(value, dict) and k in value:
            value = value[k]
        elif isinstance(value, list) and isinstance(k, int) and k < len(value):
            value = value[k]
        else:
            value = None
            break
    msg = e["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if e["type"] == "extra_forbidden":
        what = f"section [{keys[0]}]" if len(keys) == 1 and isinstance(value, dict) else \
            f"key {where}"
        return (f"config: unknown {what}; check its spelling against "
                "'mda-rcxai demo --print-config'")
    if e["type"] == "missing":
        return f"config: {where} is required"
    if msg.startswith("[") and e["type"] == "value_error":
        return f"config: {msg}"  # the check names its keys and the fix itself
    shown = "" if value is None or isinstance(value, dict) else f" = {_short(value)}"
    n_more = len(err.errors()) - 1
    more = f" (and {n_more} more problem{'s' if n_more > 1 else ''})" if n_more else ""
    return f"config: {where}{shown}: {msg}; fix this key in the config file{more}"


def _short(v):
    s = json.dumps(v) if not isinstance(v, str) else repr(v)
    return s if len(s) < 60 else s[:57] + "..."

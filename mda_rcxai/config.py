"""The parameters of a study, read from and written to TOML.

Every parameter of ``mda-rcxai demo`` lives here; ``mda-rcxai demo
--print-config`` prints the defaults, and a study directory keeps the config
it ran with (``config.toml``), so a rerun with the same ``--out`` resumes and
a rerun with different parameters is refused instead of mixing results.

Examples
--------
>>> from mda_rcxai.config import StudyConfig
>>> cfg = StudyConfig(seed=3)
>>> cfg.committor.shots
20
>>> StudyConfig.from_toml(cfg.to_toml()) == cfg
True
"""

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields

from .exceptions import InputError

__all__ = ["StudyConfig", "SystemConfig", "TPSConfig", "CommittorConfig",
           "FeaturesConfig", "ModelConfig", "ExplainConfig"]


@dataclass
class SystemConfig:
    """The molecular system and the simulation conditions.

    Attributes
    ----------
    name : str
        ``"alanine_dipeptide"`` (bundled, vacuum, amber99sb).
    temperature : float
        Kelvin.
    timestep : float
        Picoseconds.
    steps_per_frame : int
        Integration steps between saved frames / state checks.
    friction : float
        Langevin collision rate, 1/ps.
    state_A, state_B : str
        Names of the reactant and product states.
    """

    name: str = "alanine_dipeptide"
    temperature: float = 300.0
    timestep: float = 0.002
    steps_per_frame: int = 10
    friction: float = 1.0
    state_A: str = "C7eq"
    state_B: str = "C7ax"


@dataclass
class TPSConfig:
    """Transition path sampling.

    Attributes
    ----------
    n_steps : int
        Monte Carlo moves (two-way shooting).
    initial_temperature : float
        Kelvin; temperature of the MD that finds the first A -> B path.
    max_path_frames : int
        Longest path (frames) the engine integrates before giving up a trial.
    """

    n_steps: int = 1000
    initial_temperature: float = 1300.0
    max_path_frames: int = 1000


@dataclass
class CommittorConfig:
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
        ``"auto"`` (the fastest engine valid for the system: batched for the
        bundled one), ``"batched"`` (many replicas in one OpenMM context, fastest for the
        bundled vacuum system), ``"lean"`` (OPS engine, one shot at a time
        per worker) or ``"ops"`` (OPS CommittorSimulation with storage).
    n_replicas : int
        Replicas per batched engine.
    """

    shots: int = 20
    rounds: int = 3
    first_round: int = 300
    later_rounds: int = 300
    window: list = field(default_factory=lambda: [0.1, 0.9])
    max_frames: int = 2000
    engine: str = "auto"
    n_replicas: int = 64


@dataclass
class FeaturesConfig:
    """Input features of the model.

    Attributes
    ----------
    kind : str
        ``"dihedrals"`` (the paper's inputs).
    dihedrals : str
        ``"all"`` (41 proper + 4 improper for alanine dipeptide), ``"heavy"``
        or ``"backbone"``.
    sincos : bool
        Use sin/cos of each angle instead of the angle in degrees.
    """

    kind: str = "dihedrals"
    dihedrals: str = "all"
    sincos: bool = False


@dataclass
class ModelConfig:
    """The committor network (see :class:`mda_rcxai.model.CommittorModel`).

    Attributes
    ----------
    hidden_layers : list of int
    activation : str
    weight_decay : float
    learning_rate : float
    max_epochs : int
    batch_size : int
    validation_fraction : float
    early_stopping : int
    """

    hidden_layers: list = field(default_factory=lambda: [64, 64])
    activation: str = "tanh"
    weight_decay: float = 1e-2
    learning_rate: float = 1e-3
    max_epochs: int = 500
    batch_size: int = 64
    validation_fraction: float = 0.2
    early_stopping: int = 50


@dataclass
class ExplainConfig:
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
    """

    methods: list = field(default_factory=lambda: ["shap", "lime"])
    ts_window: list = field(default_factory=lambda: [0.4, 0.6])
    max_samples: int = 200
    background_size: int = 50


_SECTIONS = {"system": SystemConfig, "tps": TPSConfig, "committor": CommittorConfig,
             "features": FeaturesConfig, "model": ModelConfig, "explain": ExplainConfig}


@dataclass
class StudyConfig:
    """All parameters of a study.

    Attributes
    ----------
    seed : int
        Seed of every random step (sampling, model, explanations).
    workers : int
        Processes for committor shooting (Dask LocalCluster when > 1).
    system, tps, committor, features, model, explain
        The sections, see their classes.

    Examples
    --------
    >>> cfg = StudyConfig.from_toml("seed = 2\\n[tps]\\nn_steps = 50\\n")
    >>> cfg.seed, cfg.tps.n_steps, cfg.committor.rounds
    (2, 50, 3)
    """

    seed: int = 0
    workers: int = 2
    system: SystemConfig = field(default_factory=SystemConfig)
    tps: TPSConfig = field(default_factory=TPSConfig)
    committor: CommittorConfig = field(default_factory=CommittorConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    explain: ExplainConfig = field(default_factory=ExplainConfig)

    # -- I/O -----------------------------------------------------------------
    @classmethod
    def from_dict(cls, d):
        """Build from a nested dict; unknown keys raise :class:`InputError`."""
        d = dict(d)
        kw = {}
        for key in ("seed", "workers"):
            if key in d:
                kw[key] = d.pop(key)
        for name, klass in _SECTIONS.items():
            sec = d.pop(name, {})
            if not isinstance(sec, dict):
                raise InputError(f"config: [{name}] must be a table")
            known = {f.name for f in fields(klass)}
            bad = set(sec) - known
            if bad:
                raise InputError(
                    f"config: unknown key(s) {sorted(bad)} in [{name}]; known: {sorted(known)}")
            kw[name] = klass(**sec)
        if d:
            raise InputError(f"config: unknown key(s) {sorted(d)}; known sections: "
                             f"{sorted(_SECTIONS)} and seed, workers")
        cfg = cls(**kw)
        cfg.validate()
        return cfg

    @classmethod
    def from_toml(cls, text):
        """Parse TOML text (see :meth:`to_toml`)."""
        try:
            return cls.from_dict(tomllib.loads(text))
        except tomllib.TOMLDecodeError as err:
            raise InputError(f"config: not valid TOML ({err})") from err

    @classmethod
    def load(cls, path):
        """Read a TOML file."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_toml(fh.read())

    def to_dict(self):
        """Nested dict of all parameters."""
        return asdict(self)

    def to_toml(self):
        """All parameters as TOML text (round-trips through :meth:`from_toml`)."""
        d = self.to_dict()
        lines = [f"seed = {_toml_value(d.pop('seed'))}",
                 f"workers = {_toml_value(d.pop('workers'))}"]
        for name in _SECTIONS:
            lines.append(f"\n[{name}]")
            for k, v in d[name].items():
                lines.append(f"{k} = {_toml_value(v)}")
        return "\n".join(lines) + "\n"

    def digest(self, *sections):
        """Short hash of the given sections (all when none): what a stage depends on."""
        d = self.to_dict()
        keep = {k: d[k] for k in (sections or d)}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]

    def replace(self, **changes):
        """Copy with top-level fields changed."""
        return dataclasses.replace(self, **changes)

    def validate(self):
        """Raise :class:`InputError` naming any out-of-range parameter."""
        c = self
        checks = [
            (c.workers >= 1, "workers must be >= 1"),
            (c.system.temperature > 0, "[system] temperature must be > 0 K"),
            (c.system.timestep > 0, "[system] timestep must be > 0 ps"),
            (c.system.steps_per_frame >= 1, "[system] steps_per_frame must be >= 1"),
            (c.tps.n_steps >= 1, "[tps] n_steps must be >= 1"),
            (c.committor.shots >= 1, "[committor] shots must be >= 1"),
            (c.committor.rounds >= 1, "[committor] rounds must be >= 1"),
            (c.committor.first_round >= 2, "[committor] first_round must be >= 2"),
            (len(c.committor.window) == 2 and 0 <= c.committor.window[0] < c.committor.window[1] <= 1,
             "[committor] window must be [low, high] with 0 <= low < high <= 1"),
            (len(c.explain.ts_window) == 2 and 0 <= c.explain.ts_window[0] < c.explain.ts_window[1] <= 1,
             "[explain] ts_window must be [low, high] with 0 <= low < high <= 1"),
            (set(c.explain.methods) <= {"shap", "lime"} and c.explain.methods,
             "[explain] methods must be a non-empty subset of ['shap', 'lime']"),
            (c.committor.engine in ("auto", "batched", "lean", "ops"),
             "[committor] engine must be 'auto', 'batched', 'lean' or 'ops'"),
            (c.features.kind == "dihedrals", "[features] kind must be 'dihedrals'"),
            (c.system.name == "alanine_dipeptide",
             "[system] name must be 'alanine_dipeptide' for the demo study; for your own "
             "system use the Python API (mda_rcxai.systems)"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InputError(f"config: {msg}")
        return self


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")

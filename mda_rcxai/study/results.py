"""The typed results the stages hand on to the next stages and to the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["SampleResult", "CommittorResult", "TrainResult", "ExplainResult", "ValidationResult"]


@dataclass(frozen=True)
class SampleResult:
    """What the sample stage hands on.

    Attributes
    ----------
    paths : list of numpy.ndarray
        Interior frames of each transition path, ``(n_frames, n_atoms, 3)`` in
        Angstrom; the first is the (relaxed) initial path.
    acceptance : float
        Accepted / attempted TPS moves.
    n_moves : int
    seconds : float
    """

    paths: list
    acceptance: float
    n_moves: int
    seconds: float = 0.0

    @property
    def frames(self) -> np.ndarray:
        """All path frames stacked, ``(n, n_atoms, 3)`` Angstrom."""
        return np.concatenate(self.paths)

    @property
    def shot_frames(self) -> int:
        """A typical committor shot from these frames, frames: half the median path.

        What the committor route measurement shoots (shorter shots weigh
        OPS' per-shot costs more). At least 2.
        """
        return max(2, int(round(float(np.median([len(p) for p in self.paths])) / 2)))


@dataclass(frozen=True)
class CommittorResult:
    """Committor shooting: the merged dataset and a summary line per round.

    Attributes
    ----------
    dataset : CommittorDataset
    rounds : list of str
    method : str
        Shooting engine used ("batched", "lean", ...).
    method_reason : str
        Why ``"auto"`` chose it.
    """

    dataset: object
    rounds: list
    method: str = ""
    method_reason: str = ""


@dataclass(frozen=True)
class TrainResult:
    """Features, the model and how well it fits.

    Attributes
    ----------
    model : CommittorModel
        The final model (all configurations; the cross-validated choice).
    X, n_A, n_B : numpy.ndarray
        Features ``(n, d)`` and shot counts of the configurations with
        decided shots.
    names : list of str
        Column names.
    groups : list of int
        Group index of each column (sin/cos pairs share one).
    atom_indices : list
        Atom indices of each column.
    columns : list of dict
        Structured metadata per column.
    positions : numpy.ndarray
        ``(n, n_atoms, 3)`` Angstrom, the configurations of ``X``.
    X_paths : numpy.ndarray
        Features of every TPS path frame (free-energy surface, committor test).
    path_is_training : numpy.ndarray of bool
        Whether a path frame is one of the shooting points.
    fit : dict
        Held-out metrics (RMSE of p_B, log-likelihood per shot, sizes).
    selection : dict
        Model selection: grid with CV scores and the choice (empty when off).
    ensemble : CommittorEnsemble or None
        Members (bootstrap resamples, other seeds) for q's error and the
        importances' error bars.
    cv : CommittorModelCV or None
        The fitted model selection (its folds are reused by the baselines).
    """

    model: object
    X: np.ndarray
    n_A: np.ndarray
    n_B: np.ndarray
    names: list
    groups: list
    atom_indices: list
    columns: list
    positions: np.ndarray
    X_paths: np.ndarray
    path_is_training: np.ndarray
    fit: dict
    selection: dict = field(default_factory=dict)
    ensemble: object = None
    cv: object = None


@dataclass(frozen=True)
class ExplainResult:
    """SHAP and LIME results.

    Attributes
    ----------
    summary : dict
        JSON-able rankings and importances per ``"method/selection"``, plus
        ``"agreement"``.
    explanations : dict
        ``{(method, selection): Explanation}`` (empty when read back from disk).
    errors : dict
        ``{"method/selection": DataFrame}`` of group importances with ensemble
        error bars (empty without an ensemble).
    """

    summary: dict
    explanations: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationResult:
    """The committor tests and the baselines.

    Attributes
    ----------
    committor_test : dict or None
        Summary of :func:`mda_rcxai.sampling.committor_test` of the learned
        coordinate (verdict, criterion, counts and p_B of each tested
        configuration, histogram).
    baselines : list of dict
        Held-out log-likelihood per shot of restricted models beside the full
        one, each with ``vs_full`` (difference, bootstrap interval, verdict).
    committor_test_naive : dict or None
        The same for the naive coordinate
        (:func:`mda_rcxai.sampling.validation.naive_committor_test`), its
        ``coordinate`` holding the fitted naive model; None when the study
        has no naive coordinate.
    naive : dict or None
        ``names`` (the naive features), ``columns`` and ``baseline`` (the
        name of the baselines row of the same columns: the full model
        against the naive coordinate, with its interval).
    comparisons : list of dict
        Head-to-head pairs of baselines rows
        (:func:`mda_rcxai.model.compare_baselines`: ``a``, ``b``, ``delta``,
        ``ci_low``, ``ci_high``, ``verdict`` from ``a``'s side), e.g. phi +
        theta against phi + psi, and the top two groups against the naive
        coordinate.
    """

    committor_test: dict | None
    baselines: list
    committor_test_naive: dict | None = None
    naive: dict | None = None
    comparisons: list = field(default_factory=list)

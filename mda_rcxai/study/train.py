"""Stage 3, ``train``: features, model selection, held-out fit, the final model.

Writes ``features.npz``, ``model.pt``, ``fit.json`` (and ``model_ensemble.pt``,
``model_cv.pt`` when the config asks for them).
"""

from __future__ import annotations

import json
import os

import numpy as np
from sklearn.model_selection import train_test_split

from ..exceptions import InputError
from .common import base_params, dataset_features, path_universe, records, rows_key
from .files import derived_seed, load_npz, log, read_json, savez, write_json
from .inputs import featurize
from .results import CommittorResult, SampleResult, TrainResult
from ..fileio import atomic_write
from ..fileio import to_jsonable as _jsonable

__all__ = ["stage_train", "fit_final", "holdout_split", "WRITES"]

#: Files this stage writes in the study directory; ``--overwrite`` retires them all, so
#: no model of earlier parameters (an ensemble, a model selection) survives it.
WRITES = ("features.npz", "model.pt", "model_ensemble.pt", "model_cv.pt", "fit.json")


def holdout_split(n, seed, test_fraction=0.2):
    """Row indices ``(train, test)`` of a random held-out split (each sorted).

    Parameters
    ----------
    n : int
        Number of rows (configurations).
    seed : int
    test_fraction : float
        Share of rows held out (at least one row).

    Examples
    --------
    >>> train, test = holdout_split(10, seed=0)
    >>> len(train), len(test), sorted(set(train) | set(test)) == list(range(10))
    (8, 2, True)
    """
    train, test = train_test_split(np.arange(n), test_size=max(1, int(round(test_fraction * n))),
                                   random_state=seed)
    return np.sort(train), np.sort(test)


def fit_final(cfg, X, n_A, n_B, names, seed):
    """(model, ensemble or None, cv or None, held-out metrics, selection record)."""
    from ..model import CommittorEnsemble, CommittorModel, CommittorModelCV
    from ..model import constant_loglik, pb_rmse

    cv = None
    if cfg.model.select:
        # weight decay x architecture by k-fold CV (L-BFGS, group lasso on the input layer);
        # held-out metrics from the out-of-fold predictions, the choice refitted on all rows;
        # the other [model] keys given reach every fit (the config refuses the grid's keys)
        cv = CommittorModelCV(cv=cfg.model.cv, seed=seed, **base_params(cfg)).fit(
            X, n_A, n_B, feature_names=names)
        model = cv.best_estimator_
        m = cv.cv_metrics_
        fit = {"rmse_p_B_heldout": float(m["rmse_p_B"]), "loglik_heldout": float(m["log_likelihood"]),
               "loglik_constant": float(m["log_likelihood_constant"]),
               "heldout": f"{cfg.model.cv}-fold out-of-fold predictions",
               "n_train": int(len(X) - len(X) // cfg.model.cv), "n_test": int(len(X))}
        selection = {"best_params": _jsonable(dict(cv.best_params_)),
                     "grid": [_jsonable(dict(r)) for r in records(cv.results_table())],
                     "cv": cfg.model.cv, "at_grid_edge": list(cv.at_grid_edge_)}
        member = model
    else:
        # held-out quality: the config's network trained on 80 %, tested on 20 %
        train, test = holdout_split(len(X), derived_seed(cfg.seed, "holdout"))
        m80 = CommittorModel(seed=seed, **base_params(cfg)).fit(X[train], n_A[train], n_B[train])
        p0 = n_B[train].sum() / (n_A[train] + n_B[train]).sum()  # the training rows' constant
        fit = {"rmse_p_B_heldout": pb_rmse(m80.predict_q(X[test]), n_A[test], n_B[test]),
               "loglik_heldout": float(m80.score(X[test], n_A[test], n_B[test])),
               "loglik_constant": constant_loglik(n_A[test], n_B[test], p=p0),
               "heldout": "20 % of the configurations", "n_train": int(len(train)),
               "n_test": int(len(test))}
        selection = {}
        model = CommittorModel(seed=seed, **base_params(cfg)).fit(X, n_A, n_B,
                                                                   feature_names=names)
        member = model
    ensemble = None
    if cfg.model.ensemble > 1:
        ensemble = CommittorEnsemble(n_models=cfg.model.ensemble, seed=seed,
                                     base_estimator=member).fit(X, n_A, n_B, feature_names=names)
    fit.update(n_features=int(X.shape[1]), ensemble=int(cfg.model.ensemble),
               params=_jsonable(model.get_params()))
    return model, ensemble, cv, fit, selection


def stage_train(study, system, sample: SampleResult, committor: CommittorResult) -> TrainResult:
    """Features, model selection, held-out fit, the final model and its ensemble."""
    cfg = study.config
    feats_path, model_path = study.path("features.npz"), study.path("model.pt")
    ens_path, cv_path = study.path("model_ensemble.pt"), study.path("model_cv.pt")
    if study.done("train"):
        from ..model import CommittorEnsemble, CommittorModel, CommittorModelCV
        log("   train: done before, reusing " + model_path, study.verbose)
        d = load_npz(feats_path, "features")
        return TrainResult(
            model=CommittorModel.load(model_path), X=d["X"], n_A=d["n_A"], n_B=d["n_B"],
            names=[str(n) for n in d["names"]], groups=d["groups"].tolist(),
            atom_indices=json.loads(str(d["atom_indices_json"])),
            columns=json.loads(str(d["columns_json"])), positions=d["positions"],
            X_paths=d["X_paths"], path_is_training=d["path_is_training"],
            fit=read_json(study.path("fit.json"), "fit"),
            selection=study.state["train"].get("selection", {}),
            ensemble=CommittorEnsemble.load(ens_path) if os.path.exists(ens_path) else None,
            cv=CommittorModelCV.load(cv_path) if os.path.exists(cv_path) else None)
    with study.stage("train") as st:
        X, n_A, n_B, res, pos = dataset_features(cfg, committor.dataset)
        if len(X) < 10:
            raise InputError(f"only {len(X)} configurations with decided shots; the model needs "
                             "at least 10: raise [committor] first_round or max_frames")
        names = list(res.names)
        seed = derived_seed(cfg.seed, "model")
        model, ensemble, cv, fit, selection = fit_final(cfg, X, n_A, n_B, names, seed)
        frames = sample.frames
        X_paths = featurize(cfg, path_universe(system, frames)).features
        seen = set(rows_key(committor.dataset.positions))
        path_is_training = np.array([k in seen for k in rows_key(frames)])
        columns = [_jsonable(_column_dict(c)) for c in getattr(res, "columns", [])]
        atom_idx = [list(map(int, a)) for a in res.atom_indices]
        for obj, path in ((model, model_path), (ensemble, ens_path), (cv, cv_path)):
            if obj is not None:
                atomic_write(path, obj.save)
        savez(feats_path, X=X, n_A=n_A, n_B=n_B, names=np.array(names),
               groups=np.asarray(res.groups),
               atom_indices_json=np.array(json.dumps(atom_idx)),
               columns_json=np.array(json.dumps(columns)), positions=pos.astype(np.float32),
               X_paths=X_paths, path_is_training=path_is_training)
        write_json(study.path("fit.json"), fit)
    summary = (f"{X.shape[1]} features, {len(X)} configurations; held-out ({fit['heldout']}) "
               f"p_B RMSE {fit['rmse_p_B_heldout']:.3f}, log-likelihood per shot "
               f"{fit['loglik_heldout']:.3f} (constant p_B: {fit['loglik_constant']:.3f})"
               + (f"; chosen {selection['best_params']}" if selection else "")
               + f"; {st['seconds']:.0f} s")
    study.record("train", st["seconds"], summary, selection=selection, **fit)
    log("   " + summary, study.verbose)
    return TrainResult(model, X, n_A, n_B, names, np.asarray(res.groups).tolist(), atom_idx,
                       columns, pos, X_paths, path_is_training, fit, selection, ensemble, cv)


def _column_dict(c):
    if hasattr(c, "to_dict"):
        return c.to_dict()
    from dataclasses import asdict, is_dataclass
    return asdict(c) if is_dataclass(c) else dict(c)

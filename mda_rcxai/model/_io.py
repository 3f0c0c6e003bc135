"""Saving, loading and TorchScript export of committor models.

Files hold tensors and plain data only (numbers, strings, lists, dicts), so
they load with ``torch.load(weights_only=True)``, which cannot execute code.
Every file is written atomically (:func:`mda_rcxai.fileio.atomic_write`, also
importable from here under its old name).
"""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np
import torch
from torch import nn

from ..exceptions import ModelFileError, ModelFileNotFoundError
from ..fileio import atomic_write
from ._validation import check_feature_names

__all__ = ["atomic_write", "save_model", "load_model", "export_torchscript", "read_payload",
           "plain_params", "FORMAT", "FORMAT_VERSION"]

FORMAT = "mda_rcxai.CommittorModel"
FORMAT_VERSION = 1


def _plain(value):
    """Numbers, strings, bools, None, lists and dicts only (weights_only-safe)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def plain_params(params):
    """Constructor parameters as plain data (tuples become lists)."""
    return {k: _plain(v) for k, v in params.items()}


def model_payload(model):
    """The fitted state of one CommittorModel as a plain dict of tensors and data."""
    model.check_is_fitted()
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "params": plain_params(model.get_params()),
        "n_features_in": int(model.n_features_in_),
        "feature_names": None if model.feature_names_ is None else list(model.feature_names_),
        "scaler_mean": torch.as_tensor(model.scaler_mean_, dtype=torch.float64),
        "scaler_scale": torch.as_tensor(model.scaler_scale_, dtype=torch.float64),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.net_.state_dict().items()},
        "history": {k: [float(x) for x in v] for k, v in model.history_.items()},
        "best_epoch": int(model.best_epoch_),
        "n_epochs": int(model.n_epochs_),
        "seed": int(model.seed_),
        "target_mode": str(model.target_mode_),
        "validation_indices": torch.as_tensor(model.validation_indices_, dtype=torch.int64),
        "validation_metrics": _plain(model.validation_metrics_),
        "fit_time": float(model.fit_time_),
    }


def save_model(model, path):
    """Write ``model`` to ``path`` (see :meth:`CommittorModel.save`)."""
    payload = model_payload(model)
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def read_payload(path, expected_format=FORMAT, what="CommittorModel"):
    """Read a file written by one of our ``save`` methods, safely; return the dict."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileNotFoundError(
            f"path={path!r}: no such file; give the file written by {what}.save"
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle errors, zip errors, unsafe globals
        first = str(err).splitlines()[0] if str(err) else ""
        raise ModelFileError(
            f"path={path!r} could not be read as a saved {what} ({type(err).__name__}: "
            f"{first}); it is damaged or not written by {what}.save (files with arbitrary "
            "Python objects are refused)"
        ) from None
    if not isinstance(data, dict) or data.get("format") != expected_format:
        raise ModelFileError(
            f"path={path!r} is not a saved {what} (missing format tag {expected_format!r}); "
            f"write it with {what}.save"
        )
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(
            f"path={path!r} has format version {data.get('format_version')}, newer than "
            f"this mda_rcxai reads ({FORMAT_VERSION}); upgrade mda_rcxai"
        )
    return data


def check_saved_features(path, saved_names, saved_n, feature_names=None, n_features=None):
    """Refuse ``feature_names`` / ``n_features`` that differ from the saved ones."""
    if n_features is not None and int(n_features) != saved_n:
        raise ModelFileError(
            f"the model in {path!r} was fitted on {saved_n} features but n_features="
            f"{n_features}; compute the same features as for training"
        )
    if feature_names is None:
        return
    names = check_feature_names(feature_names, len(list(feature_names)))
    if len(names) != saved_n:
        raise ModelFileError(
            f"the model in {path!r} was fitted on {saved_n} features but "
            f"feature_names has {len(names)}; compute the same features as for training"
        )
    if saved_names is not None and names != saved_names:
        i = next(i for i, (x, y) in enumerate(zip(names, saved_names)) if x != y)
        missing = [s for s in saved_names if s not in names]
        extra = [s for s in names if s not in saved_names]
        detail = (f"missing {missing[:5]}, unexpected {extra[:5]}" if missing or extra
                  else "same names in another order")
        raise ModelFileError(
            f"feature_names do not match the model in {path!r}: first difference at "
            f"position {i} ({names[i]!r} vs saved {saved_names[i]!r}); {detail}. "
            "Pass the features in the saved order (model.feature_names_)"
        )


def model_from_payload(cls, data, path):
    """Rebuild a fitted ``cls`` instance from :func:`model_payload` output."""
    from ..exceptions import InputError as _InputError

    saved_names = data["feature_names"]
    saved_n = int(data["n_features_in"])
    params = dict(data["params"])
    params["hidden_layers"] = tuple(params["hidden_layers"])
    known = set(cls._get_param_names())
    params = {k: v for k, v in params.items() if k in known}
    try:
        model = cls(**params)
    except _InputError:
        params["device"] = "cpu"
        model = cls(**params)
    net = model._build_net(saved_n)
    try:
        net.load_state_dict(data["state_dict"])
    except RuntimeError as err:
        raise ModelFileError(
            f"path={path!r}: the stored weights do not fit the stored architecture ({err})"
        ) from None
    net = net.float().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    model.net_ = net
    model.n_features_in_ = saved_n
    model.feature_names_ = None if saved_names is None else list(saved_names)
    model.scaler_mean_ = data["scaler_mean"].numpy().astype(np.float64)
    model.scaler_scale_ = data["scaler_scale"].numpy().astype(np.float64)
    model.history_ = {k: list(v) for k, v in data["history"].items()}
    model.best_epoch_ = int(data["best_epoch"])
    model.n_epochs_ = int(data["n_epochs"])
    model.seed_ = int(data["seed"])
    model.target_mode_ = data.get("target_mode", "counts")
    model.validation_indices_ = data["validation_indices"].numpy()
    model.validation_metrics_ = data["validation_metrics"]
    model.fit_time_ = float(data.get("fit_time", math.nan))
    return model


def load_model(cls, path, feature_names=None, n_features=None):
    """Load a model written by :func:`save_model` (see :meth:`CommittorModel.load`)."""
    path = os.fspath(path)
    data = read_payload(path)
    check_saved_features(path, data["feature_names"], int(data["n_features_in"]),
                         feature_names, n_features)
    return model_from_payload(cls, data, path)


class _Float32Input(nn.Module):
    """Casts the input to float32, then applies ``net`` (for TorchScript export)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.to(torch.float32))


def export_torchscript(model, path):
    """Write ``model.to_torch()`` as TorchScript (see :meth:`CommittorModel.export_torchscript`)."""
    module = _Float32Input(model.to_torch()).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(module)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "n_features": model.n_features_in_,
        "feature_names": model.feature_names_,
        "output": "q, shape (n, 1); p_B = (1 + tanh q) / 2",
    }
    extra = {"mda_rcxai.json": json.dumps(meta)}

    def write(tmp):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            torch.jit.save(scripted, tmp, _extra_files=extra)

    return atomic_write(path, write)

"""Exceptions raised by mda_rcxai.

Every error caused by bad input is a subclass of :class:`RcxaiError`, so a
script can catch all of them at once; the concrete classes also derive from
the built-in exception that fits (``ValueError``, ``TypeError``,
``FileNotFoundError``), so code written against the built-ins keeps working.

Examples
--------
>>> from mda_rcxai.exceptions import RcxaiError, InputError
>>> try:
...     raise InputError("units='furlongs' is not known; use 'degrees' or 'radians'")
... except RcxaiError as err:
...     print(err)
units='furlongs' is not known; use 'degrees' or 'radians'
"""

__all__ = [
    "RcxaiError",
    "InputError",
    "InputTypeError",
    "TopologyError",
    "NotFittedError",
    "DatasetError",
    "SamplingError",
    "StateError",
    "ModelFileError",
    "ModelFileNotFoundError",
    "TrainingError",
    "StudyInUseError",
]


class RcxaiError(Exception):
    """Base class of every error raised by mda_rcxai on purpose."""


class InputError(RcxaiError, ValueError):
    """An argument has a bad value; the message names it and the fix."""


class InputTypeError(RcxaiError, TypeError):
    """An argument has the wrong type; the message names it and the fix."""


class TopologyError(InputError):
    """The topology lacks what is needed (bonds, atoms, residues)."""


class NotFittedError(RcxaiError, AttributeError):
    """A model or explainer was used before ``fit``."""


class DatasetError(InputError):
    """A dataset file is not ours, is damaged, or belongs to another run."""


class SamplingError(RcxaiError, RuntimeError):
    """A simulation could not do what was asked (e.g. no path found)."""


class StateError(InputError):
    """Stable-state definitions are unknown, overlap or are inconsistent."""


class ModelFileError(InputError):
    """A saved model file is not ours, is damaged, or does not fit the data.

    Also a ``ValueError``; not a :class:`DatasetError` (a model file is not
    a dataset).

    Examples
    --------
    >>> from mda_rcxai.exceptions import DatasetError, ModelFileError
    >>> err = ModelFileError("bad file")
    >>> isinstance(err, ValueError), isinstance(err, DatasetError)
    (True, False)
    """


class ModelFileNotFoundError(RcxaiError, FileNotFoundError):
    """A saved model file does not exist (also a ``FileNotFoundError``)."""


class TrainingError(RcxaiError, RuntimeError):
    """Training diverged (non-finite loss); lower the learning rate."""


class StudyInUseError(RcxaiError, RuntimeError):
    """Another run holds the study directory's lock; the message names the holder."""

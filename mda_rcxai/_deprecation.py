"""Old names kept working for one release, each use warning with the new name.

The package spells the committor ``p_B`` everywhere; a few names of 0.x used
``pB`` (``mean_pB``, ``predict_pB=``, ...). :func:`renamed_keywords` keeps an
old keyword argument working and :func:`deprecated_alias` an old attribute,
both with a :class:`DeprecationWarning` that names the new spelling.

Examples
--------
>>> import warnings
>>> @renamed_keywords(predict_pB="predict_p_B")
... def f(x, predict_p_B=None):
...     return predict_p_B
>>> with warnings.catch_warnings(record=True) as w:
...     warnings.simplefilter("always")
...     f(1, predict_pB=2), str(w[0].message)
(2, 'f(predict_pB=) is deprecated; use predict_p_B=')
"""

from __future__ import annotations

import functools
import warnings

__all__ = ["renamed_keywords", "deprecated_alias"]


def renamed_keywords(**old_to_new):
    """Decorator: accept each old keyword for its new one, with a DeprecationWarning.

    Giving both the old and the new keyword is a :class:`TypeError` (as
    Python does for a keyword given twice).
    """
    def deco(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {old}= and {new}=; "
                                        f"give {new}= only")
                    warnings.warn(f"{func.__name__}({old}=) is deprecated; use {new}=",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)
        return wrapper
    return deco


def deprecated_alias(new, old):
    """A read-only property ``old`` returning attribute ``new``, with a DeprecationWarning."""
    def get(self):
        warnings.warn(f"{type(self).__name__}.{old} is deprecated; use .{new}",
                      DeprecationWarning, stacklevel=2)
        return getattr(self, new)
    get.__name__ = old
    get.__doc__ = f"Deprecated alias of :attr:`{new}` (removed in the next release)."
    return property(get)

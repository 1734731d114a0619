"""Warnings that point at the user's own call.

A warning raised deep inside the package (a feature family called by
scikit-learn's ``set_output`` wrapper, called by a ``Pipeline``, called by
the user) names the line of the first caller outside this package,
scikit-learn and joblib: the line the user wrote.  Python's default filter
then prints a given warning once per such line.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["DEPRECATED", "renamed", "warn_user"]


def _internal_folders():
    import joblib
    import sklearn

    here = os.path.dirname(os.path.abspath(__file__))
    return tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                 for m in (sklearn, joblib)) + (here + os.sep,)


_INTERNAL = None


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning issued by this function's
    caller name the first frame outside the package, scikit-learn and joblib
    (level 1 is the caller itself)."""
    global _INTERNAL
    if _INTERNAL is None:
        _INTERNAL = _internal_folders()
    frame, level = sys._getframe(1), 1  # the caller of this function is level 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    return level


#: (text, category, file, line) of the warnings shown in this process.
_SHOWN: set = set()
_MAX_SHOWN = 10_000


def _first_action(text, category):
    """The action of the first warning filter that matches on message and
    category (the module is not compared)."""
    for action, msg, cat, _mod, _line in warnings.filters:
        if issubclass(category, cat) and (msg is None or msg.match(text)):
            return action
    return warnings.defaultaction


def warn_user(message, category=UserWarning):
    """:func:`warnings.warn` at the user's line (see the module's docstring),
    once per text and line.

    Python's own "default" filter shows a warning once per line, but any
    change of the warning filters (scikit-learn's parallel helpers make one
    on every call) makes it forget what it showed; the package keeps its own
    record, unless a filter says ``"always"`` or ``"error"`` for the
    warning (as ``pytest.warns`` does).

    Parameters
    ----------
    message : str
    category : type of Warning, default=UserWarning
    """
    level = user_stacklevel()  # level 1 is this function's own frame
    text = str(message)
    if _first_action(text, category) not in ("always", "error"):
        frame = sys._getframe(level - 1)
        key = (text, category, frame.f_code.co_filename, frame.f_lineno)
        if key in _SHOWN:
            return
        if len(_SHOWN) >= _MAX_SHOWN:
            _SHOWN.clear()
        _SHOWN.add(key)
    warnings.warn(message, category, stacklevel=level)


#: The default of a renamed parameter's old name: "not given".
DEPRECATED = "deprecated"


def renamed(value, old_value, new_name, old_name, *, default=None):
    """The value of a renamed parameter: ``value``, or the deprecated
    ``old_value`` when that was given (anything but :data:`DEPRECATED`),
    with a FutureWarning naming both.

    Parameters
    ----------
    value
        The parameter under its new name ``new_name``.
    old_value
        The parameter under its old name ``old_name``.
    default
        The new name's default: giving both names is an error.

    Raises
    ------
    ValueError
        When both names are given.
    """
    if isinstance(old_value, str) and old_value == DEPRECATED:
        return value
    if value is not default:
        raise ValueError(f"pass {new_name} only: {old_name} is its deprecated old name")
    warn_user(f"the parameter `{old_name}` was renamed `{new_name}` in 0.2 and will be "
              f"removed in 0.4; pass {new_name}= instead", FutureWarning)
    return old_value

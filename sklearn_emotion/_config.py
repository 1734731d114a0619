"""Package settings as scoped state: :func:`config_context`, like scikit-learn's.

The settings that are not any one estimator's parameters (how large an
image may be, how long a cache claim is honoured) live here, per thread,
the way ``sklearn.config_context`` keeps scikit-learn's: :func:`set_config`
changes them for the calling thread, :func:`config_context` for a ``with``
block, and each thread starts from the defaults (read once from the
environment variables below).

They travel with the work.  Every task the package hands to a thread, a
joblib worker (threads, loky processes, Dask or Ray) or a Dask task is
wrapped by :func:`with_config`, which carries the caller's settings and
applies them around the task, as scikit-learn's ``utils.parallel.delayed``
does for its own.  The environment variables still reach worker processes
for code that does not go through the package's dispatch.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

__all__ = ["config_context", "get_config", "set_config", "with_config"]

#: The working resolution's default (2048 × 2048 pixels).
DEFAULT_WORKING_PIXELS = 4_194_304


def _env(name, default, kind):
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be a{'n integer' if kind is int else ' number'}, "
                         f"got {value!r}") from None


_global_config = {
    "max_pixels": _env("SKLEARN_EMOTION_MAX_PIXELS", 89_478_485, int),
    "working_pixels": _env("SKLEARN_EMOTION_WORKING_PIXELS", DEFAULT_WORKING_PIXELS, int),
    "claim_timeout": _env("SKLEARN_EMOTION_CLAIM_TIMEOUT", 600.0, float),
    "runtime": os.environ.get("SKLEARN_EMOTION_RUNTIME") or "auto",
}

#: The values of the ``runtime`` setting.
RUNTIMES = ("auto", "litert", "keras")
_local = threading.local()


def _current() -> dict:
    """This thread's settings (the defaults on first use): read-only for callers."""
    if not hasattr(_local, "config"):
        _local.config = dict(_global_config)
    return _local.config


def get_config() -> dict:
    """The current thread's settings.

    Returns
    -------
    config : dict
        A copy: ``max_pixels``, ``working_pixels``, ``claim_timeout`` and
        ``runtime`` (see :func:`set_config`).
    """
    return dict(_current())


def _checked(name, value):
    """``value`` as the setting ``name`` stores it, or a ValueError."""
    import math

    import numpy as np

    if name == "runtime":
        if value not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {value!r}")
        return value
    if name == "claim_timeout":
        ok = (isinstance(value, (int, float, np.integer, np.floating))
              and not isinstance(value, bool) and math.isfinite(value) and value > 0)
        if not ok:
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def set_config(*, max_pixels=None, working_pixels=None, claim_timeout=None, runtime=None):
    """Change settings for the calling thread (and the work it dispatches).

    Parameters
    ----------
    max_pixels : int, optional
        Images with more pixels (width × height) are refused with an
        :class:`~sklearn_emotion.ImageLoadError` naming the file and both
        numbers.  Default 89,478,485 (Pillow's decompression-bomb
        threshold), or ``$SKLEARN_EMOTION_MAX_PIXELS``; raising it also
        raises Pillow's own guard to match.
    working_pixels : int, optional
        Images with more pixels are downscaled, aspect ratio kept, to at
        most this many as they are decoded.  Default 4,194,304 (2048 ×
        2048), or ``$SKLEARN_EMOTION_WORKING_PIXELS``.  It enters the
        feature cache's keys when not the default.
    claim_timeout : float, optional
        Seconds after which another worker's claim on a cache entry is
        taken over (its worker is presumed dead), and the longest a worker
        waits for an entry another one claimed.  Default 600, or
        ``$SKLEARN_EMOTION_CLAIM_TIMEOUT``.  A dead claim holder on the same
        machine is noticed within seconds whatever this is.
    runtime : {"auto", "litert", "keras"}, optional
        What runs a network that exists in both forms (EfficientNet-Lite2,
        the shipped v2's second backbone): ``"litert"`` its LiteRT port
        (about three times faster on a CPU), ``"keras"`` its Keras graph
        (TensorFlow places it: a GPU when present), ``"auto"`` (default,
        or ``$SKLEARN_EMOTION_RUNTIME``) Keras when this machine has an
        NVIDIA GPU, LiteRT otherwise.  The two agree within float32
        rounding; the feature cache keeps their features apart.

    See Also
    --------
    config_context : the same for a ``with`` block.
    """
    new = {name: _checked(name, value) for name, value in
           (("max_pixels", max_pixels), ("working_pixels", working_pixels),
            ("claim_timeout", claim_timeout), ("runtime", runtime)) if value is not None}
    config = _current()
    config.update(new)
    if max_pixels is not None:
        _raise_pillow_guard(config["max_pixels"])


def _raise_pillow_guard(max_pixels):
    """Pillow's own decompression-bomb guard (process-wide) raised to
    ``max_pixels`` when it would refuse images below it; never lowered."""
    from PIL import Image

    if Image.MAX_IMAGE_PIXELS is not None and 2 * Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


@contextmanager
def config_context(*, max_pixels=None, working_pixels=None, claim_timeout=None, runtime=None):
    """Settings for a ``with`` block, restored when it ends (even on error).

    Parameters are those of :func:`set_config`; None leaves a setting as
    it is.  Work the package dispatches inside the block (joblib threads or
    processes, Dask and Ray tasks, decoding threads) runs with these
    settings.

    Examples
    --------
    >>> from sklearn_emotion import config_context, get_config
    >>> with config_context(working_pixels=1_000_000):
    ...     get_config()["working_pixels"]
    1000000
    >>> get_config()["working_pixels"]
    4194304
    """
    old = get_config()
    set_config(max_pixels=max_pixels, working_pixels=working_pixels,
               claim_timeout=claim_timeout, runtime=runtime)
    try:
        yield
    finally:
        _local.config = old


class _Configured:
    """``fn`` run under the settings captured when this was made (picklable)."""

    def __init__(self, fn, config):
        self.fn, self.config = fn, config

    def __call__(self, *args, **kwargs):
        old = getattr(_local, "config", None)
        _local.config = dict(self.config)
        _raise_pillow_guard(self.config["max_pixels"])
        try:
            return self.fn(*args, **kwargs)
        finally:
            if old is None:
                del _local.config
            else:
                _local.config = old

    def __dask_tokenize__(self):
        from dask.base import tokenize

        return ("sklearn_emotion.with_config", tokenize(self.fn), sorted(self.config.items()))

    @property
    def __name__(self):  # joblib and Dask name tasks by their function
        return getattr(self.fn, "__name__", type(self.fn).__name__)


def with_config(fn):
    """``fn`` wrapped to run with the calling thread's current settings,
    wherever it is called: in another thread, process or machine.

    Parameters
    ----------
    fn : callable
        Picklable when it is sent to another process.

    Returns
    -------
    callable
    """
    return _Configured(fn, get_config())

"""The reproduction's checkpoints: each finished fold on disk, so an interrupted run resumes.

A checkpoint is one of the store's sealed records (:mod:`sklearn_emotion._store`):
this module decides what it holds and checks it as a model file is
checked; the store moves and seals the bytes.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._keys import items_token, modules_of, store_key
from .._store import read_checked, write_record
from .._warn import warn_user

__all__ = ["FoldCheckpoints", "RECORD_FIELDS"]

#: What every fold record holds, and the reproduction's report reads: the
#: test and train scores per target and the fold's wall time.  Pearson r may
#: be NaN (undefined for a constant prediction); every other value is finite.
RECORD_FIELDS = tuple(f"{part}_{m}_{t}" for part in ("test", "train") for m in ("mse", "r2", "r")
                      for t in "VA") + ("fit_seconds",)

#: The most bytes a checkpoint may hold (a fold's predictions and its record).
MAX_CHECKPOINT_BYTES = 256 << 20


class FoldCheckpoints:
    """Finished folds of a reproduction, on disk, so an interrupted run resumes.

    Each finished fold's record, out-of-fold predictions and extra (the
    nested search's choice) are one record ``<folder>/<key>.npzc``, under a
    :func:`store_key` of everything that determines them: the unfitted
    model (its parameters), whether it is fitted jointly or per target, the
    feature matrix (for models on image paths: the paths with each file's
    size and mtime), the targets, the fold's indices, and the code of
    :mod:`sklearn_emotion.reproduce._evaluation` and of the modules of the
    package's classes inside the model, with everything they import.

    Feature code is covered through the feature matrix itself.  A run on the
    same output folder reads a fold whose key matches instead of fitting it
    again; any change to the above misses and refits.  The folder is
    removed when the run completes, so finished results never depend on
    checkpoints.

    Parameters
    ----------
    folder : path-like or None
        ``None`` disables checkpoints (every method is then a no-op).
    """

    #: The code that fits and scores a fold, besides the model's own modules.
    code = ("sklearn_emotion.reproduce._evaluation",)

    def __init__(self, folder):
        self.folder = None if folder is None else Path(folder)
        self.resumed = 0

    def key(self, model, joint, X, y, train, test):
        """The key of one fold of ``model`` on ``X``."""
        if self.folder is None:
            return None
        return self.key_of(model, bool(joint), items_token(X), np.asarray(y),
                           np.asarray(train), np.asarray(test))

    def key_of(self, model, *parts):
        """The key of any unit of work of ``model`` (e.g. a fit on one set
        scored on another): ``parts`` are hashed with the model and its code."""
        if self.folder is None:
            return None
        return store_key(model, parts, code=self.code + modules_of(model))

    def _path(self, key):
        return self.folder / f"{key}.npzc"

    def load(self, key, n=None, fields=RECORD_FIELDS):
        """``(record, test_predictions, extra)`` of a finished fold, or None.

        A checkpoint is checked as a model file is before it is trusted: a
        regular file of at most :data:`MAX_CHECKPOINT_BYTES` (nothing else
        is read: a FIFO, a device), its seal (sha256), a JSON description
        naming its own key, a record holding every one of ``fields`` as a
        number (finite, but for Pearson r, which may be NaN) and
        predictions of finite float64 with one row per test image (``n``,
        when given) and two columns.  One that fails (a truncated,
        corrupted or edited file, one copied under another key, a missing
        or non-numeric score, predictions of another fold's length) is not
        used: a warning names it and the fold is fitted again.  The
        checksum catches corruption, not a writer who recomputes it: only
        an output folder that others cannot write protects a run from
        planted scores (``docs/design.md``).
        """
        if self.folder is None or key is None:
            return None
        got = read_checked(self._path(key), ["predictions"],
                           lambda arrays, meta: checkpoint_problem(
                               meta, key, arrays["predictions"], n, fields),
                           "checkpoint", "fitting that fold again", MAX_CHECKPOINT_BYTES)
        if got is None:
            return None
        self.resumed += 1
        (arrays, meta) = got
        return meta["record"], arrays["predictions"], meta.get("extra")

    def save(self, key, record, pred, extra=None):
        """Write a finished fold atomically, as one record.  A checkpoint that
        cannot be written (a folder in its place, a full or read-only disk)
        is a warning: the run goes on, and that fold is fitted again if it is
        interrupted."""
        if self.folder is None or key is None:
            return
        path = self._path(key)
        try:
            if path.is_dir():
                raise IsADirectoryError("a folder is in its place")
            write_record(path, {"predictions": np.asarray(pred, dtype=np.float64)},
                         {"key": key, "record": record, "extra": extra})
        except (OSError, TypeError, ValueError) as exc:
            warn_user(f"could not write checkpoint {path} ({exc}); the run goes on without "
                          "it", UserWarning)

    def clear(self):
        """Remove the checkpoints (the run completed)."""
        if self.folder is not None:
            import shutil

            shutil.rmtree(self.folder, ignore_errors=True)


def checkpoint_problem(meta, key, pred, n=None, fields=RECORD_FIELDS):
    """What is wrong with a checkpoint's description and predictions, or None.

    Parameters
    ----------
    meta : object
        The description as parsed from JSON.
    key : str
        The fold's key: the description must name it.
    pred : ndarray
        The stored predictions.
    n : int, optional
        The fold's number of test images.
    fields : sequence of str
        What the record must hold, as numbers.
    """
    if not isinstance(meta, dict) or meta.get("key") != key or not isinstance(
            meta.get("record"), dict):
        return "not the checkpoint of this fold (its key differs)"
    record = meta["record"]
    for f in fields:
        v = record.get(f)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return f"its record has no number {f!r} (got {v!r})"
        if not math.isfinite(v) and not (math.isnan(v) and "_r_" in f):
            return f"its record's {f!r} is not finite ({v!r})"
    extra = meta.get("extra")
    if extra is not None and not (isinstance(extra, dict)
                                  and all(isinstance(extra.get(t), str) for t in "VA")):
        return f"its nested-search choice is not {{'V': ..., 'A': ...}} (got {extra!r})"
    if pred.dtype != np.float64 or pred.ndim != 2 or pred.shape[1] != 2:
        return f"holding predictions of dtype {pred.dtype} and shape {pred.shape}"
    if n is not None and len(pred) != n:
        return f"holding {len(pred)} predictions for a fold of {n} test images"
    if not np.isfinite(pred).all():
        return "holding predictions that are not finite"
    return None

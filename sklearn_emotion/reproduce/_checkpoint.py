"""Per-fold checkpoints, so that an interrupted reproduction resumes.

A full reproduction on two CPU cores runs for hours; a run that is stopped
(a closed laptop, a job limit) should not lose the folds it finished.  Each
finished fold's scores and out-of-fold predictions are written to
``<output>/.checkpoints/`` under a key of everything that determines them:

- the model's parameters (``joblib.hash`` of the unfitted estimator) and
  whether it is fitted jointly or per target;
- the feature matrix, the targets and the fold's train and test indices (for
  models on image paths: the paths with each file's size and mtime);
- the source of the code that fits and scores this model: the pipeline
  helpers, the training loop, the evaluation and the protocol, the modules
  of the package's classes inside the model (``models/ffnn.py`` for the
  FFNN, ...), and for a model on image paths the image loader and the
  backbones; and the versions of numpy, scipy, scikit-learn and TensorFlow.

Feature code is covered through the feature matrix itself.  A run on the
same output folder reads a fold whose key matches instead of fitting it
again, and says so in its log; any change to the above misses and refits.
The folder is removed when the run completes, so finished results never
depend on checkpoints.
"""

from __future__ import annotations

import json
import shutil
from functools import lru_cache
from pathlib import Path

import joblib
import numpy as np

from .._cache import atomic_write, items_token

__all__ = ["FoldStore"]

#: Package files whose source decides every fold's numbers, given its
#: features; the modules of the package's own classes inside a model are
#: added per model, and the image loader and backbones for models on images.
_COMMON_CODE = ("pipeline.py", "models/__init__.py", "models/_training.py",
                "models/_nan_rows.py", "reproduce/_evaluation.py", "reproduce/_protocol.py")
_IMAGE_CODE = ("_image.py", "_backbones.py", "_runners.py")


def _package_classes(model):
    """Modules (as package-relative files) of the package's classes in ``model``."""
    objs = [model]
    if hasattr(model, "get_params"):
        objs += list(model.get_params(deep=True).values())
    out = set()
    for o in objs:
        mod = type(o).__module__
        if mod.startswith("sklearn_emotion."):
            out.add(mod.split(".", 1)[1].replace(".", "/") + ".py")
    return sorted(out)


def code_fingerprint(model=None, on_images=False):
    """Hash of the source that fits and scores ``model`` and of the numeric
    libraries' versions: an edit to another model's module leaves this
    model's checkpoints valid."""
    files = list(_COMMON_CODE) + _package_classes(model) + (list(_IMAGE_CODE) if on_images else [])
    return _fingerprint(tuple(sorted(set(files))))


@lru_cache(maxsize=None)
def _fingerprint(files):
    import scipy
    import sklearn

    root = Path(__file__).resolve().parent.parent
    try:
        from importlib.metadata import version

        tf = version("tensorflow")
    except Exception:  # pragma: no cover - tensorflow is a dependency
        tf = None
    src = [(f, (root / f).read_bytes()) for f in files if (root / f).exists()]
    return joblib.hash((src, np.__version__, scipy.__version__, sklearn.__version__, tf))


class FoldStore:
    """Finished folds of a run, on disk (see the module docstring).

    Parameters
    ----------
    folder : path-like or None
        ``None`` disables checkpoints (every method is then a no-op).
    """

    def __init__(self, folder):
        self.folder = None if folder is None else Path(folder)
        self.resumed = 0

    def key(self, model, joint, X, y, train, test):
        """The key of one fold of ``model`` on ``X``."""
        if self.folder is None:
            return None
        on_images = not isinstance(X, (list, tuple)) and np.asarray(X).dtype == object
        return self.key_of(model, on_images, bool(joint), items_token(X), np.asarray(y),
                           np.asarray(train), np.asarray(test))

    def key_of(self, model, on_images, *parts):
        """The key of any other unit of work of ``model`` (e.g. a fit on one
        set scored on another): ``parts`` are hashed with the model and its code."""
        if self.folder is None:
            return None
        return joblib.hash((model, parts, code_fingerprint(model, on_images)))

    def load(self, key):
        """``(record, test_predictions, extra)`` of a finished fold, or None."""
        if self.folder is None or key is None:
            return None
        meta, arr = self.folder / f"{key}.json", self.folder / f"{key}.npy"
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            pred = np.load(arr, allow_pickle=False)
        except (OSError, ValueError):
            return None
        self.resumed += 1
        return info["record"], pred, info.get("extra")

    def save(self, key, record, pred, extra=None):
        """Write a finished fold atomically (predictions first, then the record)."""
        if self.folder is None or key is None:
            return
        atomic_write(self.folder / f"{key}.npy",
                     lambda f: np.save(f, np.asarray(pred, dtype=np.float64)))
        atomic_write(self.folder / f"{key}.json", lambda f: f.write(json.dumps(
            {"record": record, "extra": extra}).encode("utf-8")))

    def clear(self):
        """Remove the checkpoints (the run completed)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

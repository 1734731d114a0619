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
A checkpoint is checked before it is used (its key, the sha256 of its
predictions and of its record); one that fails is fitted again.
The folder is removed when the run completes, so finished results never
depend on checkpoints.
"""

from __future__ import annotations

import hashlib
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
                "models/_nan_rows.py", "reproduce/_evaluation.py", "reproduce/_kernel_grid.py",
                "reproduce/_protocol.py")
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
    missing = [f for f in files if not (root / f).is_file()]
    if missing:  # a renamed module must not silently drop out of every key
        raise FileNotFoundError(f"checkpoint keys name package files that do not exist: "
                                f"{missing}; update reproduce/_checkpoint.py")
    src = [(f, (root / f).read_bytes()) for f in files]
    return joblib.hash((src, np.__version__, scipy.__version__, sklearn.__version__, tf))


def _content_sha(body):
    fields = {k: body.get(k) for k in ("key", "record", "extra", "predictions_sha256")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()


def _checkpoint_problem(info, key, raw):
    if not isinstance(info, dict) or info.get("key") != key:
        return "not the checkpoint of this fold (its key differs)"
    if info.get("sha256") != _content_sha(info):
        return "edited or corrupted (its checksum does not match its content)"
    if info.get("predictions_sha256") != hashlib.sha256(raw).hexdigest():
        return "missing its predictions as written (their sha256 differs)"
    return None


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
        """``(record, test_predictions, extra)`` of a finished fold, or None.

        A checkpoint is checked before it is trusted: its record names its
        own key, its predictions file has the sha256 the record holds, and
        the record's own checksum matches its content.  One that fails (a
        truncated, corrupted or edited file, or one copied under another
        key) is not used: a warning names it and the fold is fitted again.
        The checksums catch corruption, not a writer who recomputes them:
        only an output folder that others cannot write protects a run from
        planted scores (``docs/design.md``).
        """
        if self.folder is None or key is None:
            return None
        meta, arr = self.folder / f"{key}.json", self.folder / f"{key}.npy"
        if not meta.exists() and not arr.exists():
            return None
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            raw = arr.read_bytes()
            problem = _checkpoint_problem(info, key, raw)
            pred = None
            if problem is None:
                import io

                pred = np.load(io.BytesIO(raw), allow_pickle=False)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        if problem is not None:
            import warnings

            warnings.warn(f"checkpoint {meta} is {problem}; fitting that fold again",
                          UserWarning, stacklevel=2)
            return None
        self.resumed += 1
        return info["record"], pred, info.get("extra")

    def save(self, key, record, pred, extra=None):
        """Write a finished fold atomically (predictions first, then the
        record with the checksums :meth:`load` checks)."""
        if self.folder is None or key is None:
            return
        import io

        buf = io.BytesIO()
        np.save(buf, np.asarray(pred, dtype=np.float64), allow_pickle=False)
        raw = buf.getvalue()
        atomic_write(self.folder / f"{key}.npy", lambda f: f.write(raw))
        body = {"key": key, "record": record, "extra": extra,
                "predictions_sha256": hashlib.sha256(raw).hexdigest()}
        body["sha256"] = _content_sha(body)
        atomic_write(self.folder / f"{key}.json", lambda f: f.write(json.dumps(body).encode("utf-8")))

    def clear(self):
        """Remove the checkpoints (the run completed)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

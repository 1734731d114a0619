"""Per-image feature cache.

Features are stored one ``.npy`` file per image under
``<location>/sklearn_emotion/<Family>-<token>/<key[:2]>/<key>.npy``, where
``token`` hashes the transformer's feature-relevant parameters (and the
package's feature version) and ``key`` hashes the image's content (see
:func:`sklearn_emotion._image.image_key`).  So a second run over a different
subset of already-seen images computes nothing; a changed parameter or a
changed file gets fresh features.  Writes go to a temporary file that is then
renamed, so concurrent workers (``n_jobs > 1`` or several processes) never see
a half-written entry.

Sharing a cache between users, processes and machines: entries are created
with the permissions of the process's umask (like any file it writes), so a
group-writable umask (``umask 002``) lets colleagues read and add entries; a
folder on a shared filesystem (NFS, a mounted bucket) can be used by every
worker of a cluster at once, since entries are written under a temporary name
and renamed.  Two workers that meet the same new image at the same moment may
both compute it; the second rename simply replaces the first, identical,
entry.  URLs (``s3://...``) are refused: mount the bucket and pass the mount
path.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
from joblib import Memory

__all__ = ["FeatureCache", "cache_location"]

# the process's umask, read once (os.umask can only be read by setting it)
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _refuse_url(text):
    if text.startswith("file://"):
        return text[len("file://"):]
    if _URL.match(text):
        raise ValueError(
            f"memory={text!r} is a URL; the per-image feature cache needs a folder on a local "
            "or mounted filesystem. Mount the bucket (e.g. s3fs-fuse, gcsfuse, or a network "
            "share) on every machine and pass the mount path, or use a local folder per worker"
        )
    return text


def cache_location(memory) -> Path | None:
    """Folder of a ``memory`` parameter: None, a path, or a ``joblib.Memory``."""
    if memory is None:
        return None
    if isinstance(memory, Memory):
        return None if memory.location is None else Path(_refuse_url(str(memory.location)))
    if isinstance(memory, (str, os.PathLike)):
        return Path(_refuse_url(os.fspath(memory)))
    raise TypeError(
        f"memory must be None, a folder path or a joblib.Memory, got {type(memory).__name__}"
    )


class FeatureCache:
    """A folder of per-image feature vectors for one feature configuration.

    Parameters
    ----------
    location : path-like
        Root folder of the cache.
    namespace : str
        The family and its parameter token.
    """

    def __init__(self, location, namespace: str):
        self.dir = Path(location) / "sklearn_emotion" / namespace
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """Return the cached vector for ``key`` or None."""
        path = self._path(key)
        try:
            return np.load(path, allow_pickle=False)
        except (FileNotFoundError, ValueError, OSError, EOFError):
            return None

    def put(self, key: str, vector: np.ndarray) -> None:
        """Store ``vector`` under ``key`` atomically."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600: follow the umask
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.asarray(vector), allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

"""Per-image feature cache.

Features are stored one file per image under
``<location>/sklearn_emotion/<Family>-<token>/<key[:2]>/<key>.npyc``, where
``token`` hashes the transformer's feature-relevant parameters (and the
package's feature version) and ``key`` hashes the image's content (see
:func:`sklearn_emotion._image.image_key`).  So a second run over a different
subset of already-seen images computes nothing; a changed parameter or a
changed file gets fresh features.  Writes go to a temporary file that is then
renamed, so concurrent workers (``n_jobs > 1`` or several processes) never see
a half-written entry.  An entry is the vector in NumPy's ``.npy`` format
followed by the sha256 of those bytes (:func:`sealed`); reading checks the
checksum, then dtype, shape and finiteness (:meth:`FeatureCache.get`).
Entries of the ``.npy`` format without a checksum, written before it
existed, are not read (a one-time recompute).

Sharing a cache between users, processes and machines: entries are created
with the permissions of the process's umask (like any file it writes), so a
group-writable umask (``umask 002``) lets colleagues read and add entries; a
folder on a shared filesystem (NFS, a mounted bucket) can be used by every
worker of a cluster at once, since entries are written under a temporary name
and renamed.  A worker about to compute a missing entry first *claims* it
(creates ``<key>.claim`` exclusively, naming its host and process); another
worker meeting the same image computes its other images first and then waits
for the entry instead of computing it again.  A claim older than
:func:`claim_timeout` seconds (its worker died) is taken over, and a worker that
waited that long computes the image itself.  URLs (``s3://...``) are refused:
mount the bucket and pass the mount path.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
from joblib import Memory

__all__ = ["FeatureCache", "claim_timeout", "atomic_write", "cache_location", "items_token",
           "sealed", "unsealed"]



def claim_timeout() -> float:
    """Seconds after which another worker's claim on an entry is considered
    abandoned (its worker died) and is taken over; also the longest a worker
    waits for an entry another worker claimed: the ``claim_timeout`` of
    :func:`sklearn_emotion.get_config` (default 600, or
    ``$SKLEARN_EMOTION_CLAIM_TIMEOUT``)."""
    from ._config import get_config

    return get_config()["claim_timeout"]


def _owner(token=""):
    return f"{socket.gethostname()}:{os.getpid()}:{token}"


def _entry_problem(vec, size=None):
    """What is wrong with a cached feature vector, or None."""
    if not isinstance(vec, np.ndarray) or vec.dtype.kind != "f":
        return f"not real floating-point numbers (dtype {getattr(vec, 'dtype', type(vec))})"
    if vec.ndim != 1 or (size is not None and vec.shape != (size,)):
        want = f"({size},)" if size is not None else "1-D"
        return f"of shape {vec.shape}, expected {want}"
    if not np.isfinite(vec).all():
        return "not finite (NaN or infinity)"
    return None


#: Separates a stored file's content from the sha256 written after it.
_SEAL = b"\nsklearn-emotion sha256 "


def sealed(body: bytes) -> bytes:
    """``body`` followed by its sha256: what the stores write.

    Parameters
    ----------
    body : bytes

    Returns
    -------
    bytes
        ``body``, a fixed separator, and the 64 hexadecimal digits of
        ``sha256(body)``.
    """
    import hashlib

    return body + _SEAL + hashlib.sha256(body).hexdigest().encode("ascii")


def unsealed(raw: bytes) -> bytes:
    """The content of a :func:`sealed` file, after checking its sha256.

    Parameters
    ----------
    raw : bytes
        The file as read.

    Returns
    -------
    bytes
        The content written.

    Raises
    ------
    ValueError
        Naming the problem: no checksum (truncated, or not written by this
        package), or a checksum that does not match (changed after it was
        written).
    """
    import hashlib

    body, sep, digest = raw.rpartition(_SEAL)
    if not sep or len(digest) != 64:
        raise ValueError("no checksum (truncated, or not written by this package)")
    if hashlib.sha256(body).hexdigest().encode("ascii") != digest:
        raise ValueError("checksum mismatch (changed after it was written)")
    return body


def _dead_here(holder):
    """True when ``holder`` names a process of this machine that has exited."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by another user
        return False
    return False

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


def atomic_write(path, write) -> None:
    """Write a file through ``write(binary_file)`` under a temporary name in
    its folder, then rename it into place: readers (other workers) never see
    half a file, and a failure leaves no temporary file.  Permissions follow
    the process's umask (``mkstemp`` alone would make it 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def items_token(items):
    """What identifies a list of inputs cheaply, without reading image files:
    each path with its size and modification time (``make``'s rule), each
    in-memory image by its content.  A list of arrays is hashed as such."""
    import joblib

    if isinstance(items, (list, tuple)):
        return [items_token(x) for x in items]
    if isinstance(items, np.ndarray) and items.dtype != object:
        return joblib.hash(items)
    if isinstance(items, np.ndarray):
        return [items_token(x) for x in items.tolist()]
    if isinstance(items, (str, os.PathLike)):
        try:
            st = os.stat(items)
            return (os.fspath(items), st.st_size, st.st_mtime_ns)
        except OSError:
            return (os.fspath(items), None, None)
    return joblib.hash(items)


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


def _npy_bytes(array):
    import io

    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


class FeatureCache:
    """A folder of per-image feature vectors for one feature configuration.

    Parameters
    ----------
    location : path-like
        Root folder of the cache.
    namespace : str
        The family and its parameter token.
    owner : str, default=""
        Names this user of the cache in its claims, with the host and the
        process: one ``transform`` call passes the same token to all of its
        chunks, so its own claims never make it wait (its chunks are
        pipelined in one process); another call, thread or process waits.
    """

    def __init__(self, location, namespace: str, owner: str = ""):
        self.dir = Path(location) / "sklearn_emotion" / namespace
        self.dir.mkdir(parents=True, exist_ok=True)
        self.owner = _owner(owner)

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.npyc"

    def get(self, key: str, size: int | None = None) -> np.ndarray | None:
        """Return the cached vector for ``key``, or None when there is none.

        An entry is checked before it is returned: its sha256 (written
        with it), then a 1-D array of real floats, all finite (features of
        readable images always are), of ``size`` values when given.
        Anything else (an edited or truncated file, another dtype, a folder
        in its place, a foreign file, NaN, infinities) is never returned: a
        warning names the entry and the problem, and the caller computes the
        features again (and overwrites it).
        """
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            if not path.exists():  # removed meanwhile
                return None
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        else:
            problem, vec = self._check(raw, size)
            if problem is None:
                return vec
        import warnings

        warnings.warn(f"feature cache entry {path}: {problem}; computing it again",
                      UserWarning, stacklevel=3)
        return None

    @staticmethod
    def _check(raw, size):
        """``(problem, vector)``: what is wrong with a stored entry, or None."""
        import io

        try:
            body = unsealed(raw)
        except ValueError as exc:
            return str(exc), None
        try:
            vec = np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            return f"unreadable ({type(exc).__name__}: {exc})", None
        return _entry_problem(vec, size), vec

    def put(self, key: str, vector: np.ndarray) -> None:
        """Store ``vector`` under ``key`` atomically.  A failure to write
        (a folder where the entry belongs, a full or read-only disk) is a
        warning, not an error: the features were computed and are returned."""
        path = self._path(key)
        try:
            if path.is_dir():
                raise IsADirectoryError("a folder is in its place")
            atomic_write(path, lambda f: f.write(sealed(_npy_bytes(vector))))
        except OSError as exc:
            import warnings

            warnings.warn(f"could not write feature cache entry {path} ({exc}); the features "
                          "are returned but not cached", UserWarning, stacklevel=3)

    # ----------------------------------------------------------- claims
    def _claim_path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.claim"

    def claim(self, key: str) -> bool:
        """Claim ``key`` for computing; False when another live process holds it.

        A claim with this cache's ``owner`` (another chunk of the same
        transform) counts as ours; a claim older than :func:`claim_timeout`, or held by a
        process of this machine that has exited, is taken over.
        """
        path = self._claim_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        me = self.owner
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666 & ~_UMASK)
        except FileExistsError:
            try:
                holder = path.read_text(encoding="utf-8")
                age = time.time() - path.stat().st_mtime
            except OSError:  # released meanwhile: the entry is there or will be retried
                return self.get(key) is None and self.claim(key)
            if holder == me:
                return True
            if age > claim_timeout() or _dead_here(holder):
                path.write_text(me, encoding="utf-8")  # take over an abandoned claim
                return True
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(me)
        return True

    def release(self, key: str) -> None:
        """Drop this process's claim on ``key`` (after ``put``, or on failure)."""
        path = self._claim_path(key)
        try:
            if path.read_text(encoding="utf-8") == self.owner:
                path.unlink()
        except OSError:
            pass

    def wait(self, key: str, timeout: float | None = None, poll: float = 0.1, *,
             deadline: float | None = None):
        """The entry another process claimed, once it is written.

        None (the caller computes it) when the claim disappears without an
        entry (that worker failed), when the claim's holder is a process of
        this machine that has exited (checked at every poll, at most every
        2 s: a killed worker costs its peers seconds, not the timeout), or
        at the deadline: ``deadline`` (a :func:`time.monotonic` time shared
        by every entry of a chunk) or else ``timeout`` (default
        :func:`claim_timeout`) seconds from now."""
        if deadline is None:
            deadline = time.monotonic() + (claim_timeout() if timeout is None else timeout)
        claim = self._claim_path(key)
        while True:
            vec = self.get(key)
            if vec is not None:
                return vec
            try:
                holder = claim.read_text(encoding="utf-8")
            except OSError:  # released: the entry is there, or the worker failed
                return self.get(key)
            if _dead_here(holder):
                return None
            if time.monotonic() >= deadline:
                return None
            time.sleep(poll)
            poll = min(poll * 1.5, 2.0)

"""The store: every byte the package persists, written and checked in one place.

Four kinds of stored things share one atomic write (:func:`atomic_write`),
one seal (:func:`sealed`: the content followed by its sha256, checked by
:func:`unsealed` before anything is parsed) and one key function
(:func:`sklearn_emotion._keys.store_key`: the parameters that decide the content, the content of
the resources they name, the *code* that computes it and the numeric
libraries' versions):

- **per-image entries** (:class:`FeatureCache`): the feature vectors of the
  transformers and :class:`~sklearn_emotion.models.CNNRegressor`'s pooled
  embeddings, one sealed ``.npyc`` per image under
  ``<location>/sklearn_emotion/<namespace>/<key[:2]>/<key>.npyc``, where the
  namespace is the family and its ``store_key`` and ``key`` hashes the
  image's content (:func:`sklearn_emotion._keys.image_key`).  A second run
  over a different subset of already-seen images computes nothing; a changed
  parameter, resource, code or file gets fresh features.  One claim protocol
  (:meth:`FeatureCache.reserve`, then :meth:`FeatureCache.settle`) keeps two
  workers from computing the same image at once;
- **records** (:func:`write_record` / :func:`read_record` /
  :func:`read_checked`): named arrays and a JSON description in one sealed
  ``.npz``; what a record holds, and what it must say of itself, is its
  writer's business (the check is a function the reader passes in).

Every read first checks that the file could be one the package wrote,
before reading a byte of it (:func:`read_bounded`: a regular file, not a
symbolic link, no larger than its kind can be, in its store's folder; a
FIFO, a device behind a link or a sparse file of gigabytes is refused at
once), then the seal, then every ``.npy`` header against the bytes that
follow it (before NumPy allocates what a header declares), then the
content (dtype, shape, finiteness, and the key the file was written for: a
valid entry copied over another is not that other's).  A file that fails
is never returned and never a crash: a warning names the file and the
problem, and the caller computes it again (and overwrites it).  What the checks do and do not protect against is the trust model in
``docs/design.md``: they catch corruption, truncation, edits and files put in
the wrong place, not a writer who recomputes the checksums, so a folder
others can write is as trustworthy as those others.

**Keys** are made in :mod:`sklearn_emotion._keys` (what decides a
result, the code that computes it, the libraries' versions); this module
names no key's parts and no caller.

Sharing a cache between users, processes and machines: entries are created
with the permissions of the process's umask (like any file it writes), so a
group-writable umask (``umask 002``) lets colleagues read and add entries; a
folder on a shared filesystem (NFS, a mounted bucket) can be used by every
worker of a cluster at once, since entries are written under a temporary name
and renamed.  A worker about to compute a missing entry first *claims* it
(creates ``<key>.claim`` exclusively, naming its host, process and the
process's start time); another worker meeting the same image computes its
other images first and then waits for the entry instead of computing it
again.  A claim older than :func:`claim_timeout` seconds (its worker died)
is taken over; so is, at once, a claim whose holder on this machine has
exited, is a zombie or is another process under a reused id, and, after
two seconds, an empty or malformed claim; a worker that waited the timeout
computes the image itself, and a wait of more than a few seconds says so.  URLs (``s3://...``) are refused: mount the
bucket and pass the mount path.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import stat
import tempfile
import time
from pathlib import Path

import numpy as np
from joblib import Memory
from ._warn import warn_user

__all__ = ["MAX_ENTRY_BYTES", "MAX_RECORD_BYTES", "FeatureCache", "Reservation", "atomic_write",
           "cache_location", "claim_timeout", "holder_gone", "process_owner", "read_bounded",
           "read_checked", "read_record", "renamed_cache_dir", "sealed", "unsealed",
           "write_record"]



def claim_timeout() -> float:
    """Seconds after which another worker's claim on an entry is considered
    abandoned (its worker died) and is taken over; also the longest a worker
    waits for an entry another worker claimed: the ``claim_timeout`` of
    :func:`sklearn_emotion.get_config` (default 600, or
    ``$SKLEARN_EMOTION_CLAIM_TIMEOUT``)."""
    from ._config import get_config

    return get_config()["claim_timeout"]



def _start_time(pid):
    """A process's start time as the kernel records it (psutil), or None."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def _owner(token=""):
    """What a claim says of its holder: host, process id, the process's
    start time (a reused process id is another process) and ``token``."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)!r}:{token}"


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
    """True when a claim's ``holder`` cannot be a live worker of this machine.

    That is: a malformed claim (empty, not written by this package), or one
    naming a process of this machine that has exited, that is a zombie
    (killed, not yet reaped by its parent: it still answers ``kill(pid, 0)``)
    or that started at another time than the claim records (its process id
    was reused).  A claim of another machine cannot be checked from here:
    False (its age decides, :func:`claim_timeout`)."""
    import psutil

    parts = holder.split(":", 3)
    if len(parts) < 3 or not parts[1].isdigit():
        return True
    # host:pid:start:token; an older version wrote host:pid:token
    host, pid, started = parts[0], int(parts[1]), parts[2] if len(parts) == 4 else ""
    if host != socket.gethostname():
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return True
        now = proc.create_time()
    except psutil.NoSuchProcess:
        return True
    except (psutil.Error, OSError):  # exists, but cannot be inspected (another user's)
        return False
    try:
        return abs(float(started) - now) > 0.01
    except ValueError:  # no start time recorded: the process id alone decides
        return False


def process_owner(token=""):
    """What a claim (or a fetch's scratch folder) says of the process that
    made it: host, process id, the process's start time and ``token``."""
    return _owner(token)


def holder_gone(holder):
    """Whether the process a :func:`process_owner` string names cannot be
    alive on this machine (exited, a zombie, or its id reused)."""
    return _dead_here(holder)


#: A claim this old that is empty or malformed is abandoned (one just
#: created is empty for an instant, before its holder writes its name).
_EMPTY_CLAIM_SECONDS = 2.0

#: A wait for other workers' entries longer than this many seconds says so, once.
_SAY_WAITING_AFTER = 5.0

#: The most bytes a stored file of each kind may hold: a larger one is not
#: the package's and is never read (a sparse file, a device behind a link).
MAX_ENTRY_BYTES = 64 << 20
MAX_RECORD_BYTES = 4 << 30
#: The most arrays a record may hold.
MAX_RECORD_MEMBERS = 64


def _inside(path, folder):
    """Whether ``path``'s folder, links resolved, lies within ``folder``."""
    try:
        return Path(path).parent.resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError):
        return False


def read_bounded(path, limit, folder=None) -> bytes:
    """The bytes of a stored file, read only when it could be one of ours.

    Parameters
    ----------
    path : path-like
    limit : int
        The most bytes such a file can hold.
    folder : path-like, optional
        The store's folder: a file whose folder leads elsewhere (a
        subfolder replaced by a symbolic link) is refused.

    Returns
    -------
    bytes

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    ValueError
        Naming the problem, before anything is read: a symbolic link, not a
        regular file (a FIFO, a device, a folder: reading one could block
        or never end), larger than ``limit``, outside ``folder``, or
        unreadable.
    """
    path = Path(path)
    if folder is not None and not _inside(path, folder):
        raise ValueError(f"in a folder that leads outside {folder} (a symbolic link)")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("a symbolic link, not a file the package wrote") from None
        raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO"
                    if stat.S_ISFIFO(st.st_mode) else "a device or socket")
            raise ValueError(f"not a regular file ({kind})")
        if st.st_size > limit:
            raise ValueError(f"{st.st_size:,} bytes, more than such a file can hold "
                             f"({limit:,})")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"more than {limit:,} bytes (it grew while read)")
        return data
    except MemoryError:
        raise ValueError("too large to read (out of memory)") from None
    except OSError as exc:
        raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from None
    finally:
        os.close(fd)


def _npy_problem(f, available):
    """What is wrong with the ``.npy`` header at ``f``'s position, or None:
    an array of objects, or more data declared than ``available`` bytes
    hold (checked before NumPy allocates what the header declares)."""
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(f)
        read_header = (npformat.read_array_header_1_0 if version == (1, 0)
                       else npformat.read_array_header_2_0)
        shape, _, dtype = read_header(f, max_header_size=10000)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        return f"unreadable ({type(exc).__name__}: {exc})"
    if dtype.hasobject:
        return "an array of Python objects"
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > available:
        return f"a header declaring {declared:,} bytes of data in a file of {available:,}"
    return None


# the process's umask, read once (os.umask can only be read by setting it)
_UMASK = os.umask(0o022)
os.umask(_UMASK)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _refuse_url(text):
    if text.startswith("file://"):
        return text[len("file://"):]
    if _URL.match(text):
        raise ValueError(
            f"cache_dir={text!r} is a URL; the per-image feature cache needs a folder on a local "
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


def renamed_cache_dir(cache_dir, memory="deprecated", *, warn=True):
    """``cache_dir``, or the deprecated ``memory`` when that is given
    (anything but ``"deprecated"``), with a FutureWarning when ``warn``."""
    if isinstance(memory, str) and memory == "deprecated":
        return cache_dir
    if cache_dir is not None:
        raise ValueError("pass cache_dir only: memory is its deprecated old name")
    if warn:

        warn_user("the parameter `memory` was renamed `cache_dir` in 0.2 and will be "
                      "removed in 0.4; pass cache_dir= instead", FutureWarning)
    return memory


def cache_location(cache_dir, memory="deprecated", *, warn=True) -> Path | None:
    """The folder of a ``cache_dir`` parameter: None, a path, or a
    ``joblib.Memory`` (its location).

    ``memory`` is the parameter's old name: when given (anything but the
    default ``"deprecated"``) it is used, with a FutureWarning when ``warn``
    (``fit`` warns; the calls after it do not repeat it).
    """
    cache_dir = renamed_cache_dir(cache_dir, memory, warn=warn)
    if cache_dir is None:
        return None
    if isinstance(cache_dir, Memory):
        return None if cache_dir.location is None else Path(_refuse_url(str(cache_dir.location)))
    if isinstance(cache_dir, (str, os.PathLike)):
        return Path(_refuse_url(os.fspath(cache_dir)))
    raise TypeError(
        f"cache_dir must be None, a folder path or a joblib.Memory, "
        f"got {type(cache_dir).__name__}"
    )


def _npy_bytes(array):
    import io

    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


#: What :meth:`FeatureCache._check` says of an entry of an older version.
_OLD_FORMAT = "written by an older version"


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

        An entry is checked before it is returned: that it is a regular
        file in this cache's folder no larger than such an entry can be
        (nothing else is read: a FIFO, a device behind a link, a sparse
        file of gigabytes), its sha256 (written with it), the key it was
        written for (another image's entry copied over this one is not
        this image's), then a 1-D array of real floats, all finite
        (features of readable images always are), of ``size`` values when
        given.  Anything else is never returned: a warning names the entry
        and the problem, and the caller computes the features again (and
        overwrites it).  An entry in the format of an older version (which
        did not record its key) is computed again without a warning.
        """
        path = self._path(key)
        limit = MAX_ENTRY_BYTES if size is None else 8 * int(size) + 4096
        try:
            raw = read_bounded(path, limit, self.dir)
        except FileNotFoundError:
            return None
        except ValueError as exc:
            if not os.path.lexists(path):  # removed meanwhile
                return None
            problem = str(exc)
        else:
            problem, vec = self._check(raw, size, key)
            if problem is None:
                return vec
            if problem == _OLD_FORMAT:
                return None

        warn_user(f"feature cache entry {path}: {problem}; computing it again",
                      UserWarning)
        return None

    @staticmethod
    def _check(raw, size, key=None):
        """``(problem, vector)``: what is wrong with a stored entry, or None."""
        import io

        try:
            body = unsealed(raw)
        except ValueError as exc:
            return str(exc), None
        if body.startswith(b"\x93NUMPY"):
            return _OLD_FORMAT, None
        written_for, sep, body = body.partition(b"\n")
        if not sep:
            return "unreadable (no key line)", None
        if key is not None and written_for != key.encode("ascii", "replace"):
            return "not the entry of this image (it was written for another key)", None
        f = io.BytesIO(body)
        problem = _npy_problem(f, len(body))
        if problem is not None:
            return problem, None
        try:
            vec = np.load(io.BytesIO(body), allow_pickle=False)
        except (ValueError, OSError, EOFError, MemoryError) as exc:
            return f"unreadable ({type(exc).__name__}: {exc})", None
        return _entry_problem(vec, size), vec

    def put(self, key: str, vector: np.ndarray) -> None:
        """Store ``vector`` under ``key`` atomically, with the key it is for.
        A failure to write (a folder where the entry belongs, a subfolder
        that leads outside the cache, a full or read-only disk) is a
        warning, not an error: the features were computed and are returned."""
        path = self._path(key)
        try:
            if path.is_dir():
                raise IsADirectoryError("a folder is in its place")
            if path.parent.exists() and not _inside(path, self.dir):
                raise OSError("its folder leads outside the cache (a symbolic link)")
            body = key.encode("ascii", "replace") + b"\n" + _npy_bytes(vector)
            atomic_write(path, lambda f: f.write(sealed(body)))
        except OSError as exc:

            warn_user(f"could not write feature cache entry {path} ({exc}); the features "
                          "are returned but not cached", UserWarning)

    # ----------------------------------------------------------- claims
    def _claim_path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.claim"

    def claim(self, key: str) -> bool:
        """Claim ``key`` for computing; False when another live process holds it.

        A claim with this cache's ``owner`` (another chunk of the same
        transform) counts as ours.  An abandoned claim is taken over: one
        older than :func:`claim_timeout`; one whose holder is a process of
        this machine that has exited, is a zombie or is not the process
        that wrote it (its id reused); one that is empty, malformed or
        unreadable and a few seconds old; anything but a regular file.
        """
        path = self._claim_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not _inside(path, self.dir):
            return True  # compute it here; put() refuses to write outside
        me = self.owner
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666 & ~_UMASK)
        except FileExistsError:
            holder, age = self._holder(path)
            if holder is None:  # released meanwhile: the entry is there or will be retried
                return self.get(key) is None and self.claim(key)
            if holder == me:
                return True
            if age > claim_timeout() or self._abandoned(holder, age):
                self._take_over(path)
                return True
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(me)
        return True

    @staticmethod
    def _holder(path):
        """``(holder, age in seconds)`` of a claim file; ``(None, 0)`` when it
        is gone, ``("", age)`` when it cannot be a claim (unreadable, not a
        regular file, too large)."""
        try:
            age = time.time() - os.lstat(path).st_mtime
        except FileNotFoundError:
            return None, 0.0
        except OSError:
            return "", float("inf")
        try:
            raw = read_bounded(path, 4096)
        except FileNotFoundError:
            return None, 0.0
        except ValueError:
            return "", float("inf")
        return raw.decode("utf-8", "replace"), age

    @staticmethod
    def _abandoned(holder, age):
        parts = holder.split(":")
        if len(parts) < 3 or not parts[1].isdigit():  # empty or malformed
            return age > _EMPTY_CLAIM_SECONDS
        return _dead_here(holder)

    def _take_over(self, path):
        """Replace an abandoned claim (whatever is in its place) with ours."""
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError:
            pass
        try:
            atomic_write(path, lambda f: f.write(self.owner.encode("utf-8")))
        except OSError:
            pass

    def release(self, key: str) -> None:
        """Drop this process's claim on ``key`` (after ``put``, or on failure)."""
        path = self._claim_path(key)
        try:
            if path.read_text(encoding="utf-8") == self.owner:
                path.unlink()
        except OSError:
            pass

    def wait(self, key: str, timeout: float | None = None, poll: float = 0.1, *,
             deadline: float | None = None, notice=None):
        """The entry another process claimed, once it is written.

        None (the caller computes it) when the claim disappears without an
        entry (that worker failed), when the claim is abandoned (its holder
        is a process of this machine that has exited, is a zombie or is not
        the process that wrote it; an empty or malformed claim a few seconds
        old; checked at every poll, at most every 2 s: a killed worker costs
        its peers seconds, not the timeout), or at the deadline:
        ``deadline`` (a :func:`time.monotonic` time shared by every entry of
        a chunk) or else ``timeout`` (default :func:`claim_timeout`) seconds
        from now.  ``notice``, if given, is called once with the seconds left
        when the wait has lasted a few seconds."""
        start = time.monotonic()
        if deadline is None:
            deadline = start + (claim_timeout() if timeout is None else timeout)
        claim = self._claim_path(key)
        while True:
            if notice is not None and time.monotonic() - start > _SAY_WAITING_AFTER:
                notice(deadline - time.monotonic())
                notice = None
            vec = self.get(key)
            if vec is not None:
                return vec
            holder, age = self._holder(claim)
            if holder is None:  # released: the entry is there, or the worker failed
                return self.get(key)
            if self._abandoned(holder, age):
                return None
            if time.monotonic() >= deadline:
                return None
            time.sleep(max(0.0, min(poll, deadline - time.monotonic())))
            poll = min(poll * 1.5, 2.0)

    # ------------------------------------------------ the claim protocol
    def reserve(self, keys, size: int | None = None) -> "Reservation":
        """Read what is stored for ``keys`` and claim what is missing.

        Parameters
        ----------
        keys : sequence of str or None
            One key per position (None: no key, e.g. an unreadable image; the
            position is left to the caller).
        size : int, optional
            The length every entry must have.

        Returns
        -------
        Reservation
            ``hits`` (position → stored vector), ``mine`` (positions whose
            entries this cache claimed: compute them, :meth:`put` and
            :meth:`release` them), ``theirs`` (positions another live
            worker is computing: :meth:`collect` them after computing
            ``mine``) and ``repeats`` (position → the earlier position of
            the same key).
        """
        res = Reservation({}, [], [], {}, [])
        first = {}
        try:
            for k, key in enumerate(keys):
                if key is None:
                    continue
                vec = self.get(key, size)
                if vec is not None:
                    res.hits[k] = vec
                elif key in first:  # the same image earlier in this batch
                    res.repeats[k] = first[key]
                else:
                    first[key] = k
                    if self.claim(key):
                        res.mine.append(k)
                        res.claimed.append(key)
                    else:
                        res.theirs.append(k)
        except BaseException:
            self.release_all(res)
            raise
        return res

    def release_all(self, res: "Reservation") -> None:
        """Drop every claim of a :class:`Reservation` (its entries are written, or failed)."""
        for key in res.claimed:
            self.release(key)
        res.claimed.clear()

    def collect(self, res: "Reservation", keys, size: int | None = None) -> tuple:
        """The entries other workers were computing for a :class:`Reservation`.

        All of them wait within one deadline, :func:`claim_timeout` seconds
        from now; a claim whose holder died ends its wait at once.

        Returns
        -------
        got : dict
            Position → vector, for the entries that arrived.
        left : list
            Positions to compute here (their worker failed, died or timed out).
        """
        got, left = {}, []
        deadline = time.monotonic() + claim_timeout()
        said = []

        def notice(left_s):
            if said:
                return
            said.append(True)

            warn_user(f"waiting for {len(res.theirs)} feature(s) that another process "
                          f"claimed in {self.dir} (at most {max(0.0, left_s):.0f} s more; "
                          "then they are computed here)", UserWarning)

        for k in res.theirs:
            vec = self.wait(keys[k], deadline=deadline, notice=notice)
            if vec is not None and (size is None or vec.shape == (size,)):
                got[k] = vec
            else:
                left.append(k)
        return got, left

    def settle(self, res: "Reservation", keys, out, compute, failed) -> int:
        """The end of the claim protocol, after ``res.mine`` is computed.

        Drops this cache's claims, fills ``out`` with the entries other
        workers computed (:meth:`collect`), computes what they left, and
        copies each repeated key's row from its first position (computing
        it instead when that position failed, so the repeat gets its own
        error).

        Parameters
        ----------
        res : Reservation
            From :meth:`reserve`, with ``mine`` computed and :meth:`put`.
        keys : sequence of str or None
            The keys given to :meth:`reserve`.
        out : ndarray of shape (len(keys), d)
            The rows, by position.
        compute : callable
            ``compute(positions)`` computes those positions: it fills their
            rows of ``out`` and :meth:`put` s them, or records them as
            failed.
        failed : callable
            ``failed(position)``: whether that position could not be computed.

        Returns
        -------
        int
            Rows filled without computing them (collected or copied).
        """
        self.release_all(res)
        got, left = self.collect(res, keys, out.shape[1])
        for k, vec in got.items():
            out[k] = vec
        if left:
            compute(left)
        copied, again = 0, []
        for k, k0 in res.repeats.items():
            if failed(k0):
                again.append(k)
            else:
                out[k] = out[k0]
                copied += 1
        if again:
            compute(again)
        return len(got) + copied


class Reservation:
    """What :meth:`FeatureCache.reserve` found and claimed for a batch of keys."""

    __slots__ = ("hits", "mine", "theirs", "repeats", "claimed")

    def __init__(self, hits, mine, theirs, repeats, claimed):
        self.hits, self.mine, self.theirs, self.repeats, self.claimed = (
            hits, mine, theirs, repeats, claimed)


# --------------------------------------------------------------- records
def write_record(path, arrays: dict, meta) -> None:
    """Named arrays and a JSON-able description, as one sealed ``.npz``,
    written atomically: the Dask shards and the checkpoints."""
    import io
    import json

    buf = io.BytesIO()
    blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), np.uint8)
    np.savez(buf, __meta__=blob, **{k: np.asarray(v) for k, v in arrays.items()})
    body = buf.getvalue()
    atomic_write(path, lambda f: f.write(sealed(body)))


def read_record(path, names, limit=MAX_RECORD_BYTES) -> tuple:
    """``(arrays, meta)`` of a :func:`write_record` file.

    Parameters
    ----------
    path : path-like
    names : iterable of str
        The arrays the record must hold.
    limit : int, default=MAX_RECORD_BYTES
        The most bytes the file may hold (see :func:`read_bounded`).

    Returns
    -------
    arrays : dict
    meta : object
        The description, parsed from JSON.

    Raises
    ------
    FileNotFoundError
        When there is no such file.
    ValueError
        Naming the problem: not a regular file of at most ``limit`` bytes,
        no checksum or a wrong one, not an ``.npz``, too many arrays or
        headers declaring more data than the file holds (checked before
        anything is allocated), a missing array, arrays of objects, a
        description that is not JSON.
    """
    import io
    import json

    raw = read_bounded(path, limit)
    body = unsealed(raw)
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as z:
            problem = _npz_problem(z.zip, len(body))
            if problem is not None:
                raise ValueError(problem)
            arrays = {n: z[n] for n in names}
            meta = json.loads(z["__meta__"].tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError, EOFError, UnicodeDecodeError, MemoryError,
            RecursionError) as exc:
        raise ValueError(f"unreadable ({type(exc).__name__}: {exc})") from None
    return arrays, meta


def _npz_problem(zf, available):
    """What is wrong with the members of an ``.npz`` before any is read:
    too many, more data than ``available`` bytes, a header declaring more
    than its member holds, arrays of objects; or None."""
    infos = zf.infolist()
    if len(infos) > MAX_RECORD_MEMBERS:
        return f"{len(infos)} arrays, more than a record holds ({MAX_RECORD_MEMBERS})"
    if sum(i.file_size for i in infos) > available:
        return "members declaring more data than the file holds"
    for info in infos:
        with zf.open(info) as f:
            problem = _npy_problem(f, info.file_size)
        if problem is not None:
            return f"array {info.filename}: {problem}"
    return None


def read_checked(path, names, problem, what, then, limit=MAX_RECORD_BYTES):
    """``(arrays, meta)`` of a record that passes its checks, or None.

    None when there is no such file, or when it fails :func:`read_record`'s
    checks or ``problem(arrays, meta)`` (a description of what is wrong, or
    None): then a warning names ``what``, the file and the problem, and
    says what happens ``then`` (the caller computes it again)."""
    try:
        arrays, meta = read_record(path, names, limit)
    except FileNotFoundError:
        return None
    except ValueError as exc:
        why = str(exc)
    else:
        why = problem(arrays, meta)
        if why is None:
            return arrays, meta

    warn_user(f"{what} {path}: {why}; {then}", UserWarning)
    return None

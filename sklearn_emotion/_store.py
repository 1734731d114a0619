"""The store: every byte the package persists, written and checked in one place.

Everything stored shares one atomic write (:func:`atomic_write`), one seal
(:func:`sealed`: the content followed by its sha256, checked by
:func:`unsealed` before anything is parsed) and one bounded read
(:func:`read_bounded`).  Three modules build on them:

- :mod:`sklearn_emotion._keys` makes every key (what decides a result, the
  code that computes it, the libraries' versions);
- :mod:`sklearn_emotion._feature_cache`: per-image entries (the feature
  vectors of the transformers and the CNN's pooled embeddings), one sealed
  ``.npyc`` per image, and the claims (:mod:`sklearn_emotion._claims`) that
  keep two workers from computing one image at once;
- **records**, here (:func:`write_record` / :func:`read_record` /
  :func:`read_checked`): named arrays and a JSON description in one sealed
  ``.npz``; what a record holds, and what it must say of itself, is its
  writer's business (the check is a function the reader passes in).

This module names no caller and no key's parts.

Every read first checks that the file could be one the package wrote,
before reading a byte of it (:func:`read_bounded`: a regular file, not a
symbolic link, no larger than its kind can be, in its store's folder; a
FIFO, a device behind a link or a sparse file of gigabytes is refused at
once), then the seal, then every ``.npy`` header against the bytes that
follow it (before NumPy allocates what a header declares), then the
content (dtype, shape, finiteness, and the key the file was written for: a
valid entry copied over another is not that other's).  A file that fails
is never returned and never a crash: a warning names the file and the
problem, and the caller computes it again (and overwrites it).  What the
checks do and do not protect against is the trust model in
``docs/design.md``: they catch corruption, truncation, edits and files put
in the wrong place, not a writer who recomputes the checksums, so a folder
others can write is as trustworthy as those others.

Files are created with the permissions of the process's umask (like any
file it writes), so a group-writable umask (``umask 002``) lets colleagues
read and add entries; a folder on a shared filesystem (NFS, a mounted
bucket) can be used by every worker of a cluster at once, since files are
written under a temporary name and renamed.  URLs (``s3://...``) are
refused: mount the bucket and pass the mount path.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from pathlib import Path

import numpy as np
from joblib import Memory
from ._warn import renamed, warn_user

__all__ = ["MAX_ENTRY_BYTES", "MAX_RECORD_BYTES", "atomic_write", "cache_location", "create_new",
           "inside", "move_into_place", "npy_problem",
           "read_bounded", "read_checked", "read_record", "renamed_cache_dir", "sealed",
           "unsealed", "write_record"]


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


#: The most bytes a stored file of each kind may hold: a larger one is not
#: the package's and is never read (a sparse file, a device behind a link).
MAX_ENTRY_BYTES = 64 << 20
MAX_RECORD_BYTES = 4 << 30
#: The most arrays a record may hold.
MAX_RECORD_MEMBERS = 64


def inside(path, folder):
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
    if folder is not None and not inside(path, folder):
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


def npy_problem(f, available):
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


def create_new(path) -> int:
    """A file descriptor of ``path``, created exclusively (``FileExistsError``
    when it exists) with the permissions of the process's umask."""
    return os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666 & ~_UMASK)


def move_into_place(src, dest) -> None:
    """Move a finished file or folder ``src`` to ``dest`` in one rename.

    ``src`` is written beside ``dest`` (on its filesystem) and complete: a
    reader sees the old ``dest`` or the new one, never a mix.  An existing
    folder at ``dest`` is first renamed aside, then removed; if the final
    rename fails it is put back.
    """
    import shutil

    src, dest = Path(src), Path(dest)
    if not (dest.is_dir() and not dest.is_symlink()):
        os.replace(src, dest)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{dest.name}.replaced-", dir=dest.parent))
    try:
        os.replace(dest, aside / "old")
        try:
            os.replace(src, dest)
        except BaseException:
            os.replace(aside / "old", dest)
            raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


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
    if not warn and not (isinstance(memory, str) and memory == "deprecated"):
        if cache_dir is not None:
            raise ValueError("pass cache_dir only: memory is its deprecated old name")
        return memory
    return renamed(cache_dir, memory, "cache_dir", "memory")


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
            problem = npy_problem(f, info.file_size)
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

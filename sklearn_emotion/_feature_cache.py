"""Per-image entries: :class:`FeatureCache`, one sealed ``.npyc`` per image.

The feature vectors of the transformers and
:class:`~sklearn_emotion.models.CNNRegressor`'s pooled embeddings live under
``<location>/sklearn_emotion/<namespace>/<key[:2]>/<key>.npyc``, where the
namespace is the family and its :func:`~sklearn_emotion._keys.store_key`
and ``key`` hashes the image's content
(:func:`~sklearn_emotion._keys.image_key`).  A second run over a different
subset of already-seen images computes nothing; a changed parameter,
resource, code or file gets fresh features.

One claim protocol (:mod:`sklearn_emotion._claims`) keeps two workers from
computing the same image at once: :meth:`FeatureCache.reserve` reads what is
stored and claims what is missing; the caller computes its own;
:meth:`FeatureCache.settle` drops the claims, collects what other workers
computed, computes what they left and copies repeats.  Entries are read
with the store's checks (:mod:`sklearn_emotion._store`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from ._claims import claim_timeout, holder_gone, process_owner
from ._store import (MAX_ENTRY_BYTES, atomic_write, create_new, inside, npy_problem, read_bounded,
                     sealed, unsealed)
from ._warn import warn_user

__all__ = ["FeatureCache", "Reservation"]

#: A claim this old that is empty or malformed is abandoned (one just
#: created is empty for an instant, before its holder writes its name).
_EMPTY_CLAIM_SECONDS = 2.0


#: A wait for other workers' entries longer than this many seconds says so, once.
_SAY_WAITING_AFTER = 5.0


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
        self.owner = process_owner(owner)

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
        problem = npy_problem(f, len(body))
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
            if path.parent.exists() and not inside(path, self.dir):
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
        if not inside(path, self.dir):
            return True  # compute it here; put() refuses to write outside
        me = self.owner
        try:
            fd = create_new(path)
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
        return holder_gone(holder)

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

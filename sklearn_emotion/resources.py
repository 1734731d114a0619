"""Data home and the registry of every resource the package uses.

Every file the package reads (datasets, model weights, lexicons, the colour
naming table) is listed **once**, in :data:`REGISTRY`, by its path relative to
the data home, its sha256 and, where one exists, the upstream URL it is
downloaded from.  No other module builds paths to data: they call
:func:`fetch`.

The data home is ``$SKLEARN_EMOTION_DATA`` when that variable is set,
otherwise the per-user cache folder given by :func:`pooch.os_cache`.

A file that is present with the right hash is used in place (nothing is
copied).  A missing file is downloaded with :mod:`pooch` and verified.  A file
present with the **wrong** hash is refused with :class:`ResourceError`: it is
never used silently and never overwritten behind the user's back.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ._keys import content_digest, file_sha256
from ._registry import REGISTRY, Resource
from ._warn import DEPRECATED, renamed

__all__ = [
    "DATA_HOME_ENV",
    "MIRROR_ENV",
    "check_file",
    "derived_home",
    "content_digest",
    "content_token",
    "file_sha256",
    "fetch_all",
    "status",
    "REGISTRY",
    "Resource",
    "ResourceError",
    "fetch",
    "get_data_home",
]

#: Name of the environment variable that overrides the data home.
DATA_HOME_ENV = "SKLEARN_EMOTION_DATA"


class ResourceError(RuntimeError):
    """A registered resource is missing, corrupted or cannot be downloaded.

    Attributes
    ----------
    cause : str or None
        For a failed download, the underlying error in one line (e.g. the
        unreachable host): failures of several files with one cause can be
        reported together.
    """

    cause = None


#: Environment variable naming a mirror base URL (see :func:`fetch`).
MIRROR_ENV = "SKLEARN_EMOTION_MIRROR"


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds sklearn-emotion's resources.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit folder.  When None, ``$SKLEARN_EMOTION_DATA`` is used if set,
        otherwise the per-user cache folder ``pooch.os_cache("sklearn-emotion")``.
        A relative ``$SKLEARN_EMOTION_DATA`` is resolved against the working
        folder once, when the package is imported (or when the variable is
        first read after a change), so a program that changes folder keeps
        its data home.

    Returns
    -------
    path : pathlib.Path
        The data home.  It is not created here (it may be read-only).
    """
    if data_home is None:
        env = os.environ.get(DATA_HOME_ENV)
        if env:
            return _env_home(env)
        import pooch

        return Path(pooch.os_cache("sklearn-emotion")).resolve()
    return Path(data_home).expanduser().resolve()


_lock = threading.Lock()

#: The folder each value of ``$SKLEARN_EMOTION_DATA`` named when first read.
_ENV_HOMES: dict[str, Path] = {}


def resolve_env_data_home() -> Path | None:
    """Resolve ``$SKLEARN_EMOTION_DATA`` now (the package calls this when it
    is imported); None when the variable is unset."""
    env = os.environ.get(DATA_HOME_ENV)
    return _env_home(env) if env else None


def _env_home(value: str) -> Path:
    """``$SKLEARN_EMOTION_DATA``, resolved against the working folder of the
    moment it was first read, and never again.

    A relative value (``SKLEARN_EMOTION_DATA=../shared``) means the folder it
    named when the program started: a later ``os.chdir`` must not move the
    data home.  The absolute path is also written back into the environment,
    so that worker processes started later, from whatever folder, inherit the
    same data home.
    """
    with _lock:
        home = _ENV_HOMES.get(value)
        if home is None:
            home = _ENV_HOMES[value] = Path(value).expanduser().resolve()
            _ENV_HOMES[str(home)] = home
        if os.environ.get(DATA_HOME_ENV) == value and value != str(home):
            os.environ[DATA_HOME_ENV] = str(home)
    return home


def content_token(value):
    """A parameter value, with a registered resource or an existing file
    described by its content (for cache keys).

    A registered resource is its registry sha256 (the only content
    :func:`fetch` accepts, whatever the data home); any other existing file
    the sha256 of its bytes (memoised per path, size and mtime); any other
    value is returned as is.
    """
    if isinstance(value, (str, os.PathLike)):
        spec = os.fspath(value)
        if spec in REGISTRY:
            return ("resource", REGISTRY[spec].sha256)
        # only what looks like a path: a value such as "soft" or "vgg16" is
        # a choice, even if a file of that name happens to sit in the cwd
        looks_like_path = (isinstance(value, os.PathLike) or os.sep in spec
                           or "." in os.path.basename(spec))
        if looks_like_path and os.path.isfile(spec):
            return ("file", file_sha256(Path(spec).resolve()))
    return value


def check_file(res: Resource, path: Path, data_home=None) -> tuple[bool, str]:
    """Whether ``path`` is the registered file: ``(ok, how)``.

    ``how`` is how it was checked (``"sha256"``, ``"content"`` or
    ``"numbers"``) when ok, else its sha256 (and, for a file checked by its
    numbers, what they showed).  ``data_home`` is where the source of a file
    checked by its numbers is found.
    """
    digest = file_sha256(path)
    if digest == res.sha256:
        return True, "sha256"
    if res.content_sha256 is not None:
        try:
            if content_digest(path) == res.content_sha256:
                return True, "content"
        except OSError:
            pass
    if res.verify is not None:
        ok, how = _checked_by_numbers(res, path, digest, data_home)
        return (True, "numbers") if ok else (False, f"{digest} ({how})")
    return False, digest


#: Where derived files are built on first use when the data home lacks them.
DERIVED_ENV = "SKLEARN_EMOTION_DERIVED"


def derived_home() -> Path:
    """The folder of derived files built on first use: ``$SKLEARN_EMOTION_DERIVED``,
    or ``derived/`` in the per-user cache.  A data home may be shared and
    read-only, so the package never writes into it unasked (``data fetch``
    does, when told)."""
    value = os.environ.get(DERIVED_ENV)
    if value:
        return Path(value).expanduser()
    import pooch

    return Path(pooch.os_cache("sklearn-emotion")) / "derived"


#: (check, sha256) -> (ok, how): the numbers checks this process made.
_CHECKED: dict = {}


def _checked_by_numbers(res, path, digest, data_home):
    """``(ok, how)`` of ``res.verify``'s check of ``path`` against its source.

    A check takes seconds (it runs both networks in a fresh process), so a
    passed one is remembered: in this process, and in ``derived_home()``
    under the file's sha256 (another file is checked again).
    """
    import json

    from ._store import atomic_write, read_bounded

    key = (res.verify, digest)
    if key in _CHECKED:
        return _CHECKED[key]
    record = derived_home() / "checked" / f"{res.verify}-{digest}.json"
    try:
        rec = json.loads(read_bounded(record, 1 << 12))
        if isinstance(rec, dict) and rec.get("sha256") == digest and rec.get("ok") is True:
            _CHECKED[key] = (True, str(rec.get("how", "")))
            return _CHECKED[key]
    except (OSError, ValueError):
        pass
    from ._convert import VERIFIERS

    try:
        source = fetch(res.derive_from, data_home, download=False)
    except ResourceError as exc:
        return False, f"not checked: its source is missing ({exc})"
    ok, how = VERIFIERS[res.verify](path, source)
    if ok:
        body = json.dumps({"sha256": digest, "ok": True, "how": how}).encode()
        try:
            atomic_write(record, lambda f: f.write(body))
        except OSError:  # a read-only cache: checked again next time
            pass
    _CHECKED[key] = (ok, how)
    return ok, how


def _mirror(mirror):
    m = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    return m.rstrip("/") if m else None


def _source_url(name: str, res: Resource, mirror: str | None) -> str | None:
    """Where to download from: the mirror's copy, else the upstream URL.

    A mirror holds each upstream file under the last part of its URL (or
    ``upstream_name``), and files without an upstream URL under their data-home
    path, as a lab's copy of a data home would.
    """
    if mirror:
        if res.url is None:
            return f"{mirror}/{name}"
        from urllib.parse import urlparse

        return f"{mirror}/{res.upstream_name or Path(urlparse(res.url).path).name}"
    return res.url


#: The most bytes a download of an archive (or of a file a converter reads)
#: may bring; a plain registered file may bring its registered size plus a
#: tenth (and 1 MiB).
MAX_ARCHIVE_BYTES = 2 << 30
#: The most seconds one download may take ($SKLEARN_EMOTION_DOWNLOAD_TIMEOUT).
DOWNLOAD_SECONDS = float(os.environ.get("SKLEARN_EMOTION_DOWNLOAD_TIMEOUT", 1800))


def _download_cap(res: Resource) -> int:
    """The most bytes the download of ``res`` may bring."""
    if res.member is None and res.build is None and res.size:
        return res.size + max(res.size // 10, 1 << 20)
    return MAX_ARCHIVE_BYTES


def _bounded_http(max_bytes: int, seconds: float):
    """A pooch downloader for http(s) that stops a response larger than
    ``max_bytes`` (declared or streamed) or slower than ``seconds`` in all:
    an endless or wrong response never fills the disk or hangs the fetch."""

    def download(url, output_file, pooch_obj=None):
        import time

        import requests

        deadline = time.monotonic() + seconds
        with requests.get(url, stream=True, timeout=min(60.0, seconds)) as r:
            r.raise_for_status()
            declared = r.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ResourceError(f"{url} declares {int(declared):,} bytes, more than the "
                                    f"{max_bytes:,} it may bring; not downloaded")
            written = 0
            with open(output_file, "wb") as f:
                while True:
                    # what has arrived, up to 1 MiB: a trickle is timed too
                    chunk = r.raw.read1(1 << 20)
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > max_bytes:
                        raise ResourceError(f"{url} sent more than the {max_bytes:,} bytes it "
                                            "may bring; stopped")
                    if time.monotonic() > deadline:
                        raise ResourceError(f"{url} did not finish within {seconds:.0f} s "
                                            "($SKLEARN_EMOTION_DOWNLOAD_TIMEOUT); stopped")
                    f.write(chunk)

    return download


def _retrieve(url: str, folder: Path, known_hash: str | None, verbose: bool,
              max_bytes: int = MAX_ARCHIVE_BYTES) -> Path:
    import pooch

    fname = Path(url.split("?", 1)[0]).name or "download"
    # pooch logs each download at INFO on a handler of its own (bound to the
    # stderr of the moment it was made); the package reports through its
    # errors and the optional progress bar instead
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        downloader = (_bounded_http(max_bytes, DOWNLOAD_SECONDS)
                      if url.startswith(("http://", "https://")) else None)
        return Path(pooch.retrieve(url, known_hash=known_hash and f"sha256:{known_hash}",
                                   fname=fname, path=folder, progressbar=verbose,
                                   downloader=downloader))
    finally:
        logger.setLevel(level)


def _extract(archive: Path, member: str, dest: Path, tree: bool) -> Path:
    """Extract ``member`` (or, with ``tree``, its whole folder) of a zip or tar
    archive into ``dest``; return the extracted member's path."""
    import tarfile
    import zipfile

    prefix = member.rsplit("/", 1)[0] + "/" if tree and "/" in member else None
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            names = z.namelist()
            if member not in names:
                raise ResourceError(f"archive {archive.name} does not contain {member!r}")
            wanted = [n for n in names if prefix and n.startswith(prefix)] or [member]
            for n in wanted:
                z.extract(n, dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            names = t.getnames()
            if member not in names:
                raise ResourceError(f"archive {archive.name} does not contain {member!r}")
            wanted = [m for m in t.getmembers()
                      if (prefix and m.name.startswith(prefix)) or m.name == member]
            t.extractall(dest, members=wanted, filter="data")
    else:
        raise ResourceError(f"{archive.name} is neither a zip nor a tar archive")
    return dest / member


def _materialise(name: str, res: Resource, home: Path, work: Path, mirror, verbose,
                 registry) -> Path:
    """Make the registered file in the scratch folder ``work``; return its path
    (for an ``extract_tree`` resource, inside the extracted folder)."""
    if res.derive_from is not None:
        src = fetch(res.derive_from, home, registry=registry, mirror=mirror, verbose=verbose)
    else:
        url = _source_url(name, res, mirror)
        if url is None:
            raise ResourceError(f"resource {name!r} has no download; {res.how or res.source}")
        # a plain file is checked while it downloads; an archive or a build
        # source has no registered hash of its own (the result is checked)
        direct = res.member is None and res.build is None
        src = _retrieve(url, work / "download", res.sha256 if direct else None, verbose,
                        _download_cap(res))
    if res.member is not None:
        src = _extract(src, res.member, work / "extract", res.extract_tree)
    if res.build is not None:
        from ._convert import BUILDERS

        out = work / ("built-" + Path(name).name)
        BUILDERS[res.build](src, out)
        src = out
    return src


def fetch_all(names=None, data_home=None, *, registry=None, mirror=None, verbose=False,
              progress=DEPRECATED):
    """:func:`fetch` every named resource (default: the whole registry).

    Returns
    -------
    result : dict of str -> pathlib.Path or ResourceError
        Each resource's path, or the error that kept it from the data home
        (one failure does not stop the others).

    ``verbose`` shows download progress bars (``progress`` is its
    deprecated old name).
    """
    verbose = renamed(verbose, progress, "verbose", "progress", default=False)
    registry = REGISTRY if registry is None else registry
    out = {}
    for name in (sorted(registry) if names is None else names):
        try:
            out[name] = fetch(name, data_home, registry=registry, mirror=mirror,
                              verbose=verbose)
        except ResourceError as exc:
            out[name] = exc
    return out


#: Names the process that made a fetch's scratch folder (``.fetch-*``).
_SCRATCH_OWNER = "owner"


def _scratch_owner():
    from ._claims import process_owner

    return process_owner("fetch")


def stale_scratch(home) -> list[Path]:
    """Scratch folders (``.fetch-*``) of interrupted fetches in the data home:
    their process (of this machine) has exited, or they name none and are
    over an hour old.  A fetch running elsewhere keeps its folder."""
    import time

    from ._claims import holder_gone

    out = []
    for d in sorted(Path(home).glob(".fetch-*")):
        if not d.is_dir() or d.is_symlink():
            continue
        try:
            holder = (d / _SCRATCH_OWNER).read_text(encoding="utf-8")
        except OSError:
            holder = None
        try:
            old = time.time() - d.stat().st_mtime > 3600
        except OSError:
            continue
        if (holder is None and old) or (holder is not None and holder_gone(holder)):
            out.append(d)
    return out


def remove_stale_scratch(home) -> list[Path]:
    """Remove :func:`stale_scratch` folders; return what was removed."""
    import shutil

    gone = stale_scratch(home)
    for d in gone:
        shutil.rmtree(d, ignore_errors=True)
    return gone


def installed_copy(res: Resource) -> Path | None:
    """The file inside the resource's installed package (see
    :attr:`Resource.package`), or None.  The package is located, not imported."""
    if res.package is None:
        return None
    import importlib.util

    pkg, rel = res.package
    try:
        spec = importlib.util.find_spec(pkg)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / rel
        if path.is_file():
            return path
    return None


def status(data_home=None, *, registry=None):
    """Each registered file's state in the data home.

    Returns
    -------
    rows : list of dict
        ``name``, ``status`` (``"present"``, ``"missing"`` or ``"wrong hash"``),
        ``checked`` (``"sha256"`` or ``"content"`` for a present file),
        ``size``, ``licence``, ``url``, ``how`` and ``source``.
    """
    registry = REGISTRY if registry is None else registry
    home = get_data_home(data_home)
    rows = []
    for name, res in sorted(registry.items()):
        path = home / name
        row = {"name": name, "size": res.size, "licence": res.licence, "url": res.url,
               "how": res.how, "source": res.source, "checked": None,
               "derive_from": res.derive_from, "build": res.build}
        if not path.is_file():
            path = installed_copy(res) or path
        if not path.is_file():
            row["status"] = "missing"
        else:
            ok, how = check_file(res, path, home)
            row["status"] = "present" if ok else "wrong hash"
            row["checked"] = how if ok else None
        rows.append(row)
    return rows


def short_cause(exc) -> str:
    """A failed download's cause in a few words, without the URL, so that
    the failures of many files with one cause read as one: host names that
    do not resolve (offline), a refused connection, a time-out, an HTTP
    status; otherwise the exception's type and the start of its message."""
    text = " ".join(str(exc).split())
    if any(m in text for m in ("Name or service not known", "Failed to resolve",
                               "Temporary failure in name resolution", "nodename nor servname")):
        return "host names do not resolve (no network access, or no DNS)"
    if "Connection refused" in text:
        return "the connection was refused"
    if "timed out" in text.lower() or "Timeout" in type(exc).__name__:
        return "the download timed out"
    import re

    m = re.match(r"(\d{3}) (Client|Server) Error", text)
    if m:
        return f"HTTP {m.group(1)} ({m.group(2).lower()} error)"
    return f"{type(exc).__name__}: {text[:200]}"


#: What to do without network access, said once per failed fetch (and once
#: for a group of failures with one cause, by the command line).
OFFLINE_ADVICE = (
    f"Without network access, copy the file from a machine that has it to {{target}}, point "
    f"${MIRROR_ENV} (or 'sklearn-emotion data fetch --mirror URL') at a mirror that serves "
    f"it, or point ${DATA_HOME_ENV} at a data home that holds it (README, 'Data home')")


def _place(name, res, home, target, where, url, mirror, verbose, registry):
    """Download (or build) a missing resource and move it into ``target``.

    Everything is made in a scratch folder inside the data home and moved
    into place only once verified: a failed or interrupted attempt leaves
    the data home as it found it (and the folders it had to create are
    removed).  Failures are :class:`ResourceError`, with ``cause`` set for a
    failed download.
    """
    import shutil
    import tempfile

    from ._store import move_into_place

    made = [d for d in [target.parent, *target.parent.parents] if not d.exists()]
    work = None
    try:
        home.mkdir(parents=True, exist_ok=True)
        remove_stale_scratch(home)
        work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=home))
        (work / _SCRATCH_OWNER).write_text(_scratch_owner(), encoding="utf-8")
        made_file = _materialise(name, res, home, work, mirror, verbose, registry)
        ok, digest = check_file(res, made_file, home)
        if not ok:
            raise ResourceError(
                f"{where}. The file made from {url or res.derive_from} has sha256 "
                f"{digest}, expected {res.sha256}: a different version upstream, or a "
                "corrupted download; refusing it")
        target.parent.mkdir(parents=True, exist_ok=True)
        if res.extract_tree:
            folder = made_file.parent
            if target.parent.exists() and any(target.parent.iterdir()):
                raise ResourceError(f"{target.parent} exists but lacks {name}; remove it "
                                    "and retry")
            move_into_place(folder, target.parent)
        else:
            move_into_place(made_file, target)
    except Exception as exc:  # network, permissions, bad hash, converter
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        for d in made:  # deepest first
            if not d.exists():
                continue
            try:
                d.rmdir()
            except OSError:
                break
        if isinstance(exc, ResourceError):
            raise
        cause = " ".join(str(exc).split())  # whole, on one line
        err = ResourceError(
            f"{where}. Downloading it from {url or res.derive_from} failed "
            f"({type(exc).__name__}: {cause}). {OFFLINE_ADVICE.format(target=target)}")
        err.cause = short_cause(exc)
        raise err from exc
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def fetch(
    name: str,
    data_home: str | os.PathLike | None = None,
    *,
    registry: dict[str, Resource] | None = None,
    download: bool = True,
    mirror: str | None = None,
    verbose: bool = False,
    progress=DEPRECATED,
) -> Path:
    """Return the local path of a registered resource, verified by sha256.

    Parameters
    ----------
    name : str
        The resource's path relative to the data home, a key of
        :data:`REGISTRY` (e.g. ``"color/w2c.npy"``).
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    registry : dict, default=None
        Registry to use instead of :data:`REGISTRY` (for tests and plug-ins).
    download : bool, default=True
        Whether a missing file may be downloaded (and built).
    mirror : str, default=None
        Base URL of a mirror to download from instead of the upstream URLs
        (default: ``$SKLEARN_EMOTION_MIRROR``).  It holds each upstream file
        under the last part of its URL, and the files without an upstream
        URL under their data-home path.
    verbose : bool, default=False
        Show download progress bars.
    progress : deprecated
        The old name of ``verbose`` (deprecated in 0.2, removed in 0.4).

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    ResourceError
        When the resource is unknown, present with the wrong sha256, or
        missing and cannot be downloaded or built.  The message names the
        resource, the folder searched, the expected path, the URL and the
        cause.  A failed attempt leaves no file and no folder behind.
    """
    verbose = renamed(verbose, progress, "verbose", "progress", default=False)
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise ResourceError(
            f"unknown resource {name!r}; registered: {', '.join(sorted(registry))}"
        )
    res = registry[name]
    home = get_data_home(data_home)
    target = home / name
    if not target.is_file():
        target = installed_copy(res) or target
    if not target.is_file():
        where = (
            f"resource {name!r} not found in data home {home} "
            f"(expected file {target}; set ${DATA_HOME_ENV} to a folder that holds it)"
        )
        mirror = _mirror(mirror)
        url = _source_url(name, res, mirror)
        if not download or (url is None and res.derive_from is None):
            how = (f"upstream: {res.url}" if res.url else
                   f"no direct download; source: {res.source}"
                   + (f" How to get it: {res.how}" if res.how else ""))
            raise ResourceError(f"{where}; {how}")
        _place(name, res, home, target, where, url, mirror, verbose, registry)
        if not target.is_file():
            raise ResourceError(f"{where}; download from {url} did not produce it")
    ok, digest = check_file(res, target, home)
    if not ok:
        raise ResourceError(
            f"resource {name!r} at {target} has sha256 {digest}, expected "
            f"{res.sha256}: the file is corrupted or a different version; "
            "refusing to use it (delete it to download a fresh copy)"
        )
    return target

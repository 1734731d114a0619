"""Keys: every name under which the package stores or finds a result.

One family, one module.  Each key is a hash of what decides the result:

- :func:`store_key`: the key of every store entry, record and shard: the
  parts that decide the content, the code that computes it
  (:func:`code_token`) and the numeric libraries' versions
  (:func:`library_versions`);
- :func:`image_key`: an image by its content (a file's bytes, or decoded
  pixels), so a renamed file is found and an edited one is not;
- :func:`items_token`: a list of inputs, cheaply (paths by size and
  modification time), for whole-run checkpoints and shards;
- :func:`file_digest` / :func:`file_sha256`: a file's bytes (registered
  resources, model folders' manifests, training-set detection);
  :func:`content_digest`: an HDF5 file's datasets (weights whose bytes
  depend on the library that wrote them);
- :func:`weights_hash`: a Keras model given as a parameter;
- :func:`decode_token`: the one rule for what the decoding settings add to
  a key (the working resolution, only when changed from its default, so the
  caches of everyone who never changed it stay valid).

A parameter that names a file is described by its content with
:func:`sklearn_emotion.resources.content_token` (it knows the registry).

**Code in the key.**  :func:`code_token` hashes the syntax tree (without
docstrings, so comments and documentation never invalidate anything) of the
modules named and of every package module they import, found by reading
their import statements: no hand-kept list of files can fall behind the
code.  It errs on the side of recomputing: an edit to any module the
computing code imports misses, except this one, the store, the feature
cache and the claims (they make keys and move bytes; they compute none).
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["code_token", "content_digest", "decode_token", "file_digest", "file_sha256",
           "image_key", "items_token", "library_versions", "modules_of", "store_key",
           "weights_hash"]

_PACKAGE = __name__.partition(".")[0]
#: The package's folder, whose modules :func:`code_token` reads.
_ROOT = Path(__file__).resolve().parent
#: Modules that make keys and move bytes: their code is not part of any key.
_NOT_COMPUTING = frozenset({__name__, *(f"{_PACKAGE}.{m}" for m in ("_store", "_feature_cache",
                                                                     "_claims"))})

#: Distributions whose version can change the numbers the stores hold.
_LIBRARIES = ("numpy", "scipy", "scikit-learn", "scikit-image", "pillow", "tensorflow",
              "keras", "ai-edge-litert")


def _module_file(name):
    """The source file of module ``name``, or None if there is none.

    A package module is found in the package's folder, without importing
    anything; another (a user's subclass of a package class) through its
    imported module's ``__file__``."""
    head, _, rest = name.partition(".")
    if head != _PACKAGE:
        import sys

        origin = getattr(sys.modules.get(name), "__file__", None)
        return Path(origin) if origin and origin.endswith(".py") and Path(origin).is_file() \
            else None
    path = _ROOT.joinpath(*rest.split(".")) if rest else _ROOT
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    path = path.with_suffix(".py")
    return path if path.is_file() else None


def _imported_modules(name, tree, is_package):
    """Package modules that module ``name`` imports anywhere (at the top or
    inside a function), from the import statements of its syntax tree."""
    import ast

    here = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[:len(base) - (node.level - 1)]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.partition(".")[0] != _PACKAGE:
                continue
            for alias in node.names:  # a submodule, or a name defined in ``base``
                sub = f"{base}.{alias.name}"
                out.add(sub if _module_file(sub) is not None else base)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.partition(".")[0] == _PACKAGE)
    return out


def _without_docstrings(tree):
    import ast

    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]
    return tree


@lru_cache(maxsize=None)
def _module_code(name):
    """``(syntax tree without docstrings, package modules it imports)`` of ``name``."""
    import ast

    path = _module_file(name)
    if path is None:
        if name.partition(".")[0] != _PACKAGE:  # e.g. a class defined in __main__
            return None, frozenset()
        raise ModuleNotFoundError(f"store keys name the module {name!r}, which has no source")
    tree = ast.parse(path.read_bytes(), filename=str(path))
    imports = _imported_modules(name, tree, path.name == "__init__.py")
    return ast.dump(_without_docstrings(tree)), frozenset(imports)


@lru_cache(maxsize=None)
def code_token(*modules: str) -> str:
    """Hash of the code of ``modules`` and of every package module they import.

    Parameters
    ----------
    *modules : str
        Dotted names of modules, e.g. ``"sklearn_emotion.features.color"``.
        A module outside the package (a user's own transformer) counts
        with the package modules it imports, if its source file is known.

    Returns
    -------
    str
        A hash of the syntax trees, without docstrings, of the named modules
        and of every module of the package reachable from them through import
        statements (at module level or inside functions).  Comments and
        documentation do not change it; any change to the code does, except
        in this module and in the store: they decide what is read back (and
        check it), never what is computed, and a change to what the store
        writes changes the files' format, which the seal then refuses.

    Raises
    ------
    ModuleNotFoundError
        When a package module has no source file.
    """
    import joblib

    seen, todo = {}, sorted(modules)
    while todo:
        name = todo.pop()
        if name in seen or name in _NOT_COMPUTING:  # they move bytes and make keys, compute none
            continue
        seen[name], imports = _module_code(name)
        todo.extend(sorted(imports - seen.keys()))
    return joblib.hash(sorted(seen.items()))


@lru_cache(maxsize=None)
def library_versions():
    """``((distribution, version or None), ...)`` of the numeric libraries
    whose versions can change the numbers: part of every store key, and
    recorded with a reproduction's results."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in _LIBRARIES:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return tuple(sorted(out.items()))


def modules_of(obj) -> tuple:
    """The package modules of ``obj``'s class and of the classes of its
    parameters, deeply (an estimator's steps and their own parameters)."""
    objs = [obj]
    if hasattr(obj, "get_params") and not isinstance(obj, type):
        try:
            objs += list(obj.get_params(deep=True).values())
        except TypeError:
            pass
    return tuple(sorted({type(o).__module__ for o in objs
                         if type(o).__module__.partition(".")[0] == _PACKAGE}))


def store_key(*parts, code=()) -> str:
    """The one key of everything the package stores.

    Parameters
    ----------
    *parts
        What decides the stored content besides code: parameters (files and
        registered resources described by their content, see
        :func:`sklearn_emotion.resources.content_token`), inputs
        (:func:`items_token`), indices.  Anything :func:`joblib.hash` accepts.
    code : iterable of str
        Package modules whose code computes the content; with their imports
        (:func:`code_token`).

    Returns
    -------
    str
        A hash of ``parts``, the code and the versions of the numeric
        libraries (NumPy, SciPy, scikit-learn, scikit-image, Pillow,
        TensorFlow, Keras, LiteRT).
    """
    import joblib

    return joblib.hash((parts, code_token(*sorted(set(code))), library_versions()))


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

def file_digest(path, algorithm: str = "sha256", salt: bytes = b"") -> str:
    """The hash (hex) of a regular file's bytes, read in 1 MiB blocks.

    Parameters
    ----------
    path : str or path-like
    algorithm : str
        A :func:`hashlib.new` name.
    salt : bytes
        Hashed before the file's bytes.

    Raises
    ------
    OSError
        When the file cannot be read, or is not a regular file (a FIFO or a
        device is refused before a byte is read: opening one never blocks).
    """
    h = hashlib.new(algorithm, salt)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{os.fspath(path)}: not a regular file")
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def file_sha256(path) -> str:
    """The sha256 of a file's bytes (hex), remembered per path, size and
    modification time for this process."""
    path = Path(path)
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _verified:
            return _verified[key]
    digest = file_digest(path)
    with _lock:
        _verified[key] = digest
    return digest


def content_digest(path) -> str:
    """sha256 of an HDF5 file's datasets: their names (sorted), dtypes, shapes and bytes."""
    import h5py
    import numpy as np

    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        names = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for n in sorted(names):
            a = np.ascontiguousarray(f[n][()])
            h.update(f"{n}|{a.dtype.str}|{a.shape}\n".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def image_key(item, index: int | None = None) -> str:
    """Content key of an image for the feature cache.

    A path is keyed by the sha1 of its file's bytes (no decoding needed); an
    in-memory image by the sha1 of its decoded RGB pixels and shape.  Two
    different files never share a key; a file edited in place gets a new one.
    """
    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        try:
            return file_digest(path, "sha1", b"file:")
        except OSError:
            # unreadable (or a FIFO, a device): the loader gives the proper error later
            return "unreadable:" + path
    from ._image import load_image

    rgb = load_image(item, index)
    h = hashlib.sha1(b"rgb:")
    h.update(repr(rgb.shape).encode())
    h.update(rgb.tobytes())
    return h.hexdigest()


def weights_hash(model) -> str:
    """A hash of a Keras model's weights (a model given as a parameter)."""
    import joblib

    return joblib.hash([np.asarray(w) for w in model.get_weights()])


def decode_token() -> dict:
    """What the decoding settings add to a key: ``{"working_pixels": n}``
    when the working resolution (:func:`sklearn_emotion.set_image_limits`)
    is not its default, else nothing.

    It changes the features of images larger than it; left out at its
    default, the keys of everyone who never changed it stay the same.
    """
    from ._image import DEFAULT_WORKING_PIXELS, get_image_limits

    n = get_image_limits()["working_pixels"]
    return {} if n == DEFAULT_WORKING_PIXELS else {"working_pixels": n}

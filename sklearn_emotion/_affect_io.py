"""The file format of a saved :class:`~sklearn_emotion.AffectModel`: saving
and loading, checked.

A saved model is a folder: ``model.json`` (the feature transformer's class
and parameters, the model's parameters, the feature names, the chosen
penalties, metadata), ``arrays.npz`` (every fitted array of its head) and
``manifest.json`` (each file's size and sha256, sealed).  :func:`save_model`
writes the folder beside its destination and moves it into place only when
complete, so a reader never sees a half-written or mixed folder; the loader
refuses a folder whose files do not match its manifest.  Loading never
unpickles (``np.load(allow_pickle=False)``), and checks what it reads before
trusting it: every archive member's declared and unpacked sizes, dtypes,
shapes against the description, finiteness, positive scales; a model file
never chooses where files are read from (its ``data_home`` is ignored, any
file parameter must be a registered resource).  The value checks are
:mod:`sklearn_emotion._affect_checks`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ._affect_checks import (
    MAX_ARRAY_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    check_adaptation,
    check_arrays,
    check_description,
    check_members,
    check_params,
    check_rating_range,
    check_reference,
    feature_classes,
)
from ._affect_head import DEFAULT_ALPHAS, TARGET_NAMES, AffectHead
from ._head_core import LinearHead, checked_penalties
from ._affect_model import HEAD_PARAMS, AffectModel
from ._keys import file_digest
from ._recipes import PRETRAINED_DIR, SHIPPED_MODELS
from ._store import move_into_place, read_bounded, renamed_cache_dir, sealed, unsealed

__all__ = ["ADAPTED_FORMAT_VERSION", "FORMAT", "MANIFEST", "MAX_ARRAY_BYTES", "MAX_MEMBERS",
           "MAX_TOTAL_BYTES", "UntrustedPickleError", "load_model", "load_pretrained",
           "save_model"]

#: Name and version of the on-disk format.
FORMAT = ("sklearn-emotion/affect-model", 1)
#: The format version written for an adapted model (version 1 readers
#: would ignore its adaptation and predict as the unadapted model).
ADAPTED_FORMAT_VERSION = 2
#: The file that seals a model folder: each file's size and sha256, itself
#: sealed by the store's checksum.  Folders saved before it existed load
#: without it (their files are checked as before).
MANIFEST = "manifest.json"
#: The files of a model folder.
MODEL_FILES = ("model.json", "arrays.npz")

#: The largest ``model.json`` (the shipped one's is 6 KB).
MAX_DESCRIPTION_BYTES = 16 * 2 ** 20


def load_pretrained(path=None, *, data_home=None, cache_dir=None, n_jobs=None, verbose=False,
                    on_error="nan", memory="deprecated"):
    """Load a fitted :class:`AffectModel`: by default the one shipped with the package.

    Loading never unpickles: the model is a JSON description plus numeric
    arrays read with ``allow_pickle=False``.  The CNN it uses is a
    registered resource, found in the data home (see
    :func:`sklearn_emotion.get_data_home`) and verified by sha256.

    Parameters
    ----------
    path : str or path-like, default=None
        A shipped model's name (``"v1"`` or ``"v2"``, see
        :data:`SHIPPED_MODELS`) or a folder written by
        :meth:`AffectModel.save`; None loads the default shipped model,
        :data:`DEFAULT_MODEL` (fitted on all of Emotion6 and OASIS; see
        ``docs/model_card.md``).  ``"v2"`` needs the ``[efficientnet]``
        extra (EfficientNet-Lite2's weights).
    data_home : str or path-like, default=None
        Where the feature network is found.
    cache_dir, n_jobs, verbose
        Set on the feature transformer: per-image cache folder, decoding
        threads, progress bar.
    on_error : {"nan", "raise"}, default="nan"
        What to do with images that cannot be read.  The loaded model is a
        tool for scoring collections, so by default one bad file costs one
        row: it gets NaN everywhere, with a warning naming each bad file,
        and every other image keeps its prediction.  ``"raise"`` raises
        :class:`~sklearn_emotion.ImageBatchError` after computing the
        others, whose ``partial`` attribute holds them (NaN rows for the bad
        files), as scikit-learn's estimators would.
    memory : deprecated
        The old name of ``cache_dir`` (deprecated in 0.2, removed in 0.4).

    Returns
    -------
    model : AffectModel
        Fitted: ``predict``, ``predict_interval``, ``predict_emotions`` and
        ``predict_frame`` work at once.

    Examples
    --------
    >>> from sklearn_emotion import load_pretrained
    >>> model = load_pretrained()                                 # doctest: +SKIP
    >>> model.predict_frame(["photo.jpg"])                        # doctest: +SKIP
    """

    path, desc_file, arr_file, desc = _read_description(path)
    features, names, fparams, cls = _checked_features(
        desc, desc_file, data_home=data_home, cache_dir=cache_dir, memory=memory, n_jobs=n_jobs,
        verbose=verbose, on_error=on_error)
    model, head, params = _checked_estimators(desc, desc_file, cls, fparams)
    A = _checked_arrays(desc, desc_file, arr_file, len(names))
    _restore_head(head, desc, desc_file, A, params, len(names))
    model.features_ = features
    model.head_ = head
    model.n_features_in_ = len(names)
    model.metadata_ = desc.get("metadata", {})
    return model


def _read_description(path):
    """The model folder's paths and its checked ``model.json``."""
    if path is None:
        path = PRETRAINED_DIR
    elif isinstance(path, str) and path in SHIPPED_MODELS:
        path = SHIPPED_MODELS[path]
    path = Path(path)
    desc_file, arr_file = path / "model.json", path / "arrays.npz"
    if not desc_file.is_file() or not arr_file.is_file():
        raise FileNotFoundError(f"{path}: not a saved affect model (needs model.json and arrays.npz)")
    _check_manifest(path)
    try:
        desc = json.loads(read_bounded(desc_file, MAX_DESCRIPTION_BYTES).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{desc_file}: not a model description ({type(exc).__name__}: "
                         f"{exc})") from None
    check_description(desc_file, desc)
    if desc.get("format") != FORMAT[0] or desc.get("format_version") not in (
            FORMAT[1], ADAPTED_FORMAT_VERSION):
        raise ValueError(
            f"{desc_file}: format {desc.get('format')!r} v{desc.get('format_version')!r}, "
            f"this version reads {FORMAT[0]!r} v{FORMAT[1]} and v{ADAPTED_FORMAT_VERSION}"
        )
    return path, desc_file, arr_file, desc


def _checked_features(desc, desc_file, *, data_home, cache_dir, memory, n_jobs, verbose,
                      on_error):
    """The fitted feature transformer a description names, with the caller's
    runtime parameters; refused when it names a file outside the registry."""
    classes = feature_classes()
    cls_name = desc["features"]["class"]
    if cls_name not in classes:
        raise ValueError(f"{desc_file}: unknown feature transformer {cls_name!r}")
    fparams = dict(desc["features"]["params"])
    # a model file never chooses where files are read from: the data home is
    # the caller's, and every file parameter must be a registered resource
    fparams["data_home"] = None if data_home is None else os.fspath(data_home)
    from .resources import REGISTRY

    # weights decide every number, and a name Keras knows ("imagenet") would
    # start a download on the file's say: only registered weights load
    if "weights" in fparams and fparams["weights"] not in REGISTRY:
        raise ValueError(f"{desc_file}: feature parameter weights={fparams['weights']!r} is not "
                         "a registered resource; a saved model may only name weights of the "
                         "registry (never None: a network without its weights)")
    for k, value in fparams.items():
        for v in (value if isinstance(value, list) else [value]):
            if isinstance(v, str) and k != "data_home" and (
                    "/" in v or "\\" in v or v.endswith((".tflite", ".h5", ".keras", ".pth")))  \
                    and v not in REGISTRY:
                raise ValueError(f"{desc_file}: feature parameter {k}={v!r} is not a registered "
                                 "resource; a saved model may only name files of the registry")
    # whatever the file says of them, these are the caller's
    fparams.update(cache_dir=renamed_cache_dir(cache_dir, memory), memory="deprecated",
                   n_jobs=n_jobs, verbose=verbose, on_error=on_error)
    for k, v in list(fparams.items()):
        if isinstance(v, list):
            fparams[k] = tuple(v)
    try:
        features = classes[cls_name](**fparams).fit([])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{desc_file}: feature parameters refused: {exc}") from None
    names = [str(n) for n in features.get_feature_names_out()]
    if names != desc["features"]["names"]:
        raise ValueError(f"{desc_file}: the feature network gives different feature names than "
                         "the saved model expects (another network version?)")
    return features, names, fparams, classes[cls_name]


def _checked_estimators(desc, desc_file, cls, fparams):
    """The unfitted AffectModel and AffectHead of a description, their
    parameters checked by the estimators' own rules."""
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in desc["params"].items()}
    if isinstance(params.get("alphas"), tuple):
        # the default grid, as written by another NumPy's logspace, is the
        # default: the model's repr then stays one line
        if len(params["alphas"]) == len(DEFAULT_ALPHAS) and np.allclose(
                params["alphas"], DEFAULT_ALPHAS, rtol=1e-12, atol=0):
            params["alphas"] = DEFAULT_ALPHAS
    try:
        model = AffectModel(features=cls(**{k: v for k, v in fparams.items()}),
                            **params)
        head = AffectHead(**{k: v for k, v in params.items() if k in HEAD_PARAMS})
        check_params(model)  # the estimators' own rules (_parameter_constraints)
        check_params(head)
        checked_penalties(head.alphas, head.emotion_alpha)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{desc_file}: params refused: {exc}") from None
    return model, head, params


def _checked_arrays(desc, desc_file, arr_file, n_features):
    """``arrays.npz``, read without unpickling and checked against the description."""
    check_members(arr_file)
    if os.path.islink(arr_file) or not Path(arr_file).is_file():
        raise ValueError(f"{arr_file}: not a regular file")
    with np.load(arr_file, allow_pickle=False) as z:
        A = {k: z[k].astype(np.float64) if z[k].dtype.kind == "f" else z[k] for k in z.files}
    check_arrays(arr_file, A, desc, n_features)
    if "adaptation" in desc:
        check_adaptation(desc_file, arr_file, desc, A, n_features)
        check_reference(desc_file, desc["adaptation"])
    return A


def _restore_head(head, desc, desc_file, A, params, n_features):
    """Set the fitted attributes of ``head`` from checked arrays and description."""
    clip = None if params.get("clip") is None else float(params["clip"])

    def lin(prefix):
        return LinearHead(A[f"{prefix}_mean"], A[f"{prefix}_scale"], A[f"{prefix}_coef"],
                       A[f"{prefix}_intercept"], clip)

    head.n_features_in_ = n_features
    head.n_train_ = int(desc["n_train"])
    head.main_ = lin("main")
    head.alpha_ = np.asarray(desc["alpha"])
    n_folds = sum(1 for k in A if k.endswith("_coef") and k.startswith("fold"))
    head.folds_ = [lin(f"fold{i}") for i in range(n_folds)]
    if n_folds:
        head.fold_of_ = A["fold_of"].astype(np.int64)
        head.calibration_residuals_ = A["calibration_residuals"]
        head.fold_alpha_ = A["fold_alpha"]
    head.emotion_names_ = desc.get("emotion_names")
    if head.emotion_names_ is not None:
        head.emotion_coef_ = A["emotion_coef"]
        head.emotion_intercept_ = A["emotion_intercept"]
        head.emotion_alpha_ = desc.get("emotion_alpha")
    head.ood_coef_ = head.ood_intercept_ = head.ood_threshold_ = None
    if "ood_coef" in A:
        head.ood_coef_ = A["ood_coef"]
        head.ood_intercept_ = float(desc["ood_intercept"])
        head.ood_threshold_ = desc.get("ood_threshold")
    head.shift_scale_ = None
    if desc.get("shift_scale") is not None:
        sc = np.asarray(desc["shift_scale"], dtype=np.float64)
        if sc.shape != (2,) or not np.isfinite(sc).all() or (sc < 1).any():
            raise ValueError(f"{desc_file}: shift_scale must be two finite numbers >= 1")
        head.shift_scale_ = sc
    head.rating_range_ = None  # saved before 2026-12: intervals are not widened
    if desc.get("rating_range") is not None:
        head.rating_range_ = check_rating_range(desc["rating_range"], desc_file, "rating_range")
    head.gram_basis_ = head.gram_eigvals_ = head.gram_rest_ = None
    if "gram_basis" in A:
        head.gram_basis_, head.gram_eigvals_ = A["gram_basis"], A["gram_eigvals"]
        head.gram_rest_ = float(desc["gram_rest"])
    if "adaptation" in desc:
        info = dict(desc["adaptation"])
        targets = []
        for j, t in enumerate(info["targets"]):
            targets.append({
                "strategy": t["strategy"], "cv_mse": t["cv_mse"], "cv_r": t.get("cv_r"),
                "fold_of": A[f"adapt{j}_fold_of"].astype(np.int64),
                "residuals": A[f"adapt{j}_residuals"],
                "params": {k: A[f"adapt{j}_main_{k}"] for k in t["params"]},
                "fold_params": [{k: A[f"adapt{j}_fold{i}_{k}"] for k in t["fold_param_names"]}
                                for i in range(t["n_folds"])],
            })
        info["targets"] = targets
        if info.get("rating_range") is not None:
            info["rating_range"] = check_rating_range(info["rating_range"], desc_file,
                                                       "adaptation.rating_range")
        head.adaptation_ = info


def _describe(model, metadata):
    """``(description, arrays)`` of a fitted AffectModel: what the two files hold."""
    head = model.head_
    fparams = {k: v for k, v in model.features_.get_params(deep=False).items()
               if k not in ("cache_dir", "memory", "n_jobs", "verbose")}
    desc = {
        "format": FORMAT[0],
        "format_version": FORMAT[1],
        "features": {"class": type(model.features_).__name__, "params": _jsonable(fparams),
                     "names": [str(n) for n in model.features_.get_feature_names_out()]},
        "params": _jsonable({k: v for k, v in model.get_params(deep=False).items()
                             if k != "features"}),
        "targets": list(TARGET_NAMES),
        "n_train": int(head.n_train_),
        "alpha": [float(a) for a in head.alpha_],
        "emotion_names": head.emotion_names_,
        "emotion_alpha": getattr(head, "emotion_alpha_", None),
        "metadata": metadata or {},
    }
    arrays = {f"main_{k}": getattr(head.main_, k) for k in ("mean", "scale", "coef", "intercept")}
    for i, f in enumerate(head.folds_):
        for k in ("mean", "scale", "coef", "intercept"):
            arrays[f"fold{i}_{k}"] = getattr(f, k)
    if head.folds_:
        arrays["fold_of"] = head.fold_of_
        arrays["calibration_residuals"] = head.calibration_residuals_
        arrays["fold_alpha"] = head.fold_alpha_
    if head.emotion_names_ is not None:
        arrays["emotion_coef"] = head.emotion_coef_
        arrays["emotion_intercept"] = head.emotion_intercept_
    if getattr(head, "ood_coef_", None) is not None:
        arrays["ood_coef"] = head.ood_coef_
        desc["ood_intercept"] = float(head.ood_intercept_)
        desc["ood_threshold"] = head.ood_threshold_
    if getattr(head, "shift_scale_", None) is not None:
        desc["shift_scale"] = [float(v) for v in head.shift_scale_]
    if getattr(head, "rating_range_", None) is not None:
        desc["rating_range"] = np.asarray(head.rating_range_, dtype=float).tolist()
    if getattr(head, "gram_basis_", None) is not None:
        arrays["gram_basis"] = head.gram_basis_
        arrays["gram_eigvals"] = head.gram_eigvals_
        desc["gram_rest"] = float(head.gram_rest_)
    adaptation = getattr(head, "adaptation_", None)
    if adaptation is not None:
        desc["format_version"] = ADAPTED_FORMAT_VERSION
        targets = []
        for j, t in enumerate(adaptation["targets"]):
            targets.append({"strategy": t["strategy"], "cv_mse": t["cv_mse"],
                            "cv_r": t.get("cv_r"),
                            "n_folds": len(t["fold_params"]),
                            "params": sorted(t["params"]),
                            "fold_param_names": sorted(t["fold_params"][0])})
            arrays[f"adapt{j}_fold_of"] = t["fold_of"]
            arrays[f"adapt{j}_residuals"] = t["residuals"]
            for k, v in t["params"].items():
                arrays[f"adapt{j}_main_{k}"] = np.asarray(v)
            for i, fp in enumerate(t["fold_params"]):
                for k, v in fp.items():
                    arrays[f"adapt{j}_fold{i}_{k}"] = np.asarray(v)
        desc["adaptation"] = {k: v for k, v in adaptation.items() if k != "targets"}
        desc["adaptation"]["targets"] = targets
    # float32 halves the size; every number the model uses is stored once
    stored = {k: (v.astype(np.float32) if v.dtype.kind == "f" and v.ndim > 1 else v)
              for k, v in arrays.items()}
    return desc, stored


def _write_manifest(folder):
    files = {name: {"size": (folder / name).stat().st_size, "sha256": file_digest(folder / name)}
             for name in MODEL_FILES}
    body = json.dumps({"format": FORMAT[0], "files": files}, indent=1, sort_keys=True)
    (folder / MANIFEST).write_bytes(sealed(body.encode("utf-8")))


def _check_manifest(path):
    """Refuse a folder whose files are not those its manifest seals (a
    half-written or mixed folder, or one changed after it was saved).  A
    folder without a manifest was saved before manifests; it loads as before."""
    man = path / MANIFEST
    if not man.exists() and not man.is_symlink():
        return
    try:
        info = json.loads(unsealed(read_bounded(man, 1 << 20, folder=path)).decode("utf-8"))
        files = info["files"]
        want = {name: (int(files[name]["size"]), str(files[name]["sha256"])) for name in MODEL_FILES}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, OSError) as exc:
        raise ValueError(f"{man}: not a valid manifest ({exc}); the folder was not written "
                         "whole by save, refusing it") from None
    for name, (size, digest) in want.items():
        f = path / name
        if f.stat().st_size != size or file_digest(f) != digest:
            raise ValueError(f"{f}: does not match {man} (a half-written or mixed model folder, "
                             "or one changed after it was saved); save the model again")


def save_model(model, path, metadata=None):
    """Save a fitted AffectModel as a folder: ``model.json``, ``arrays.npz``
    and ``manifest.json``.

    The folder is written under a temporary name beside ``path`` and moved
    into place only when complete: an interrupted save leaves ``path`` as it
    was, and readers never see a mixed folder.  An existing model folder at
    ``path`` is replaced; a folder holding other files is refused.

    Parameters
    ----------
    model : AffectModel
        Fitted.
    path : str or path-like
    metadata : dict, optional
        JSON-serialisable notes stored under ``"metadata"``.

    Returns
    -------
    path : pathlib.Path
    """
    import shutil
    import tempfile

    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model, "head_")
    path = Path(path)
    if path.exists() or path.is_symlink():
        if path.is_symlink() or not path.is_dir():
            raise ValueError(f"{path}: exists and is not a folder; save the model elsewhere")
        other = sorted(p.name for p in path.iterdir()
                       if p.name not in (*MODEL_FILES, MANIFEST))
        if other:
            raise ValueError(f"{path}: holds other files ({', '.join(other[:5])}); a model "
                             "folder is replaced whole, so save the model to a new folder")
    desc, stored = _describe(model, metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.saving-", dir=path.parent))
    try:
        np.savez_compressed(work / "arrays.npz", **stored)
        with open(work / "model.json", "w", encoding="utf-8") as f:
            json.dump(desc, f, indent=1, sort_keys=True)
            f.write("\n")
        _write_manifest(work)
        os.chmod(work, 0o777 & ~_umask())
        move_into_place(work, path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _jsonable(d):
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.integer,)):
            v = int(v)
        elif isinstance(v, (np.floating,)):
            v = float(v)
        elif isinstance(v, (tuple, list, np.ndarray)):
            v = [x.item() if hasattr(x, "item") else x for x in v]
        elif isinstance(v, os.PathLike):
            v = os.fspath(v)
        if not isinstance(v, (str, int, float, bool, list, type(None))):
            raise TypeError(f"parameter {k}={v!r} cannot be saved as JSON")
        out[k] = v
    return out


class UntrustedPickleError(ValueError):
    """A model given as a pickle, which :func:`load_model` loads only when
    told that it is trusted."""


def load_model(spec, trust_pickle=False):
    """A model by what a user names: the shipped model, a model folder or a
    pickled pipeline.

    Parameters
    ----------
    spec : str, path-like or None
        None: the default shipped model; a shipped model's name (``"v1"``,
        ``"v2"``: always the shipped one, ``./v2`` is a folder); a folder
        saved by :meth:`AffectModel.save` (loaded without unpickling); any
        other path: a pipeline pickled by ``sklearn-emotion train``.
    trust_pickle : bool, default=False
        Load a pickle (which runs whatever code the file names).

    Returns
    -------
    model : estimator
    kind : {"pretrained", "affect", "pipeline"}

    Raises
    ------
    UntrustedPickleError
        For a pickle without ``trust_pickle``.
    """
    if spec is None:
        return load_pretrained(), "pretrained"
    if isinstance(spec, str) and spec in SHIPPED_MODELS:
        return load_pretrained(spec), "pretrained"
    p = Path(spec)
    if p.is_dir():
        return load_pretrained(p), "affect"
    if not trust_pickle:
        raise UntrustedPickleError(
            f"--model {spec} is a pickled pipeline (saved by 'train'): loading a pickle runs "
            "whatever code the file names, so only load one you made or trust. Pass "
            "--trust-pickle to load it. (Affect model folders, from 'train --recipe' or "
            "'adapt', load without unpickling and need no flag.)")
    import joblib

    return joblib.load(p), "pipeline"

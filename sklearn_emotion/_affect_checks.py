"""The checks a saved affect model's values pass before they are trusted.

A model folder is data from anywhere: each function here refuses, with the
file and the problem named, what the package could not have written:
archive members that are not plain numeric arrays or unpack to more than
their limits, arrays whose shapes disagree with the description, values
that are not finite, scales that are not positive, adaptation records that
do not add up, parameters the estimators' own rules refuse.
:mod:`sklearn_emotion._affect_io` calls them while loading.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_ARRAY_BYTES", "MAX_MEMBERS", "MAX_TOTAL_BYTES", "check_adaptation",
           "check_arrays", "check_description", "check_members", "check_params",
           "check_rating_range", "check_reference", "feature_classes", "finite_number"]

#: The largest array a saved model may hold, in bytes (the shipped one's
#: largest is 4 MB).
MAX_ARRAY_BYTES = 256 * 2 ** 20
#: The most arrays, and the most bytes they unpack to together.
MAX_MEMBERS = 1024
MAX_TOTAL_BYTES = 1024 * 2 ** 20


def check_members(arr_file):
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


def check_arrays(arr_file, A, desc, p):
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
        if v is not None and not finite_number(v):
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


def finite_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(np.isfinite(v))


def check_adaptation(desc_file, arr_file, desc, A, p):
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
        if not all(finite_number(v) for v in dict(t.get("cv_mse") or {}).values()):
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


def check_reference(desc_file, info):
    """An adapted model's flag threshold, raised by its user's images, and
    how many images set it: a finite number, a positive count; both or
    neither (models adapted before the reference have neither)."""
    thr, m = info.get("ood_threshold"), info.get("reference_images")
    if thr is None and m is None:
        return
    if not finite_number(thr):
        raise ValueError(f"{desc_file}: adaptation.ood_threshold must be a finite number, got "
                         f"{thr!r}")
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"{desc_file}: adaptation.reference_images must be an integer >= 1, "
                         f"got {m!r}")


def check_description(desc_file, desc):
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
            finite_number(a) and a > 0 for a in alpha):
        bad("alpha", f"two positive numbers (got {alpha!r})")
    names = desc.get("emotion_names")
    if names is not None and names != list(EMOTION_NAMES):
        bad("emotion_names", f"null or {list(EMOTION_NAMES)}")
    for key in ("metadata",):
        if key in desc and not isinstance(desc[key], dict):
            bad(key, "an object")
    if "ood_coef" in desc or "ood_intercept" in desc:
        if not finite_number(desc.get("ood_intercept")):
            bad("ood_intercept", "a finite number")
        t = desc.get("ood_threshold")
        if t is not None and not finite_number(t):
            bad("ood_threshold", "a finite number")


def check_rating_range(value, desc_file, key):
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


def feature_classes():
    from . import features

    return {name: getattr(features, name) for name in features.__all__
            if isinstance(getattr(features, name), type)
            and issubclass(getattr(features, name), features.ImageTransformer)
            and name != "ImageTransformer"}


def check_params(est):
    """Validate ``est``'s parameters against its ``_parameter_constraints``
    (scikit-learn's rules), raising ``ValueError`` or ``TypeError``."""
    from sklearn.utils._param_validation import validate_parameter_constraints

    validate_parameter_constraints(type(est)._parameter_constraints,
                                   est.get_params(deep=False), caller_name=type(est).__name__)

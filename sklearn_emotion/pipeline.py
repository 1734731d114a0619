"""make_paper_pipeline: the paper's features + scaler + regressor as one Pipeline."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from .features import (
    ColorFeatures,
    FaceExpressionFeatures,
    GISTFeatures,
    LBPFeatures,
    ObjectEmotionFeatures,
    ObjectFeatures,
    PooledLayerFeatures,
    SceneFeatures,
)
from .models import FFNNRegressor, PerTargetSVR, SkipNaNRows
from ._store import renamed_cache_dir

__all__ = ["FEATURE_FAMILIES", "fit_pipeline", "make_features", "make_paper_pipeline",
           "make_scaler"]


#: The data-home MobileNetV2 used as the object backbone by default: it runs
#: offline.  The paper's VGG16 is ``ObjectFeatures("vgg16")`` (Keras download).
DEFAULT_OBJECT = dict(backbone="mobilenet_v2",
                      weights="models/mobilenet_v2_1.0_224_imagenet.weights.h5")

#: The quantized TFLite MobileNetV2 of the data home (Coral test data).
TFLITE_OBJECT = dict(backbone="models/mobilenet_v2_1.0_224_quant.tflite")

#: The one registry of feature families: name -> factory.  The paper's five,
#: two variants of the object family, and the families beyond the paper.
FEATURE_FAMILIES = {
    "color": lambda: ColorFeatures(),
    "gist": lambda: GISTFeatures(),
    "lbp": lambda: LBPFeatures(),
    "object": lambda: ObjectFeatures(**DEFAULT_OBJECT),
    "scene": lambda: SceneFeatures(),
    "object_tflite": lambda: ObjectFeatures(**TFLITE_OBJECT),
    "object_logits": lambda: ObjectFeatures(**DEFAULT_OBJECT, output="logits"),
    "face": lambda: FaceExpressionFeatures(),
    "object_emotion": lambda: ObjectEmotionFeatures(**DEFAULT_OBJECT),
    "layers": lambda: PooledLayerFeatures(),
}
#: Shorthands accepted in ``features``.
ALIASES = {"low": ("color", "gist", "lbp"), "low-level": ("color", "gist", "lbp"),
           "semantic": ("scene",), "all": ("color", "gist", "lbp", "object", "scene")}


def _expand(features):
    if isinstance(features, str):
        features = (features,)
    out = []
    for f in features:
        if isinstance(f, str):
            for name in ALIASES.get(f, (f,)):
                if name not in FEATURE_FAMILIES:
                    raise ValueError(
                        f"unknown feature family {name!r}; choose from "
                        f"{sorted(set(FEATURE_FAMILIES) | set(ALIASES))}"
                    )
                if name not in [n for n, _ in out]:
                    out.append((name, FEATURE_FAMILIES[name]()))
        elif isinstance(f, tuple) and len(f) == 2:
            out.append((f[0], f[1]))
        else:  # an estimator: its family's name, else its class name lowercased
            out.append((None, f))
    if not out:
        raise ValueError("features must name at least one family")
    return _name_unnamed(out)


def _family_name(est):
    by_class = {ColorFeatures: "color", GISTFeatures: "gist", LBPFeatures: "lbp",
                ObjectFeatures: "object", SceneFeatures: "scene",
                FaceExpressionFeatures: "face", ObjectEmotionFeatures: "object_emotion",
                PooledLayerFeatures: "layers"}
    return by_class.get(type(est), type(est).__name__.lower())


def _name_unnamed(steps):
    """Name instances as ``sklearn.pipeline.make_union`` does: repeated names
    get ``-1``, ``-2``, ... suffixes; explicit and registry names are kept."""
    from collections import Counter

    taken = {n for n, _ in steps if n is not None}
    names = [n if n is not None else _family_name(e) for n, e in steps]
    counts = Counter(n for (given, _), n in zip(steps, names) if given is None)
    seen = Counter()
    out = []
    for (given, est), name in zip(steps, names):
        if given is None and (counts[name] > 1 or name in taken):
            seen[name] += 1
            name = f"{name}-{seen[name]}"
        out.append((name, est))
    dup = [n for n, c in Counter(n for n, _ in out).items() if c > 1]
    if dup:
        raise ValueError(f"feature names given twice: {dup}")
    return out


def make_features(features=("color", "gist", "lbp", "object", "scene"), *, cache_dir=None,
                  n_jobs=None, verbose=False, on_error="raise", memory="deprecated"):
    """A FeatureUnion of the chosen image feature families.

    Parameters
    ----------
    features : str or sequence
        Names from :data:`FEATURE_FAMILIES` (``"color"``, ``"gist"``,
        ``"lbp"``, ``"object"``, ``"scene"``, ``"object_tflite"``,
        ``"object_logits"``, ``"face"``, ``"object_emotion"``,
        ``"layers"``), shorthands (``"low"`` = colour+GIST+LBP, ``"semantic"``,
        ``"all"``), ``(name, transformer)`` pairs or transformer instances.
    cache_dir : None, str or path-like
        Folder of the per-image feature cache, given to every family.
    n_jobs : int, optional
        Given to every family (image-level parallelism).
    verbose : bool
        Progress bars.
    on_error : {"raise", "nan"}, default="raise"
        Given to every family: ``"nan"`` gives an unreadable image a NaN row
        (with a warning naming it) instead of raising
        :class:`~sklearn_emotion.ImageBatchError`.
    memory : deprecated
        The old name of ``cache_dir`` (deprecated in 0.2, removed in 0.4).
    """
    if on_error not in ("raise", "nan"):
        raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
    cache_dir = renamed_cache_dir(cache_dir, memory)
    steps = []
    for name, est in _expand(features):
        est = clone(est)
        params = {k: v for k, v in dict(cache_dir=cache_dir, n_jobs=n_jobs, verbose=verbose,
                                        on_error=on_error).items()
                  if k in est.get_params()}
        steps.append((name, est.set_params(**params)))
    return FeatureUnion(steps)


def make_scaler(clip=5.0):
    """StandardScaler, then z-scores clipped to ``[-clip, clip]`` (None: no clipping).

    Class probabilities and scene fractions are proportions with near-zero
    variance in many columns: a class seen in one training image gets a tiny
    standard deviation, and a test image where it appears then gets a z-score
    in the hundreds or thousands (845 for ObjectFeatures and 1,809 for
    SceneFeatures on an Emotion6 fold), which throws a network or a linear
    model far off.  Clipping bounds that; it leaves ordinary values alone
    (99.9 % of Emotion6's standardised values are within ±16, most within ±5).
    """
    scaler = StandardScaler()
    if clip is None:
        return scaler
    if not clip > 0:
        raise ValueError(f"clip must be > 0 or None, got {clip!r}")
    return Pipeline([
        ("standard", scaler),
        ("clip", FunctionTransformer(np.clip, kw_args={"a_min": -clip, "a_max": clip},
                                     feature_names_out="one-to-one")),
    ])


def make_paper_pipeline(features=("color", "gist", "lbp", "object", "scene"), regressor="ffnn",
                        cache_dir=None, *, clip=5.0, n_jobs=None, verbose=False, random_state=0,
                        on_error="raise", memory="deprecated", **params):
    """The paper's model: image features → StandardScaler → regressor.

    Parameters
    ----------
    features : str or sequence, default=all five families
        See :func:`make_features`.
    regressor : {"ffnn", "svr", "linear"} or estimator, default="ffnn"
        ``"ffnn"`` is :class:`FFNNRegressor` with the paper's settings,
        ``"svr"`` :class:`~sklearn_emotion.models.PerTargetSVR` (an RBF
        ``SVR`` with SVR's parameters, fitting one model per target as the
        paper does, so it takes the loaders' ``(n, 2)`` targets as well as
        one column), ``"linear"`` ``LinearRegression()``; any scikit-learn
        regressor is used as given.  Every one of the three takes ``y`` of
        shape ``(n,)`` or ``(n, 2)``.
    cache_dir : None, str or path-like, default=None
        Folder of the per-image feature cache of every family: grid searches
        and CV folds then compute each image's features once.
    clip : float or None, default=5.0
        Standardised features are clipped to ``[-clip, clip]`` (see
        :func:`make_scaler`); None gives the paper's plain StandardScaler,
        with which the FFNN and linear models break down on probability and
        scene-fraction features (``docs/paper_comparison.md``).
    n_jobs : int, optional
        Image-level parallelism of the feature families.
    verbose : bool, default=False
        Progress bars.
    random_state : int, default=0
        Seed of the FFNN.
    on_error : {"raise", "nan"}, default="raise"
        What happens to an image that cannot be read.  ``"raise"``: the
        families raise :class:`~sklearn_emotion.ImageBatchError` naming every
        bad image (after computing, and caching, the others).  ``"nan"``:
        every family gives it a NaN row with a warning naming it, and the
        regressor is wrapped in :class:`~sklearn_emotion.models.SkipNaNRows`,
        so ``fit`` leaves such images out and ``predict`` returns NaN for
        them and real predictions for all the others.
        :func:`~sklearn_emotion.predict_images` does the same for any fitted
        model and also returns each failed image's reason.
    memory : deprecated
        The old name of ``cache_dir`` (deprecated in 0.2, removed in 0.4).
    **params
        Set on the pipeline afterwards, e.g.
        ``regressor__C=10`` or ``features__object__output="logits"`` (with
        ``on_error="nan"`` the regressor sits one level down:
        ``regressor__regressor__C=10``).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``features`` (a FeatureUnion), ``scale`` (StandardScaler,
        then clipping) and ``regressor``.
        A grid over feature combinations sets families to ``"drop"``:
        ``{"features__gist": ["drop", GISTFeatures()]}``.
    """
    if isinstance(regressor, str):
        regs = {"ffnn": lambda: FFNNRegressor(random_state=random_state),
                "svr": lambda: PerTargetSVR(),
                "linear": lambda: LinearRegression()}
        if regressor not in regs:
            raise ValueError(f"regressor must be one of {sorted(regs)} or an estimator, got {regressor!r}")
        reg = regs[regressor]()
    else:
        reg = clone(regressor)
    if on_error == "nan":
        reg = SkipNaNRows(reg)
    pipe = Pipeline([
        ("features", make_features(features, cache_dir=renamed_cache_dir(cache_dir, memory),
                                   n_jobs=n_jobs, verbose=verbose,
                                   on_error=on_error)),
        ("scale", make_scaler(clip)),
        ("regressor", reg),
    ])
    if params:
        pipe.set_params(**params)
    return pipe


def fit_pipeline(pipe, X, y, *, cv=5, random_state=0):
    """Fit a pipeline whose first step computes image features, computing the
    features once; with ``cv >= 2``, first a quick cross-validated Pearson r
    of the rest of the pipeline on those features.

    The feature cache is a training-time convenience: afterwards the
    families' ``cache_dir`` is unset (and their progress bars off), so the
    fitted pipeline computes features afresh wherever it is loaded, or in
    the cache its user sets.

    Parameters
    ----------
    pipe : Pipeline
        E.g. :func:`make_paper_pipeline`; its first step takes images.
    X : sequence of images
    y : array-like of shape (n_samples, 2)
    cv : int, default=5
        Folds of the quick estimate (``KFold`` shuffled with
        ``random_state``); 0 or 1 skips it.
    random_state : int, default=0

    Returns
    -------
    pipe : Pipeline
        Fitted.
    r : tuple of float or None
        Cross-validated Pearson r of valence and arousal (None without cv).
    """
    from scipy.stats import pearsonr
    from sklearn.model_selection import KFold, cross_val_predict

    y = np.asarray(y)
    F = pipe[0].fit_transform(list(X))
    rest = pipe[1:]
    r = None
    if cv >= 2:
        pred = cross_val_predict(rest, F, y, cv=KFold(cv, shuffle=True,
                                                      random_state=random_state))
        r = tuple(float(pearsonr(pred[:, j], y[:, j])[0]) for j in range(2))
    rest.fit(F, y)
    steps = getattr(pipe[0], "transformer_list", [(None, pipe[0])])
    for _, est in steps:
        if est != "drop" and "cache_dir" in est.get_params():
            est.set_params(cache_dir=None, verbose=False)
    return pipe, r

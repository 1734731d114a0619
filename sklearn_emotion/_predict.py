"""Predict over a collection of images without losing the good ones.

:func:`predict_images` runs a fitted model (a pipeline whose first step takes
images, an :class:`~sklearn_emotion.AffectModel`, or a lone image
transformer) batch by batch: memory does not grow with the number of
images, an image that cannot be read gets a NaN row, and the result names
every failed image with its reason.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._image import (
    ImageBatchError,
    ImageLoadError,
    as_image_list,
    describe_item,
    load_image,
    path_index,
)

__all__ = ["ImagePredictions", "predict_images"]


@dataclass
class ImagePredictions:
    """What :func:`predict_images` returns.

    Attributes
    ----------
    predictions : ndarray or pandas.DataFrame
        One row per input image, in input order; NaN rows for failed images.
    errors : dict of int -> ImageLoadError
        The failed images by position in ``X``; each error names the image
        (its path or ``X[i]``) and the reason.
    """

    predictions: object
    errors: dict = field(default_factory=dict)

    @property
    def failed(self) -> np.ndarray:
        """Boolean mask of the failed images."""
        mask = np.zeros(len(self.predictions), dtype=bool)
        mask[list(self.errors)] = True
        return mask

    def report(self) -> str:
        """One line per failed image: ``name: reason``."""
        return "\n".join(str(e) for _, e in sorted(self.errors.items()))


def image_transformers(obj):
    """Every ImageTransformer in ``obj`` (itself, or nested in its parameters)."""
    from .features._base import ImageTransformer

    found = [obj] if isinstance(obj, ImageTransformer) else []
    if hasattr(obj, "get_params"):
        for v in obj.get_params(deep=True).values():
            if isinstance(v, ImageTransformer):
                found.append(v)
    return found


@contextlib.contextmanager
def _errors_as_nan(obj):
    """Temporarily set ``on_error="nan"`` on every image transformer of ``obj``
    (``set_params``: ``on_error`` changes no framework object, so built model
    runners stay in place)."""
    found = image_transformers(obj)
    old = [t.get_params(deep=False)["on_error"] for t in found]
    try:
        for t in found:
            t.set_params(on_error="nan")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*could not be loaded")
            yield
    finally:
        for t, v in zip(found, old):
            t.set_params(on_error=v)


def model_stages(estimator, method, params=None):
    """Split a model into (image step, head on the good rows' features).

    ``params`` are keyword arguments of ``method`` (e.g. ``new_raters``),
    bound into the head."""
    from functools import partial

    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    from .pretrained import AffectModel

    params = dict(params or {})
    if isinstance(estimator, AffectModel):
        check_is_fitted(estimator, "head_")
        head = estimator.head_
        heads = {"predict": head.predict, "predict_frame": head.predict_frame,
                 "predict_interval": head.predict_interval,
                 "predict_emotions": head.predict_emotions}
        if method not in heads:
            raise ValueError(f"method must be one of {sorted(heads)} for an AffectModel, "
                             f"got {method!r}")
        if params.get("new_raters"):
            head.check_new_raters()  # refuse before computing features
        return estimator.features_, partial(heads[method], **params), True
    if isinstance(estimator, Pipeline):
        rest = estimator[1:]
        step, fn = estimator[0], (getattr(rest, method) if len(rest) else None)
    elif hasattr(estimator, "transform") and method == "transform":
        step, fn = estimator, None
    else:
        step, fn = None, getattr(estimator, method)
    if fn is None:  # the image step's own transform is the whole model
        if params:
            raise TypeError(f"transform takes no parameters here, got {sorted(params)}")
        return step, None, False
    return step, partial(fn, **params), False


def _diagnose(item, index):
    """The error of an item whose features came back as NaN."""
    try:
        load_image(item, index)
    except ImageLoadError as exc:
        return exc
    return ImageLoadError(describe_item(item, index),
                          "its features are not finite (NaN or infinite)")


def _nan_rows(proto, n):
    """``n`` all-missing rows with the columns and dtypes of the frame ``proto``."""
    import pandas as pd

    return pd.DataFrame({c: pd.Series([None] * n, dtype=object) if proto[c].dtype == object
                         else pd.Series(np.full(n, np.nan), dtype=proto[c].dtype)
                         for c in proto.columns})


def _predict_chunk(chunk, s, image_step, head):
    """``(indices, errors, output)`` of one chunk starting at input ``s``:
    the output of its good images (None if there are none), each failed
    image's :class:`~sklearn_emotion.ImageLoadError` by its input index."""
    idx = list(range(s, s + len(chunk)))
    if image_step is None:  # an opaque estimator: call it, retry on the good ones
        try:
            return idx, {}, head(chunk)
        except ImageBatchError as exc:
            bad = {s + i: e for i, e in exc.errors.items()}
            keep = [i for i in range(len(chunk)) if s + i not in bad]
            return idx, bad, (head([chunk[i] for i in keep]) if keep else None)
    with _errors_as_nan(image_step):
        F = image_step.transform(chunk)
    F_arr = np.asarray(F, dtype=np.float64) if not hasattr(F, "iloc") else F.to_numpy(np.float64)
    ok = np.isfinite(F_arr).all(axis=1)
    bad = {s + int(i): _diagnose(chunk[i], s + int(i)) for i in np.flatnonzero(~ok)}
    good_rows = F[ok] if not hasattr(F, "iloc") else F.iloc[np.flatnonzero(ok)]
    if head is None:
        return idx, bad, good_rows
    return idx, bad, (head(good_rows) if ok.any() else None)


def predict_images(estimator, X, *, method="predict", batch_size=256, **params):
    """Predict for many images; failed images get NaN rows and a reason.

    The images are processed ``batch_size`` at a time (each is decoded once,
    and only one batch of decoded pixels is held), every image transformer
    inside ``estimator`` runs with ``on_error="nan"``, the rest of the model
    sees only the rows of good images, and the rows of failed images are NaN.
    ``estimator`` itself is left as it was.

    Parameters
    ----------
    estimator : fitted estimator
        A :class:`~sklearn.pipeline.Pipeline` whose first step takes images
        (e.g. :func:`~sklearn_emotion.make_paper_pipeline`), an
        :class:`~sklearn_emotion.AffectModel` (the pretrained model
        included), or an image transformer (with ``method="transform"``).
        Any other estimator that takes images is called as it is; when it
        raises :class:`~sklearn_emotion.ImageBatchError`, the good images are
        predicted again on their own.
    X : sequence of images
        Paths, arrays or PIL images.
    method : str, default="predict"
        The method to call: ``"predict"``, ``"transform"``, or for an
        AffectModel also ``"predict_frame"``, ``"predict_interval"``,
        ``"predict_emotions"``.
    batch_size : int, default=256
        Images per batch.
    **params
        Keyword arguments of ``method``, e.g. ``new_raters=True`` with an
        AffectModel's ``"predict_frame"`` or ``"predict_interval"``.

    Returns
    -------
    result : ImagePredictions
        ``result.predictions`` (ndarray, or a DataFrame for
        ``"predict_frame"``) has one row per image in input order; a
        DataFrame is indexed by the images' paths (when every image was
        given as a path) and, for ``"predict_frame"``, has an ``error``
        column: None for a predicted image, the reason for a failed one;
        ``result.errors`` maps the position of each failed image to its
        :class:`~sklearn_emotion.ImageLoadError`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_emotion import ColorFeatures, predict_images
    >>> good = np.full((8, 8, 3), 200, dtype=np.uint8)
    >>> est = ColorFeatures().fit([good])
    >>> res = predict_images(est, [good, "missing.jpg"], method="transform")
    >>> res.predictions.shape, bool(np.isnan(res.predictions[1]).all())
    ((2, 22), True)
    >>> print(res.report())
    missing.jpg: file not found
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    items = as_image_list(X)
    image_step, head, _ = model_stages(estimator, method, params)
    parts, errors = [], {}
    for s in range(0, len(items), int(batch_size)):
        parts.append(_predict_chunk(items[s:s + int(batch_size)], s, image_step, head))
        errors.update(parts[-1][1])
    # assemble in input order, NaN rows for the failed ones
    proto = next((out for _, _, out in parts if out is not None and len(out)), None)
    if proto is None:  # nothing succeeded: the shape of one row from the model itself
        proto = one_row(image_step, head)
    n = len(items)
    if hasattr(proto, "iloc"):
        import pandas as pd

        pieces = []
        for idx, bad, out in parts:
            good = [i for i in idx if i not in bad]
            if good:
                pieces.append(out.set_axis(good, axis=0))
            if bad:
                pieces.append(_nan_rows(proto, len(bad)).set_axis(sorted(bad), axis=0))
        predictions = (pd.concat(pieces).sort_index().reset_index(drop=True) if pieces
                       else _nan_rows(proto, 0))
        if method == "predict_frame":
            reasons = np.array([None] * n, dtype=object)
            for i, e in errors.items():
                reasons[i] = e.reason
            predictions["error"] = reasons
        index = path_index(items)
        if index is not None:
            predictions = predictions.set_axis(index, axis=0)
    else:
        predictions = np.full((n,) + np.shape(proto)[1:], np.nan)
        for idx, bad, out in parts:
            good = [i for i in idx if i not in bad]
            if good:
                predictions[good] = np.asarray(out, dtype=np.float64)
    return ImagePredictions(predictions, errors)


def one_row(image_step, head):
    """A prototype output row when no image of the input could be used."""
    if image_step is None:
        return np.zeros((1, 2))
    d = len(image_step.get_feature_names_out())
    return np.zeros((1, d)) if head is None else head(np.zeros((1, d)))

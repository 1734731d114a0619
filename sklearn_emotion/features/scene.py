"""Semantic features (Kim et al. 2018, §IV-D): ADE20K class fractions."""

from __future__ import annotations


import os

import joblib
import numpy as np
from sklearn.utils._param_validation import HasMethods, StrOptions
from scipy.special import softmax

from .._backbones import model_kind, resolve_file
from .._image import resize_rgb
from .._runners import KerasRunner, TFLiteRunner
from ..resources import fetch
from ._base import ImageTransformer, label_slug, unique_names

__all__ = ["SceneFeatures", "ade20k_labels", "class_fractions"]

DEFAULT_SCENE_MODEL = "models/deeplabv3_mobilenetv2_ade20k.tflite"


def ade20k_labels(data_home=None) -> list[str]:
    """The 151 ADE20K label names, ``"others"`` first then the 150 classes."""
    path = fetch("models/ade20k_labels_151.txt", data_home)
    rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    names = [r[1].strip() if len(r) == 2 else r[0].split(None, 1)[1].strip() for r in rows]
    if len(names) != 151:
        raise ValueError(f"{path}: expected 151 labels, found {len(names)}")
    return names


class SceneFeatures(ImageTransformer):
    """Fraction of an image's pixels in each ADE20K class: the paper's semantic features.

    Parameters
    ----------
    model : str, path-like or keras.Model, default="models/deeplabv3_mobilenetv2_ade20k.tflite"
        A ``.tflite`` scene parser (registered resource name or path) with a
        fixed square float input on [-1, 1] and per-pixel logits over
        ``others`` + 150 ADE20K classes, run with ai-edge-litert (the default
        DeepLabV3-MobileNetV2 takes 513×513); or a ``keras.Model`` mapping a
        float32 batch of RGB images on [0, 255] at its input size to
        per-pixel class logits (put any preprocessing inside it), run in
        batches through TensorFlow (on a GPU when present).
    labels : sequence of str, optional
        Class names for a ``keras.Model``, one per output channel; the 151
        ADE20K labels (``others`` first) by default.
    mode : {"hard", "soft"}, default="hard"
        ``"hard"``: share of pixels whose argmax is each class (the paper).
        ``"soft"``: mean per-pixel softmax probability of each class.
    include_others : bool, default=True
        Keep the ``others`` (unlabelled) channel as the last feature, so the
        fractions sum to 1.  With False, only the paper's 150 classes are
        returned and they sum to 1 minus the ``others`` share.
    num_threads : int, optional
        TFLite interpreter threads; None uses every core.
    data_home : str or path-like, optional
        Where registered resources are found.
    batch_size : int, default=8
        Images decoded ahead (in a thread, while the parser runs) and written
        to the cache together.  The parser itself runs one image at a time:
        its per-pixel logits (159 MB an image for the default model) are
        reduced to class fractions before the next image, so memory does not
        grow with the batch.
    cache_dir, n_jobs, verbose, on_error, memory
        As for :class:`ColorFeatures`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``scene_<class>``, e.g. ``scene_sky``, ``scene_person``.
    n_features_out_ : int
        151 by default, 150 with ``include_others=False``.

    Notes
    -----
    Images are resized to the model's input size without cropping. The
    default model costs about 0.4 s an image on 2 CPU cores; use ``cache_dir=``
    so it runs once per image.

    See Also
    --------
    ObjectFeatures
        The paper's object features.
    FaceExpressionFeatures
        Faces and their expressions.
    """

    _parallel = "model"

    def __init__(self, model=DEFAULT_SCENE_MODEL, labels=None, mode="hard", include_others=True,
                 num_threads=None, data_home=None, *, cache_dir=None, batch_size=8, n_jobs=None,
                 verbose=False, on_error="raise", memory="deprecated"):
        self.model = model
        self.labels = labels
        self.mode = mode
        self.include_others = include_others
        self.num_threads = num_threads
        self.data_home = data_home
        self.cache_dir = cache_dir
        self.memory = memory
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    def _is_keras(self):
        return model_kind(self.model, named=False, what="model") == "keras"

    _parameter_constraints = {
        **ImageTransformer._parameter_constraints,
        "model": [str, os.PathLike, HasMethods(["get_weights", "__call__"])],
        "labels": [None, "array-like"],
        "mode": [StrOptions({"hard", "soft"})],
        "include_others": ["boolean"],
    }

    def _validate_params_extra(self):
        self._is_keras()

    def _all_labels(self):
        if self.labels is not None:
            return list(self.labels)
        return ade20k_labels(self.data_home)

    def _feature_names(self):
        labels = unique_names([f"scene_{label_slug(n)}" for n in self._all_labels()])
        # channel 0 is "others": put it last, or drop it
        return labels[1:] + (labels[:1] if self.include_others else [])

    def runner(self):
        """The scene parser's runner description (``runner``, ``side`` and the kind of network), built on
        first use: for measurements of the network alone."""
        return self._runner()

    def _runner(self):
        def build():
            if self._is_keras():
                side = tuple(int(s) for s in self.model.input_shape[1:3])
                return dict(runner=KerasRunner(self.model), side=side, keras=True)
            # one image per call (below): one interpreter with every core's threads
            r = TFLiteRunner(resolve_file(self.model, self.data_home),
                             self.num_threads or joblib.cpu_count())
            return dict(runner=r, side=r.input_shape[1:3], keras=False)

        return self._lazy_get("runner", build)

    def _compute_batch(self, images):
        r = self._runner()
        n_lab = len(self._all_labels())
        out = np.empty((len(images), n_lab))
        # one image per model call: a 513×513 map of 151 float logits is
        # 159 MB, so a batch's logits are never held at once (issue 14)
        for k, im in enumerate(images):
            x = resize_rgb(im, r["side"])[None].astype(np.float32)
            if not r["keras"]:
                x = x / 127.5 - 1.0
            out[k] = class_fractions(r["runner"].run(x)["output0"][0], self.mode, n_lab)
        out = np.concatenate([out[:, 1:], out[:, :1]], axis=1)
        return out if self.include_others else out[:, :-1]


def class_fractions(logits, mode="hard", n_classes=None):
    """Share of an image's pixels in each class, from per-pixel logits.

    Parameters
    ----------
    logits : ndarray of shape (height, width, n_classes)
        A scene parser's per-pixel class scores.
    mode : {"hard", "soft"}, default="hard"
        ``"hard"``: share of pixels whose argmax is each class.
        ``"soft"``: mean per-pixel softmax probability of each class.
    n_classes : int, optional
        Expected number of classes; a ValueError if ``logits`` has another.

    Returns
    -------
    fractions : ndarray of shape (n_classes,)
        Non-negative, summing to 1.
    """
    n_cls = logits.shape[-1]
    if n_classes is not None and n_cls != n_classes:
        raise ValueError(f"model has {n_cls} classes, labels has {n_classes}")
    if mode == "hard":
        counts = np.bincount(logits.argmax(axis=-1).ravel(), minlength=n_cls)
        return counts / counts.sum()
    return softmax(logits.astype(np.float64), axis=-1).reshape(-1, n_cls).mean(axis=0)

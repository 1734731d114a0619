"""Object features (Kim et al. 2018, §IV-C): ImageNet class scores of a CNN."""

from __future__ import annotations


import os

import numpy as np
from .._quiet import import_keras
from sklearn.utils._param_validation import HasMethods, StrOptions
from scipy.special import log_softmax, softmax

from .._backbones import build_backbone, model_kind, preprocess_fn, resolve_file
from .._image import resize_rgb
from .._runners import KerasRunner, TFLiteRunner
from ..resources import fetch
from ._base import ImageTransformer, label_slug, unique_names

__all__ = ["ObjectFeatures", "imagenet_labels"]

_OUTPUTS = ("proba", "logits", "log_proba", "embedding")


def imagenet_labels(data_home=None) -> list[str]:
    """The 1,000 ImageNet class names (synonyms comma-separated), standard order."""
    path = fetch("models/imagenet_labels_1001.txt", data_home)
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) != 1001 or lines[0] != "background":
        raise ValueError(f"{path}: expected 1001 lines starting with 'background'")
    return lines[1:]


class ObjectFeatures(ImageTransformer):
    """ImageNet class scores of a pretrained CNN: the paper's object features.

    Parameters
    ----------
    backbone : str, path-like or keras.Model, default="vgg16"
        - a ``keras.applications`` name: ``"vgg16"``, ``"vgg19"``,
          ``"resnet50"``, ``"mobilenet_v2"`` or ``"efficientnet_b0"``, each
          with its own preprocessing and 224×224 input;
        - a ``.tflite`` ImageNet classifier (a file path, or a registered
          resource such as ``"models/mobilenet_v2_1.0_224_quant.tflite"``),
          run with ai-edge-litert; 1,001 outputs (background first) are mapped
          to the standard 1,000;
        - a ``keras.Model`` taking float32 RGB images on [0, 255] at its input
          size (put any preprocessing inside it) whose last layer is a
          ``Dense`` classifier.
    weights : str or None, default="imagenet"
        For a named backbone: ``"imagenet"`` (Keras' own download, online),
        a ``.weights.h5`` path, or a registered resource, e.g.
        ``"models/mobilenet_v2_1.0_224_imagenet.weights.h5"`` from the data
        home.  Ignored for the other backbones.
    output : {"proba", "logits", "log_proba", "embedding"}, default="proba"
        ``"proba"``: the paper's 1,000 softmax probabilities.  ``"logits"``
        and ``"log_proba"``: the pre-softmax scores (log_proba is logits
        minus their log-sum-exp).  ``"embedding"``: the pooled penultimate
        features (1,280-d for MobileNetV2, 4,096-d for VGG).

        This choice matters.  Softmax probabilities are nearly one-hot and
        heavy-tailed; standardised, they make poor regression inputs.  On all
        of Emotion6 with 5-fold CV, an SVR on standardised MobileNetV2
        probabilities reaches valence r ≈ 0.57, on its logits or embedding
        r ≈ 0.73, and a linear model on standardised probabilities does worse
        than predicting the mean.
    labels : sequence of str, optional
        Class names for a ``keras.Model`` backbone; ImageNet's by default.
    num_threads : int, optional
        Threads of the TFLite interpreter; None uses every core.
    data_home : str or path-like, optional
        Where registered resources are found.
    cache_dir, batch_size, n_jobs, verbose, on_error, memory
        As for :class:`ColorFeatures`; ``batch_size`` is the model batch and
        ``n_jobs`` the number of threads decoding images.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``obj_<first class synonym>`` (or ``emb_<k>`` for the embedding).
    n_features_out_ : int

    Notes
    -----
    Keras models run through TensorFlow, which uses a GPU when one is
    present.  For a quantized TFLite classifier whose uint8 softmax is mostly
    exact zeros, the probabilities are recomputed from its dequantized logits
    tensor, so they are smooth.  Images are resized to the input size without
    cropping.  For a ``.tflite`` network a JPEG file is decoded at the
    smallest DCT scale that still covers the input size (see
    :func:`load_image`'s ``size``), a fraction of the cost of a full decode;
    Keras backbones decode in full.

    See Also
    --------
    SceneFeatures
        The paper's semantic (scene-parsing) features.
    ObjectEmotionFeatures
        Word-norm emotion of the recognised objects.
    PooledLayerFeatures
        Pooled activations of several layers of the same network.
    """

    _parallel = "model"

    def __init__(self, backbone="vgg16", weights="imagenet", output="proba", labels=None,
                 num_threads=None, data_home=None, *, cache_dir=None, batch_size=32,
                 n_jobs=None, verbose=False, on_error="raise", memory="deprecated"):
        self.backbone = backbone
        self.weights = weights
        self.output = output
        self.labels = labels
        self.num_threads = num_threads
        self.data_home = data_home
        self.cache_dir = cache_dir
        self.memory = memory
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    # ------------------------------------------------------------------ kind
    def _kind(self):
        return model_kind(self.backbone)

    _parameter_constraints = {
        **ImageTransformer._parameter_constraints,
        "backbone": [str, os.PathLike, HasMethods(["get_weights", "__call__"])],
        "weights": [None, str, os.PathLike],
        "output": [StrOptions(set(_OUTPUTS))],
        "labels": [None, "array-like"],
    }

    def _validate_params_extra(self):
        self._kind()

    def _decode_size(self):
        # a .tflite network is the deployment path: JPEGs are decoded at a
        # reduced DCT scale that still covers its input, and resized in the
        # decoding thread (benchmarks/results/cnn_features.md).  Keras
        # backbones keep the full decode that the published tables used.
        return tuple(self._runner()["side"]) if self._kind() == "tflite" else None

    def _make_cache_token(self):
        name, params = super()._make_cache_token()
        if self._kind() == "tflite":  # the reduced JPEG decode changes the pixels
            params = sorted([*params, ("__decode", "reduced")])
        return name, params

    # --------------------------------------------------------------- names
    def _class_names(self):
        if self._kind() == "keras" and self.labels is not None:
            return list(self.labels)
        return imagenet_labels(self.data_home)

    def _feature_names(self):
        if self.output == "embedding":
            return [f"emb_{k}" for k in range(self._embedding_dim())]
        names = self._class_names()
        if self._kind() == "keras":
            n = self._runner()["n_classes"]
            if len(names) != n:
                raise ValueError(f"labels has {len(names)} names, the model has {n} classes")
        return unique_names([f"obj_{label_slug(n)}" for n in names])

    # --------------------------------------------------------------- model
    def runner(self):
        """The network runner's description (``runner``, ``side`` and the kind of network), built on
        first use: for measurements of the network alone."""
        return self._runner()

    def _runner(self):
        return self._lazy_get("runner", self._build_runner)

    def _build_runner(self):
        kind = self._kind()
        if kind == "tflite":
            path = resolve_file(self.backbone, self.data_home)
            probe = TFLiteRunner(path, self.num_threads)
            details = probe.interpreter.get_tensor_details()
            out = probe.outputs[0]
            n_out = int(out["shape"][-1])
            logits = [d["name"] for d in details
                      if "logit" in d["name"].lower() and tuple(d["shape"]) == tuple(out["shape"])]
            pooled = [d["name"] for d in details
                      if "avgpool" in d["name"].lower() or "global" in d["name"].lower()]
            tensors = logits[-1:] + pooled[-1:]
            runner = TFLiteRunner(path, self.num_threads, tensors) if tensors else probe
            side = probe.input_shape[1:3]
            return dict(kind=kind, runner=runner, side=side, n_out=n_out,
                        logits=logits[-1] if logits else None,
                        pooled=pooled[-1] if pooled else None,
                        softmax_out="softmax" in out["name"].lower(),
                        offset=1 if n_out == 1001 else 0, n_classes=n_out - (n_out == 1001))
        keras = import_keras()

        if kind == "named":
            model = build_backbone(self.backbone, self.weights, include_top=True,
                                   data_home=self.data_home)
            pre = preprocess_fn(self.backbone)
        else:
            model, pre = self.backbone, None
        head = model.layers[-1]
        if not isinstance(head, keras.layers.Dense):
            raise ValueError(
                f"backbone's last layer must be a Dense classifier, got {type(head).__name__}"
            )
        feat_model = keras.Model(model.input, head.input)
        W, b = (np.asarray(w) for w in head.get_weights())
        side = tuple(int(s) for s in model.input_shape[1:3])
        return dict(kind=kind, runner=KerasRunner(feat_model), side=side, pre=pre,
                    W=W, b=b, n_classes=W.shape[1], offset=0)

    def _embedding_dim(self):
        r = self._runner()
        if r["kind"] == "tflite":
            if r["pooled"] is None:
                raise ValueError(f"{self.backbone}: no pooled-feature tensor found for output='embedding'")
            d = r["runner"].extra[-1]
            return int(np.prod(d["shape"][1:]))
        return int(r["W"].shape[0])

    def _compute_batch(self, images):
        r = self._runner()
        batch = np.stack([resize_rgb(im, r["side"]) for im in images])
        if r["kind"] == "tflite":
            runner = r["runner"]
            if runner.input_dtype == np.uint8:
                x = batch.astype(np.uint8)
            else:  # float MobileNet-style input on [-1, 1]
                x = (batch.astype(np.float32) / 127.5 - 1.0).astype(runner.input_dtype)
            res = runner.run(x)
            if self.output == "embedding":
                return res[r["pooled"]].reshape(len(images), -1)
            if r["logits"] is not None:
                logits = res[r["logits"]].reshape(len(images), -1)
            elif r["softmax_out"]:  # no logits tensor: log of the (coarse) softmax
                logits = np.log(np.maximum(res["output0"].reshape(len(images), -1), 1e-8))
            else:
                logits = res["output0"].reshape(len(images), -1)
            logits = logits[:, r["offset"]:]
        else:
            x = batch.astype(np.float32)
            if r["pre"] is not None:
                x = r["pre"](x)
            emb = r["runner"].run(x)["output0"].reshape(len(images), -1)
            if self.output == "embedding":
                return emb
            logits = emb.astype(np.float64) @ r["W"] + r["b"]
        logits = logits.astype(np.float64)
        if self.output == "logits":
            return logits
        if self.output == "log_proba":
            return log_softmax(logits, axis=1)
        return softmax(logits, axis=1)

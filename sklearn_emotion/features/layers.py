"""Pooled activations of several CNN layers: mid- and high-level appearance.

Beyond the paper.  The paper describes an image to its regressor by the
1,000 ImageNet class scores of a CNN (:class:`ObjectFeatures`).  The class
scores throw away most of what the network saw: textures, colours, layout and
parts live in the intermediate layers.  Pooling each chosen layer's feature
maps over space (channel means, optionally standard deviations, the "style"
statistics of Gatys et al.) keeps that information at a few thousand
numbers an image.
"""

from __future__ import annotations


import os

import numpy as np
from .._quiet import import_keras
from sklearn.utils._param_validation import HasMethods, StrOptions

from .._backbones import (LITE2_TFLITE, LITE2_WEIGHTS, build_backbone, lite2_runtime,
                          lite2_tflite, model_kind, preprocess_fn, resolve_file)
from .._image import resize_rgb
from .._runners import KerasRunner, TFLiteRunner
from .._efficientnet import LITE2_LAYERS
from .._warn import warn_user
from ..resources import ResourceError
from ._base import ImageTransformer

__all__ = ["PooledLayerFeatures", "pool_feature_maps", "DEFAULT_LAYERS"]

_STATS = ("mean", "std", "max")
_MOBILENET_WEIGHTS = "models/mobilenet_v2_1.0_224_imagenet.weights.h5"

#: Default taps: the end of each MobileNetV2 stage (strides 4, 8, 16, 16, 32,
#: 32), the last 1,280-channel feature map and the class logits.  The TFLite
#: names are the first ``;``-separated part of the tensor names of the
#: quantized Coral model; the Keras names are ``keras.applications``' layers.
DEFAULT_LAYERS = {
    "tflite": (
        "MobilenetV2/expanded_conv_2/add",
        "MobilenetV2/expanded_conv_5/add",
        "MobilenetV2/expanded_conv_9/add",
        "MobilenetV2/expanded_conv_12/add",
        "MobilenetV2/expanded_conv_15/add",
        "MobilenetV2/expanded_conv_16/project/add_fold",
        "MobilenetV2/Conv_1/Relu6",
    ),
    "efficientnet_lite2": LITE2_LAYERS,
    "mobilenet_v2": (
        "block_2_add",
        "block_5_add",
        "block_9_add",
        "block_12_add",
        "block_15_add",
        "block_16_project_BN",
        "out_relu",
    ),
}


def pool_feature_maps(maps, stats=("mean",)):
    """Pool feature maps over space.

    Parameters
    ----------
    maps : array-like of shape (n, h, w, c) or (n, c)
        Activations of one layer for ``n`` images (channels last).  A 2-D
        input (already pooled, e.g. logits) is returned as it is for
        ``"mean"`` and gives zeros for ``"std"`` and itself for ``"max"``.
    stats : sequence of {"mean", "std", "max"}, default=("mean",)
        Statistics over the spatial positions of each channel, concatenated
        in this order.

    Returns
    -------
    pooled : ndarray of shape (n, c * len(stats)), float64

    Examples
    --------
    >>> import numpy as np
    >>> maps = np.arange(8, dtype=float).reshape(1, 2, 2, 2)
    >>> pool_feature_maps(maps, ("mean", "max"))
    array([[3., 4., 6., 7.]])
    """
    m = np.asarray(maps)
    if m.dtype not in (np.float32, np.float64):
        m = m.astype(np.float64)
    if m.ndim == 2:
        m = m[:, None, None, :]
    if m.ndim != 4:
        raise ValueError(f"maps must be (n, h, w, c) or (n, c), got shape {m.shape}")
    flat = m.reshape(m.shape[0], -1, m.shape[-1])
    # float32 maps stay float32 (no float64 copy of every activation); sums
    # accumulate in float64: the mean equals the float64 computation's, the
    # standard deviation agrees to about 1e-7 relative
    n = flat.shape[1]
    mean = flat.sum(axis=1, dtype=np.float64) / n
    out = []
    for s in stats:
        if s == "mean":
            out.append(mean)
        elif s == "std":
            d = flat - mean.astype(flat.dtype)[:, None, :]
            out.append(np.sqrt(np.einsum("nkc,nkc->nc", d, d, dtype=np.float64) / n))
        elif s == "max":
            out.append(flat.max(axis=1).astype(np.float64))
        else:
            raise ValueError(f"unknown statistic {s!r}; choose from {_STATS}")
    return np.concatenate(out, axis=1)


class _Resized(dict):
    """One decoded image, resized to each network's input side (the keys)."""


def _short(name):
    """A readable feature-name prefix for a layer or tensor name."""
    first = name.split(";")[0]
    parts = [p for p in first.split("/") if p and p != "MobilenetV2"]
    return "_".join(parts).lower().replace("expanded_conv", "block")


class PooledLayerFeatures(ImageTransformer):
    """Spatially pooled activations of several layers of a pretrained CNN.

    Beyond the paper: richer than the 1,000 class scores of
    :class:`ObjectFeatures`, and the base of the pretrained affect model
    (:func:`sklearn_emotion.load_pretrained`).

    Parameters
    ----------
    backbone : str, path-like, keras.Model or tuple of them, default="models/mobilenet_v2_1.0_224_quant.tflite"
        One network, or a tuple of networks whose features are concatenated
        (each image is decoded once, resized to each network's input size);
        each is:

        - a ``.tflite`` network (registered resource name or path), run with
          ai-edge-litert; intermediate tensors are read with
          ``experimental_preserve_all_tensors``;
        - a ``keras.applications`` name (``"mobilenet_v2"``, ``"vgg16"``, …)
          with ``weights``, run through TensorFlow (a GPU when present);
        - ``"efficientnet_lite2"``: EfficientNet-Lite2 built from Keras
          layers, with the ImageNet weights of the ``[efficientnet]`` extra
          (read without PyTorch or unpickling);
        - a ``keras.Model`` taking float32 RGB on [0, 255] at its input size.
    layers : sequence of str, default=None
        Layers to tap.  For a ``.tflite`` network: tensor names, or their
        first ``;``-separated part.  For Keras: layer names.  None takes
        :data:`DEFAULT_LAYERS` for the TFLite MobileNetV2, ``"mobilenet_v2"``
        and ``"efficientnet_lite2"``; other backbones need explicit layers.
        With several backbones: one sequence per backbone.
    stats : sequence of {"mean", "std", "max"}, default=("mean", "std")
        Statistics over space of each channel.
    flip : bool, default=True
        Average the features of the image and of its mirror image (left and
        right swapped), so the features do not depend on which way a scene
        faces.  Doubles the network time.
    weights : str or None, default="models/mobilenet_v2_1.0_224_imagenet.weights.h5"
        For a named Keras backbone: a registered resource, a path,
        ``"imagenet"`` (Keras' download) or None.  For
        ``"efficientnet_lite2"``, ``"imagenet"`` and the default both mean
        its registered weights (``models/efficientnet-lite2-9656183e.pth``,
        from the data home or the ``[efficientnet]`` extra).  Ignored for a
        ``.tflite`` network or a ``keras.Model``.
    num_threads : int, optional
        Threads of one TFLite interpreter.  None uses every core, as one
        single-threaded interpreter per core sharing each batch's images
        (see :class:`~sklearn_emotion._runners.TFLiteRunner`): the same
        numbers, faster.
    data_home : str or path-like, optional
        Where registered resources are found.
    cache_dir, batch_size, n_jobs, verbose, on_error, memory
        As for :class:`ColorFeatures`; ``batch_size`` is the model batch and
        ``n_jobs`` the number of threads decoding images.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``<layer>_<stat>_<channel>``, e.g. ``block_5_add_mean_3``.
    n_features_out_ : int
        3,952 with the defaults (1,976 channels × mean and std).

    See Also
    --------
    ObjectFeatures : the class scores of the same networks (the paper's
        object features).

    Notes
    -----
    Images are resized to the network's input size (224×224 for
    MobileNetV2) without cropping.  With a quantized TFLite network the
    activations are dequantized before pooling.

    Examples
    --------
    >>> from skimage import data
    >>> from sklearn_emotion.features import PooledLayerFeatures
    >>> f = PooledLayerFeatures().fit([data.astronaut()])
    >>> f.transform([data.astronaut()]).shape
    (1, 3952)
    """

    _parallel = "model"

    def __init__(self, backbone="models/mobilenet_v2_1.0_224_quant.tflite", layers=None,
                 stats=("mean", "std"), flip=True,
                 weights=_MOBILENET_WEIGHTS,
                 num_threads=None, data_home=None, *, cache_dir=None, batch_size=32,
                 n_jobs=None, verbose=False, on_error="raise", memory="deprecated"):
        self.backbone = backbone
        self.layers = layers
        self.stats = stats
        self.flip = flip
        self.weights = weights
        self.num_threads = num_threads
        self.data_home = data_home
        self.cache_dir = cache_dir
        self.memory = memory
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    def _backbones(self):
        b = self.backbone
        if isinstance(b, (tuple, list)):
            if not b:
                raise ValueError("backbone must name at least one network")
            return list(b)
        return [b]

    def _kinds(self):
        return [model_kind(b) for b in self._backbones()]

    def _layer_lists(self):
        """The layers tapped in each backbone, one list per backbone."""
        backbones = self._backbones()
        if self.layers is not None:
            given = list(self.layers)
            if len(backbones) == 1:
                given = [given]
            elif len(given) != len(backbones) or any(isinstance(g, str) for g in given):
                raise ValueError(f"with {len(backbones)} backbones, layers must be one sequence "
                                 "of layer names per backbone (or None for their defaults)")
            out = [[str(x) for x in g] for g in given]
            if any(not g for g in out):
                raise ValueError("layers must name at least one layer per backbone")
            return out
        out = []
        for b, kind in zip(backbones, self._kinds()):
            key = "tflite" if kind == "tflite" else (b if kind == "named" else None)
            if key not in DEFAULT_LAYERS:
                raise ValueError(f"no default layers for backbone {b!r}: pass layers=")
            out.append(list(DEFAULT_LAYERS[key]))
        return out

    _parameter_constraints = {
        **ImageTransformer._parameter_constraints,
        "backbone": [str, os.PathLike, HasMethods(["get_weights", "__call__"]), tuple, list],
        "layers": [None, "array-like"],
        "stats": [StrOptions(set(_STATS)), "array-like"],
        "flip": ["boolean"],
        "weights": [None, str, os.PathLike],
    }

    def _validate_params_extra(self):
        self._kinds()
        stats = self._stats()
        bad = [s for s in stats if s not in _STATS]
        if bad or not stats:
            raise ValueError(f"stats must be a non-empty sequence of {_STATS}, got {self.stats!r}")
        self._layer_lists()

    def _stats(self):
        return [self.stats] if isinstance(self.stats, str) else list(self.stats)

    # ------------------------------------------------------------- runner
    def runner(self):
        """One runner description per backbone (``runner``, ``side`` and the kind of network), built on
        first use: for measurements of the network alone."""
        return self._runner()

    def _runner(self):
        """One runner description per backbone."""
        return self._lazy_get("runner", self._build_runners)

    def _build_runners(self):
        return [self._build_runner(b, kind, wanted) for b, kind, wanted
                in zip(self._backbones(), self._kinds(), self._layer_lists())]

    def _lite2_choice(self):
        """What runs EfficientNet-Lite2 here: ``("litert", path)`` or
        ``("keras", why)``, decided once (the cache key names it)."""
        return self._lazy_get("lite2_choice", self._choose_lite2)

    def _choose_lite2(self):
        if lite2_runtime() == "keras":
            return ("keras", "runtime")
        try:
            return ("litert", lite2_tflite(self.data_home))
        except (ResourceError, OSError, ImportError, ValueError) as exc:
            warn_user(f"EfficientNet-Lite2 runs through Keras, about three times slower: its "
                      f"LiteRT port is not available ({exc}); `sklearn-emotion data fetch "
                      f"{LITE2_TFLITE}` puts it in a writable data home", UserWarning)
            return ("keras", "unavailable")

    def _uses_lite2_port(self, backbone, weights, wanted):
        """Whether this backbone is the one the LiteRT port covers: the
        registered EfficientNet-Lite2 weights, tapped at the default layers."""
        return (backbone == "efficientnet_lite2" and weights in (LITE2_WEIGHTS, "imagenet")
                and list(wanted) == list(DEFAULT_LAYERS["efficientnet_lite2"]))

    def _make_cache_token(self):
        name, params = super()._make_cache_token()
        ports = [self._uses_lite2_port(b, self._named_weights(b), w) for b, w in
                 zip(self._backbones(), self._layer_lists())]
        if any(ports):  # the two runtimes agree within float32 rounding, not bit for bit
            params = sorted(params + [("__lite2_runtime", self._lite2_choice()[0])])
        return name, params

    def _named_weights(self, backbone):
        if backbone == "efficientnet_lite2" and self.weights == _MOBILENET_WEIGHTS:
            return LITE2_WEIGHTS  # the default names MobileNetV2's weights
        return self.weights

    def _build_runner(self, backbone, kind, wanted):
        if (kind == "named" and self._uses_lite2_port(backbone, self._named_weights(backbone),
                                                      wanted)
                and self._lite2_choice()[0] == "litert"):
            runner = TFLiteRunner(self._lite2_choice()[1], self.num_threads)
            outputs = runner.signature_outputs()
            channels = [int(runner.outputs[int(n[len("output"):])]["shape"][-1])
                        for n in outputs]
            # float32 RGB on [0, 255] in: the port normalises inside
            return dict(kind="tflite_raw", runner=runner, tensors=outputs, channels=channels,
                        side=runner.input_shape[1:3], pre=None)
        if kind == "tflite":
            path = resolve_file(backbone, self.data_home)
            probe = TFLiteRunner(path, self.num_threads)
            # activations only: 4-D (1, h, w, c) or 2-D (1, c) tensors, one image
            details = [d for d in probe.interpreter.get_tensor_details()
                       if len(d["shape"]) in (2, 4) and int(d["shape"][0]) == 1]
            names = []
            for w in wanted:
                hits = [d["name"] for d in details if d["name"] == w]
                if not hits:
                    hits = [d["name"] for d in details if d["name"].split(";")[0] == w]
                if len(hits) != 1:
                    raise ValueError(
                        f"{path}: layer {w!r} matches {len(hits)} tensors"
                        + (f": {hits[:3]}" if hits else "")
                    )
                names.append(hits[0])
            runner = TFLiteRunner(path, self.num_threads, names)
            channels = [int(d["shape"][-1]) for d in runner.extra]
            return dict(kind=kind, runner=runner, tensors=names, channels=channels,
                        side=probe.input_shape[1:3], pre=None)
        keras = import_keras()

        if kind == "named":
            weights = self._named_weights(backbone)
            model = build_backbone(backbone, weights, include_top=True,
                                   data_home=self.data_home)
            pre = preprocess_fn(backbone)
        else:
            model, pre = backbone, None
        outs = []
        for w in wanted:
            try:
                outs.append(model.get_layer(w).output)
            except ValueError:
                raise ValueError(f"backbone has no layer named {w!r}") from None
        tap = keras.Model(model.input, outs)
        channels = [int(o.shape[-1]) for o in outs]
        side = tuple(int(s) for s in model.input_shape[1:3])
        return dict(kind=kind, runner=KerasRunner(tap), channels=channels, side=side, pre=pre)

    def _feature_names(self):
        names = []
        for r, layers in zip(self._runner(), self._layer_lists()):
            for layer, c in zip(layers, r["channels"]):
                prefix = _short(layer)
                for s in self._stats():
                    names.extend(f"{prefix}_{s}_{k}" for k in range(c))
        if len(set(names)) != len(names):
            raise ValueError("two backbones tap layers of the same name; tap other layers")
        return names

    def _forward(self, r, batch):
        """Pooled features of a batch of resized RGB uint8 images, by one backbone."""
        stats = self._stats()
        if r["kind"] in ("tflite", "tflite_raw"):
            runner = r["runner"]
            if r["kind"] == "tflite_raw":
                x = batch.astype(np.float32)
            elif runner.input_dtype == np.uint8:
                x = batch.astype(np.uint8)
            else:
                x = (batch.astype(np.float32) / 127.5 - 1.0).astype(runner.input_dtype)
            wanted = set(r["tensors"])
            # pooled in the interpreters' threads, image by image
            res = runner.run(x, reduce=lambda name, t: pool_feature_maps(t, stats)[0]
                             if name in wanted else t[0, :0])
            return np.concatenate([res[name] for name in r["tensors"]], axis=1)
        else:
            x = batch.astype(np.float32)
            if r["pre"] is not None:
                x = r["pre"](x)
            res = r["runner"].run(x)
            maps = [res[f"output{k}"] for k in range(len(r["channels"]))]
        return np.concatenate([pool_feature_maps(m, stats) for m in maps], axis=1)

    def _build_before_threads(self):
        self._runner()

    @property
    def _prepare_image(self):
        """The resizes to each network's input, done in the decoding threads
        (the same pixels as resizing in ``_compute_batch``)."""
        sides = [tuple(r["side"]) for r in self._runner()]

        def prepare(im):
            return _Resized({side: resize_rgb(im, side) for side in dict.fromkeys(sides)})

        return prepare

    def _compute_batch(self, images):
        out = []
        for r in self._runner():
            side = tuple(r["side"])
            batch = np.stack([im[side] if isinstance(im, _Resized) else resize_rgb(im, side)
                              for im in images])
            if self.flip and r["kind"] in ("tflite", "tflite_raw"):
                # the images and their mirror images in one run: its
                # interpreters share them all, even for a single image
                both = self._forward(r, np.concatenate([batch, batch[:, :, ::-1]]))
                feats = 0.5 * (both[:len(batch)] + both[len(batch):])
            else:
                feats = self._forward(r, batch)
                if self.flip:
                    feats = 0.5 * (feats + self._forward(r, batch[:, :, ::-1]))
            out.append(feats)
        return np.concatenate(out, axis=1)

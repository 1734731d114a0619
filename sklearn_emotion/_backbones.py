"""keras.applications backbones by name: constructor, preprocessing, input size."""

from __future__ import annotations

from ._quiet import import_keras
import os
from pathlib import Path

from .resources import REGISTRY, ResourceError, derived_home, fetch, get_data_home

#: Registered ImageNet weights of the backbones built here from Keras layers.
LITE2_WEIGHTS = "models/efficientnet-lite2-9656183e.pth"
#: EfficientNet-Lite2's LiteRT port: the layers v2 pools as its outputs.
LITE2_TFLITE = "models/efficientnet_lite2_taps_float32.tflite"

# name -> (keras.applications class, preprocessing module, input side); the
# networks built here from Keras layers have no keras.applications class
BACKBONES = {
    "efficientnet_lite2": (None, None, 260),
    "vgg16": ("VGG16", "vgg16", 224),
    "vgg19": ("VGG19", "vgg19", 224),
    "resnet50": ("ResNet50", "resnet", 224),
    "mobilenet_v2": ("MobileNetV2", "mobilenet_v2", 224),
    "efficientnet_b0": ("EfficientNetB0", "efficientnet", 224),
}


def model_kind(spec, *, named=True, what="backbone") -> str:
    """What a model parameter is: ``"named"`` (a keras.applications name),
    ``"tflite"`` (a ``.tflite`` path or resource) or ``"keras"`` (a model).

    Raises ValueError/TypeError naming the parameter otherwise.
    """
    if isinstance(spec, (str, os.PathLike)):
        s = os.fspath(spec)
        if named and s in BACKBONES:
            return "named"
        if s.endswith(".tflite"):
            return "tflite"
        choices = f"a keras.applications name ({', '.join(sorted(BACKBONES))}) or " if named else ""
        raise ValueError(f"{what} {s!r} is not {choices}a .tflite file")
    if hasattr(spec, "layers") and callable(spec):
        return "keras"
    kinds = "a name, a .tflite path or a keras.Model" if named else "a .tflite path or a keras.Model"
    raise TypeError(f"{what} must be {kinds}, got {type(spec).__name__}")


def resolve_file(spec, data_home=None) -> Path:
    """A registry name is fetched (and verified) from the data home; anything
    else is taken as a file path, which must exist."""
    spec = os.fspath(spec)
    if spec in REGISTRY:
        return fetch(spec, data_home)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{spec}: no such file (and not a registered resource name)")
    return path


def preprocess_fn(name):
    """The backbone's input preprocessing, or None when the model does its own."""
    if BACKBONES[name][1] is None:
        return None
    keras = import_keras()

    return getattr(keras.applications, BACKBONES[name][1]).preprocess_input


def _build_lite2(weights, include_top, data_home, pooling):
    from ._efficientnet import build_efficientnet_lite2, load_state

    if weights is None:
        state = None
    else:
        spec = LITE2_WEIGHTS if weights == "imagenet" else os.fspath(weights)
        if not spec.endswith(".pth"):
            raise ValueError(
                f"efficientnet_lite2 takes weights='imagenet' (the registered {LITE2_WEIGHTS}, "
                "from the data home or the [efficientnet] extra), a .pth path or None; "
                f"got {spec!r}")
        state = load_state(resolve_file(spec, data_home))
    model = build_efficientnet_lite2(state)
    if include_top:
        return model
    keras = import_keras()
    feats = model.get_layer("head_relu").output
    if pooling in (None, "avg"):
        feats = model.get_layer("avg_pool").output
    elif pooling == "max":
        feats = keras.layers.GlobalMaxPooling2D(name="max_pool")(feats)
    return keras.Model(model.input, feats, name="efficientnet_lite2_notop")


def build_backbone(name, weights, *, include_top, data_home=None, pooling=None):
    """Build a keras.applications model.

    ``weights`` is ``"imagenet"`` (Keras' own download, online), ``None``
    (random), a registry name (verified from the data home) or a file path.
    The classifier, when included, outputs logits (no softmax).
    """
    keras = import_keras()

    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    cls_name, _, side = BACKBONES[name]
    if cls_name is None:
        return _build_lite2(weights, include_top, data_home, pooling)
    ctor = getattr(keras.applications, cls_name)
    w = weights
    if weights not in (None, "imagenet"):
        w = os.fspath(resolve_file(weights, data_home))
    kwargs = dict(weights=w, include_top=include_top, input_shape=(side, side, 3))
    if include_top:
        kwargs.update(classes=1000, classifier_activation=None)
    else:
        kwargs.update(pooling=pooling or "avg")
    try:
        return ctor(**kwargs)
    except Exception as exc:
        if weights == "imagenet":
            raise ResourceError(
                f"could not get Keras' ImageNet weights for {name!r} "
                f"({type(exc).__name__}: {exc}). Offline, pass weights=<path to a "
                ".weights.h5 file> or a registered resource, e.g. backbone='mobilenet_v2', "
                "weights='models/mobilenet_v2_1.0_224_imagenet.weights.h5'"
            ) from exc
        raise


def _nvidia_gpu() -> bool:
    """Whether this machine has an NVIDIA GPU (the driver lists one), without
    importing TensorFlow."""
    folder = Path("/proc/driver/nvidia/gpus")
    try:
        return folder.is_dir() and any(folder.iterdir())
    except OSError:
        return False


def lite2_runtime() -> str:
    """``"litert"`` or ``"keras"``: what runs EfficientNet-Lite2 under the
    current ``runtime`` setting (see :func:`sklearn_emotion.set_config`)."""
    from ._config import RUNTIMES, get_config

    runtime = get_config()["runtime"]
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime (or $SKLEARN_EMOTION_RUNTIME) must be one of {RUNTIMES}, "
                         f"got {runtime!r}")
    if runtime == "auto":
        return "keras" if _nvidia_gpu() else "litert"
    return runtime


def lite2_tflite(data_home=None) -> Path:
    """EfficientNet-Lite2's LiteRT port: the data home's copy (from ``data
    fetch``), or one built on first use in :func:`derived_home` from the
    registered weights.  Either is checked against the registry's sha256
    or, where this TensorFlow or CPU converts to other bytes, by its numbers
    (:func:`~sklearn_emotion._convert.check_lite2_port`).

    Raises
    ------
    ResourceError
        When it cannot be had: no weights, or the data home's copy or the
        one converted here is not the port.
    """
    from ._convert import write_lite2_tflite
    from ._store import move_into_place
    from .resources import check_file

    res = REGISTRY[LITE2_TFLITE]
    try:
        return fetch(LITE2_TFLITE, data_home, download=False)
    except ResourceError:
        if (get_data_home(data_home) / LITE2_TFLITE).is_file():
            raise  # the data home's copy is refused: say so, never work around it
    target = derived_home() / LITE2_TFLITE
    if target.is_file() and check_file(res, target, data_home)[0]:
        return target
    src = fetch(LITE2_WEIGHTS, data_home)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write_lite2_tflite(src, tmp)
        ok, how = check_file(res, tmp, data_home)
        if not ok:
            raise ResourceError(f"the LiteRT port converted here is refused: its sha256 is "
                                f"{how}, not the registered {res.sha256}")
        move_into_place(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target

"""Converters that build the data home's derived files from their upstream sources.

Some files of the data home have no upstream copy of their exact bytes: they
are made from one.  The converters live here, in the package, so that anyone
online can build a data home that :func:`sklearn_emotion.resources.fetch`
accepts (``sklearn-emotion data fetch``):

- :func:`mobilenet_v2_keras_weights`: the Keras 3 MobileNetV2 weights (with
  and without the classifier) from the quantized Coral TFLite model;
- :func:`w2c_table`: the colour-naming table ``w2c.npy`` from the authors'
  ``w2c.mat``;
- :func:`ade20k_labels`: the 151 scene-parsing class names from ADE20K's
  ``objectInfo150.csv``;
- :func:`write_lite2_tflite`: EfficientNet-Lite2's LiteRT port (the layers
  the shipped v2 pools as its outputs) from its registered weights.

Each is a pure function from the upstream file's content to arrays, with a
thin writer around it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._quiet import filtered_stderr

__all__ = ["BUILDERS", "LITE2_PORT_TOLERANCE", "VERIFIERS", "ade20k_labels",
           "check_lite2_port", "convert_lite2_in_this_process", "lite2_port_difference",
           "lite2_difference_in_this_process", "lite2_probe_images",
           "mobilenet_v2_keras_weights", "tflite_conv_weights", "w2c_table",
           "write_ade20k_labels", "write_keras_weights", "write_lite2_tflite", "write_w2c"]

#: Keras' BatchNormalization epsilon in keras.applications.MobileNetV2.
_BN_EPSILON = 1e-3


def tflite_conv_weights(tflite_path):
    """The dequantised weights and biases of every convolution of a TFLite model.

    Parameters
    ----------
    tflite_path : str or path-like
        A quantized (uint8, per-tensor) TFLite model.

    Returns
    -------
    layers : list of (str, ndarray, ndarray)
        In graph order: the op name (``"CONV_2D"`` or
        ``"DEPTHWISE_CONV_2D"``), the weights in TFLite's layout (``OHWI``,
        or ``1HWC`` for depthwise), dequantised as ``(q - zero_point) *
        scale`` in float32, and the bias, ``q * scale`` in float32.
    """
    from ai_edge_litert.interpreter import Interpreter

    with filtered_stderr():
        it = Interpreter(model_path=os.fspath(tflite_path))
    details = {d["index"]: d for d in it.get_tensor_details()}

    def deq(index):
        d = details[index]
        q = it.get_tensor(index)
        qp = d["quantization_parameters"]
        scales, zeros = np.asarray(qp["scales"], np.float32), np.asarray(qp["zero_points"])
        if scales.size != 1:
            raise ValueError(f"{tflite_path}: tensor {d['name']!r} is quantized per channel; "
                             "this converter reads per-tensor quantization")
        return ((q.astype(np.int64) - int(zeros[0])).astype(np.float32) * scales[0]).astype(
            np.float32)

    layers = []
    for op in it._get_ops_details():
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            _, w, b = (int(i) for i in op["inputs"][:3])
            layers.append((op["op_name"], deq(w), deq(b)))
    return layers


def mobilenet_v2_keras_weights(tflite_path, include_top=True):
    """Keras MobileNetV2 weights from the quantized Coral MobileNetV2 TFLite model.

    The TFLite model's batch normalisation is folded into its convolutions.
    The Keras network keeps its BatchNormalization layers, as identity plus a
    bias: ``gamma = 1``, ``beta`` = the folded bias, ``moving_mean = 0`` and
    ``moving_variance = 1 - epsilon`` (so ``(x - 0) / sqrt(var + eps) = x``);
    keep them frozen, in inference mode, when fine-tuning.  The classifier's
    first class, TFLite's "background", is dropped, leaving ImageNet's 1,000
    classes in the standard order.

    Parameters
    ----------
    tflite_path : str or path-like
        ``models/mobilenet_v2_1.0_224_quant.tflite`` (Google Coral test data).
    include_top : bool, default=True
        With the 1,000-class classifier, or without it (``include_top=False``).

    Returns
    -------
    weights : list of ndarray
        In the order of ``keras.applications.MobileNetV2(...).get_weights()``.
    """
    convs = tflite_conv_weights(tflite_path)
    if len(convs) != 53:
        raise ValueError(f"{tflite_path}: {len(convs)} convolutions, MobileNetV2 1.0 has 53")
    *body, logits = convs
    out = []
    var = np.full(1, 1.0 - _BN_EPSILON, np.float32)
    for kind, w, b in body:
        # TFLite OHWI (conv) or 1HWC (depthwise) -> Keras HWIO or HWC1
        out.append(np.ascontiguousarray(np.transpose(w, (1, 2, 3, 0))))
        n = b.shape[0]
        out += [np.ones(n, np.float32), b, np.zeros(n, np.float32), np.repeat(var, n)]
    if include_top:
        _, w, b = logits  # (1001, 1, 1, 1280): class 0 is "background"
        out += [np.ascontiguousarray(w[1:, 0, 0, :].T), np.ascontiguousarray(b[1:])]
    return out


def write_keras_weights(tflite_path, target, include_top=True):
    """Build MobileNetV2 in Keras, set :func:`mobilenet_v2_keras_weights`, and
    save them to ``target`` (a ``.weights.h5`` file)."""
    from ._quiet import import_keras

    keras = import_keras()
    kwargs = dict(weights=None, include_top=include_top, input_shape=(224, 224, 3))
    kwargs.update(classes=1000) if include_top else kwargs.update(pooling="avg")
    model = keras.applications.MobileNetV2(**kwargs)
    model.set_weights(mobilenet_v2_keras_weights(tflite_path, include_top=include_top))
    model.save_weights(os.fspath(target))
    return Path(target)


#: The column order of the colour-naming table (van de Weijer et al.).
W2C_COLOURS = ("black", "blue", "brown", "grey", "green", "orange", "pink", "purple", "red",
               "white", "yellow")


def w2c_table(mat_path):
    """The colour-naming table from the authors' ``w2c.mat``.

    Parameters
    ----------
    mat_path : str or path-like
        The MATLAB file published with van de Weijer et al. 2009; its
        variable ``w2c`` is a (32768, 11) matrix, one row per 8x8x8 RGB bin
        (row ``r//8 + 32*(g//8) + 1024*(b//8)``), columns in
        :data:`W2C_COLOURS`'s order.

    Returns
    -------
    table : ndarray of shape (32768, 11), float32
    """
    from scipy.io import loadmat

    mat = loadmat(os.fspath(mat_path))
    if "w2c" not in mat:
        raise ValueError(f"{mat_path}: no variable 'w2c' (found {sorted(k for k in mat if not k.startswith('__'))})")
    table = np.asarray(mat["w2c"], dtype=np.float32)
    if table.shape != (32768, 11):
        raise ValueError(f"{mat_path}: 'w2c' has shape {table.shape}, expected (32768, 11)")
    return table


def write_w2c(mat_path, target):
    """Write :func:`w2c_table` to ``target`` as ``.npy``."""
    np.save(os.fspath(target), w2c_table(mat_path), allow_pickle=False)
    return Path(target)


def ade20k_labels(csv_text):
    """The scene parser's class names from ADE20K's ``objectInfo150.csv``.

    Parameters
    ----------
    csv_text : str
        The CSV (header ``Idx,Ratio,Train,Val,Stuff,Name``; ``Name`` holds a
        class's synonyms separated by ``;``).

    Returns
    -------
    text : str
        ``0`` and ``others`` (the parser's class 0), then one line per class,
        ``index<TAB>first synonym``, as the data home's
        ``models/ade20k_labels_151.txt``.
    """
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(csv_text)))
    if len(rows) != 150 or not {"Idx", "Name"} <= set(rows[0]):
        raise ValueError(f"objectInfo150.csv: expected 150 rows with Idx and Name, got {len(rows)}")
    lines = ["0       others"]
    for k, row in enumerate(rows, start=1):
        if int(row["Idx"]) != k:
            raise ValueError(f"objectInfo150.csv: row {k} has Idx {row['Idx']}")
        lines.append(f"{k}\t{row['Name'].split(';')[0].strip()}")
    return "\n".join(lines) + "\n"


def write_ade20k_labels(csv_path, target):
    """Write :func:`ade20k_labels` of the CSV at ``csv_path`` to ``target``."""
    text = Path(csv_path).read_text(encoding="utf-8")
    Path(target).write_bytes(ade20k_labels(text).encode("utf-8"))
    return Path(target)


def write_lite2_tflite(pth_path, target):
    """Convert EfficientNet-Lite2 to a LiteRT float32 model.

    The network is the package's Keras port with the weights of
    ``pth_path``; its outputs are the layers of
    :data:`~sklearn_emotion._efficientnet.LITE2_LAYERS`, in that order (the
    signature's ``output_0``, ``output_1``, ...), and its input is a batch
    of one float32 RGB image on [0, 255] at 260 × 260 (the port normalises
    inside).  No quantisation: the activations agree with the Keras graph's
    within float32 rounding (``tests/test_efficientnet.py``).

    The conversion runs in a fresh Python process: the converter's bytes
    name Keras' automatic tensor names, which depend on what else the
    calling process has built; in a fresh process they are always the same,
    so the result can be checked against the registry's sha256.

    Parameters
    ----------
    pth_path : path-like
        The registered weights (``models/efficientnet-lite2-9656183e.pth``).
    target : path-like

    Returns
    -------
    pathlib.Path
    """
    _in_fresh_process("convert_lite2_in_this_process", pth_path, target,
                      what="converting EfficientNet-Lite2 to LiteRT")
    return Path(target)


def _in_fresh_process(function, *args, what):
    """``function(*args)`` of this module in a fresh Python process (one
    that has built no Keras model); returns what it printed last."""
    import subprocess
    import sys

    code = (f"import sys; from sklearn_emotion._convert import {function} as f; "
            "print(repr(f(*sys.argv[1:])))")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", code, *map(os.fspath, args)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"{what} failed: {last}")
    return (done.stdout.strip().splitlines() or [""])[-1]


def convert_lite2_in_this_process(pth_path, target):
    """:func:`write_lite2_tflite`'s work, in the calling process (whose
    earlier Keras models change the bytes, not the numbers)."""
    from ._efficientnet import LITE2_LAYERS, build_efficientnet_lite2, load_state
    from ._quiet import import_keras, import_tensorflow

    keras, tf = import_keras(), import_tensorflow()
    model = build_efficientnet_lite2(load_state(pth_path))
    taps = keras.Model(model.input, [model.get_layer(n).output for n in LITE2_LAYERS])
    import contextlib
    import io

    # the converter prints the exported signature on standard output
    with filtered_stderr(), contextlib.redirect_stdout(io.StringIO()):
        blob = tf.lite.TFLiteConverter.from_keras_model(taps).convert()
    Path(target).write_bytes(blob)
    return Path(target)


#: Largest difference accepted between the LiteRT port's layers and the
#: Keras port's, relative to each layer's largest magnitude on the probe
#: images.  Measured on this machine's builds: 1e-5 (float32 rounding of
#: another kernel order); a port of other weights or other layers is off by
#: more than 1e-2.
LITE2_PORT_TOLERANCE = 1e-4


def lite2_probe_images():
    """The probe images of :func:`lite2_port_difference`: three of
    scikit-image's photographs and a seeded noise image, 260 × 260 RGB,
    float32 on [0, 255]."""
    from skimage import data

    from ._image import resize_rgb

    photos = [getattr(data, n)() for n in ("astronaut", "chelsea", "coffee")]
    noise = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    return [resize_rgb(im, (260, 260)).astype(np.float32) for im in photos + [noise]]


def lite2_port_difference(tflite_path, pth_path):
    """How far a LiteRT port is from EfficientNet-Lite2's Keras port.

    Converters of other TensorFlow versions, or on another CPU, write other
    bytes for the same network (folded constants round differently), so a
    port built here is checked by its numbers: each of the eight layers of
    :data:`~sklearn_emotion._efficientnet.LITE2_LAYERS`, on the probe images
    of :func:`lite2_probe_images`, against the Keras graph with the weights
    of ``pth_path``.  Runs in a fresh Python process, as the conversion does.

    Returns
    -------
    float
        The largest absolute difference of any layer, divided by that
        layer's largest magnitude; ``inf`` when the file is not a port of
        these layers (other shapes, other outputs, not a model).
    """
    return float(_in_fresh_process(
        "lite2_difference_in_this_process", tflite_path, pth_path,
        what=f"checking {tflite_path} against EfficientNet-Lite2"))


def lite2_difference_in_this_process(tflite_path, pth_path):
    """:func:`lite2_port_difference`'s work, in the calling process."""
    from ._efficientnet import LITE2_LAYERS, build_efficientnet_lite2, load_state
    from ._quiet import import_keras
    from ._runners import TFLiteRunner, infer

    keras = import_keras()
    model = build_efficientnet_lite2(load_state(pth_path))
    taps = keras.Model(model.input, [model.get_layer(n).output for n in LITE2_LAYERS])
    probe = np.stack(lite2_probe_images())
    want = infer(taps, probe)
    try:
        runner = TFLiteRunner(tflite_path, num_threads=1)
        names = runner.signature_outputs()
        if runner.input_shape != (1, 260, 260, 3) or names is None or len(names) != len(want):
            return float("inf")
        got = runner.run(probe)
        got = [got[n] for n in names]
    except (ValueError, RuntimeError):  # not a model, or other tensors
        return float("inf")
    worst = 0.0
    for g, w in zip(got, want):
        if g.shape != w.shape:
            return float("inf")
        worst = max(worst, float(np.abs(g - w).max() / max(np.abs(w).max(), 1e-12)))
    return worst


def check_lite2_port(path, source):
    """``(ok, how)``: whether ``path`` is EfficientNet-Lite2's LiteRT port of
    the weights ``source``, by :func:`lite2_port_difference` within
    :data:`LITE2_PORT_TOLERANCE`; ``how`` says the difference found."""
    diff = lite2_port_difference(path, source)
    if diff == float("inf"):
        return False, "it is not a LiteRT model of EfficientNet-Lite2's eight tapped layers"
    return diff <= LITE2_PORT_TOLERANCE, (
        f"its layers differ from the Keras port's by {diff:.2g} of their scale "
        f"(accepted: {LITE2_PORT_TOLERANCE:g})")


#: Check of each registry ``verify`` name: ``f(file_path, source_path) -> (ok, how)``.
VERIFIERS = {"lite2_port_numbers": check_lite2_port}

#: Converter of each registry ``build`` name: ``f(source_path, target_path)``.
BUILDERS = {
    "w2c_from_mat": write_w2c,
    "ade20k_labels_from_csv": write_ade20k_labels,
    "keras_mobilenet_v2_from_tflite": lambda src, dst: write_keras_weights(src, dst, True),
    "keras_mobilenet_v2_notop_from_tflite": lambda src, dst: write_keras_weights(src, dst, False),
    "lite2_tflite_from_pth": write_lite2_tflite,
}

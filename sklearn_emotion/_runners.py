"""Model runners: the only place that knows Keras or TFLite.

A runner maps a batch of preprocessed inputs to named float outputs.  Runners
are built lazily by the transformers (never in ``__init__``), are never
pickled (the transformers drop them in ``__getstate__``) and are rebuilt after
unpickling, so estimators stay cheap to construct, cloneable and picklable.
"""

from __future__ import annotations

import functools
import logging
import os

import numpy as np
from ._quiet import filtered_stderr, import_tensorflow

__all__ = ["KerasRunner", "TFLiteRunner", "infer"]


def _graph(model):
    """``model`` in inference mode as a compiled graph, one per model.

    Not ``model(x)``: an eager call of a Keras functional model keeps every
    layer's output until it returns (MobileNetV2 with its classifier on 32
    images: 3.6 GB eager, 1.1 GB as a graph; outputs agree to 5.8e-6).  The
    graph is kept on the model (a cycle the garbage collector frees with it;
    a WeakKeyDictionary would keep every model alive, the graph referencing
    its key); a new batch size generalises it rather than tracing again.
    """
    fn = getattr(model, "_sklearn_emotion_graph", None)
    if fn is None:
        tf = import_tensorflow()

        fn = tf.function(functools.partial(model, training=False),
                         reduce_retracing=True, autograph=False)
        object.__setattr__(model, "_sklearn_emotion_graph", fn)  # not a tracked Keras attribute
    return fn


def infer(model, x):
    """``model`` on the batch ``x`` in inference mode, as a numpy array."""
    return np.asarray(_graph(model)(np.asarray(x)))


class _OwnGraphsFilter(logging.Filter):
    """Drop TensorFlow's "N out of the last M calls ... triggered
    tf.function retracing" warning about :func:`_graph`: it counts the
    graphs of every model built from the same Python function, and each
    fold's new model traces its own graph once by design."""

    def filter(self, record):
        msg = record.getMessage()
        return not ("triggered tf.function retracing" in msg and "functools.partial" in msg)


logging.getLogger("tensorflow").addFilter(_OwnGraphsFilter())


def _dequantize(arr, detail):
    scale, zero = detail.get("quantization", (0.0, 0))
    arr = np.asarray(arr)
    if scale and np.issubdtype(arr.dtype, np.integer):
        return (arr.astype(np.float32) - zero) * scale
    return arr.astype(np.float32, copy=False)


class TFLiteRunner:
    """Run a ``.tflite`` model with ai-edge-litert, one image at a time.

    Parameters
    ----------
    path : str or path-like
        The model file.
    num_threads : int, optional
        Interpreter threads; None uses every core.
    tensors : sequence of str, optional
        Names of intermediate tensors to return besides the model outputs
        (read with ``experimental_preserve_all_tensors``).
    """

    def __init__(self, path, num_threads=None, tensors=()):
        from ai_edge_litert.interpreter import Interpreter

        self.path = os.fspath(path)
        self.tensors = tuple(tensors)
        kwargs = {}
        if self.tensors:
            kwargs["experimental_preserve_all_tensors"] = True
        import warnings

        # LiteRT prints "Created TensorFlow Lite XNNPACK delegate" from C++
        # while it builds the interpreter.  Warning filters are process-wide
        # and this may run in a decoding thread: only LiteRT's own
        # preserve-all-tensors notice is ignored, never another UserWarning
        # that the main thread raises meanwhile.
        with warnings.catch_warnings(), filtered_stderr():
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors",
                                    category=UserWarning)
            self.interpreter = Interpreter(
                model_path=self.path, num_threads=num_threads or os.cpu_count(), **kwargs
            )
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = self.interpreter.get_output_details()
        by_name = {d["name"]: d for d in self.interpreter.get_tensor_details()}
        missing = [t for t in self.tensors if t not in by_name]
        if missing:
            raise ValueError(f"{self.path}: no tensor named {missing}")
        self.extra = [by_name[t] for t in self.tensors]

    def signature_outputs(self):
        """The names :meth:`run` gives the outputs of the model's signature,
        in the signature's order (``output_0``, ``output_1``, ...): the order
        of a converted Keras model's outputs.  None without a signature."""
        sigs = self.interpreter.get_signature_list()
        if not sigs:
            return None
        details = self.interpreter.get_signature_runner(next(iter(sigs))).get_output_details()
        position = {d["index"]: k for k, d in enumerate(self.outputs)}

        def order(name):
            tail = name.rsplit("_", 1)[-1]
            return (0, int(tail), name) if tail.isdigit() else (1, 0, name)

        return [f"output{position[details[n]['index']]}" for n in sorted(details, key=order)]

    @property
    def input_shape(self):
        return tuple(int(s) for s in self.input["shape"])

    @property
    def input_dtype(self):
        return self.input["dtype"]

    def run(self, batch):
        """Run each item of ``batch`` (already in the model's input dtype).

        Returns
        -------
        outputs : dict of str -> ndarray
            ``"output0"``, ``"output1"``, … and each requested tensor by name,
            dequantized to float32, stacked over the batch.
        """
        # each tensor is copied, as stored (int8/uint8 for a quantized
        # model), into one array for the batch and dequantized once: the
        # same numbers as per image, without a conversion per image and tensor
        if not len(batch):
            return {}
        wanted = [(f"output{k}", d) for k, d in enumerate(self.outputs)]
        wanted += [(d["name"], d) for d in self.extra]
        bufs: dict[str, np.ndarray] = {}
        for i, x in enumerate(batch):
            self.interpreter.set_tensor(self.input["index"], np.asarray(x)[None])
            self.interpreter.invoke()
            for name, d in wanted:
                t = self.interpreter.get_tensor(d["index"])
                if i == 0:
                    bufs[name] = np.empty((len(batch),) + t.shape[1:], dtype=t.dtype)
                bufs[name][i] = t[0]
        return {name: _dequantize(bufs[name], d) for name, d in wanted}


class KerasRunner:
    """Run a ``keras.Model`` on whole batches.

    TensorFlow places the computation: on a GPU when one is present, on the
    CPU otherwise.  Nothing here forces a device.

    Parameters
    ----------
    model : keras.Model
        Maps a batch to one output or a list of outputs.
    """

    def __init__(self, model):
        self.model = model

    def run(self, batch):
        """Return ``{"output0": ..., "output1": ...}`` as float32 numpy arrays
        (the model runs as a compiled graph, see :func:`infer`).

        A batch of one image runs as two copies of it: TensorFlow's CPU
        kernels take another path for a single image, whose results differ
        in the last bits (3e-6 on EfficientNet-Lite2's logits), while every
        batch of two or more gives each image the same numbers.  So an
        image's features do not depend on how the images were batched.
        """
        x = np.asarray(batch)
        single = len(x) == 1
        if single:
            x = np.concatenate([x, x])
        out = _graph(self.model)(x)
        if not isinstance(out, (list, tuple)):
            out = [out]
        return {f"output{k}": np.asarray(o, dtype=np.float32)[:1] if single
                else np.asarray(o, dtype=np.float32) for k, o in enumerate(out)}

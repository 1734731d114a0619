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
    """``model`` on the batch ``x`` in inference mode: a numpy array, or a
    list of them for a model of several outputs."""
    out = _graph(model)(np.asarray(x))
    if isinstance(out, (list, tuple)):
        return [np.asarray(o) for o in out]
    return np.asarray(out)


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
        Threads of the one interpreter that runs every image.  None uses
        every core differently: one single-threaded interpreter per core,
        each running its share of a batch's images in a thread of its own.
        Measured on 2 cores (``benchmarks/results/pooled_features_speed.md``):
        more invocations per second than one interpreter with two threads,
        whose every layer waits for its slower thread (and for a core that a
        decoding thread holds).  The numbers are the same either way: a
        layer's arithmetic does not depend on how its work is split.
    tensors : sequence of str, optional
        Names of intermediate tensors to return besides the model outputs
        (read with ``experimental_preserve_all_tensors``).
    """

    def __init__(self, path, num_threads=None, tensors=()):
        self.path = os.fspath(path)
        self.tensors = tuple(tensors)
        self.num_threads = num_threads
        # interpreters beyond the first are built on the first batch that uses them
        self._copies = 1 if num_threads is not None else max(1, _cores())
        self._interpreters = [self._new_interpreter()]
        self._pool = None
        self.interpreter = self._interpreters[0]
        self.input = self.interpreter.get_input_details()[0]
        self.outputs = self.interpreter.get_output_details()
        by_name = {d["name"]: d for d in self.interpreter.get_tensor_details()}
        missing = [t for t in self.tensors if t not in by_name]
        if missing:
            raise ValueError(f"{self.path}: no tensor named {missing}")
        self.extra = [by_name[t] for t in self.tensors]

    def _new_interpreter(self):
        from ai_edge_litert.interpreter import Interpreter
        import warnings

        kwargs = {}
        if self.tensors:
            kwargs["experimental_preserve_all_tensors"] = True
        # LiteRT prints "Created TensorFlow Lite XNNPACK delegate" from C++
        # while it builds the interpreter.  Warning filters are process-wide
        # and this may run in a decoding thread: only LiteRT's own
        # preserve-all-tensors notice is ignored, never another UserWarning
        # that the main thread raises meanwhile.
        with warnings.catch_warnings(), filtered_stderr():
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors",
                                    category=UserWarning)
            it = Interpreter(model_path=self.path, num_threads=self.num_threads or 1, **kwargs)
            it.allocate_tensors()
        return it

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

    def run(self, batch, reduce=None):
        """Run each item of ``batch`` (already in the model's input dtype).

        Parameters
        ----------
        batch : array-like of shape (n, ...)
        reduce : callable, optional
            ``reduce(name, tensor) -> ndarray``, applied to each image's
            output (as a float32 array with a leading axis of 1), in the
            thread that ran the image: pooling there runs on every core, and
            a batch's full activations are never held at once.

        Returns
        -------
        outputs : dict of str -> ndarray
            ``"output0"``, ``"output1"``, … and each requested tensor by name,
            dequantized to float32 (or as ``reduce`` made them), stacked
            over the batch.
        """
        n = len(batch)
        if not n:
            return {}
        wanted = [(f"output{k}", d) for k, d in enumerate(self.outputs)]
        wanted += [(d["name"], d) for d in self.extra]
        if reduce is None:
            # each tensor is copied, as stored (int8/uint8 for a quantized
            # model), into one array for the batch and dequantized once
            bufs = {name: np.empty((n,) + tuple(int(s) for s in d["shape"][1:]),
                                   dtype=d["dtype"]) for name, d in wanted}
        else:
            rows = [None] * n
        copies = min(self._copies, n)
        while len(self._interpreters) < copies:
            self._interpreters.append(self._new_interpreter())

        def share(k):
            """Images k, k + copies, ... through interpreter k."""
            it, index = self._interpreters[k], self.input["index"]
            for i in range(k, n, copies):
                it.set_tensor(index, np.asarray(batch[i])[None])
                it.invoke()  # without the GIL
                if reduce is None:
                    for name, d in wanted:
                        bufs[name][i] = it.get_tensor(d["index"])[0]
                else:
                    rows[i] = [reduce(name, _dequantize(it.get_tensor(d["index"]), d))
                               for name, d in wanted]

        if copies == 1:
            share(0)
        else:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self._copies, thread_name_prefix="litert")
            for f in [self._pool.submit(share, k) for k in range(copies)]:
                f.result()
        if reduce is None:
            return {name: _dequantize(bufs[name], d) for name, d in wanted}
        return {name: np.stack([r[j] for r in rows]) for j, (name, _) in enumerate(wanted)}


def _cores():
    """The cores this process may use (joblib's count: affinity and cgroup
    limits included)."""
    import joblib

    return joblib.cpu_count()


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

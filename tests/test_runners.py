"""The LiteRT runner's two ways of using the cores (issue 39).

``num_threads=None`` runs a batch through one single-threaded interpreter
per core, each taking every ``copies``-th image in a thread of its own, and
may pool each image's tensors there (``reduce``).  The independent answers:
one interpreter invoked by hand, image by image, with LiteRT's own API, and
the pooling formula written out in numpy.
"""

import warnings

import numpy as np
import pytest

TFLITE = "models/mobilenet_v2_1.0_224_quant.tflite"


@pytest.fixture(scope="module")
def model_path(data_home):
    from sklearn_emotion.resources import fetch

    return fetch(TFLITE, download=False)


@pytest.fixture(scope="module")
def batch():
    """Seven different images (an odd count: the interpreters' shares differ)."""
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (7, 224, 224, 3), dtype=np.uint8)


def by_hand(path, batch, tensor=None):
    """Each image through one interpreter of LiteRT's, dequantized as
    ``(q - zero_point) * scale``: the output (or the named tensor)."""
    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = Interpreter(model_path=str(path), num_threads=1,
                         experimental_preserve_all_tensors=tensor is not None)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    detail = it.get_output_details()[0] if tensor is None else next(
        d for d in it.get_tensor_details() if d["name"] == tensor)
    scale, zero = detail["quantization"]
    out = []
    for x in batch:
        it.set_tensor(inp["index"], x[None])
        it.invoke()
        q = it.get_tensor(detail["index"])[0].astype(np.float32)
        out.append((q - zero) * scale)
    return np.stack(out)


def a_tapped_tensor(path):
    from sklearn_emotion._runners import TFLiteRunner

    names = [d["name"] for d in TFLiteRunner(path, 1).interpreter.get_tensor_details()
             if len(d["shape"]) == 4 and d["shape"][-1] == 24]
    return names[0]


def test_one_interpreter_per_core_gives_each_image_its_own_numbers(model_path, batch,
                                                                   monkeypatch):
    from sklearn_emotion import _runners

    monkeypatch.setattr(_runners, "_cores", lambda: 3)
    tensor = a_tapped_tensor(model_path)
    r = _runners.TFLiteRunner(model_path, None, [tensor])
    assert len(r._interpreters) == 1  # the others are built on the first batch
    got = r.run(batch)
    assert len(r._interpreters) == 3
    np.testing.assert_array_equal(got["output0"], by_hand(model_path, batch))
    np.testing.assert_array_equal(got[tensor], by_hand(model_path, batch, tensor))
    # a batch smaller than the interpreters, and one image
    np.testing.assert_array_equal(r.run(batch[:2])["output0"], by_hand(model_path, batch[:2]))
    np.testing.assert_array_equal(r.run(batch[4:5])["output0"],
                                  by_hand(model_path, batch[4:5]))
    assert r.run(batch[:0]) == {}


def test_a_given_thread_count_is_one_interpreter(model_path, batch):
    from sklearn_emotion._runners import TFLiteRunner

    r = TFLiteRunner(model_path, 2)
    np.testing.assert_array_equal(r.run(batch)["output0"], by_hand(model_path, batch))
    assert len(r._interpreters) == 1


def test_reduce_pools_each_image_in_its_thread(model_path, batch, monkeypatch):
    """``reduce`` gets each image's dequantized tensor; here the mean and
    the standard deviation over space, against numpy's on the whole tensor."""
    import threading

    from sklearn_emotion import _runners

    monkeypatch.setattr(_runners, "_cores", lambda: 2)
    tensor = a_tapped_tensor(model_path)
    threads = set()

    def pool(name, t):
        threads.add(threading.current_thread().name)
        assert t.shape[0] == 1 and t.dtype == np.float32
        flat = t.reshape(-1, t.shape[-1]).astype(np.float64)
        return np.concatenate([flat.mean(0), flat.std(0)])

    got = _runners.TFLiteRunner(model_path, None, [tensor]).run(batch, reduce=pool)
    maps = by_hand(model_path, batch, tensor).astype(np.float64)
    want = np.concatenate([maps.mean(axis=(1, 2)), maps.std(axis=(1, 2))], axis=1)
    np.testing.assert_allclose(got[tensor], want, rtol=1e-12, atol=1e-12)
    assert got["output0"].shape == (7, 2 * 1001)
    assert len(threads) == 2 and all(n.startswith("litert") for n in threads)


def test_pooled_features_do_not_depend_on_how_the_cores_are_used(data_home, emotion6_paths):
    """The extractor with one interpreter per core and with one interpreter
    of two threads: the same features, bit for bit (v1's network)."""
    from sklearn_emotion import PooledLayerFeatures

    paths = emotion6_paths[::330][:6]
    a = PooledLayerFeatures(batch_size=4).fit_transform(paths)
    b = PooledLayerFeatures(batch_size=4, num_threads=2).fit_transform(paths)
    np.testing.assert_array_equal(a, b)

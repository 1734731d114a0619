"""CNNRegressor with the real MobileNetV2 notop weights on a few Emotion6 images."""

import os
import pickle

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_emotion import CNNRegressor
from sklearn_emotion._backbones import build_backbone

NOTOP = "models/mobilenet_v2_1.0_224_imagenet_notop.weights.h5"


@pytest.fixture(scope="module")
def subset(emotion6_paths):
    from sklearn_emotion.datasets import load_emotion6

    X, y = load_emotion6(return_X_y=True)
    idx = np.random.default_rng(0).choice(len(X), 30, replace=False)
    return list(X[idx]), y[idx]


def _conv_kernels(model):
    base = [layer for layer in model.layers if hasattr(layer, "layers")][0]
    return {w.path: np.asarray(w) for w in base.weights if "kernel" in w.path}


@pytest.fixture(scope="module")
def reference_kernels():
    base = build_backbone("mobilenet_v2", NOTOP, include_top=False, pooling="avg")
    return [np.asarray(w) for w in base.weights if "kernel" in w.path]


@pytest.mark.parametrize("train_range", ["conv-frozen", "conv-train"])
def test_training_and_conv_weights(subset, reference_kernels, train_range):
    X, y = subset
    m = CNNRegressor("mobilenet_v2", NOTOP, train_range, batch_size=8, max_iter=3,
                     learning_rate=1e-3 if train_range == "conv-frozen" else 1e-4,
                     early_stopping=False, random_state=0)
    from sklearn.exceptions import ConvergenceWarning

    # 3 epochs, early stopping off: the budget ends before the loss settles
    with pytest.warns(ConvergenceWarning, match="max_iter=3 epochs reached"):
        m.fit(X, y)
    assert m.loss_curve_[-1] < m.loss_curve_[0]
    kernels = list(_conv_kernels(m.model_).values())
    assert len(kernels) == len(reference_kernels)
    same = [np.array_equal(a, b) for a, b in zip(kernels, reference_kernels)]
    if train_range == "conv-frozen":
        assert all(same)
    else:
        assert not any(same[:-1])  # every trained conv kernel moved
    P = m.predict(X[:4])
    assert P.shape == (4, 2) and np.isfinite(P).all()


def test_micro_batches_make_the_minibatch_update(subset):
    """conv-train with the gradient accumulated over slices of 3 images
    makes the same updates as whole minibatches of 8, up to float order;
    the slices hold less memory (benchmarks/results/memory.md)."""
    X, y = subset
    X, y = X[:20], y[:20]
    fits = {}
    for micro in (None, 3):
        m = CNNRegressor("mobilenet_v2", NOTOP, "conv-train", batch_size=8,
                         micro_batch_size=micro, max_iter=2, early_stopping=False,
                         random_state=0)
        with pytest.warns(ConvergenceWarning, match="max_iter=2 epochs reached"):
            fits[micro] = m.fit(X, y)
    a, b = fits[None], fits[3]
    # the first epoch's mean loss (three updates inside it) agrees to float
    # order; later ones less tightly: Adam divides each gradient by its own
    # running scale, so a weight whose gradient is round-off takes a full
    # learning-rate step either way (the update itself is pinned with SGD in
    # test_accumulated_gradient_is_the_minibatch_gradient)
    np.testing.assert_allclose(b.loss_curve_[0], a.loss_curve_[0], rtol=1e-5)
    np.testing.assert_allclose(b.loss_curve_, a.loss_curve_, rtol=2e-3)
    for wa, wb in zip(a.model_.get_weights(), b.model_.get_weights()):
        np.testing.assert_allclose(wb, wa, rtol=0, atol=1e-3)
    np.testing.assert_allclose(b.predict(X), a.predict(X), rtol=0, atol=0.02)
    # and the slices do change the computation: not the same code path
    assert not all(np.array_equal(wa, wb) for wa, wb in
                   zip(a.model_.get_weights(), b.model_.get_weights()))


@pytest.mark.parametrize("train_range, micro, largest", [
    ("conv-train", 3, 3), ("conv-train", None, 8), ("conv-frozen", 3, 3)])
def test_inference_runs_in_forward_batches(subset, monkeypatch, train_range, micro, largest):
    """Every pass of images through the network (conv-train's validation
    pass and predict, conv-frozen's backbone features) takes at most
    ``micro_batch_size`` images (else ``batch_size``) at once: on a
    reproduction fold a pass of 64 left the process 715 MiB larger than
    one of 10 (benchmarks/results/cnn_fold_memory.md)."""
    from sklearn_emotion.models import cnn

    X, y = subset
    sizes = []
    real = cnn._infer

    def spy(model, x):
        if np.ndim(x) == 4:  # images, not conv-frozen's embeddings
            sizes.append(len(x))
        return real(model, x)

    monkeypatch.setattr(cnn, "_infer", spy)
    m = CNNRegressor("mobilenet_v2", NOTOP, train_range, batch_size=8,
                     micro_batch_size=micro, max_iter=1, validation_fraction=0.3,
                     random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=1 epochs reached"):
        m.fit(X, y)
    fit_sizes, sizes[:] = list(sizes), []
    assert fit_sizes and max(fit_sizes) == largest  # 9 validation images, 21 training
    P = m.predict(X)
    assert max(sizes) == largest and sum(sizes) == len(X) and P.shape == (len(X), 2)


def test_accumulated_gradient_is_the_minibatch_gradient(subset):
    """One SGD update of accumulating_step over slices of 3 equals the update
    of the whole minibatch of 8 (SGD's update is linear in the gradient, so
    float order stays float order): the real MobileNetV2 in conv-train mode,
    real images."""
    import keras
    import tensorflow as tf
    from PIL import Image

    from sklearn_emotion.models._cnn_steps import accumulating_step

    X, y = subset
    m = CNNRegressor("mobilenet_v2", NOTOP, "conv-train")
    imgs = m._prep(np.stack([np.asarray(Image.open(p).convert("RGB").resize((224, 224)))
                             for p in X[:8]]))
    Y = y[:8].astype(np.float32)

    def model():
        base = build_backbone("mobilenet_v2", NOTOP, include_top=False, pooling="avg")
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        inp = keras.Input((224, 224, 3))
        head = keras.layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(seed=0))
        return keras.Model(inp, head(base(inp, training=False)))

    whole, sliced = model(), model()
    before = [np.asarray(w) for w in whole.trainable_variables]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(whole(imgs, training=True) - Y))
    grads = tape.gradient(loss, whole.trainable_variables)
    keras.optimizers.SGD(0.05).apply_gradients(zip(grads, whole.trainable_variables))
    step = accumulating_step(sliced, keras.optimizers.SGD(0.05), lambda idx: imgs[idx], Y, 3)
    sliced_loss = step(np.arange(8))

    np.testing.assert_allclose(sliced_loss, float(loss), rtol=1e-5)
    d_whole = [np.asarray(w) - b for w, b in zip(whole.trainable_variables, before)]
    d_sliced = [np.asarray(w) - b for w, b in zip(sliced.trainable_variables, before)]
    scale = max(np.abs(d).max() for d in d_whole)
    assert scale > 0
    for dw, ds in zip(d_whole, d_sliced):
        np.testing.assert_allclose(ds, dw, rtol=0, atol=1e-3 * scale)


def test_one_target_persistence_and_bad_input(subset, tmp_path):
    X, y = subset
    m = CNNRegressor("mobilenet_v2", NOTOP, batch_size=8, max_iter=2, random_state=0,
                     learning_rate=1e-3).fit(X[:20], y[:20, 0])
    P = m.predict(X[20:])
    assert P.shape == (10,)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(m2.predict(X[20:]), P, rtol=1e-5)
    # same seed, same data: same predictions on the CPU
    m3 = CNNRegressor("mobilenet_v2", NOTOP, batch_size=8, max_iter=2, random_state=0,
                      learning_rate=1e-3).fit(X[:20], y[:20, 0])
    np.testing.assert_allclose(m3.predict(X[20:]), P, rtol=1e-5)
    from sklearn_emotion import ImageBatchError

    with pytest.raises(ImageBatchError, match="nope.jpg: file not found"):
        m.predict([X[0], str(tmp_path / "nope.jpg")])


def test_bad_params():
    with pytest.raises(ValueError, match="train_range"):
        CNNRegressor("mobilenet_v2", NOTOP, train_range="all").fit(["a"], [1.0])
    with pytest.raises(ValueError, match="micro_batch_size"):
        CNNRegressor("mobilenet_v2", NOTOP, micro_batch_size=0).fit(["a"], [1.0])


def test_frozen_backbone_features_cached_across_fits(subset, tmp_path, monkeypatch):
    """``cache_dir`` caches the frozen backbone's pooled features per image: a
    second fit on overlapping images decodes only the new ones, and the
    numbers equal those of an uncached fit."""
    from sklearn_emotion.models import _cnn_steps

    X, y = subset
    decoded = []
    real = _cnn_steps.decode_resized

    def counting(items, idx, side):
        decoded.extend(items[i] for i in idx)
        return real(items, idx, side)

    monkeypatch.setattr(_cnn_steps, "decode_resized", counting)
    params = dict(batch_size=8, max_iter=2, random_state=0, learning_rate=1e-3)
    plain = CNNRegressor("mobilenet_v2", NOTOP, **params).fit(X[:20], y[:20])
    assert len(decoded) == 20
    cached = CNNRegressor("mobilenet_v2", NOTOP, cache_dir=tmp_path, **params).fit(X[:20], y[:20])
    assert len(list(tmp_path.rglob("*.npyc"))) == 20
    decoded.clear()
    second = CNNRegressor("mobilenet_v2", NOTOP, cache_dir=tmp_path, **params).fit(X[10:], y[10:])
    assert sorted(decoded) == sorted(X[20:])  # X[10:20] came from the cache
    assert len(list(tmp_path.rglob("*.npyc"))) == 30
    np.testing.assert_allclose(cached.predict(X[20:]), plain.predict(X[20:]), rtol=1e-6)
    assert second.n_iter_ == 2
    # predict reads them too, and agrees with the whole network on the pixels
    decoded.clear()
    P = cached.predict(X[:6])
    assert decoded == []
    imgs, _, _ = real(X, range(6), 224)
    np.testing.assert_allclose(P, np.asarray(cached.model_(cached._prep(imgs))), rtol=1e-5,
                               atol=1e-5)
    # the same claims as the feature transformers: an entry a live process
    # claimed is waited for (then computed here at the deadline), one a dead
    # process claimed is taken over at once
    import socket
    import subprocess
    import sys
    import time

    from sklearn_emotion import config_context
    from sklearn_emotion._keys import image_key

    store = cached._embedding_cache()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for i, pid in ((0, os.getppid()), (1, dead.pid)):
        key = image_key(X[i], i)
        store._path(key).unlink()
        store._claim_path(key).write_text(f"{socket.gethostname()}:{pid}:other")
    decoded.clear()
    t0 = time.monotonic()
    with config_context(claim_timeout=2):
        P2 = cached.predict(X[:4])
    assert 2 <= time.monotonic() - t0 < 30
    assert decoded == [X[1], X[0]]  # X[2:4] read from the cache
    np.testing.assert_allclose(P2, P[:4], rtol=1e-6)
    assert store.get(image_key(X[0], 0)) is not None
    assert not store._claim_path(image_key(X[1], 1)).exists()  # taken over, then released
    # another backbone file content is another cache
    other = tmp_path / "copy.weights.h5"
    other.write_bytes(b"not the same weights")
    assert (CNNRegressor("mobilenet_v2", other, cache_dir=tmp_path)._embedding_cache().dir
            != cached._embedding_cache().dir)


@pytest.mark.parametrize("train_range", ["conv-frozen", "conv-train"])
def test_bad_image_in_fit_named_before_training(subset, tmp_path, train_range):
    from sklearn_emotion import ImageBatchError

    X, y = subset
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    m = CNNRegressor("mobilenet_v2", NOTOP, train_range, batch_size=8, max_iter=1)
    with pytest.raises(ImageBatchError, match="broken.jpg") as info:
        m.fit([X[0], str(bad), X[1], str(tmp_path / "gone.png")], y[:4])
    assert sorted(info.value.errors) == [1, 3]
    assert not hasattr(m, "model_")


def test_resized_images_on_disk_read_back(subset):
    from sklearn_emotion._image import load_image, resize_rgb
    from sklearn_emotion.models._cnn_steps import ResizedImages

    X, _ = subset
    store = ResizedImages(X[:5], 32)
    try:
        ref = np.stack([resize_rgb(load_image(p), (32, 32)) for p in X[:5]])
        np.testing.assert_array_equal(store[[4, 0, 2]], ref[[4, 0, 2]])
        np.testing.assert_array_equal(store[np.arange(5)], ref)
        assert len(store) == 5
    finally:
        store.close()

"""CNNRegressor with the real MobileNetV2 notop weights on a few Emotion6 images."""

import pickle

import numpy as np
import pytest

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

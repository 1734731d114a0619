"""SceneFeatures with the real DeepLabV3 ADE20K model of the data home."""

import numpy as np
import pytest
from skimage import data

from sklearn_emotion import SceneFeatures
from sklearn_emotion.features.scene import ade20k_labels


@pytest.fixture(scope="module")
def result(data_home):
    X = [data.astronaut(), data.rocket()]
    est = SceneFeatures().fit(X)
    return est, est.transform(X)


def _top(est, f, k=3):
    names = est.get_feature_names_out()
    return [names[i] for i in np.argsort(-f)[:k]]


def test_labels():
    labels = ade20k_labels()
    assert labels[0] == "others" and len(labels) == 151
    assert "sky" in labels[3] and "person" in labels[13]


def test_astronaut_and_rocket(result):
    est, F = result
    assert F.shape == (2, 151)
    assert est.get_feature_names_out()[-1] == "scene_others"
    assert "scene_person" in _top(est, F[0])
    assert "scene_sky" in _top(est, F[1])
    np.testing.assert_allclose(F.sum(axis=1), 1, atol=1e-9)


def test_one_image_per_parser_call_same_fractions(result):
    """The parser's logits are reduced one image at a time (memory, issue 14):
    the runner never sees more than one image, and the fractions equal those
    computed from the whole batch's logits at once."""
    from sklearn_emotion._image import resize_rgb
    from sklearn_emotion.features.scene import class_fractions

    est, F = result
    X = [data.astronaut(), data.rocket()]
    runner = est._runner()["runner"]
    seen = []
    run = runner.run
    try:
        runner.run = lambda batch: (seen.append(len(batch)), run(batch))[1]
        est.transform(X)
    finally:
        del runner.run
    assert seen == [1, 1]
    side = est._runner()["side"]
    batch = np.stack([resize_rgb(im, side) for im in X]).astype(np.float32) / 127.5 - 1.0
    logits = runner.run(batch)["output0"]
    ref = np.stack([class_fractions(lg) for lg in logits])
    np.testing.assert_array_equal(F, np.concatenate([ref[:, 1:], ref[:, :1]], axis=1))
    with pytest.raises(ValueError, match="model has 151 classes, labels has 3"):
        class_fractions(logits[0], n_classes=3)


def test_soft_and_without_others(result):
    est, F = result
    X = [data.astronaut(), data.rocket()]
    G = SceneFeatures(include_others=False).fit(X)
    Fg = G.transform(X)
    assert Fg.shape == (2, 150) and len(G.get_feature_names_out()) == 150
    np.testing.assert_allclose(Fg, F[:, :150])
    S = SceneFeatures(mode="soft").fit_transform(X)
    np.testing.assert_allclose(S.sum(axis=1), 1, atol=1e-5)
    # soft and hard agree on the dominant class
    assert (S.argmax(1) == F.argmax(1)).all()


def test_keras_model_scene_parser(result):
    import keras

    est, F = result
    labels = ["others", "sky", "not sky"]
    inp = keras.Input((32, 32, 3))
    # a tiny per-pixel "parser": blue-dominant pixels are sky
    blue = inp[..., 2:3] - 0.5 * (inp[..., 0:1] + inp[..., 1:2])
    logits = keras.layers.Concatenate()([blue * 0 - 100.0, blue, -blue])
    model = keras.Model(inp, logits)
    img = np.zeros((32, 32, 3), np.uint8)
    img[:8] = (20, 40, 230)  # a quarter sky
    img[8:] = (200, 100, 50)
    T = SceneFeatures(model, labels=labels).fit([img])
    assert list(T.get_feature_names_out()) == ["scene_sky", "scene_not_sky", "scene_others"]
    np.testing.assert_allclose(T.transform([img]), [[0.25, 0.75, 0.0]])


def test_bad_params():
    with pytest.raises(ValueError, match="'mode' parameter of SceneFeatures must be"):
        SceneFeatures(mode="fuzzy").fit([np.zeros((4, 4, 3), np.uint8)])
    with pytest.raises(ValueError, match="model 'x.onnx' is not a .tflite file"):
        SceneFeatures(model="x.onnx").fit([np.zeros((4, 4, 3), np.uint8)])

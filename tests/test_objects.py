"""ObjectFeatures with the real MobileNetV2 models of the data home."""

import numpy as np
import pytest
from skimage import data

from sklearn_emotion import ObjectFeatures
from sklearn_emotion.features.objects import imagenet_labels

KERAS_W = "models/mobilenet_v2_1.0_224_imagenet.weights.h5"
TFLITE = "models/mobilenet_v2_1.0_224_quant.tflite"


@pytest.fixture(scope="module")
def images():
    return [data.chelsea(), data.coffee(), data.astronaut()]


@pytest.fixture(scope="module")
def keras_probs(images, data_home):
    est = ObjectFeatures("mobilenet_v2", weights=KERAS_W).fit(images)
    return est, est.transform(images)


@pytest.fixture(scope="module")
def tflite_probs(images, data_home):
    est = ObjectFeatures(TFLITE).fit(images)
    return est, est.transform(images)


def _top(est, P):
    return [est.get_feature_names_out()[i] for i in P.argmax(axis=1)]


def test_labels():
    labels = imagenet_labels()
    assert len(labels) == 1000 and labels[0].startswith("tench") and "espresso" in labels[967]


@pytest.mark.parametrize("which", ["keras_probs", "tflite_probs"])
def test_cat_and_espresso_ranked_first(which, request):
    est, P = request.getfixturevalue(which)
    top = _top(est, P)
    assert top[0] in {"obj_egyptian_cat", "obj_tabby", "obj_tiger_cat"}
    assert top[1] == "obj_espresso"
    assert P.shape == (3, 1000)
    np.testing.assert_allclose(P.sum(axis=1), 1, atol=1e-6)


def test_keras_and_tflite_agree(keras_probs, tflite_probs):
    (_, Pk), (_, Pt) = keras_probs, tflite_probs
    # same network, float vs int8: probability vectors within 0.05 per class and
    # 0.15 in L1 over the 1,000 classes
    assert np.abs(Pk - Pt).max() < 0.05
    assert np.abs(Pk - Pt).sum(axis=1).max() < 0.15
    # the dequantized-logit softmax is smooth: no exact zeros
    assert (Pt > 0).all()


def test_tflite_reduced_jpeg_decode_agrees_with_keras(images, tmp_path):
    """From JPEG files the TFLite path decodes a large photo at a reduced DCT
    scale (one at least twice its 224×224 input): the result stays within the
    agreement test's tolerance of the float Keras network, which decodes in
    full, and the decoding really was reduced (it differs from the full
    decode); smaller files are decoded in full."""
    from PIL import Image

    from sklearn_emotion import load_image

    paths = []
    big = np.asarray(Image.fromarray(images[2]).resize((2048, 1536), Image.BICUBIC))
    for k, im in enumerate([*images, big]):
        paths.append(str(tmp_path / f"{k}.jpg"))
        Image.fromarray(im).save(paths[-1], quality=95)
    est = ObjectFeatures(TFLITE).fit(paths)
    assert est._decode_size() == (224, 224)
    Pt = est.transform(paths)
    Pk = ObjectFeatures("mobilenet_v2", weights=KERAS_W).fit(paths).transform(paths)
    assert np.abs(Pk - Pt).max() < 0.05
    assert np.abs(Pk - Pt).sum(axis=1).max() < 0.15
    full = est.transform([load_image(p) for p in paths])  # arrays: decoded in full
    np.testing.assert_array_equal(full[:3], Pt[:3])  # at most 512 a side: full decode
    assert not np.array_equal(full[3], Pt[3])  # 2048×1536 decoded at 1/2 (1024×768)
    # the reduced decode has its own cache key
    keras_est = ObjectFeatures("mobilenet_v2", weights=KERAS_W)
    assert ("__decode", "reduced") in est._cache_token()[1]
    assert ("__decode", "reduced") not in keras_est._cache_token()[1]


def test_batch_equals_one_at_a_time(images, keras_probs, tflite_probs):
    for est, P in (keras_probs, tflite_probs):
        single = np.vstack([est.transform([im]) for im in images])
        np.testing.assert_allclose(single, P, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backbone", ["mobilenet_v2", TFLITE])
def test_output_variants(images, backbone):
    kw = dict(weights=KERAS_W) if backbone == "mobilenet_v2" else {}
    logits = ObjectFeatures(backbone, output="logits", **kw).fit_transform(images[:2])
    logp = ObjectFeatures(backbone, output="log_proba", **kw).fit_transform(images[:2])
    proba = ObjectFeatures(backbone, **kw).fit_transform(images[:2])
    emb = ObjectFeatures(backbone, output="embedding", **kw).fit(images[:2])
    E = emb.transform(images[:2])
    assert logits.shape == logp.shape == (2, 1000) and E.shape == (2, 1280)
    assert emb.get_feature_names_out()[0] == "emb_0"
    np.testing.assert_allclose(np.exp(logp), proba, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(logp, logits - np.log(np.exp(logits).sum(1, keepdims=True)), atol=1e-6)
    assert (E >= 0).all()  # ReLU6 features, pooled


def test_keras_model_backbone(images, keras_probs):
    import keras

    _, P = keras_probs
    base = keras.applications.MobileNetV2(weights=None, classes=1000)
    from sklearn_emotion.resources import fetch

    base.load_weights(fetch(KERAS_W))
    inp = keras.Input((224, 224, 3))
    x = keras.applications.mobilenet_v2.preprocess_input(inp)
    wrapped = keras.Model(inp, base(x))
    # last layer of the wrapper is the whole MobileNetV2, not Dense: refused clearly
    with pytest.raises(ValueError, match="last layer must be a Dense"):
        ObjectFeatures(wrapped, output="embedding").fit(images[:1])
    feats = keras.Model(base.input, base.layers[-2].output)
    head = keras.layers.Dense(1000, activation="softmax")
    out = head(feats(x))
    head.set_weights(base.layers[-1].get_weights())
    model = keras.Model(inp, out)
    est = ObjectFeatures(model).fit(images)
    np.testing.assert_allclose(est.transform(images), P, rtol=1e-3, atol=1e-5)
    assert est.get_feature_names_out()[285] == "obj_egyptian_cat"


def test_offline_imagenet_download_is_explained(images, monkeypatch):
    import keras

    def fail(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.applications, "VGG16", fail)
    from sklearn_emotion import ResourceError

    with pytest.raises(ResourceError, match="could not get Keras' ImageNet weights for 'vgg16'"):
        ObjectFeatures("vgg16", output="embedding").fit(images[:1])


def test_bad_params(images):
    with pytest.raises(ValueError, match="'output' parameter of ObjectFeatures must be"):
        ObjectFeatures("mobilenet_v2", output="softmax").fit(images)
    with pytest.raises(ValueError, match="backbone 'alexnet' is not a keras.applications name"):
        ObjectFeatures("alexnet").fit(images)


@pytest.mark.parametrize("name", ["vgg16", "vgg19", "resnet50", "efficientnet_b0"])
def test_named_backbones_build_and_run(name, images):
    # offline, only the architecture and its own preprocessing can be checked
    # (random weights); the ImageNet weights come from Keras' download online
    est = ObjectFeatures(name, weights=None, output="logits").fit(images[:1])
    F = est.transform(images[:2])
    assert F.shape == (2, 1000) and np.isfinite(F).all()
    assert not np.allclose(F[0], F[1])
    emb = ObjectFeatures(name, weights=None, output="embedding").fit(images[:1])
    expected = {"vgg16": 4096, "vgg19": 4096, "resnet50": 2048, "efficientnet_b0": 1280}[name]
    assert emb.n_features_out_ == expected

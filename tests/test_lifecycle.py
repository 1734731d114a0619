"""Estimator lifecycle: refit after set_params, content-keyed caches, naming, parallel errors."""

import shutil

import numpy as np
import pytest
from skimage import data

from sklearn_emotion import (
    ColorFeatures,
    GISTFeatures,
    ImageBatchError,
    ObjectEmotionFeatures,
    ObjectFeatures,
    PooledLayerFeatures,
)
from sklearn_emotion.pipeline import make_features

W = "models/mobilenet_v2_1.0_224_imagenet.weights.h5"


def test_gist_refit_after_set_params():
    X = [data.astronaut(), data.coffee()]
    est = GISTFeatures(image_size=32, orientations_per_scale=(4, 4), n_blocks=2)
    assert est.fit_transform(X).shape == (2, 8 * 4)
    est.set_params(orientations_per_scale=(2, 2))
    assert est.fit_transform(X).shape == (2, 4 * 4)
    est.set_params(image_size=48)
    F = est.fit_transform(X)
    ref = GISTFeatures(image_size=48, orientations_per_scale=(2, 2), n_blocks=2).fit_transform(X)
    np.testing.assert_allclose(F, ref)


def test_pooled_layers_refit_after_set_params():
    X = [data.chelsea()]
    est = PooledLayerFeatures(stats=("mean",), flip=False)
    a = est.fit_transform(X)
    est.set_params(layers=("MobilenetV2/Conv_1/Relu6",), stats=("mean", "max"))
    b = est.fit_transform(X)
    assert a.shape == (1, 1976) and b.shape == (1, 2560)
    np.testing.assert_allclose(b[:, :1280], a[:, -1280:], rtol=1e-6)


def test_object_emotion_is_built_in_fit_not_transform():
    X = [data.coffee()]
    emo = ObjectEmotionFeatures("models/mobilenet_v2_1.0_224_quant.tflite").fit(X)
    inner = emo.object_features_
    emo.transform(X)
    assert emo.object_features_ is inner and inner.get_params()["cache_dir"] is None
    emo.set_params(lexicon="nrc").fit(X)
    assert emo.object_features_ is not inner


def test_cache_misses_after_the_weights_file_changes(tmp_path):
    import keras

    weights = tmp_path / "w.weights.h5"
    from sklearn_emotion.resources import fetch

    shutil.copy(fetch(W), weights)
    X = [data.chelsea()]
    cache = tmp_path / "cache"
    a = ObjectFeatures("mobilenet_v2", str(weights), cache_dir=cache).fit_transform(X)
    # overwrite the file in place with different weights: same path, new content
    model = keras.applications.MobileNetV2(weights=str(weights), classes=1000,
                                           classifier_activation=None)
    w = model.get_weights()
    w[-2], w[-1] = w[-2][:, ::-1], w[-1][::-1]  # reverse the classifier's classes
    model.set_weights(w)
    model.save_weights(str(weights))
    b = ObjectFeatures("mobilenet_v2", str(weights), cache_dir=cache).fit_transform(X)
    assert not np.allclose(a, b)
    np.testing.assert_allclose(b[0], a[0][::-1], rtol=1e-4, atol=1e-7)


def test_cache_shared_across_data_homes_only_for_identical_files(tmp_path):
    # registry resources are keyed by their registry sha256: two data homes can
    # only serve the same (verified) bytes, so sharing entries is correct
    a = ObjectFeatures("models/mobilenet_v2_1.0_224_quant.tflite")
    b = ObjectFeatures("models/mobilenet_v2_1.0_224_quant.tflite", data_home=str(tmp_path))
    assert a._make_cache_token() == b._make_cache_token()
    assert "7aad0c74" in repr(a._make_cache_token())


def test_make_features_names_instances_like_make_union():
    union = make_features([ObjectFeatures(), ObjectFeatures(output="logits"),
                           ObjectEmotionFeatures(), "color"])
    assert [n for n, _ in union.transformer_list] == [
        "object-1", "object-2", "object_emotion", "color"]
    union = make_features(["color", ColorFeatures(names_mode="hard")])
    assert [n for n, _ in union.transformer_list] == ["color", "color-1"]


def test_parallel_batch_keeps_good_rows_with_one_bad_file(tmp_path, emotion6_paths):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff truncated")
    X = emotion6_paths[:5] + [str(bad)] + emotion6_paths[5:9]
    serial = ColorFeatures().fit([]).transform(emotion6_paths[:9])
    est = ColorFeatures(n_jobs=2, batch_size=2).fit(X)
    with pytest.raises(ImageBatchError) as info:
        est.transform(X)
    err = info.value
    assert list(err.errors) == [5] and "bad.jpg" in str(err)
    good = np.delete(err.features, 5, axis=0)
    np.testing.assert_allclose(good, serial)
    assert np.isnan(err.features[5]).all()


def test_set_params_keeps_what_runtime_parameters_do_not_build():
    """Setting on_error, batch_size, verbose, n_jobs or cache_dir keeps the
    built network runner (the same object); any other parameter drops it, and
    the rebuilt one gives the same numbers as a fresh estimator."""
    from skimage import data

    from sklearn_emotion import PooledLayerFeatures

    X = [data.astronaut(), data.coffee()]
    est = PooledLayerFeatures(batch_size=2).fit(X)
    F = est.transform(X)
    built = est.runner()
    for k, v in (("on_error", "nan"), ("batch_size", 1), ("verbose", False), ("n_jobs", 1),
                 ("cache_dir", None)):
        est.set_params(**{k: v})
        assert est.runner() is built, k
    np.testing.assert_array_equal(est.transform(X), F)
    est.set_params(stats=("mean",))
    assert est.runner() is not built
    fresh = PooledLayerFeatures(batch_size=2, stats=("mean",)).fit(X)
    np.testing.assert_array_equal(est.fit(X).transform(X), fresh.transform(X))

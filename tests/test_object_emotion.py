"""ObjectEmotionFeatures and the class-to-word-norm mapping."""

import numpy as np
import pytest
from skimage import data

from sklearn_emotion import ObjectEmotionFeatures, ObjectFeatures
from sklearn_emotion._lexicons import load_warriner, nearest_emotion_word
from sklearn_emotion.features.object_emotion import class_emotion_table, object_emotion
from sklearn_emotion.features.objects import imagenet_labels

W = "models/mobilenet_v2_1.0_224_imagenet.weights.h5"


@pytest.fixture(scope="module")
def table(data_home):
    return class_emotion_table()


def _row(name):
    return [i for i, lab in enumerate(imagenet_labels()) if lab.split(",")[0] == name][0]


def test_hand_checked_classes(table):
    t, words = table
    shark, snake, daisy = _row("great white shark"), _row("king snake"), _row("daisy")
    assert words[shark] == "shark" and words[daisy] == "daisy"
    warriner = load_warriner()
    np.testing.assert_allclose(t[daisy], warriner["daisy"])
    np.testing.assert_allclose(t[_row("tiger cat")], warriner["cat"])  # head noun
    assert t[shark, 0] < t[daisy, 0] and t[snake, 0] < t[daisy, 0]
    assert t[_row("volcano"), 1] > t[daisy, 1]  # volcanoes are more arousing


def test_share_matched(table):
    t, _ = table
    frac = np.mean(~np.isnan(t[:, 0]))
    w_only, _ = class_emotion_table(lexicon="warriner")
    assert 0.75 < np.mean(~np.isnan(w_only[:, 0])) < frac <= 1


def test_object_emotion_function():
    table = np.array([[2.0, 6, 3], [8, 4, 6], [np.nan] * 3])
    P = np.array([[0.5, 0.5, 0.0], [0.2, 0.0, 0.8], [0, 0, 1.0]])
    F = object_emotion(P, table)
    np.testing.assert_allclose(F[0], [5, 5, 4.5, 1.0])
    np.testing.assert_allclose(F[1], [2, 6, 3, 0.2])
    np.testing.assert_allclose(F[2], [5, 5, 5, 0.0])


def test_transformer_reuses_object_cache(tmp_path, data_home, monkeypatch):
    X = [data.chelsea(), data.coffee()]
    obj = ObjectFeatures("mobilenet_v2", W, cache_dir=tmp_path)
    P = obj.fit_transform(X)
    emo = ObjectEmotionFeatures("mobilenet_v2", W, cache_dir=tmp_path).fit(X)

    def no_network(self, images):
        raise AssertionError("the network ran although the cache holds these images")

    monkeypatch.setattr(ObjectFeatures, "_compute_batch", no_network)
    F = emo.transform(X)  # read from the cache
    monkeypatch.undo()
    np.testing.assert_allclose(F, object_emotion(P, emo.class_table_))
    assert 0.75 < emo.matched_fraction_ <= 1
    assert list(emo.get_feature_names_out())[0] == "objemo_valence"


def test_nearest_emotion_word():
    assert nearest_emotion_word(8.3, 6.0) in {"happy", "excited"}
    assert nearest_emotion_word(2.2, 3.5) == "sad"
    assert nearest_emotion_word(7.2, 2.4) == "relaxed"

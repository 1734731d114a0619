"""The out-of-distribution flag on generated non-photographs, with real features."""

import numpy as np
import pytest

from sklearn_emotion import AffectModel, PooledLayerFeatures, load_pretrained
from sklearn_emotion.datasets import NON_PHOTO_KINDS, load_emotion6, load_oasis, make_non_photos


@pytest.fixture(scope="module")
def ood_setup(tmp_path_factory):
    """A model fitted on 400 photos (Emotion6 and OASIS) against non-photos
    made from 60 of them; a test corpus made from 60 other photos, another seed."""
    cache = str(tmp_path_factory.mktemp("ood-cache"))
    e6, oasis = load_emotion6(), load_oasis()
    paths = list(e6.filenames[::7][:250]) + list(oasis.filenames[::6][:150])
    y = np.vstack([e6.target[::7][:250], oasis.target[::6][:150]])
    held_e6 = list(e6.filenames[3::11][:100])
    feats = PooledLayerFeatures(memory=cache)
    F = feats.fit_transform(paths)
    train_others, _ = make_non_photos(paths[:60], n_per_kind=20, random_state=1)
    model = AffectModel(cv=5)._fit_features(
        PooledLayerFeatures().fit([]), F, y, F_other=PooledLayerFeatures().fit_transform(train_others))
    test_others, kinds = make_non_photos(held_e6[:60], n_per_kind=10, random_state=2)
    return model, feats.fit_transform(held_e6), PooledLayerFeatures().fit_transform(test_others), kinds


def test_flag_on_each_kind_of_non_photo(ood_setup):
    """Each generated kind is flagged far more often than held-out photos,
    which pass at about the nominal 95 % (tolerance: at most 15 % of 100
    photos flagged, 3 binomial standard deviations above 5 %)."""
    model, F_photos, F_others, kinds = ood_setup
    flagged_photos = np.mean(model._ood_features(F_photos) > model.ood_threshold_)
    assert flagged_photos <= 0.15
    s = model._ood_features(F_others)
    for k in NON_PHOTO_KINDS:
        rate = np.mean(s[kinds == k] > model.ood_threshold_)
        assert rate >= 0.6, (k, rate)


def test_frame_reports_score_and_flag(ood_setup):
    model, F_photos, F_others, kinds = ood_setup
    frame = model._frame_from_features(np.vstack([F_photos[:3], F_others[kinds == "noise"][:2]]))
    assert frame["unusual"].iloc[3:].all()
    assert frame["ood_score"].iloc[3:].min() > frame["ood_score"].iloc[:3].max()


def test_shipped_model_flags_non_photos_and_passes_photos():
    from skimage import data

    model = load_pretrained()
    photos = [data.astronaut(), data.chelsea(), data.coffee()]
    others, _ = make_non_photos(photos, n_per_kind=1, kinds=("noise", "flat_colour", "text"))
    frame = model.predict_frame(photos + others)
    assert list(frame["unusual"]) == [False] * 3 + [True] * 3

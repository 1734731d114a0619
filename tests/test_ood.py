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
    feats = PooledLayerFeatures(cache_dir=cache)
    F = feats.fit_transform(paths)
    train_others, _ = make_non_photos(paths[:60], n_per_kind=20, random_state=1)
    model = AffectModel(cv=5)._fit_features(
        PooledLayerFeatures().fit([]), F, y, F_other=PooledLayerFeatures().fit_transform(train_others))
    test_others, kinds = make_non_photos(held_e6[:60], n_per_kind=10, random_state=2)
    return model, feats.fit_transform(held_e6), PooledLayerFeatures().fit_transform(test_others), kinds


def test_flag_on_each_kind_of_non_photo(ood_setup):
    """Each generated kind is flagged far more often than held-out photos,
    which pass at about the nominal 95 %: at most 8 of these 100 photos
    flagged (1 with the out-of-fold threshold; a threshold from in-sample
    scores flags 10)."""
    model, F_photos, F_others, kinds = ood_setup
    flagged_photos = np.mean(model._ood_features(F_photos) > model.ood_threshold_)
    assert flagged_photos <= 0.08
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


def _widths(iv):
    return iv[..., 1] - iv[..., 0]


def test_intervals_widen_with_unusualness(ood_setup):
    """Past the threshold the intervals grow with the score, toward the
    training ratings' spread; below it they are CV+'s, untouched."""
    model, F_photos, F_others, kinds = ood_setup
    plain = AffectModel(**{**model.get_params(), "widen_unusual": False})
    plain.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    F = np.vstack([F_photos, F_others])
    s = model._ood_features(F)
    wide, cvplus = model._interval_features(F), plain._interval_features(F)
    passed = s <= model.ood_threshold_
    np.testing.assert_array_equal(wide[passed], cvplus[passed])
    assert (_widths(wide) >= _widths(cvplus) - 1e-12).all()
    # far past it (log-odds > 0), each interval holds the training ratings' range
    far = s > 0
    assert far.sum() >= 0.5 * len(F_others)
    lo, hi = model.rating_range_[:, 0], model.rating_range_[:, 1]
    assert (wide[far][..., 0] <= lo + 1e-12).all() and (wide[far][..., 1] >= hi - 1e-12).all()
    # on average a non-photo's interval is wider than a photo's, for both targets
    assert (_widths(wide[len(F_photos):]).mean(0) > 1.2 * _widths(wide[:len(F_photos)]).mean(0)).all()
    # in between, monotone: sorted by score, the widening weight never decreases
    from sklearn_emotion._adapt import unusual_weight

    w = unusual_weight(np.sort(s), model.ood_threshold_)
    assert (np.diff(w) >= 0).all() and w[0] == 0 and w[-1] == 1


def test_unusual_weight_and_widen_intervals_by_hand():
    from sklearn_emotion._adapt import rating_range, unusual_weight, widen_intervals

    np.testing.assert_allclose(unusual_weight([-8, -6, -3, 0, 2], -6), [0, 0, 0.5, 1, 1])
    np.testing.assert_array_equal(unusual_weight([0.5, 1.5], 1.0), [0, 1])  # a step
    iv = np.array([[[4.0, 6.0], [4.5, 5.5]]] * 3)
    ends = np.array([[3.0, 7.0], [5.0, 6.0]])
    out = widen_intervals(iv, np.array([0.0, 0.5, 1.0]), ends)
    np.testing.assert_allclose(out[0], iv[0])
    np.testing.assert_allclose(out[1], [[3.5, 6.5], [4.5, 5.75]])
    np.testing.assert_allclose(out[2], [[3.0, 7.0], [4.5, 6.0]])
    # split-conformal order statistics: the 2nd and 18th of 19 ratings
    y = np.c_[np.arange(1, 20), np.arange(19, 0, -1) / 2.5].astype(float)
    np.testing.assert_allclose(rating_range(y, 0.8), [[2, 18], [0.8, 7.2]])
    # too few ratings for an end at 80 %: the scale's own
    np.testing.assert_allclose(rating_range(np.full((5, 2), 5.0), 0.8), [[1, 9], [1, 9]])
    # 18 ratings: the ranks are 1 (floor(19 * 0.1)) and 18 (ceil(19 * 0.9)): the extremes
    y = np.c_[np.arange(2, 20), np.arange(2, 20) / 3].astype(float)
    np.testing.assert_allclose(rating_range(y, 0.8), [[2, 19], [2 / 3, 19 / 3]])
    # a threshold at or above 0 gives a step, scores equal to it not flagged
    np.testing.assert_array_equal(unusual_weight([-1.0, 0.0, 0.1], 0.0), [0, 0, 1])
    np.testing.assert_array_equal(unusual_weight([0.5, 0.6, 2.0], 0.5), [0, 1, 1])


def test_shipped_model_widens_non_photos_intervals():
    from skimage import data

    model = load_pretrained()
    photos = [data.astronaut(), data.chelsea(), data.coffee()]
    others, _ = make_non_photos(photos, n_per_kind=1, kinds=("noise", "flat_colour", "text"))
    iv = model.predict_interval(photos + others)
    w = _widths(iv)
    assert (w[3:].min(0) > 1.3 * w[:3].max(0)).all(), w
    # the widening is what made them wide: without it, the photos' intervals
    # are the same and every non-photo's is narrower
    import copy

    plain = copy.deepcopy(model).set_params(widen_unusual=False)  # reaches the fitted head
    iv_plain = plain.predict_interval(photos + others)
    np.testing.assert_array_equal(iv_plain[:3], iv[:3])
    assert (_widths(iv_plain)[3:] < w[3:]).all()


def test_rating_range_survives_save_and_tampering_is_refused(ood_setup, tmp_path):
    import json

    model, F_photos, F_others, _ = ood_setup
    model.save(tmp_path / "m")
    back = load_pretrained(tmp_path / "m")
    np.testing.assert_allclose(back.rating_range_, model.rating_range_)
    F = np.vstack([F_photos[:5], F_others[:5]])
    np.testing.assert_allclose(back._interval_features(F), model._interval_features(F), atol=1e-5)
    desc = json.loads((tmp_path / "m" / "model.json").read_text())
    # a hostile folder comes without a manifest (or with one made to match):
    # the values themselves are checked
    (tmp_path / "m" / "manifest.json").unlink()
    for bad in ([[7.0, 2.0], [3.0, 6.0]], [[0.0, 9.5], [3.0, 6.0]], [[2.0, 7.0]], "wide"):
        desc["rating_range"] = bad
        (tmp_path / "m" / "model.json").write_text(json.dumps(desc))
        with pytest.raises(ValueError, match="rating_range must be two"):
            load_pretrained(tmp_path / "m")


def test_adapted_model_widens_toward_its_raters_spread(ood_setup, tmp_path):
    """An adapted model's unusual images widen toward the spread of *your*
    ratings (here: valence reversed and squeezed into 6-8)."""
    from sklearn_emotion._adapt import rating_range

    model, F_photos, F_others, _ = ood_setup
    y_new = np.c_[6 + 2 * (np.arange(60) % 10) / 9, np.linspace(2, 5, 60)]
    adapted = model._adapt_features(F_photos[:60], y_new, strategies=("keep", "shift"))
    ends = rating_range(y_new, model.coverage)
    np.testing.assert_allclose(adapted.adaptation_["rating_range"], ends)
    s = adapted._ood_features(F_others)
    assert adapted.adaptation_["ood_threshold"] < 0  # rated photos: still below log-odds 0
    iv = adapted._interval_features(F_others[s > 0])
    assert (iv[..., 0] <= ends[:, 0] + 1e-12).all() and (iv[..., 1] >= ends[:, 1] - 1e-12).all()
    back = load_pretrained(adapted.save(tmp_path / "adapted"))
    np.testing.assert_allclose(back._interval_features(F_others), adapted._interval_features(F_others),
                               atol=1e-5)


def test_frame_computes_the_score_once(ood_setup, monkeypatch):
    """predict_frame's ``ood_score`` column and its widened intervals come
    from one computation of the score, and equal the separate methods'."""
    import sklearn_emotion._affect_head as affect_model

    model, F_photos, F_others, kinds = ood_setup
    F = np.vstack([F_photos[:3], F_others[kinds == "noise"][:3]])
    iv, score = model._interval_features(F), model._ood_features(F)
    assert model.widen_unusual and model.folds_
    calls, real = [], affect_model.ood_score
    monkeypatch.setattr(affect_model, "ood_score", lambda *a: calls.append(1) or real(*a))
    frame = model._frame_from_features(F)
    assert len(calls) == 1
    np.testing.assert_array_equal(frame["ood_score"], score)
    pct = f"{100 * float(model.coverage):g}"
    np.testing.assert_array_equal(frame[f"valence_low_{pct}"], iv[:, 0, 0])
    np.testing.assert_array_equal(frame[f"arousal_high_{pct}"], iv[:, 1, 1])
    assert (_widths(iv)[3:] > _widths(iv)[:3].max()).any()  # the widening took part

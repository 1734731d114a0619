"""The affect model's heads, fitted attributes and refusals on synthetic features.

Each fitted number against scikit-learn computed another way (``RidgeCV`` on
features standardised by hand, a softmax written out, the leave-one-set-out
calibration's quantile by hand), and each refusal the model promises.
"""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

from sklearn_emotion import AffectModel
from sklearn_emotion._affect_head import DEFAULT_ALPHAS
from sklearn_emotion.datasets._emotion6 import EMOTION_NAMES

P = 12


def _data(n=160, seed=0):
    """Valence predictable with little noise, arousal barely: the two
    targets need different ridge penalties (``alpha_per_target``)."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, P)) * np.linspace(0.5, 3, P) + 10
    y = np.c_[5 + 1.1 * (F[:, 0] - 10) / 0.5 + 0.1 * rng.normal(size=n),
              4.5 + 0.05 * (F[:, 1] - 10) + 1.0 * rng.normal(size=n)]
    D = rng.dirichlet(np.ones(7), size=n)
    return F, np.clip(y, 1, 9), D


def _standardise(F, ref, clip=5.0):
    mean, scale = ref.mean(axis=0), ref.std(axis=0)
    scale[scale < 1e-12] = 1.0
    return np.clip((F - mean) / scale, -clip, clip)


@pytest.fixture(scope="module")
def fitted():
    F, y, D = _data()
    groups = np.r_[np.zeros(60), np.ones(50), np.full(50, 2)]
    # each set's raters use the scale their own way
    y = np.clip(y + np.where(groups[:, None] == 1, [1.2, 0.0], 0)
                + np.where(groups[:, None] == 2, [-0.6, -0.8], 0), 1, 9)
    model = AffectModel(cv=4, random_state=1, emotion_components=6)._fit_features(
        "my features", F, y, distributions=D, groups=groups)
    return model, F, y, D, groups


def test_the_heads_are_ridgecv_on_features_standardised_by_hand(fitted):
    model, F, y, *_ = fitted
    Z = _standardise(F, F)
    ref = RidgeCV(alphas=DEFAULT_ALPHAS, alpha_per_target=True).fit(Z, y)
    np.testing.assert_allclose(model.alpha_, ref.alpha_)
    assert model.alpha_[0] != model.alpha_[1]  # each target its own penalty
    np.testing.assert_allclose(model.main_.coef, ref.coef_.T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model._predict_features(F), np.clip(ref.predict(Z), 1, 9),
                               rtol=1e-9)
    for k, (tr, _) in enumerate(KFold(4, shuffle=True, random_state=1).split(F)):
        fold = RidgeCV(alphas=DEFAULT_ALPHAS, alpha_per_target=True).fit(
            _standardise(F[tr], F[tr]), y[tr])
        np.testing.assert_allclose(model.fold_alpha_[k], fold.alpha_)
        np.testing.assert_allclose(model.folds_[k].coef, fold.coef_.T, rtol=1e-8, atol=1e-10)
    assert model.features_ == "my features"
    assert model.n_features_in_ == P and model.n_train_ == len(F)
    assert model.fold_alpha_.shape == (4, 2)


def test_predictions_are_clipped_to_the_scale(fitted):
    model, F, *_ = fitted
    far = np.tile(F.mean(axis=0), (2, 1))
    far[0, 0] = F[:, 0].min() - 50  # standardised and clipped at -5: valence far below 1
    far[1, 0] = F[:, 0].max() + 50
    raw = _standardise(far, F) @ model.main_.coef + model.main_.intercept
    assert raw[0, 0] < 1 and raw[1, 0] > 9
    pred = model._predict_features(far)
    assert pred[0, 0] == 1.0 and pred[1, 0] == 9.0
    nan_row = np.full((1, P), np.nan)
    assert np.isnan(model._predict_features(nan_row)).all()


def test_the_emotion_head_is_a_softmax_of_its_coefficients(fitted):
    model, F, y, D, _ = fitted
    assert model.emotion_names_ == list(EMOTION_NAMES)
    Z = _standardise(F[:5], F)
    want = softmax(Z @ model.emotion_coef_ + model.emotion_intercept_, axis=1)
    np.testing.assert_allclose(model._emotions_features(F[:5]), want, rtol=1e-10)
    np.testing.assert_allclose(want.sum(axis=1), 1)
    # and it learnt something: the mean predicted distribution is the mean label's
    np.testing.assert_allclose(model._emotions_features(F).mean(axis=0), D.mean(axis=0),
                               atol=0.02)
    frame = model._frame_from_features(F[:5])
    np.testing.assert_allclose(frame[[f"p_{e}" for e in EMOTION_NAMES]], want, rtol=1e-10)
    assert list(frame["emotion"]) == [EMOTION_NAMES[i] for i in want.argmax(axis=1)]


def test_distributions_are_normalised_and_incomplete_rows_left_out():
    """Rows scaled by any factor mean the same distribution; a row with a
    NaN is left out; fewer than ten complete rows are refused."""
    F, y, D = _data(seed=2)
    a = AffectModel(cv=0, emotion_components=6, ood_examples=0)._fit_features(None, F, y,
                                                                              distributions=D)
    scaled = D * np.linspace(0.5, 3, len(D))[:, None]
    scaled[7, 2] = np.nan
    b = AffectModel(cv=0, emotion_components=6, ood_examples=0)._fit_features(
        None, F, y, distributions=scaled)
    keep = np.ones(len(D), bool)
    keep[7] = False
    c = AffectModel(cv=0, emotion_components=6, ood_examples=0)._fit_features(
        None, F, y, distributions=np.where(keep[:, None], D, np.nan))
    np.testing.assert_allclose(b.emotion_coef_, c.emotion_coef_, rtol=1e-6, atol=1e-8)
    assert not np.allclose(a.emotion_coef_, b.emotion_coef_)
    few = np.full_like(D, np.nan)
    few[:9] = D[:9]
    with pytest.raises(ValueError, match="fewer than 10 complete rows"):
        AffectModel(cv=0)._fit_features(None, F, y, distributions=few)
    few[9] = D[9]
    AffectModel(cv=0, emotion_components=6)._fit_features(None, F, y, distributions=few)
    with pytest.raises(ValueError, match=r"distributions must be \(n_samples, 7\)"):
        AffectModel(cv=0)._fit_features(None, F, y, distributions=D[:, :6])


def test_new_raters_scale_is_the_leave_one_set_out_quantile(fitted):
    """For each picture set, a model fitted on the others (no OOD, no
    summary) gives intervals on it; the scale is the 80 % ('higher')
    quantile of |rating - centre| / half-width, at least 1, per target."""
    model, F, y, _, groups = fitted
    ratios = []
    for g in np.unique(groups):
        held = groups == g
        sub = AffectModel(cv=4, random_state=1, ood_examples=0, adapt_components=0,
                          emotion_components=6)._fit_features(None, F[~held], y[~held])
        assert sub.gram_basis_ is None and sub.ood_coef_ is None
        iv = sub._interval_features(F[held])
        mid, half = (iv[..., 0] + iv[..., 1]) / 2, (iv[..., 1] - iv[..., 0]) / 2
        ratios.append(np.abs(y[held] - mid) / half)
    R = np.vstack(ratios)
    want = [max(1.0, sorted(R[:, j])[int(np.ceil(0.8 * (len(R) - 1)))]) for j in range(2)]
    np.testing.assert_allclose(model.shift_scale_, want, rtol=1e-10)
    assert (model.shift_scale_ > 1).any()


def test_the_training_summary_is_kept_only_when_asked(fitted):
    model, F, y, *_ = fitted
    assert model.gram_basis_.shape == (P, P) and model.gram_rest_ == 0.0
    none = AffectModel(cv=3, adapt_components=0, ood_examples=0)._fit_features(None, F, y)
    assert none.gram_basis_ is None and none.head_._adapt_prior() is None
    rng = np.random.default_rng(3)
    Fk = F[:20] + rng.normal(0, 0.1, (20, P))
    out = none._adapt_features(Fk, y[:20] + 0.5)
    assert "refit" not in out.adaptation_["targets"][0]["cv_mse"]
    out = model._adapt_features(Fk, y[:20] + 0.5)
    assert "refit" in out.adaptation_["targets"][0]["cv_mse"]
    prior = model.head_._adapt_prior()
    assert prior["n_train"] == len(F) and prior["rest"] == model.gram_rest_
    np.testing.assert_array_equal(prior["alpha"], model.alpha_)


def test_the_adaptation_context_holds_the_models_own_outputs(fitted):
    model, F, *_ = fitted
    ctx = model.head_._adapt_context(F[:6])
    np.testing.assert_allclose(ctx["base"], _standardise(F[:6], F) @ model.main_.coef
                               + model.main_.intercept, rtol=1e-10)
    np.testing.assert_allclose(ctx["outputs"][:, 2:], model._emotions_features(F[:6]),
                               rtol=1e-10)
    assert ctx["outputs"].shape == (6, 9)


def test_fit_refuses_what_it_cannot_use():
    F, y, _ = _data(n=40, seed=4)
    m = AffectModel(cv=2, ood_examples=0)
    with pytest.raises(ValueError, match=r"y must be \(n_samples, 2\)"):
        m._fit_features(None, F, y[:, 0])
    with pytest.raises(ValueError, match=r"y must be \(n_samples, 2\)"):
        m._fit_features(None, F, np.c_[y, y[:, :1]])
    with pytest.raises(ValueError, match="X has 40 images but y has 39 rows"):
        m._fit_features(None, F, y[:-1])
    bad = F.copy()
    bad[[3, 5]] = np.nan
    with pytest.raises(ValueError, match=r"2 training image\(s\) have no features"):
        m._fit_features(None, bad, y)
    with pytest.raises(ValueError, match="one entry per image"):
        m._fit_features(None, F, y, groups=np.zeros(39))
    with pytest.raises(ValueError, match="at least two picture sets"):
        m._fit_features(None, F, y, groups=np.zeros(40))
    with pytest.raises(ValueError, match="at least two picture sets"):
        AffectModel(cv=0)._fit_features(None, F, y, groups=np.r_[np.zeros(20), np.ones(20)])
    fitted = m._fit_features(None, F, y)
    with pytest.raises(ValueError, match="no out-of-distribution score"):
        fitted._ood_features(F)
    with pytest.raises(ValueError, match="no intervals for new raters"):
        fitted._interval_features(F, new_raters=True)
    with pytest.raises(ValueError, match="fitted without emotion distributions"):
        fitted._emotions_features(F)
    assert "ood_score" not in fitted._frame_from_features(F[:2])


def test_adapt_refuses_what_it_cannot_use(fitted):
    model, F, y, *_ = fitted
    Fk, yk = F[:15], y[:15]
    with pytest.raises(ValueError, match=r"y must be \(15, 2\)"):
        model._adapt_features(Fk, yk[:, 0])
    with pytest.raises(ValueError, match=r"y must be \(15, 2\)"):
        model._adapt_features(Fk, np.c_[yk, yk[:, :1]])
    with pytest.raises(ValueError, match=r"y must be \(15, 2\)"):
        model._adapt_features(Fk, yk[:-1])
    bad = yk.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"^1 rating\(s\) are missing or not finite \(first at "
                                         r"row 4\)"):
        model._adapt_features(Fk, bad)
    badF = Fk.copy()
    badF[2] = np.nan  # an unreadable image: left out with a warning (test_answers_intervals)
    with pytest.warns(UserWarning, match=r"^1 rated image\(s\) have no features"):
        assert model._adapt_features(badF, yk).adaptation_["n_images"] == 14
    with pytest.raises(ValueError, match="fewer than 2 rated images have features"):
        model._adapt_features(np.full_like(Fk, np.nan), yk)
    with pytest.raises(ValueError, match="strategies must be a non-empty subset"):
        model._adapt_features(Fk, yk, strategies=("keep", "magic"))
    with pytest.raises(ValueError, match="strategies must be a non-empty subset"):
        model._adapt_features(Fk, yk, strategies=())
    with pytest.raises(ValueError, match="weight must be > 0"):
        model._adapt_features(Fk, yk, weight=0)
    adapted = model._adapt_features(Fk, yk, strategies=("keep", "shift"))
    with pytest.raises(ValueError, match="already adapted"):
        adapted._adapt_features(Fk, yk)
    with pytest.raises(ValueError, match="new_raters does not apply"):
        adapted._interval_features(Fk, new_raters=True)
    assert adapted.adaptation_["n_images"] == 15 and adapted.adaptation_["weight"] == 0.25


def test_a_constant_feature_standardises_to_zero():
    """A feature that never varies (a dead channel) carries nothing: the
    model equals one fitted without it."""
    F, y, _ = _data(n=80, seed=5)
    with_const = np.c_[F, np.full(len(F), 3.0)]
    a = AffectModel(cv=3, ood_examples=0, adapt_components=0)._fit_features(None, with_const, y)
    b = AffectModel(cv=3, ood_examples=0, adapt_components=0)._fit_features(None, F, y)
    test = np.c_[F[:7] + 0.3, np.full(7, 3.0)]
    np.testing.assert_allclose(a._predict_features(test), b._predict_features(test[:, :-1]),
                               rtol=1e-9)
    np.testing.assert_allclose(a._interval_features(test), b._interval_features(test[:, :-1]),
                               rtol=1e-9)


def test_the_frame_holds_the_predictions_and_the_adaptation_its_settings(fitted):
    model, F, y, *_ = fitted
    frame = model._frame_from_features(F[:4])
    np.testing.assert_array_equal(frame[["valence", "arousal"]].to_numpy(dtype=float),
                                  model._predict_features(F[:4]))
    adapted = model._adapt_features(F[:20], y[:20], strategies=("keep", "shift"), cv=4,
                                    random_state=7)
    info = adapted.adaptation_
    assert (info["cv"], info["random_state"], info["n_images"], info["weight"]) == (4, 7, 20, 0.25)
    assert len(info["targets"][0]["fold_params"]) == 4

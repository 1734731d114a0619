"""Tests that fail on the bugs an outside review planted and the suite missed
(issue 28): each names the bug it kills.

- CV+ built with fold 0's model for every image;
- CV+'s upper quantile one rank off;
- early stopping not restoring the best weights;
- the clipping scaler clipping one side only;
- ``make_paper_pipeline`` ignoring ``clip``;
- the cache key ignoring a ``keras.Model`` backbone's weights.
"""

import math

import numpy as np
import pytest
from sklearn.model_selection import KFold, train_test_split
from sklearn.utils import check_random_state

from sklearn_emotion import AffectModel, FFNNRegressor, PooledLayerFeatures, make_paper_pipeline
from sklearn_emotion.pipeline import make_scaler


# ----------------------------------------------------------------- CV+
def _brute_force_cv_plus(fold_models, fold_of, residuals, x, coverage):
    """Barber et al. (2021), eq. for CV+, written out for one test point:
    the floor(a(n+1))-th smallest of mu_{-k(i)}(x) - R_i and the
    ceil((1-a)(n+1))-th smallest of mu_{-k(i)}(x) + R_i."""
    n = len(fold_of)
    a = 1 - coverage
    lows = sorted(fold_models[fold_of[i]](x) - residuals[i] for i in range(n))
    highs = sorted(fold_models[fold_of[i]](x) + residuals[i] for i in range(n))
    return lows[math.floor(a * (n + 1)) - 1], highs[math.ceil((1 - a) * (n + 1)) - 1]


@pytest.mark.parametrize("n, coverage", [
    (20, 0.7),
    (22, 0.7),  # floor(a(n+1)) = 6, floor(a(n+2)) = 7: the rank is n+1's
    (15, 0.9),  # the lower rank is 1: no clamping to 2
    (200, 0.8),  # np.partition's kth matters on more than a few points
])
def test_cv_plus_equals_the_brute_force_formula_on_twenty_points(n, coverage):
    rng = np.random.default_rng(7)
    d = 3
    F = rng.normal(size=(n, d))
    y = 5 + F @ rng.normal(size=(d, 2)) + rng.normal(scale=0.5, size=(n, 2))
    model = AffectModel(cv=4, coverage=coverage, ood_examples=0, adapt_components=0,
                        random_state=0)._fit_features(PooledLayerFeatures(), F, y)
    # the folds are the documented ones, and each fold model never saw its fold
    folds = list(KFold(4, shuffle=True, random_state=0).split(F))
    for k, (tr, te) in enumerate(folds):
        assert (model.fold_of_[te] == k).all()
        ref = AffectModel(cv=0, ood_examples=0, adapt_components=0)._fit_features(
            PooledLayerFeatures(), F[tr], y[tr])
        np.testing.assert_allclose(model.folds_[k].predict(F), ref.main_.predict(F), atol=1e-9)
        resid = np.abs(y[te] - ref.main_.predict(F[te]))
        np.testing.assert_allclose(model.calibration_residuals_[te], resid, atol=1e-9)
    X_new = rng.normal(size=(6, d))
    iv = model._interval_features(X_new)
    for j in range(2):
        fold_models = [lambda x, f=f: f.predict(x[None])[0, j] for f in model.folds_]
        for m, x in enumerate(X_new):
            lo, hi = _brute_force_cv_plus(fold_models, model.fold_of_,
                                          model.calibration_residuals_[:, j], x, coverage)
            assert iv[m, j, 0] == pytest.approx(np.clip(lo, 1, 9), abs=1e-9)
            assert iv[m, j, 1] == pytest.approx(np.clip(hi, 1, 9), abs=1e-9)


# --------------------------------------------------------- early stopping
def test_early_stopping_restores_the_best_epochs_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 8))
    y = X[:, 0] + rng.normal(scale=1.0, size=120)  # noisy: a wide net overfits
    est = FFNNRegressor(hidden_layer_sizes=(256,), learning_rate_init=0.05, batch_size=16,
                        max_iter=200, n_iter_no_change=8, tol=0.0, validation_fraction=0.25,
                        random_state=3).fit(X, y)
    scores = est.validation_scores_
    best = int(np.argmax(scores))
    # the run went on past its best epoch, so the last weights differ from the best
    assert len(scores) - 1 > best and scores[-1] < scores[best] - 1e-3
    # the validation split FFNNRegressor made, rebuilt from its documented recipe
    rs = check_random_state(3)
    rs.randint(0, 2**31 - 1000)
    n_val = int(np.ceil(0.25 * len(X)))
    _, Xv, _, yv = train_test_split(X.astype(np.float32), y.astype(np.float32)[:, None],
                                    test_size=n_val, random_state=rs)
    pred = est.predict(Xv)
    r2 = 1 - ((pred - yv[:, 0]) ** 2).mean() / yv[:, 0].var()
    assert r2 == pytest.approx(est.best_validation_score_, abs=1e-4)
    assert est.best_validation_score_ == scores[best]


# ----------------------------------------------------------------- clipping
def test_the_scaler_clips_both_sides():
    X = np.zeros((50, 2))
    X[0] = [1000.0, -1000.0]
    X[1] = [-1000.0, 1000.0]
    Z = make_scaler(clip=2.0).fit_transform(X)
    assert Z.max() == 2.0 and Z.min() == -2.0
    assert (make_scaler(clip=None).fit_transform(X).max()) > 2.0


def test_make_paper_pipeline_passes_clip_to_its_scaler():
    X = np.zeros((50, 2))
    X[0] = [1000.0, -1000.0]
    X[1] = [-1000.0, 1000.0]
    for clip in (1.5, 3.0):
        pipe = make_paper_pipeline("color", "linear", clip=clip)
        Z = pipe.named_steps["scale"].fit_transform(X)
        assert Z.max() == clip and Z.min() == -clip
    Z = make_paper_pipeline("color", "linear", clip=None).named_steps["scale"].fit_transform(X)
    assert Z.max() > 3.0


# -------------------------------------------------------------- cache key
def test_cache_key_follows_a_keras_backbones_weights(tmp_path):
    from sklearn_emotion._quiet import import_keras

    keras = import_keras()

    def net(seed):
        keras.utils.set_random_seed(seed)
        inp = keras.Input((32, 32, 3))
        x = keras.layers.Conv2D(4, 3, name="conv")(inp)
        return keras.Model(inp, x, name="probe")  # the key holds the name and the weights

    a, b = net(0), net(1)
    img = [np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)]
    fa = PooledLayerFeatures(backbone=a, layers=["conv"], flip=False, cache_dir=tmp_path)
    fb = PooledLayerFeatures(backbone=b, layers=["conv"], flip=False, cache_dir=tmp_path)
    Fa, Fb = fa.fit_transform(img), fb.fit_transform(img)
    assert fa._cache_token() != fb._cache_token()
    assert not np.allclose(Fa, Fb)
    # the same weights in another model object share the entry
    c = net(0)
    fc = PooledLayerFeatures(backbone=c, layers=["conv"], flip=False, cache_dir=tmp_path).fit(img)
    assert fc._cache_token() == fa._cache_token()
    np.testing.assert_array_equal(fc.transform(img), Fa)


def test_make_scaler_validates_clip_and_names_its_steps():
    """``clip`` must be > 0 (0.5 is a clip, 0 is not), and the steps keep
    their names: ``standard`` and ``clip`` are what ``set_params`` reaches."""
    with pytest.raises(ValueError, match="clip must be > 0 or None"):
        make_scaler(0)
    scaler = make_scaler(0.5)
    assert list(scaler.named_steps) == ["standard", "clip"]
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    z = (X.ravel() - 1.5) / X.std()
    np.testing.assert_allclose(scaler.fit_transform(X).ravel(), np.clip(z, -0.5, 0.5))
    scaler.set_params(clip__kw_args={"a_min": -1.0, "a_max": 1.0})
    assert scaler.fit_transform(X).max() == 1.0

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone, is_regressor
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_emotion import FFNNRegressor

FAST = dict(hidden_layer_sizes=(32, 16), solver="adam", learning_rate_init=1e-2,
            batch_size=64, max_iter=200, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    v = 5 + X[:, 0] - 0.5 * X[:, 1] ** 2 * 0.3 + 0.1 * rng.normal(size=300)
    a = 4 + 0.8 * X[:, 2] + 0.1 * rng.normal(size=300)
    return X, np.column_stack([v, a])


def test_is_regressor_and_defaults():
    reg = FFNNRegressor()
    assert is_regressor(reg)
    p = reg.get_params()
    assert p["hidden_layer_sizes"] == (3000, 1000, 500) and p["solver"] == "sgd"
    assert p["learning_rate_init"] == 1e-4 and p["momentum"] == 0.9 and p["batch_size"] == 1000
    assert p["early_stopping"] is True


def test_learns_two_targets_and_one(data):
    X, Y = data
    reg = FFNNRegressor(**FAST).fit(X[:250], Y[:250])
    P = reg.predict(X[250:])
    assert P.shape == (50, 2)
    assert reg.score(X[250:], Y[250:]) > 0.8
    r1 = FFNNRegressor(**FAST).fit(X[:250], Y[:250, 1])
    assert r1.predict(X[250:]).shape == (50,)
    assert r1.score(X[250:], Y[250:, 1]) > 0.8
    # attributes
    assert reg.n_iter_ == len(reg.loss_curve_) == len(reg.validation_scores_)
    assert reg.best_validation_score_ == max(reg.validation_scores_) or reg.best_validation_score_ in reg.validation_scores_
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]
    assert reg.n_features_in_ == 6 and reg.n_outputs_ == 2


def test_early_stopping_keeps_best_epoch(data):
    X, Y = data
    reg = FFNNRegressor(**{**FAST, "n_iter_no_change": 5, "max_iter": 500}).fit(X, Y)
    best = int(np.argmin(reg.validation_loss_curve_))
    assert reg.n_iter_ < 500
    assert reg.best_loss_ == pytest.approx(reg.validation_loss_curve_[best])
    assert reg.n_iter_ - 1 - best >= 5 - 1


def test_bit_identical_with_random_state(data):
    X, Y = data
    p1 = FFNNRegressor(**FAST).fit(X, Y).predict(X)
    p2 = FFNNRegressor(**FAST).fit(X, Y).predict(X)
    np.testing.assert_array_equal(p1, p2)
    p3 = FFNNRegressor(**{**FAST, "random_state": 1}).fit(X, Y).predict(X)
    assert not np.array_equal(p1, p3)


def test_no_global_seed_leak(data):
    X, Y = data
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    FFNNRegressor(**{**FAST, "max_iter": 3}).fit(X, Y)
    assert np.random.rand() == expected


def test_pickle_and_joblib_roundtrip(data, tmp_path):
    X, Y = data
    reg = FFNNRegressor(**{**FAST, "max_iter": 20}).fit(X, Y)
    P = reg.predict(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), P)
    joblib.dump(reg, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.predict(X), P)
    # the restored Keras model is a working model with the same weights
    np.testing.assert_allclose(np.asarray(loaded.model_(X[:5].astype("float32"))), P[:5], rtol=1e-4)


def test_grid_search_and_parallel_cv(data):
    X, Y = data
    pipe = make_pipeline(StandardScaler(), FFNNRegressor(**{**FAST, "max_iter": 30}))
    gs = GridSearchCV(pipe, {"ffnnregressor__alpha": [0.0, 1e-3]}, cv=2).fit(X, Y[:, 0])
    assert gs.best_params_["ffnnregressor__alpha"] in (0.0, 1e-3)
    s = cross_val_score(clone(pipe), X, Y[:, 0], cv=2, n_jobs=2)
    assert s.shape == (2,) and np.isfinite(s).all()


def test_divergence_is_reported(data):
    X, Y = data
    with pytest.raises(FloatingPointError, match="diverged"):
        FFNNRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=10.0,
                      batch_size=300, max_iter=50, early_stopping=False,
                      random_state=0).fit(X * 1e3, Y)


def test_paper_defaults_train_on_small_data(data):
    X, Y = data
    reg = FFNNRegressor(hidden_layer_sizes=(64, 32, 16), max_iter=30, random_state=0)
    with pytest.warns(Warning):
        reg.fit(X, Y)
    # the output bias starts at the targets' mean, so even a few slow SGD
    # epochs predict around the mean instead of near zero
    assert abs(reg.predict(X).mean(0) - Y.mean(0)).max() < 0.5

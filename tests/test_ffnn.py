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
    # the kept weights are those of the best validation R²
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]
    assert reg.n_features_in_ == 6 and reg.n_outputs_ == 2


def test_early_stopping_on_validation_r2_as_mlpregressor(data):
    X, Y = data
    reg = FFNNRegressor(**{**FAST, "n_iter_no_change": 5, "max_iter": 500}).fit(X, Y)
    scores = reg.validation_scores_
    assert reg.n_iter_ < 500 and len(scores) == reg.n_iter_
    assert reg.best_validation_score_ == max(scores)
    assert reg.best_loss_ is None  # as MLPRegressor with early_stopping
    # stopped because each of the last n_iter_no_change epochs gained less
    # than tol over the best before it
    n = len(scores)
    assert all(scores[k] < max(scores[:k]) + reg.tol for k in range(n - 5, n))
    # the validation R² is computed from the validation MSE it reports
    assert len(reg.validation_loss_curve_) == reg.n_iter_


def test_training_loss_stopping_without_early_stopping(data):
    X, Y = data
    reg = FFNNRegressor(**{**FAST, "early_stopping": False, "n_iter_no_change": 3,
                           "tol": 1e-2, "max_iter": 500}).fit(X, Y)
    loss = reg.loss_curve_
    assert reg.n_iter_ < 500 and reg.best_loss_ == min(loss)
    # each of the last 3 epochs fell by less than tol below the best before it
    n = len(loss)
    assert all(loss[k] > min(loss[:k]) - 1e-2 for k in range(n - 3, n))
    assert not all(loss[k] > min(loss[:k]) - 1e-2 for k in range(n - 4, n))


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_every_activation_trains(data, activation):
    X, Y = data
    reg = FFNNRegressor(**{**FAST, "activation": activation, "max_iter": 60}).fit(X, Y)
    assert reg.score(X, Y) > 0.5
    # predict's numpy forward pass uses the same activation as the Keras model
    np.testing.assert_allclose(np.asarray(reg.model_(X[:7].astype("float32"))),
                               reg.predict(X[:7]), rtol=1e-4, atol=1e-4)


def test_alpha_means_what_it_means_in_mlpregressor(data):
    X, Y = data
    small = FFNNRegressor(**{**FAST, "alpha": 1e-4, "early_stopping": False, "max_iter": 60}).fit(X, Y)
    big = FFNNRegressor(**{**FAST, "alpha": 10.0, "early_stopping": False, "max_iter": 60}).fit(X, Y)
    norm = [sum(float((w ** 2).sum()) for w in m.model_.get_weights()[0::2]) for m in (small, big)]
    assert norm[1] < 0.5 * norm[0]


def _mlp_task(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(600, 30))
    y = np.column_stack([2 * X[:, 0] + X[:, 1], np.sin(X[:, 2]) + 0.5 * X[:, 3]])
    return X[:500], y[:500], X[500:], y[500:]


@pytest.mark.parametrize("early_stopping", [False, True])
def test_generalises_like_mlpregressor(early_stopping):
    """Same hyper-parameters, same task: mean test R² over 3 seeds within 0.02."""
    import warnings

    from sklearn.metrics import r2_score
    from sklearn.neural_network import MLPRegressor

    ours, theirs = [], []
    for seed in (0, 1, 2):
        X, y, Xt, yt = _mlp_task(seed)
        kw = dict(hidden_layer_sizes=(64, 32), solver="adam", learning_rate_init=1e-3,
                  batch_size=64, max_iter=200, early_stopping=early_stopping, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours.append(r2_score(yt, FFNNRegressor(**kw).fit(X, y).predict(Xt)))
            theirs.append(r2_score(yt, MLPRegressor(**kw).fit(X, y).predict(Xt)))
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.02, (ours, theirs)


@pytest.mark.parametrize("solver, alpha", [("adam", 6.4), ("sgd", 0.0), ("sgd", 1.0)])
def test_fused_update_follows_keras_step(solver, alpha):
    """The XLA-fused update against Keras' own ``train_on_batch`` on twin
    networks, one epoch of the same minibatches: the same losses (penalty
    included) and weights within float32 rounding, not bit-identical."""
    import keras

    from sklearn_emotion.models.ffnn import _build, _half_mse, _train_step

    rng = np.random.default_rng(0)
    X = rng.standard_normal((640, 200), dtype=np.float32)
    Y = (X[:, :2] + 5).astype(np.float32)
    l2 = 0.5 * alpha / 64

    def twin():
        model = _build(200, 2, [256, 128], "relu", l2, 0, Y.mean(axis=0))
        opt = (keras.optimizers.Adam(1e-3) if solver == "adam"
               else keras.optimizers.SGD(1e-3, momentum=0.9))
        model.compile(optimizer=opt, loss=_half_mse)
        return model

    ref, fused = twin(), twin()
    step = _train_step(fused, l2)  # what fused_update=True runs
    ours, theirs = [], []
    for s in range(0, 640, 64):
        theirs.append(ref.train_on_batch(X[s:s + 64], Y[s:s + 64], return_dict=True)["loss"])
        ours.append(float(step(X[s:s + 64], Y[s:s + 64])))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    for a, b in zip(fused.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    # and it trained: the weights moved by far more than that
    assert max(float(np.abs(a - b).max()) for a, b in
               zip(fused.get_weights(), twin().get_weights())) > 1e-3


def test_fused_update_fits_reproducibly_and_pickles(data):
    X, Y = data
    kw = {**FAST, "alpha": 1e-3, "fused_update": True}
    a = FFNNRegressor(**kw).fit(X, Y)
    b = FFNNRegressor(**kw).fit(X, Y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.score(X, Y) > 0.8
    plain = FFNNRegressor(**{**kw, "fused_update": False}).fit(X, Y)
    assert abs(a.score(X, Y) - plain.score(X, Y)) < 0.05
    back = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(back.predict(X), a.predict(X))


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
    grid = [0.0, 1.0]
    gs = GridSearchCV(pipe, {"ffnnregressor__alpha": grid}, cv=2).fit(X, Y[:, 0])
    # the search's scores are the plain cross-validation's, and it picks their best
    means = [cross_val_score(clone(pipe).set_params(ffnnregressor__alpha=a), X, Y[:, 0],
                             cv=2).mean() for a in grid]
    np.testing.assert_allclose(gs.cv_results_["mean_test_score"], means, rtol=1e-6)
    assert gs.best_params_["ffnnregressor__alpha"] == grid[int(np.argmax(means))]
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
    from sklearn.exceptions import ConvergenceWarning

    reg = FFNNRegressor(hidden_layer_sizes=(64, 32, 16), max_iter=30, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=30"):
        reg.fit(X, Y)
    # the output bias starts at the targets' mean, so even a few slow SGD
    # epochs predict around the mean instead of near zero
    assert abs(reg.predict(X).mean(0) - Y.mean(0)).max() < 0.5


def test_the_fused_step_traces_without_autograph_warnings():
    """The loss is traced inside TensorFlow functions; it once called the
    package's TensorFlow importer there, and AutoGraph logged a warning that
    it could not convert ``os.environ.setdefault`` on every trace."""
    import subprocess
    import sys

    script = ("import numpy as np\nfrom sklearn_emotion import FFNNRegressor\n"
              "X = np.random.default_rng(0).random((200, 20)); y = X[:, :2]\n"
              "for fused in (False, True):\n"
              "    FFNNRegressor((16,), solver='adam', batch_size=64, alpha=1.0, max_iter=2,\n"
              "                  fused_update=fused, random_state=0).fit(X, y)\n"
              "print('fitted')\n")
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert p.returncode == 0 and "fitted" in p.stdout, p.stderr[-2000:]
    assert "AutoGraph" not in p.stderr

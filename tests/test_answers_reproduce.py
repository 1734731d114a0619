"""The reproduction's numbers against answers computed another way.

Every number here is recomputed with scikit-learn's own functions
(``cross_val_predict``, ``GridSearchCV``, ``mean_squared_error``,
``r2_score``) or a formula written out, never with the package's code: a
bug shared by the reproduction and its consistency checks (Dask = serial,
CLI = library) is caught here.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVR

from sklearn_emotion.pipeline import make_scaler
from sklearn_emotion.reproduce import evaluate, nested_best, scores
from sklearn_emotion.reproduce._evaluation import NESTED_GRID
from sklearn_emotion.reproduce._protocol import BEST_CANDIDATES, CLIP, FEATURE_SETS
from sklearn_emotion.reproduce._report import pooled_scores


def _r(a, b):
    """Pearson r written out."""
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def _data(n, p=6, seed=0):
    """Valence and arousal with different variances and different signals
    (an R² that divides by the wrong target's variance is off by their ratio)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = np.c_[5 + 1.8 * X[:, 0] + 0.5 * rng.normal(size=n),
              5 + 0.4 * X[:, 1] + 0.3 * rng.normal(size=n)]
    return X, y


def test_scores_equal_scikit_learns_metrics():
    rng = np.random.default_rng(3)
    y = np.c_[rng.normal(5, 2, 50), rng.normal(4, 0.5, 50)]
    p = y + rng.normal(0, [1.0, 0.4], size=(50, 2))
    s = scores(y, p, "test")
    for j, t in enumerate("VA"):
        assert s[f"test_mse_{t}"] == pytest.approx(mean_squared_error(y[:, j], p[:, j]), rel=1e-12)
        assert s[f"test_r2_{t}"] == pytest.approx(r2_score(y[:, j], p[:, j]), rel=1e-12)
        assert s[f"test_r_{t}"] == pytest.approx(_r(y[:, j], p[:, j]), rel=1e-12)
    # the variances differ 16-fold: an R² over the other target's variance is far off
    assert abs(s["test_r2_A"] - (1 - s["test_mse_A"] / np.var(y[:, 0]))) > 0.3
    pooled = pooled_scores(y, p)
    for j, t in enumerate("VA"):
        assert pooled[f"r2_{t}"] == pytest.approx(r2_score(y[:, j], p[:, j]), rel=1e-12)
        assert pooled[f"mse_{t}"] == pytest.approx(mean_squared_error(y[:, j], p[:, j]))
        assert pooled[f"r_{t}"] == pytest.approx(_r(y[:, j], p[:, j]), rel=1e-12)


@pytest.mark.parametrize("n", [100, 103], ids=["equal folds", "unequal folds"])
def test_evaluate_equals_cross_val_predict_fold_by_fold(n):
    """Out-of-fold predictions land on their own images' rows, and each
    fold's train and test scores are the metrics of those predictions."""
    X, y = _data(n)
    cv = KFold(5, shuffle=True, random_state=0)
    model = make_pipeline(make_scaler(CLIP), SVR())
    res = evaluate(model, X, y, cv, joint=False)
    direct = np.column_stack([cross_val_predict(model, X, y[:, j], cv=cv) for j in range(2)])
    np.testing.assert_allclose(res.oof, direct, rtol=1e-10, atol=1e-10)
    assert len(res.folds) == 5
    for k, (tr, te) in enumerate(cv.split(X)):
        np.testing.assert_array_equal(res.fold_of[te], k)
        rec = res.folds[k]
        for j, t in enumerate("VA"):
            fitted = clone(model).fit(X[tr], y[tr, j])
            ptr = fitted.predict(X[tr])
            assert rec[f"test_mse_{t}"] == pytest.approx(
                mean_squared_error(y[te, j], direct[te, j]), rel=1e-9)
            assert rec[f"test_r2_{t}"] == pytest.approx(r2_score(y[te, j], direct[te, j]),
                                                         rel=1e-9)
            assert rec[f"test_r_{t}"] == pytest.approx(_r(y[te, j], direct[te, j]), rel=1e-9)
            assert rec[f"train_mse_{t}"] == pytest.approx(mean_squared_error(y[tr, j], ptr),
                                                          rel=1e-9)
    # the row's summary: mean and population SD over the folds
    summ = res.summary()
    vals = np.array([f["test_r2_A"] for f in res.folds])
    assert summ["test_r2_A_mean"] == pytest.approx(vals.sum() / 5)
    assert summ["test_r2_A_std"] == pytest.approx(np.sqrt(((vals - vals.mean()) ** 2).sum() / 5))


def test_joint_evaluation_equals_cross_val_predict():
    """A model fitted on both targets at once (``joint=True``)."""
    from sklearn.linear_model import Ridge

    X, y = _data(60, seed=1)
    cv = KFold(3, shuffle=True, random_state=2)
    model = make_pipeline(make_scaler(CLIP), Ridge(alpha=3.0))
    res = evaluate(model, X, y, cv, joint=True)
    np.testing.assert_allclose(res.oof, cross_val_predict(model, X, y, cv=cv), rtol=1e-10)


def _planted_families(n, seed=0):
    """Feature families for the nested search's candidates: the signal for
    both targets lives only in ``face``, which only the last candidate
    holds; every other family is noise."""
    rng = np.random.default_rng(seed)
    fams = {f for c in BEST_CANDIDATES for f in FEATURE_SETS[c]}
    feats = {f: rng.normal(size=(n, 3)) for f in sorted(fams)}
    face = feats["face"]
    y = np.c_[5 + 1.5 * face[:, 0] + 0.3 * rng.normal(size=n),
              4 + 0.8 * face[:, 1] + 0.2 * rng.normal(size=n)]
    return feats, y


def test_nested_search_chooses_the_informative_set_as_gridsearchcv_does():
    """Per outer fold and target, the chosen feature set and SVR settings
    are those with the best inner 3-fold GridSearchCV score on the training
    fold, and the test scores are the refitted winner's."""
    assert "face" in FEATURE_SETS[BEST_CANDIDATES[-1]]
    assert all("face" not in FEATURE_SETS[c] for c in BEST_CANDIDATES[:-1])
    feats, y = _planted_families(72)
    cv = KFold(3, shuffle=True, random_state=0)
    info, res = nested_best(feats, y, cv, 0, None, None)
    Xs = {c: np.hstack([feats[f] for f in FEATURE_SETS[c]]) for c in BEST_CANDIDATES}
    base = make_pipeline(make_scaler(CLIP), SVR())
    for k, (tr, te) in enumerate(cv.split(y)):
        for j, t in enumerate("VA"):
            searches = {c: GridSearchCV(base, NESTED_GRID, cv=3).fit(X[tr], y[tr, j])
                        for c, X in Xs.items()}
            best = max(searches, key=lambda c: searches[c].best_score_)
            assert best == BEST_CANDIDATES[-1]  # the planted answer
            g = searches[best]
            assert info["choices"][k][t] == (f"{best}, C={g.best_params_['svr__C']}, "
                                             f"epsilon={g.best_params_['svr__epsilon']}")
            pred = g.best_estimator_.predict(Xs[best][te])
            np.testing.assert_allclose(res.oof[te, j], pred, rtol=1e-8, atol=1e-8)
            assert res.folds[k][f"test_mse_{t}"] == pytest.approx(
                mean_squared_error(y[te, j], pred), rel=1e-8)

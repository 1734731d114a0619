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


def test_scores_of_a_constant_target_or_prediction():
    """R² is undefined (NaN) for a constant target; Pearson r for a constant
    prediction, or one that varies by less than a billionth of its size."""
    y = np.c_[np.full(10, 5.0), np.linspace(1, 9, 10)]
    p = np.c_[np.linspace(4, 6, 10), np.full(10, 5.0)]
    s = scores(y, p, "test")
    assert np.isnan(s["test_r2_V"]) and s["test_mse_V"] == pytest.approx(np.mean((p[:, 0] - 5) ** 2))
    assert np.isnan(s["test_r_A"]) and s["test_r2_A"] == pytest.approx(r2_score(y[:, 1], p[:, 1]))
    tiny = np.c_[np.linspace(1, 9, 10), 5.0 + np.linspace(0, 3e-9, 10)]
    assert np.isnan(scores(np.c_[y[:, 1], y[:, 1]], tiny, "t")["t_r_A"])  # 3e-9 of 5: constant
    small = np.c_[np.linspace(1, 9, 10), 1e-3 + np.linspace(0, 1.5e-9, 10)]
    assert np.isfinite(scores(np.c_[y[:, 1], y[:, 1]], small, "t")["t_r_A"])  # 1.5e-9 on a scale of 1: varies


def test_fold_records_hold_the_epochs_and_wall_time_of_each_fit():
    """A regressor with n_iter_ (in a pipeline or bare) records it as the
    fold's epochs (the larger of the two targets' fits); one without, none."""
    import time

    from sklearn.linear_model import Ridge, SGDRegressor

    X, y = _data(40, seed=3)
    cv = KFold(2, shuffle=True, random_state=0)
    from sklearn.preprocessing import FunctionTransformer

    for model in (make_pipeline(make_scaler(CLIP), SGDRegressor(max_iter=7, tol=None,
                                                                random_state=0)),
                  make_pipeline(make_scaler(CLIP), FunctionTransformer(),
                                SGDRegressor(max_iter=9, tol=None, random_state=0)),
                  SGDRegressor(max_iter=5, tol=None, random_state=0)):
        t0 = time.perf_counter()
        res = evaluate(model, X, y, cv, joint=False)
        wall = time.perf_counter() - t0
        for (tr, _), rec in zip(cv.split(X), res.folds):
            reg = clone(model).fit(X[tr], y[tr, 0])
            reg = reg.steps[-1][1] if hasattr(reg, "steps") else reg
            assert rec["epochs"] == float(reg.n_iter_)
            assert 0 <= rec["fit_seconds"] <= wall
    res = evaluate(Ridge(), X, y, cv, joint=True)
    assert all("epochs" not in f for f in res.folds)
    assert res.summary()["table"] == "" and set(res.summary()) >= {"model", "features"}


def test_checkpointed_folds_are_read_back_logged_and_counted(tmp_path):
    """A second run on the same store reads every fold (no fit), says so in
    its log, moves a progress bar once per fold, and reports the same numbers."""
    from sklearn.linear_model import Ridge

    from sklearn_emotion.reproduce._checkpoints import FoldCheckpoints

    X, y = _data(30, seed=4)
    cv = KFold(3, shuffle=True, random_state=0)

    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    lines, bar = [], Bar()
    first = evaluate(Ridge(), X, y, cv, joint=True, checkpoints=FoldCheckpoints(tmp_path), log=lines.append,
                     bar=bar, table="IV", name="ridge", features="all")
    assert len(list(tmp_path.glob("*.npzc"))) == 3 and bar.n == 3
    assert lines[0].startswith("  [IV] ridge on all, fold 1: test MSE V")
    assert not any("from checkpoint" in ln for ln in lines)
    store = FoldCheckpoints(tmp_path)
    lines, bar = [], Bar()
    again = evaluate(Ridge(alpha=1.0), X, y, cv, joint=True, checkpoints=store, log=lines.append,
                     bar=bar, table="IV", name="ridge", features="all")
    assert store.resumed == 3 and bar.n == 3
    assert sum("from checkpoint" in ln for ln in lines) == 3
    np.testing.assert_array_equal(again.oof, first.oof)
    assert [f["test_mse_V"] for f in again.folds] == [f["test_mse_V"] for f in first.folds]


def test_plan_folds_names_each_task_and_its_key():
    from sklearn_emotion.reproduce._checkpoints import FoldCheckpoints
    from sklearn_emotion.reproduce._evaluation import plan_folds

    splits = list(KFold(3).split(np.arange(9)))
    hits, tasks = plan_folds((0, 5), "fn", lambda tr, te: (tr, te), FoldCheckpoints(None),
                             lambda tr, te: f"key{te[0]}", splits, network=False,
                             info={"table": "III"})
    assert hits == {}
    assert [t.name for t in tasks] == [((0, 5), k) for k in range(3)]
    assert [t.info for t in tasks] == [{"table": "III", "fold": k + 1, "key": f"key{3 * k}"}
                                       for k in range(3)]


def test_row_folds_say_when_complete_and_mark_rows_no_fold_held():
    from sklearn_emotion.reproduce._evaluation import RowFolds

    splits = [(np.array([2, 3]), np.array([0, 1])), (np.array([0, 1]), np.array([2, 3]))]
    row = RowFolds("III", "m", "f", splits, 5)  # row 4 is in no fold
    assert row.add(1, {"a": 1}, np.ones((2, 2))) is False
    assert row.add(0, {"a": 2}, np.zeros((2, 2))) is True
    res = row.result()
    np.testing.assert_array_equal(res.fold_of, [0, 0, 1, 1, -1])
    assert np.isnan(res.oof[4]).all() and (res.oof[2:4] == 1).all()


def test_the_nested_search_reports_its_row_choices_and_checkpoints(tmp_path):
    """The nested row: table 'best', the candidates named, every fold's
    train score that of the refitted winner, the report's description of
    the search, and one checkpoint per outer fold, read back by a rerun."""
    from sklearn_emotion.reproduce._checkpoints import FoldCheckpoints

    feats, y = _planted_families(45, seed=3)
    cv = KFold(3, shuffle=True, random_state=1)
    lines = []
    info, res = nested_best(feats, y, cv, 0, None, lines.append, checkpoints=FoldCheckpoints(tmp_path))
    assert res.table == "best" and res.features == "one per fold, from: " + "; ".join(BEST_CANDIDATES)
    assert set(info) == {"candidates", "grid", "choices"}
    assert info["candidates"] == list(BEST_CANDIDATES) and info["grid"] == NESTED_GRID
    assert len(list(tmp_path.glob("*.npzc"))) == 3
    assert all(ln.startswith("  [best], fold") for ln in lines)
    Xs = {c: np.hstack([feats[f] for f in FEATURE_SETS[c]]) for c in BEST_CANDIDATES}
    base = make_pipeline(make_scaler(CLIP), SVR())
    for k, (tr, _) in enumerate(cv.split(y)):
        for j, t in enumerate("VA"):
            name = info["choices"][k][t].split(",")[0]
            g = GridSearchCV(base, NESTED_GRID, cv=3).fit(Xs[name][tr], y[tr, j])
            assert res.folds[k][f"train_mse_{t}"] == pytest.approx(
                mean_squared_error(y[tr, j], g.best_estimator_.predict(Xs[name][tr])), rel=1e-8)
        assert 0 <= res.folds[k]["fit_seconds"] < 600
    store = FoldCheckpoints(tmp_path)
    lines = []

    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    info2, res2 = nested_best(feats, y, cv, 0, None, lines.append, checkpoints=store, bar=bar)
    assert store.resumed == 3 and info2["choices"] == info["choices"] and bar.n == 3
    assert all(ln.startswith("  [best], fold") and "from checkpoint" in ln for ln in lines)
    bar = Bar()
    nested_best(feats, y, cv, 0, None, None, bar=bar)
    assert bar.n == 3


def test_the_inner_search_is_three_fold():
    """On data where 3- and 4-fold inner searches choose different settings,
    the nested search makes the 3-fold choice (as GridSearchCV(cv=3))."""
    base = make_pipeline(make_scaler(CLIP), SVR())
    for seed in range(40):
        feats, y = _planted_families(36, seed=seed)
        y = y + np.random.default_rng(seed).normal(0, 1.5, y.shape)
        X = np.hstack([feats[f] for f in FEATURE_SETS[BEST_CANDIDATES[-1]]])
        tr = np.arange(24)
        p3 = GridSearchCV(base, NESTED_GRID, cv=3).fit(X[tr], y[tr, 0]).best_params_
        p4 = GridSearchCV(base, NESTED_GRID, cv=4).fit(X[tr], y[tr, 0]).best_params_
        if p3 != p4:
            break
    else:
        pytest.skip("no seed separates 3- from 4-fold inner searches")
    from sklearn_emotion.reproduce._evaluation import _nested_fold

    _, _, choice = _nested_fold({BEST_CANDIDATES[-1]: X}, y, tr, np.arange(24, 36))
    assert choice["V"].endswith(f"C={p3['svr__C']}, epsilon={p3['svr__epsilon']}")


def test_plan_nested_describes_its_tasks_for_the_run_record():
    """Each outer fold's task says its table, row and feature sets (the run's
    tasks.png and results.json 'tasks' read them)."""
    from sklearn_emotion.reproduce._checkpoints import FoldCheckpoints
    from sklearn_emotion.reproduce._evaluation import NESTED_NAME, plan_nested

    feats, y = _planted_families(30)
    splits = list(KFold(3).split(y))
    row, hits, tasks = plan_nested((1, 0), feats, y, splits, FoldCheckpoints(None))
    assert hits == {} and [t.name for t in tasks] == [((1, 0), k) for k in range(3)]
    for k, t in enumerate(tasks):
        assert {key: t.info[key] for key in ("table", "model", "features", "fold")} == {
            "table": "best", "model": NESTED_NAME, "features": "one per fold, from: " + "; ".join(BEST_CANDIDATES),
            "fold": k + 1}
        assert not t.uses_tensorflow

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.svm import SVR

from sklearn_emotion import (
    ColorFeatures, FFNNRegressor, LBPFeatures, ObjectFeatures, SceneFeatures, make_paper_pipeline,
)
from sklearn_emotion.pipeline import make_scaler


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    imgs, y = [], []
    for i in range(24):
        base = rng.integers(0, 256, 3)
        im = np.clip(rng.normal(base, 30, (24, 24, 3)), 0, 255).astype(np.uint8)
        imgs.append(im)
        y.append([1 + 8 * base[0] / 255, 1 + 8 * im.std() / 80])  # redness -> "valence"
    return imgs, np.array(y)


def test_factory_structure():
    pipe = make_paper_pipeline()
    names = [n for n, _ in pipe.named_steps["features"].transformer_list]
    assert names == ["color", "gist", "lbp", "object", "scene"]
    assert isinstance(pipe.named_steps["regressor"], FFNNRegressor)
    assert isinstance(pipe.named_steps["features"].transformer_list[3][1], ObjectFeatures)
    assert isinstance(pipe.named_steps["features"].transformer_list[4][1], SceneFeatures)
    low = make_paper_pipeline("low", "linear", cache_dir="x", regressor__fit_intercept=False)
    assert [n for n, _ in low.named_steps["features"].transformer_list] == ["color", "gist", "lbp"]
    assert low.named_steps["features"].transformer_list[0][1].cache_dir == "x"
    assert low.named_steps["regressor"].fit_intercept is False
    with pytest.raises(ValueError, match="unknown feature family 'texture'"):
        make_paper_pipeline("texture")
    with pytest.raises(ValueError, match="regressor must be"):
        make_paper_pipeline("color", "forest")


def test_cross_val_and_grid_over_feature_combinations(data, tmp_path):
    X, y = data
    pipe = make_paper_pipeline(("color", "lbp"), "svr", cache_dir=tmp_path)
    s = cross_val_score(pipe, X, y[:, 0], cv=KFold(3, shuffle=True, random_state=0),
                        scoring="neg_mean_squared_error")
    assert np.isfinite(s).all()
    # a grid over feature combinations (at least one family must remain)
    grid = [{"features__lbp": ["drop"], "features__color": [ColorFeatures()], "regressor__C": [1.0, 10.0]},
            {"features__lbp": [LBPFeatures()], "features__color": ["drop", ColorFeatures()],
             "regressor__C": [1.0]}]
    gs = GridSearchCV(pipe, grid, cv=3, scoring="neg_mean_squared_error").fit(X, y[:, 0])
    # colour carries the target here: the search keeps it
    assert gs.best_params_["features__color"] != "drop"


def test_set_output_pandas_names(data):
    X, y = data
    pipe = make_paper_pipeline(("color", "lbp"), SVR()).set_output(transform="pandas")
    Z = pipe[:-1].fit_transform(X, y[:, 0])
    assert isinstance(Z, pd.DataFrame)
    assert Z.columns[0] == "color__mean_r" and Z.columns[-1] == "lbp__lbp_nonuniform"
    assert np.abs(Z.to_numpy()).max() <= 5.0


def test_make_scaler_clips_only_extremes():
    X = np.zeros((100, 2))
    X[:, 0] = np.random.default_rng(0).normal(size=100)
    X[0, 1] = 1.0  # one non-zero in a column: z = 9.9
    Z = make_scaler(5.0).fit_transform(X)
    assert Z[:, 1].max() == 5.0
    np.testing.assert_allclose(Z[:, 0], (X[:, 0] - X[:, 0].mean()) / X[:, 0].std())
    assert np.abs(make_scaler(None).fit_transform(X)).max() > 9


@pytest.mark.parametrize("regressor", ["svr", "linear", "ffnn"])
def test_paper_pipeline_takes_the_loaders_targets(regressor, tmp_path):
    """make_paper_pipeline(...).fit(X, load_emotion6().target) works for every
    regressor; the SVR fits one model per target, and each equals an SVR
    fitted on that column alone."""
    from sklearn.svm import SVR

    from sklearn_emotion.datasets import load_emotion6

    b = load_emotion6()
    X, y = list(b.filenames[:24]), b.target[:24]
    params = {"regressor__max_iter": 2, "regressor__hidden_layer_sizes": (8,)} \
        if regressor == "ffnn" else {}
    pipe = make_paper_pipeline("color", regressor, cache_dir=tmp_path, **params).fit(X, y)
    pred = pipe.predict(X[:5])
    assert pred.shape == (5, 2) and np.isfinite(pred).all()
    if regressor == "svr":
        F = pipe[:-1].transform(X)
        for j in range(2):
            one = SVR().fit(F, y[:, j])
            np.testing.assert_array_equal(pred[:, j], one.predict(F[:5]))
        # a grid over the SVR's own parameter name still reaches both models
        pipe.set_params(regressor__C=10.0).fit(X, y)
        assert [e.C for e in pipe[-1].estimators_] == [10.0, 10.0]
        # one column is a plain SVR
        one_col = make_paper_pipeline("color", "svr", cache_dir=tmp_path).fit(X, y[:, 0])
        assert one_col.predict(X[:5]).shape == (5,)

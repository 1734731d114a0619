"""One bad image never loses the others: predict_images, SkipNaNRows and
make_paper_pipeline(on_error="nan") on real Emotion6 photos."""

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from sklearn_emotion import (
    ColorFeatures,
    ImageBatchError,
    ImageLoadError,
    LBPFeatures,
    load_pretrained,
    make_paper_pipeline,
    predict_images,
)
from sklearn_emotion.datasets import load_emotion6
from sklearn_emotion.models import SkipNaNRows


@pytest.fixture(scope="module")
def rated():
    b = load_emotion6()
    rng = np.random.default_rng(0)
    idx = rng.choice(len(b.filenames), 40, replace=False)
    return [str(f) for f in b.filenames[idx]], b.target[idx]


@pytest.fixture
def mixed(rated, tmp_path):
    """Six real photos with four bad inputs among them, and the bad positions."""
    paths = rated[0][30:36]
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(open(paths[0], "rb").read()[:200])
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    items = [paths[0], str(tmp_path / "missing.jpg"), paths[1], paths[2], str(corrupt),
             paths[3], str(text), paths[4], np.zeros((4, 4, 2)), paths[5]]
    bad = {1: "file not found", 4: "truncated or corrupt", 6: "not a recognised image",
           8: "2 channels"}
    return items, bad


def _paper_pipe(on_error):
    return make_paper_pipeline(["color", "lbp"], Ridge(alpha=10.0), on_error=on_error)


@pytest.fixture(scope="module")
def fitted(rated):
    """The default pipeline fitted on 30 photos (its features cached in memory)."""
    X, y = rated
    return _paper_pipe("raise").fit(X[:30], y[:30])


def test_default_pipeline_still_raises_naming_every_bad_image(fitted, mixed):
    pipe = fitted
    items, bad = mixed
    with pytest.raises(ImageBatchError) as info:
        pipe.predict(items)
    assert sorted(info.value.errors) == sorted(bad)


def test_nan_pipeline_keeps_every_good_prediction(rated, mixed, fitted):
    X, y = rated
    items, bad = mixed
    pipe = _paper_pipe("nan").fit(X[:30], y[:30])
    assert isinstance(pipe.named_steps["regressor"], SkipNaNRows)
    with pytest.warns(UserWarning, match="could not be loaded"):
        pred = pipe.predict(items)
    assert pred.shape == (10, 2)
    assert np.isnan(pred[sorted(bad)]).all()
    good = [i for i in range(10) if i not in bad]
    # the same numbers as predicting the good images alone with the default pipeline
    ref = fitted.predict([items[i] for i in good])
    np.testing.assert_allclose(pred[good], ref, rtol=1e-12)
    assert np.isfinite(pred[good]).all()


def test_nan_pipeline_fits_without_the_bad_training_images(rated, tmp_path):
    X, y = rated
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff")
    Xb = X[:20] + [str(broken)]
    yb = np.vstack([y[:20], [[9.0, 9.0]]])
    with pytest.warns(UserWarning, match="1 of 21 training rows"):
        pipe = _paper_pipe("nan").fit(Xb, yb)
    assert pipe.named_steps["regressor"].n_skipped_ == 1
    ref = _paper_pipe("raise").fit(X[:20], y[:20])
    np.testing.assert_allclose(pipe.predict(X[20:25]), ref.predict(X[20:25]), rtol=1e-10)


def test_predict_images_on_a_default_pipeline_reports_each_reason(fitted, mixed):
    items, bad = mixed
    pipe = fitted
    res = predict_images(pipe, items, batch_size=3)
    assert sorted(res.errors) == sorted(bad)
    for i, why in bad.items():
        assert isinstance(res.errors[i], ImageLoadError)
        assert why in res.errors[i].reason
    assert res.errors[1].item.endswith("missing.jpg") and res.errors[8].item == "X[8]"
    assert list(np.flatnonzero(res.failed)) == sorted(bad)
    good = [i for i in range(10) if i not in bad]
    np.testing.assert_allclose(res.predictions[good], pipe.predict([items[i] for i in good]),
                               rtol=1e-12)
    assert np.isnan(res.predictions[sorted(bad)]).all()
    # the model is left as it was: its families still raise
    assert all(est.on_error == "raise" for _, est in pipe.named_steps["features"].transformer_list)
    # batch size changes nothing
    res1 = predict_images(pipe, items, batch_size=1)
    np.testing.assert_allclose(res1.predictions, res.predictions, rtol=1e-12)
    assert "missing.jpg: file not found" in res.report()


def test_predict_images_transform_of_a_family(mixed):
    items, bad = mixed
    est = LBPFeatures().fit(items)
    res = predict_images(est, items, method="transform", batch_size=4)
    assert res.predictions.shape == (10, 59) and sorted(res.errors) == sorted(bad)
    good = [i for i in range(10) if i not in bad]
    np.testing.assert_array_equal(res.predictions[good], est.transform([items[i] for i in good]))


def test_predict_images_when_every_image_fails(fitted, tmp_path):
    res = predict_images(fitted, [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")])
    assert res.predictions.shape == (2, 2) and np.isnan(res.predictions).all()
    assert len(res.errors) == 2


def test_predict_images_pretrained_frame(mixed):
    items, bad = mixed
    model = load_pretrained(on_error="raise")  # predict_images swaps it, then restores it
    res = predict_images(model, items, method="predict_frame", batch_size=4)
    assert isinstance(res.predictions, pd.DataFrame) and len(res.predictions) == 10
    good = [i for i in range(10) if i not in bad]
    ref = model.predict_frame([items[i] for i in good])
    got = res.predictions.iloc[good].drop(columns="error").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref.reset_index(drop=True), check_dtype=False)
    # the error column: None for a predicted image, the loader's reason for a failed one
    assert res.predictions["error"].iloc[good].isna().all()
    assert list(res.predictions["error"].iloc[sorted(bad)]) == [
        res.errors[i].reason for i in sorted(bad)]
    assert res.predictions.iloc[sorted(bad)][["valence", "arousal"]].isna().all().all()
    assert res.predictions["emotion"].iloc[sorted(bad)].isna().all()
    assert model.features_.on_error == "raise"
    arr = predict_images(model, items).predictions
    np.testing.assert_allclose(arr[good], model.predict([items[i] for i in good]))


def test_predict_images_passes_method_parameters(mixed):
    """``new_raters=True`` reaches predict_frame (the command line's
    ``--new-raters``); a model without such intervals refuses before any
    features are computed; parameters a transform cannot take are refused."""
    items, bad = mixed
    good = [i for i in range(10) if i not in bad]
    model = load_pretrained()
    res = predict_images(model, items, method="predict_frame", batch_size=4, new_raters=True)
    ref = model.predict_frame([items[i] for i in good], new_raters=True)
    assert "valence_low_80_new_raters" in res.predictions.columns
    pd.testing.assert_frame_equal(
        res.predictions.iloc[good].drop(columns="error").reset_index(drop=True),
        ref.reset_index(drop=True), check_dtype=False)
    iv = predict_images(model, items, method="predict_interval", new_raters=True).predictions
    np.testing.assert_allclose(iv[good], model.predict_interval([items[i] for i in good],
                                                                new_raters=True))
    with pytest.raises(ValueError, match="no intervals for new raters"):
        predict_images(load_pretrained("v1"), items, method="predict_frame", new_raters=True)
    with pytest.raises(ValueError, match="method must be one of"):
        predict_images(model, items, method="predict_frame_new_raters")
    with pytest.raises(TypeError, match="takes no parameters"):
        predict_images(LBPFeatures().fit([items[good[0]]]), items, method="transform", new_raters=True)


def test_predict_images_checks_its_arguments(rated, fitted):
    X, _ = rated
    with pytest.raises(ValueError, match="batch_size"):
        predict_images(fitted, X[:2], batch_size=0)
    with pytest.raises(ValueError, match="method must be one of"):
        predict_images(load_pretrained(), X[:2], method="transform")


def test_skip_nan_rows_refuses_all_nan_and_keeps_1d_targets():
    X = np.array([[np.nan, 1.0], [np.nan, 2.0]])
    with pytest.raises(ValueError, match="every one of the 2 rows"):
        SkipNaNRows(Ridge()).fit(X, [1.0, 2.0])
    Xg = np.array([[0.0], [1.0], [2.0], [np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = SkipNaNRows(Ridge(alpha=1e-9)).fit(Xg, [1.0, 3.0, 5.0, 0.0])
    assert m.predict([[3.0], [np.nan]]).shape == (2,)
    np.testing.assert_allclose(m.predict([[3.0]]), [7.0], atol=1e-6)


def test_frames_are_indexed_by_the_paths(mixed, tmp_path):
    """Given paths, ``predict_frame`` and ``predict_images``' frame are indexed
    by them (in input order, a repeated path repeated); given arrays, 0..n-1."""
    from skimage import data
    from PIL import Image

    model = load_pretrained()
    a, b = tmp_path / "cat.png", tmp_path / "coffee.png"
    Image.fromarray(data.chelsea()).save(a)
    Image.fromarray(data.coffee()).save(b)
    paths = [str(b), a, str(tmp_path / "missing.jpg"), str(b)]  # a PathLike among strings
    frame = model.predict_frame([paths[0], paths[1], paths[3]])
    assert frame.index.name == "path"
    assert list(frame.index) == [str(b), str(a), str(b)]
    arrays = model.predict_frame([data.coffee(), data.chelsea()])
    assert list(arrays.index) == [0, 1]
    np.testing.assert_allclose(arrays["valence"].to_numpy(), frame["valence"].to_numpy()[:2],
                               atol=0.05)  # PNG round trip: equal pixels
    res = predict_images(model, paths, method="predict_frame")
    assert list(res.predictions.index) == [str(p) for p in paths]
    assert res.predictions.index.name == "path"
    assert list(res.predictions["error"].isna()) == [True, True, False, True]
    assert res.predictions["error"].iloc[2] == "file not found"


def test_warnings_name_the_users_line_and_print_once_per_line():
    """A bad image inside a pipeline warns at the line that called the
    pipeline (not scikit-learn's wrapper or a package module), and Python's
    default filter then shows it once however often that line runs."""
    import warnings

    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline, make_union

    from sklearn_emotion import ColorFeatures
    from sklearn_emotion.models import SkipNaNRows

    good = [np.full((16, 16, 3), v, np.uint8) for v in range(0, 250, 10)]
    X = good + ["/nonexistent/a.jpg"]
    pipe = make_pipeline(make_union(ColorFeatures(on_error="nan"), LBPFeatures(on_error="nan")),
                         SkipNaNRows(Ridge()))
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("default")
        pipe.fit(X, np.arange(len(X), dtype=float))
        for _ in range(3):
            pipe.predict(X)
    where = {(w.filename, w.lineno) for w in got}
    assert {f for f, _ in where} == {__file__}, where
    texts = [str(w.message) for w in got]
    # fit: two families and SkipNaNRows; predict: the two families, once for three calls
    assert len(texts) == 5, texts
    assert sum("ColorFeatures: 1 image(s) could not be loaded" in t for t in texts) == 2

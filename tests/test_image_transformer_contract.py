"""The contract scikit-learn's checks cannot cover for image transformers."""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.base import clone

from sklearn_emotion import ImageBatchError

from ._instances import all_estimators, is_image_estimator, make_instance

TRANSFORMERS = [c for c in all_estimators() if is_image_estimator(c)
                and hasattr(c, "transform")]
ids = [c.__name__ for c in TRANSFORMERS]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    rng = np.random.default_rng(1)
    d = tmp_path_factory.mktemp("imgs")
    arrays = []
    for i in range(3):
        a = rng.integers(0, 256, (48 + 8 * i, 64, 3), dtype=np.uint8)
        a[: 20, : 20] = (30 * i, 200, 90)  # some structure
        arrays.append(a)
    paths = []
    for i, a in enumerate(arrays):
        p = d / f"img{i}.png"  # lossless: the decoded file equals the array
        Image.fromarray(a).save(p)
        paths.append(str(p))
    return arrays, paths


@pytest.fixture(scope="module")
def reference(images):
    arrays, paths = images
    out = {}
    for cls in TRANSFORMERS:
        out[cls.__name__] = make_instance(cls).fit(paths).transform(paths)
    return out


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=ids)
def test_init_does_no_work_and_clone_roundtrip(cls):
    est = make_instance(cls)
    params = est.get_params()
    assert not [k for k in vars(est) if k.endswith("_") or k == "_lazy"]
    c = clone(est)
    assert c.get_params() == params and c is not est
    assert est.set_params(**params) is est
    # invalid values are accepted by __init__ and reported by fit
    bad = cls(batch_size=-1)
    with pytest.raises(ValueError, match="batch_size"):
        bad.fit([np.zeros((8, 8, 3), np.uint8)])


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=ids)
def test_fit_returns_self_and_fit_transform(cls, images, reference):
    arrays, paths = images
    est = make_instance(cls)
    assert est.fit(paths) is est
    F = reference[cls.__name__]
    assert F.ndim == 2 and F.shape[0] == 3 and np.isfinite(F).all()
    assert F.shape[1] == est.n_features_out_ == len(est.get_feature_names_out())
    np.testing.assert_allclose(make_instance(cls).fit_transform(paths), F, rtol=1e-6, atol=1e-9)
    # stable feature names across fits
    assert list(make_instance(cls).fit(arrays).get_feature_names_out()) == list(
        est.get_feature_names_out()
    )
    assert len(set(est.get_feature_names_out())) == F.shape[1]


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=ids)
def test_containers_and_path_vs_array(cls, images, reference):
    arrays, paths = images
    F = reference[cls.__name__]
    est = make_instance(cls).fit(paths)
    for X in (tuple(paths), np.array(paths, dtype=object), pd.Series(paths)):
        np.testing.assert_allclose(est.transform(X), F, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(est.transform(arrays), F, rtol=1e-5, atol=1e-7)
    mixed = [paths[0], arrays[1], Image.open(paths[2])]
    np.testing.assert_allclose(est.transform(mixed), F, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=ids)
def test_set_output_pandas(cls, images, reference):
    arrays, paths = images
    est = make_instance(cls).set_output(transform="pandas")
    df = est.fit_transform(pd.Series(paths, index=[10, 11, 12]))
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == list(est.get_feature_names_out())
    assert list(df.index) == [10, 11, 12]
    np.testing.assert_allclose(df.to_numpy(), reference[cls.__name__], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=ids)
def test_pickle_roundtrip(cls, images, reference, tmp_path):
    arrays, paths = images
    est = make_instance(cls).fit(paths)
    est.transform(paths[:1])  # builds lazy state (tables, filter banks, runners)
    est2 = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(est2.transform(paths), reference[cls.__name__], rtol=1e-6)
    joblib.dump(est, tmp_path / "m.joblib")
    est3 = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_allclose(est3.transform(paths), reference[cls.__name__], rtol=1e-6)


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=ids)
def test_bad_file_keeps_good_results(cls, images, reference, tmp_path):
    arrays, paths = images
    bad = tmp_path / "broken.jpg"
    bad.write_text("not a jpeg")
    X = [paths[0], str(bad), paths[1], str(tmp_path / "missing.png")]
    est = make_instance(cls).fit(X)
    with pytest.raises(ImageBatchError) as exc:
        est.transform(X)
    msg = str(exc.value)
    assert "2 image(s)" in msg and str(bad) in msg and "missing.png: file not found" in msg
    assert sorted(exc.value.errors) == [1, 3]
    F = exc.value.features
    np.testing.assert_allclose(F[[0, 2]], reference[cls.__name__][:2], rtol=1e-6)
    assert np.isnan(F[[1, 3]]).all()
    est.set_params(on_error="nan")
    with pytest.warns(UserWarning, match="2 image\\(s\\) could not be loaded"):
        F2 = est.transform(X)
    np.testing.assert_array_equal(F2, F)


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=ids)
def test_n_jobs_and_batches_agree(cls, images, reference):
    arrays, paths = images
    est = make_instance(cls).set_params(n_jobs=2, batch_size=1)
    np.testing.assert_allclose(est.fit_transform(paths), reference[cls.__name__], rtol=1e-6)


@pytest.mark.parametrize("cls", TRANSFORMERS, ids=ids)
def test_unfitted_transform_raises(cls, images):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make_instance(cls).transform(images[1])

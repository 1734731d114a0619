"""AffectHead on feature matrices, AffectModel as its image front, and the
model folder's manifest.

scikit-learn's data checks feed 1-D targets, and the head's y is exactly
(n, 2) valence and arousal, so the checks that apply are written out here
with two targets: fit returns self, clone, pickle, repeated fit, order and
subset invariance, the width check, predict leaving the estimator as it was.
"""

import copy
import json
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sklearn_emotion import AffectHead, AffectModel, PooledLayerFeatures, load_pretrained


def _data(n=120, p=12, seed=0):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, p))
    y = np.c_[5 + F[:, 0] - 0.5 * F[:, 1], 4.5 + 0.6 * F[:, 2]] + 0.4 * rng.normal(size=(n, 2))
    return F, np.clip(y, 1, 9), 3 + 2 * rng.normal(size=(40, p))


def _fitted(**params):
    F, y, Fo = _data()
    return AffectHead(adapt_components=6, **params).fit(F, y, X_other=Fo), F, y


def _all_outputs(head, X):
    frame = head.predict_frame(X)
    return [head.predict(X), head.predict_interval(X), head.ood_score(X), frame.to_numpy(float)
            if "emotion" not in frame else frame.drop(columns="emotion").to_numpy(float)]


def test_fit_returns_self_and_refits_to_the_same_numbers():
    F, y, Fo = _data()
    head = AffectHead(adapt_components=6)
    assert head.fit(F, y, X_other=Fo) is head
    first = _all_outputs(head, F[:20])
    head.fit(F, y, X_other=Fo)
    for a, b in zip(first, _all_outputs(head, F[:20])):
        np.testing.assert_array_equal(a, b)
    assert head.n_features_in_ == 12 and head.n_train_ == 120


def test_not_fitted_and_wrong_width_are_refused():
    F, y, _ = _data()
    with pytest.raises(NotFittedError):
        AffectHead().predict(F)
    head, F, y = _fitted()
    with pytest.raises(ValueError, match="X has 11 features, but AffectHead is expecting 12"):
        head.predict(F[:, :11])
    with pytest.raises(ValueError, match=r"y must be \(n_samples, 2\)"):
        AffectHead().fit(F, y[:, 0])
    with pytest.raises(ValueError, match="X must be a 2-D array"):
        head.predict(F[0])


def test_clone_pickle_and_predict_leave_the_head_as_it_was():
    head, F, y = _fitted()
    c = clone(head)
    assert c.get_params() == head.get_params() and not hasattr(c, "main_")
    before = {k: copy.deepcopy(v) for k, v in vars(head).items()}
    out = _all_outputs(head, F[:30])
    for k, v in vars(head).items():  # predict changed nothing
        assert type(v) is type(before[k])
    back = pickle.loads(pickle.dumps(head))
    for a, b in zip(out, _all_outputs(back, F[:30])):
        np.testing.assert_array_equal(a, b)


def test_rows_are_independent_of_order_and_subset():
    head, F, y = _fitted()
    order = np.random.default_rng(1).permutation(40)
    full = head.predict_interval(F[:40])
    np.testing.assert_allclose(head.predict_interval(F[:40][order]), full[order], rtol=1e-12)
    np.testing.assert_allclose(head.predict_interval(F[5:9]), full[5:9], rtol=1e-12)
    # a row that is not finite (an unreadable image) is NaN, the others unchanged
    Fn = F[:40].copy()
    Fn[3] = np.nan
    got = head.predict(Fn)
    assert np.isnan(got[3]).all()
    np.testing.assert_allclose(np.delete(got, 3, 0), np.delete(head.predict(F[:40]), 3, 0))


def test_predict_frame_takes_an_index():
    head, F, y = _fitted()
    frame = head.predict_frame(F[:3], index=["a.jpg", "b.jpg", "c.jpg"])
    assert list(frame.index) == ["a.jpg", "b.jpg", "c.jpg"]
    np.testing.assert_allclose(frame[["valence", "arousal"]].to_numpy(), head.predict(F[:3]))


def test_adapt_returns_a_head_that_shares_nothing():
    head, F, y = _fitted()
    adapted = head.adapt(F[:30], y[:30] + [0.8, -0.3], strategies=("keep", "shift"))
    assert getattr(head, "adaptation_", None) is None
    mine = [v for k, v in vars(head).items() if isinstance(v, np.ndarray)]
    theirs = [v for k, v in vars(adapted).items() if isinstance(v, np.ndarray)]
    assert mine and all(not np.shares_memory(a, b) for a in mine for b in theirs)
    assert adapted.main_ is not head.main_ and adapted.folds_[0] is not head.folds_[0]
    assert not np.shares_memory(adapted.main_.coef, head.main_.coef)
    before = head.predict(F[:5])
    adapted.main_.coef[:] = 0  # vandalise the copy: the original is untouched
    np.testing.assert_array_equal(head.predict(F[:5]), before)


def test_the_image_model_is_its_features_plus_its_head():
    """AffectModel fitted on images equals AffectHead fitted on their features."""
    from skimage import data

    imgs = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.camera()]
    rng = np.random.default_rng(0)
    items, y = [], []
    for i in range(30):  # crops of five samples: 30 distinct images
        im = imgs[i % 5]
        r, c = rng.integers(0, im.shape[0] // 4), rng.integers(0, im.shape[1] // 4)
        items.append(np.ascontiguousarray(im[r:r + im.shape[0] // 2, c:c + im.shape[1] // 2]))
        y.append([rng.uniform(2, 8), rng.uniform(2, 7)])
    y = np.array(y)
    feats = PooledLayerFeatures(batch_size=8)
    model = AffectModel(features=feats, cv=3, ood_examples=0, adapt_components=4).fit(items, y)
    F = clone(feats).fit_transform(items)
    head = AffectHead(cv=3, adapt_components=4).fit(F, y)
    np.testing.assert_allclose(model.predict(items[:6]), head.predict(F[:6]), rtol=1e-10)
    np.testing.assert_allclose(model.predict_interval(items[:6]), head.predict_interval(F[:6]),
                               rtol=1e-10)
    assert model.alpha_.tolist() == head.alpha_.tolist()  # read through the model
    # an adapted model shares nothing mutable with the original
    adapted = model.adapt(items[:25], y[:25] + 0.5, strategies=("keep", "shift"))
    assert adapted.features_ is not model.features_ and adapted.head_ is not model.head_
    assert getattr(model, "adaptation_", None) is None


# ----------------------------------------------------------------- manifest
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    head_model = load_pretrained("v1")
    path = tmp_path_factory.mktemp("saved") / "m"
    head_model.save(path, metadata={"note": "test"})
    return head_model, path


def test_a_saved_folder_is_sealed_by_its_manifest(saved):
    model, path = saved
    names = sorted(p.name for p in path.iterdir())
    assert names == ["arrays.npz", "manifest.json", "model.json"]
    raw = (path / "manifest.json").read_bytes()
    body, _, digest = raw.rpartition(b"\nsklearn-emotion sha256 ")
    import hashlib

    assert hashlib.sha256(body).hexdigest().encode() == digest  # the store's seal
    files = json.loads(body)["files"]
    for name in ("model.json", "arrays.npz"):
        data = (path / name).read_bytes()
        assert files[name] == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    back = load_pretrained(path)
    from skimage import data as skdata

    np.testing.assert_allclose(back.predict([skdata.astronaut()]),
                               model.predict([skdata.astronaut()]), atol=1e-6)


def test_a_mixed_or_half_written_folder_is_refused(saved, tmp_path):
    import shutil

    model, path = saved
    other = tmp_path / "other"
    model.save(other, metadata={"note": "another"})  # another description, same arrays
    mixed = tmp_path / "mixed"
    shutil.copytree(path, mixed)
    shutil.copy(other / "model.json", mixed / "model.json")
    with pytest.raises(ValueError, match=r"model.json: does not match .*manifest.json \(a "
                                         r"half-written or mixed model folder"):
        load_pretrained(mixed)
    cut = tmp_path / "cut"
    shutil.copytree(path, cut)
    raw = (cut / "arrays.npz").read_bytes()
    (cut / "arrays.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"arrays.npz: does not match"):
        load_pretrained(cut)
    bad = tmp_path / "bad-manifest"
    shutil.copytree(path, bad)
    (bad / "manifest.json").write_bytes(b'{"files": {}}')
    with pytest.raises(ValueError, match="not a valid manifest"):
        load_pretrained(bad)


def test_todays_folders_without_a_manifest_still_load():
    from sklearn_emotion.pretrained import SHIPPED_MODELS

    for name, folder in SHIPPED_MODELS.items():
        assert not (folder / "manifest.json").exists()
        assert load_pretrained(name).n_features_in_ > 0


def test_an_interrupted_save_leaves_the_old_folder(saved, tmp_path, monkeypatch):
    import shutil

    model, path = saved
    dest = tmp_path / "dest"
    shutil.copytree(path, dest)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError, match="disk full"):
        model.save(dest, metadata={"note": "new"})
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]  # no scratch folder left
    monkeypatch.undo()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds other files"):
        model.save(dest)

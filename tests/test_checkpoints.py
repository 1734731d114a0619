"""The reproduction's checkpoints (``sklearn_emotion.reproduce._checkpoints``):
their keys, and every way a checkpoint on disk can be wrong or hostile."""

import io
import json
import os
import shutil
import time

import numpy as np
import pytest

from sklearn_emotion import _keys, _store
from sklearn_emotion.reproduce._checkpoints import RECORD_FIELDS, FoldCheckpoints

from .test_store import _edit, package_copy  # noqa: F401  (a fixture)


def _record(mse):
    """A fold record as the reproduction writes it (r may be NaN)."""
    rec = {f: 0.5 for f in RECORD_FIELDS}
    rec["test_mse_V"] = mse
    return rec


def test_checkpoint_keys_change_with_what_decides_a_fold(tmp_path, package_copy):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from sklearn_emotion import FFNNRegressor
    from sklearn_emotion.pipeline import make_scaler

    store = FoldCheckpoints(tmp_path / "ckpt")
    X, y = np.arange(12.0).reshape(6, 2), np.arange(12.0).reshape(6, 2)
    tr, te = np.arange(4), np.arange(4, 6)
    base = store.key(Ridge(), True, X, y, tr, te)
    assert base == store.key(Ridge(), True, X.copy(), y, tr, te)
    assert base != store.key(Ridge(alpha=2), True, X, y, tr, te)
    assert base != store.key(Ridge(), False, X, y, tr, te)
    assert base != store.key(Ridge(), True, X + 1e-9, y, tr, te)
    assert base != store.key(Ridge(), True, X, y, np.arange(1, 5), te)
    # the targets (a run resumed with corrected ratings) and the test indices
    assert base != store.key(Ridge(), True, X, y + 1e-9, tr, te)
    y2 = y.copy()
    y2[5, 1] = 7.0
    assert base != store.key(Ridge(), True, X, y2, tr, te)
    assert base != store.key(Ridge(), True, X, y, tr, np.array([5, 4]))
    assert base != store.key(Ridge(), True, X, y, tr, te[:1])
    # paths: a rewritten file (new size) misses
    img = tmp_path / "a.jpg"
    img.write_bytes(b"1")
    k1 = store.key(Ridge(), True, np.array([str(img)], dtype=object), y[:1], [0], [0])
    img.write_bytes(b"22")
    assert k1 != store.key(Ridge(), True, np.array([str(img)], dtype=object), y[:1], [0], [0])
    # code: a changed source the fit imports misses; any other does not
    ffnn = make_pipeline(make_scaler(), FFNNRegressor(max_iter=3))
    assert "sklearn_emotion.models.ffnn" in _keys.modules_of(ffnn)
    assert _keys.modules_of(Ridge()) == ()
    k_ffnn = store.key(ffnn, True, X, y, tr, te)
    _edit(package_copy / "datasets" / "_oasis.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert store.key(ffnn, True, X, y, tr, te) == k_ffnn  # not imported by the fit
    assert store.key(Ridge(), True, X, y, tr, te) == base
    _edit(package_copy / "models" / "ffnn.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert store.key(ffnn, True, X, y, tr, te) != k_ffnn
    _edit(package_copy / "reproduce" / "_kernel_grid.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert store.key(Ridge(), True, X, y, tr, te) != base  # the evaluation's own code
    store.save(base, _record(1.0), np.ones((2, 2)))
    assert store.load(base, n=2)[0] == _record(1.0)
    assert FoldCheckpoints(None).load(base) is None


def _reseal(path, predictions, meta):
    """A writer who recomputes the checksum of what it plants."""
    import json

    buf = io.BytesIO()
    np.savez(buf, predictions=predictions,
             __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    path.write_bytes(_store.sealed(buf.getvalue()))


def test_a_checkpoint_that_fails_its_checks_is_refitted_with_a_warning(tmp_path):
    """Edited scores, a checkpoint copied under another key, a truncated file,
    NaN or object predictions: never reported, each refitted (load gives None)."""
    store = FoldCheckpoints(tmp_path)
    a, b = "a" * 32, "b" * 32
    store.save(a, _record(1.0), np.ones((2, 2)))
    store.save(b, _record(2.0), np.zeros((2, 2)))
    rec, pred, extra = store.load(a, n=2)
    assert rec == _record(1.0) and (pred == 1).all() and extra is None
    path = tmp_path / f"{a}.npzc"
    good = path.read_bytes()

    def expect(problem):
        with pytest.warns(UserWarning, match=rf"checkpoint .*{a}\.npzc: (holding .*)?{problem}"):
            assert store.load(a, n=2) is None
        path.write_bytes(good)

    planted = good.replace(b'"test_mse_V": 1.0', b'"test_mse_V": 0.5')
    assert planted != good
    path.write_bytes(planted)  # planted score, checksum left as it was
    expect("checksum mismatch")
    shutil.copy(tmp_path / f"{b}.npzc", path)  # another fold's checkpoint
    expect("not the checkpoint of this fold")
    path.write_bytes(good[: len(good) // 2])
    expect("no checksum")
    _reseal(path, np.full((2, 2), np.nan), {"key": a, "record": _record(1.0)})
    expect("not finite")
    _reseal(path, np.ones((2, 2), np.float32), {"key": a, "record": _record(1.0)})
    expect("dtype float32")
    _reseal(path, np.array([{"x": 1}], dtype=object), {"key": a, "record": {}})
    expect("unreadable")
    _reseal(path, np.ones((2, 2)), ["not", "a", "record"])
    expect("not the checkpoint of this fold")
    assert store.load(a, n=2)[0] == _record(1.0)
    assert store.load("c" * 32) is None  # absent: no warning
    assert store.resumed == 2


def _good(tmp_path, key="a" * 32):
    store = FoldCheckpoints(tmp_path)
    store.save(key, _record(1.0), np.ones((3, 2)))
    return store, key, tmp_path / f"{key}.npzc"


@pytest.mark.parametrize("change, problem", [
    (lambda r: r.pop("test_r2_A"), "no number 'test_r2_A'"),
    (lambda r: r.update(test_mse_A="low"), "no number 'test_mse_A'"),
    (lambda r: r.update(fit_seconds=True), "no number 'fit_seconds'"),
    (lambda r: r.update(train_mse_V=float("inf")), "'train_mse_V' is not finite"),
    (lambda r: r.update(test_r2_V=float("nan")), "'test_r2_V' is not finite"),
], ids=["missing", "a string", "a boolean", "infinite", "NaN R²"])
def test_a_record_missing_or_forging_a_score_is_refitted(tmp_path, change, problem):
    """Every field the report reads must be there as a number, finite (r may
    be NaN: undefined for a constant prediction)."""
    store, key, path = _good(tmp_path)
    rec = _record(1.0)
    change(rec)
    _reseal(path, np.ones((3, 2)), {"key": key, "record": rec})
    with pytest.warns(UserWarning, match=problem):
        assert store.load(key, n=3) is None
    rec = _record(1.0)
    rec["test_r_A"] = float("nan")
    _reseal(path, np.ones((3, 2)), {"key": key, "record": rec})
    assert np.isnan(store.load(key, n=3)[0]["test_r_A"])


def test_predictions_of_another_folds_length_or_shape_are_refitted(tmp_path):
    store, key, path = _good(tmp_path)
    with pytest.warns(UserWarning, match="holding 3 predictions for a fold of 4 test images"):
        assert store.load(key, n=4) is None
    _reseal(path, np.ones(3), {"key": key, "record": _record(1.0)})
    with pytest.warns(UserWarning, match="shape"):
        assert store.load(key, n=3) is None
    _reseal(path, np.ones((3, 2)), {"key": key, "record": _record(1.0), "extra": ["V", "A"]})
    with pytest.warns(UserWarning, match="nested-search choice"):
        assert store.load(key, n=3) is None


def test_hostile_files_in_place_of_a_checkpoint_are_refused_at_once(tmp_path):
    """A FIFO (reading one blocks), a link to /dev/zero (never ends), a
    sparse file of 3 GB, a folder: each refused before it is read, with a
    warning naming it; the fold is refitted."""
    store, key, path = _good(tmp_path)
    for make, problem in (
            (lambda: os.mkfifo(path), "not a regular file \\(a FIFO\\)"),
            (lambda: os.symlink("/dev/zero", path), "a symbolic link"),
            (lambda: _sparse(path, 3 << 30), "3,221,225,472 bytes, more than such a file can hold"),
            (lambda: path.mkdir(), "not a regular file \\(a folder\\)")):
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        elif os.path.lexists(path):
            path.unlink()
        make()
        t0 = time.monotonic()
        with pytest.warns(UserWarning, match=problem):
            assert store.load(key, n=3) is None
        assert time.monotonic() - t0 < 5
    # a folder in its place: saving warns, and the run goes on
    with pytest.warns(UserWarning, match="could not write checkpoint .*folder"):
        store.save(key, _record(1.0), np.ones((3, 2)))


def _sparse(path, size):
    with open(path, "wb") as f:
        f.truncate(size)


def test_a_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    store, key, path = _good(tmp_path)
    from numpy.lib import format as npformat

    arr = io.BytesIO()
    npformat.write_array_header_1_0(arr, {"descr": "<f8", "fortran_order": False,
                                          "shape": (10 ** 12,)})
    arr.write(np.zeros(4).tobytes())
    buf = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("predictions.npy", arr.getvalue())
        z.writestr("__meta__.npy", _npy(np.frombuffer(
            json.dumps({"key": key, "record": _record(1.0)}).encode(), np.uint8)))
    path.write_bytes(_store.sealed(buf.getvalue()))
    with pytest.warns(UserWarning, match="header declaring 8,000,000,000,000 bytes"):
        assert store.load(key, n=3) is None


def _npy(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def test_a_forged_checkpoint_does_not_stop_the_reproduction(tmp_path):
    """A run resumed over a checkpoint whose record lacks a score refits
    that fold (it used to crash with KeyError and leave partial tables)."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold

    from sklearn_emotion.reproduce import evaluate

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(5, 1, size=(30, 2))
    cv = KFold(3, shuffle=True, random_state=0)
    store = FoldCheckpoints(tmp_path)
    first = evaluate(Ridge(), X, y, cv, joint=True, checkpoints=store)
    files = sorted(tmp_path.glob("*.npzc"))
    assert len(files) == 3
    arrays, meta = _store.read_record(files[0], ["predictions"])
    del meta["record"]["test_mse_V"]
    _reseal(files[0], arrays["predictions"], meta)
    with pytest.warns(UserWarning, match="no number 'test_mse_V'"):
        again = evaluate(Ridge(), X, y, cv, joint=True, checkpoints=FoldCheckpoints(tmp_path))
    np.testing.assert_allclose(again.oof, first.oof)
    assert [f["test_mse_V"] for f in again.folds] == pytest.approx(
        [f["test_mse_V"] for f in first.folds])


def test_a_nested_choice_round_trips(tmp_path):
    store, key, path = _good(tmp_path)
    choice = {"V": "all (object logits), C=1.0, epsilon=0.1", "A": "object logits + scene, "
              "C=3.0, epsilon=0.3"}
    store.save(key, _record(1.0), np.ones((3, 2)), choice)
    assert store.load(key, n=3)[2] == choice


def test_old_parameter_names_work_for_one_release_with_a_warning(tmp_path):
    """Each renamed public parameter: the old name still works, with a
    FutureWarning naming the new one; both names at once are refused."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold

    from sklearn_emotion.collection import score_files
    from sklearn_emotion.reproduce import evaluate
    from sklearn_emotion.resources import fetch

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    cv = KFold(2, shuffle=True, random_state=0)
    with pytest.warns(FutureWarning, match="`store` was renamed `checkpoints`"):
        old = evaluate(Ridge(), X, y, cv, joint=True, store=FoldCheckpoints(tmp_path / "a"))
    new = evaluate(Ridge(), X, y, cv, joint=True, checkpoints=FoldCheckpoints(tmp_path / "b"))
    np.testing.assert_array_equal(old.oof, new.oof)
    with pytest.raises(ValueError, match="pass checkpoints only"):
        evaluate(Ridge(), X, y, cv, joint=True, checkpoints=FoldCheckpoints(tmp_path),
                 store=FoldCheckpoints(tmp_path))
    with pytest.warns(FutureWarning, match="`progress` was renamed `verbose`"):
        assert fetch("color/w2c.npy", progress=False).is_file()
    with pytest.warns(FutureWarning, match="`progress` was renamed `verbose`"):
        score_files(None, [], tmp_path / "x.csv", progress=False)  # nothing to score
    with pytest.raises(ValueError, match="pass verbose only"):
        score_files(None, [], tmp_path / "x.csv", verbose=True, progress=False)

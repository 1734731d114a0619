"""The store's key function, records and checkpoints (``sklearn_emotion._store``).

The per-image entries and their claims are tested in ``test_cache.py``, the
Dask shards in ``test_dask.py``.
"""

import io
import shutil

import numpy as np
import pytest

from sklearn_emotion import _store


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the package's source that ``code_token`` reads instead."""
    root = tmp_path / "sklearn_emotion"
    shutil.copytree(_store._ROOT, root, ignore=shutil.ignore_patterns("__pycache__", "*.npz",
                                                                       "*.json", "*.tflite"))
    monkeypatch.setattr(_store, "_ROOT", root)
    _store._module_code.cache_clear()
    _store.code_token.cache_clear()
    yield root
    _store._module_code.cache_clear()
    _store.code_token.cache_clear()


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    _store._module_code.cache_clear()
    _store.code_token.cache_clear()


def test_code_token_follows_the_imports_and_ignores_documentation(package_copy):
    ffnn = "sklearn_emotion.models.ffnn"
    color = "sklearn_emotion.features.color"
    t_ffnn, t_color = _store.code_token(ffnn), _store.code_token(color)
    # a docstring or a comment changes nothing
    _edit(package_copy / "models" / "_training.py", '"""', '"""Edited. ')
    _edit(package_copy / "models" / "ffnn.py", "\nimport", "\n# a comment\nimport")
    assert _store.code_token(ffnn) == t_ffnn
    # code in a module ffnn.py imports changes ffnn's token, not colour's
    _edit(package_copy / "models" / "_training.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert _store.code_token(ffnn) != t_ffnn
    assert _store.code_token(color) == t_color
    # an import inside a function counts too: colour imports _image lazily or at the top
    t_color = _store.code_token(color)
    _edit(package_copy / "_image.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert _store.code_token(color) != t_color
    # the store's own code is not part of any key: it computes nothing
    t_color = _store.code_token(color)
    _edit(package_copy / "_store.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert _store.code_token(color) == t_color
    with pytest.raises(ModuleNotFoundError, match="sklearn_emotion.models.renamed"):
        _store.code_token("sklearn_emotion.models.renamed")


def test_code_token_reaches_a_module_imported_only_inside_a_function(package_copy):
    (package_copy / "extra_helper.py").write_text("VALUE = 1\n")
    _edit(package_copy / "models" / "ffnn.py", "\ndef ",
          "\ndef _late():\n    from ..extra_helper import VALUE\n    return VALUE\n\n\ndef ")
    before = _store.code_token("sklearn_emotion.models.ffnn")
    _edit(package_copy / "extra_helper.py", "VALUE = 1", "VALUE = 2")
    assert _store.code_token("sklearn_emotion.models.ffnn") != before


def test_store_key_depends_on_parts_code_and_libraries(monkeypatch):
    k = _store.store_key("a", 1, code=("sklearn_emotion.models.ffnn",))
    assert k == _store.store_key("a", 1, code=("sklearn_emotion.models.ffnn",))
    assert k != _store.store_key("a", 2, code=("sklearn_emotion.models.ffnn",))
    assert k != _store.store_key("a", 1, code=("sklearn_emotion.models.cnn",))
    monkeypatch.setattr(_store, "library_versions", lambda: (("numpy", "0.0"),))
    assert k != _store.store_key("a", 1, code=("sklearn_emotion.models.ffnn",))


def test_checkpoint_keys_change_with_what_decides_a_fold(tmp_path, package_copy):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from sklearn_emotion import FFNNRegressor
    from sklearn_emotion.pipeline import make_scaler

    store = _store.FoldStore(tmp_path / "ckpt")
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
    assert "sklearn_emotion.models.ffnn" in _store.modules_of(ffnn)
    assert _store.modules_of(Ridge()) == ()
    k_ffnn = store.key(ffnn, True, X, y, tr, te)
    _edit(package_copy / "datasets" / "_oasis.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert store.key(ffnn, True, X, y, tr, te) == k_ffnn  # not imported by the fit
    assert store.key(Ridge(), True, X, y, tr, te) == base
    _edit(package_copy / "models" / "ffnn.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert store.key(ffnn, True, X, y, tr, te) != k_ffnn
    _edit(package_copy / "reproduce" / "_kernel_grid.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert store.key(Ridge(), True, X, y, tr, te) != base  # the evaluation's own code
    store.save(base, {"test_mse_V": 1.0}, np.ones((2, 2)))
    assert store.load(base)[0] == {"test_mse_V": 1.0}
    assert _store.FoldStore(None).load(base) is None


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
    store = _store.FoldStore(tmp_path)
    a, b = "a" * 32, "b" * 32
    store.save(a, {"test_mse_V": 1.0}, np.ones((2, 2)))
    store.save(b, {"test_mse_V": 2.0}, np.zeros((2, 2)))
    rec, pred, extra = store.load(a)
    assert rec == {"test_mse_V": 1.0} and (pred == 1).all() and extra is None
    path = tmp_path / f"{a}.npzc"
    good = path.read_bytes()

    def expect(problem):
        with pytest.warns(UserWarning, match=rf"checkpoint .*{a}\.npzc: (holding .*)?{problem}"):
            assert store.load(a) is None
        path.write_bytes(good)

    planted = good.replace(b'"test_mse_V": 1.0', b'"test_mse_V": 0.1')
    assert planted != good
    path.write_bytes(planted)  # planted score, checksum left as it was
    expect("checksum mismatch")
    shutil.copy(tmp_path / f"{b}.npzc", path)  # another fold's checkpoint
    expect("not the checkpoint of this fold")
    path.write_bytes(good[: len(good) // 2])
    expect("no checksum")
    _reseal(path, np.full((2, 2), np.nan), {"key": a, "record": {"test_mse_V": 1.0}})
    expect("not finite")
    _reseal(path, np.ones((2, 2), np.float32), {"key": a, "record": {"test_mse_V": 1.0}})
    expect("dtype float32")
    _reseal(path, np.array([{"x": 1}], dtype=object), {"key": a, "record": {}})
    expect("unreadable")
    _reseal(path, np.ones((2, 2)), ["not", "a", "record"])
    expect("not the checkpoint of this fold")
    assert store.load(a)[0] == {"test_mse_V": 1.0}
    assert store.load("c" * 32) is None  # absent: no warning
    assert store.resumed == 2


def test_records_round_trip_and_name_what_is_missing(tmp_path):
    path = tmp_path / "r.npzc"
    _store.write_record(path, {"x": np.arange(3.0)}, {"note": "ok"})
    arrays, meta = _store.read_record(path, ["x"])
    np.testing.assert_array_equal(arrays["x"], [0.0, 1.0, 2.0])
    assert meta == {"note": "ok"}
    with pytest.raises(ValueError, match="unreadable .*KeyError"):
        _store.read_record(path, ["y"])
    with pytest.raises(FileNotFoundError):
        _store.read_record(tmp_path / "none.npzc", ["x"])
    (tmp_path / "d.npzc").mkdir()
    with pytest.raises(ValueError, match="unreadable .*IsADirectoryError"):
        _store.read_record(tmp_path / "d.npzc", ["x"])

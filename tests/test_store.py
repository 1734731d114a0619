"""The store's key function, records and checkpoints (``sklearn_emotion._store``).

The per-image entries and their claims are tested in ``test_cache.py``, the
Dask shards in ``test_dask.py``.
"""

import shutil

import numpy as np
import pytest

from sklearn_emotion import _feature_cache, _keys, _store


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the package's source that ``code_token`` reads instead."""
    root = tmp_path / "sklearn_emotion"
    shutil.copytree(_keys._ROOT, root, ignore=shutil.ignore_patterns("__pycache__", "*.npz",
                                                                       "*.json", "*.tflite"))
    monkeypatch.setattr(_keys, "_ROOT", root)
    _keys._module_code.cache_clear()
    _keys.code_token.cache_clear()
    yield root
    _keys._module_code.cache_clear()
    _keys.code_token.cache_clear()


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    _keys._module_code.cache_clear()
    _keys.code_token.cache_clear()


def test_code_token_follows_the_imports_and_ignores_documentation(package_copy):
    ffnn = "sklearn_emotion.models.ffnn"
    color = "sklearn_emotion.features.color"
    t_ffnn, t_color = _keys.code_token(ffnn), _keys.code_token(color)
    # a docstring or a comment changes nothing
    _edit(package_copy / "models" / "_training.py", '"""', '"""Edited. ')
    _edit(package_copy / "models" / "ffnn.py", "\nimport", "\n# a comment\nimport")
    assert _keys.code_token(ffnn) == t_ffnn
    # code in a module ffnn.py imports changes ffnn's token, not colour's
    _edit(package_copy / "models" / "_training.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert _keys.code_token(ffnn) != t_ffnn
    assert _keys.code_token(color) == t_color
    # an import inside a function counts too: colour imports _image lazily or at the top
    t_color = _keys.code_token(color)
    _edit(package_copy / "_image.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert _keys.code_token(color) != t_color
    # the store's own code is not part of any key: it computes nothing
    t_color = _keys.code_token(color)
    _edit(package_copy / "_store.py", "\ndef ", "\nEDITED = 1\n\n\ndef ")
    assert _keys.code_token(color) == t_color
    # nor are the keys', the feature cache's or the claims' (imported by the base class)
    for name in ("_keys.py", "_feature_cache.py", "_claims.py"):
        _edit(package_copy / name, "\ndef ", "\nEDITED = 1\n\n\ndef ")
        assert _keys.code_token(color) == t_color, name
    with pytest.raises(ModuleNotFoundError, match="sklearn_emotion.models.renamed"):
        _keys.code_token("sklearn_emotion.models.renamed")


def test_code_token_reaches_a_module_imported_only_inside_a_function(package_copy):
    (package_copy / "extra_helper.py").write_text("VALUE = 1\n")
    _edit(package_copy / "models" / "ffnn.py", "\ndef ",
          "\ndef _late():\n    from ..extra_helper import VALUE\n    return VALUE\n\n\ndef ")
    before = _keys.code_token("sklearn_emotion.models.ffnn")
    _edit(package_copy / "extra_helper.py", "VALUE = 1", "VALUE = 2")
    assert _keys.code_token("sklearn_emotion.models.ffnn") != before


def test_store_key_depends_on_parts_code_and_libraries(monkeypatch):
    k = _keys.store_key("a", 1, code=("sklearn_emotion.models.ffnn",))
    assert k == _keys.store_key("a", 1, code=("sklearn_emotion.models.ffnn",))
    assert k != _keys.store_key("a", 2, code=("sklearn_emotion.models.ffnn",))
    assert k != _keys.store_key("a", 1, code=("sklearn_emotion.models.cnn",))
    monkeypatch.setattr(_keys, "library_versions", lambda: (("numpy", "0.0"),))
    assert k != _keys.store_key("a", 1, code=("sklearn_emotion.models.ffnn",))


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
    with pytest.raises(ValueError, match="not a regular file \\(a folder\\)"):
        _store.read_record(tmp_path / "d.npzc", ["x"])


def test_code_token_follows_every_form_of_import(package_copy):
    """``import sklearn_emotion.x``, ``from . import x`` and ``from .x import y``
    all bring x's code into the token; the first statement after a module's
    docstring is code too."""
    ffnn = "sklearn_emotion.models.ffnn"
    forms = {"extra_abs": "import sklearn_emotion.extra_abs",
             "extra_rel": "from .. import extra_rel",
             "extra_from": "from sklearn_emotion.extra_from import VALUE as _V"}
    for name, line in forms.items():
        (package_copy / f"{name}.py").write_text('"""Doc."""\nVALUE = 1\n')
        _edit(package_copy / "models" / "ffnn.py", "\ndef ", f"\n{line}\n\n\ndef ")
        before = _keys.code_token(ffnn)
        _edit(package_copy / f"{name}.py", "VALUE = 1", "VALUE = 2")  # right after the docstring
        assert _keys.code_token(ffnn) != before, line
    # a module outside the package never enters
    before = _keys.code_token(ffnn)
    _edit(package_copy / "models" / "ffnn.py", "\ndef ", "\nimport json as _json_unused\n\n\ndef ")
    assert _keys.code_token(ffnn) != before  # ffnn's own code changed...
    assert "json" not in str(_keys._imported_modules(
        "sklearn_emotion.models.ffnn", __import__("ast").parse(
            (package_copy / "models" / "ffnn.py").read_text()), False))


def test_modules_of_names_the_package_classes_inside_a_model():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    from sklearn_emotion import FFNNRegressor
    from sklearn_emotion.models import SkipNaNRows
    from sklearn_emotion.pipeline import make_scaler

    assert _keys.modules_of(Ridge()) == ()
    assert _keys.modules_of(("a spec", 1, [2.0])) == ()  # not an estimator at all
    assert _keys.modules_of(FFNNRegressor) == ()  # a class is not a model
    pipe = make_pipeline(make_scaler(), SkipNaNRows(FFNNRegressor()))
    assert set(_keys.modules_of(pipe)) == {"sklearn_emotion.models.ffnn",
                                            "sklearn_emotion.models._nan_rows"}
    assert _keys.modules_of(FFNNRegressor()) == ("sklearn_emotion.models.ffnn",)


def test_items_token_by_hand(tmp_path):
    import joblib

    a = np.arange(6.0).reshape(3, 2)
    assert _keys.items_token(a) == joblib.hash(a)
    f = tmp_path / "x.jpg"
    f.write_bytes(b"12345")
    st = f.stat()
    want = (str(f), 5, st.st_mtime_ns)
    assert _keys.items_token(np.array([str(f)], dtype=object)) == [want]
    assert _keys.items_token([str(f), str(tmp_path / "gone.jpg")]) == [
        want, (str(tmp_path / "gone.jpg"), None, None)]
    assert _keys.items_token(f) == want


def test_settle_collects_a_peer_entry_and_copies_or_recomputes_repeats(tmp_path):
    """The claim protocol's end, by hand: key "b" is a peer's, "a" is
    this worker's and repeated; a repeat of a failed key is recomputed."""
    peer = _feature_cache.FeatureCache(tmp_path, "ns", owner="peer")
    me = _feature_cache.FeatureCache(tmp_path, "ns", owner="me")
    assert peer.claim("b")
    keys = ["a", "b", "a", None]
    res = me.reserve(keys, 2)
    assert (res.mine, res.theirs, res.repeats, res.hits) == ([0], [1], {2: 0}, {})
    out = np.full((4, 2), np.nan)
    out[0] = [1.0, 2.0]
    me.put("a", out[0])
    peer.put("b", np.array([3.0, 4.0]))
    peer.release("b")
    asked = []
    filled = me.settle(res, keys, out, asked.append, lambda k: False)
    assert filled == 2 and asked == []
    np.testing.assert_array_equal(out[:3], [[1, 2], [3, 4], [1, 2]])
    assert np.isnan(out[3]).all()
    assert not list(tmp_path.rglob("*.claim"))  # every claim of mine dropped

    # the first "c" failed: its repeat is computed again (for its own error)
    keys = ["c", "c"]
    res = me.reserve(keys, 2)
    out = np.full((2, 2), np.nan)
    asked = []
    assert me.settle(res, keys, out, asked.append, lambda k: k == 0) == 0
    assert asked == [[1]]


def test_move_into_place_replaces_a_file_or_a_folder_whole(tmp_path, monkeypatch):
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "a").write_text("old")
    new = tmp_path / ".model.saving"
    new.mkdir()
    (new / "b").write_text("new")
    _store.move_into_place(new, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["b"] and not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing left aside
    f, g = tmp_path / "f", tmp_path / ".f.tmp"
    f.write_text("old")
    g.write_text("new")
    _store.move_into_place(g, f)
    assert f.read_text() == "new" and not g.exists()
    # the final rename fails: the old folder is back, whole
    again = tmp_path / ".model.again"
    again.mkdir()
    real = _store.os.replace

    def failing(a, b):
        if str(a) == str(again):
            raise OSError("disk full")
        return real(a, b)

    monkeypatch.setattr(_store.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        _store.move_into_place(again, dest)
    monkeypatch.setattr(_store.os, "replace", real)
    assert sorted(p.name for p in dest.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.again", "f", "model"]

"""load_pretrained checks what it loads: tampered copies of the shipped model."""

import io
import json
import shutil
import zipfile

import numpy as np
import pytest

from sklearn_emotion import load_pretrained
from sklearn_emotion.pretrained import PRETRAINED_DIR


def _copy(tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(PRETRAINED_DIR, dst)
    return dst


def _rewrite(path, change):
    with np.load(path / "arrays.npz", allow_pickle=False) as z:
        A = {k: z[k] for k in z.files}
    change(A)
    np.savez_compressed(path / "arrays.npz", **A)


@pytest.mark.parametrize("change, message", [
    (lambda A: A["main_coef"].__setitem__((0, 0), np.nan), r"'main_coef' holds 1 non-finite"),
    (lambda A: A["main_coef"].__setitem__((3, 1), np.inf), r"'main_coef' holds 1 non-finite"),
    (lambda A: A["main_scale"].__setitem__(slice(None), 0.0), r"'main_scale' holds scales"),
    (lambda A: A.__setitem__("main_coef", A["main_coef"][:-1]), r"'main_coef' has shape"),
    (lambda A: A.pop("fold2_intercept"), r"'fold2_intercept' is missing"),
])
def test_tampered_arrays_are_refused(tmp_path, change, message):
    path = _copy(tmp_path)
    _rewrite(path, change)
    with pytest.raises(ValueError, match=message):
        load_pretrained(path)


def test_a_member_that_unpacks_beyond_its_header_is_refused_before_reading(tmp_path):
    """A small npz whose member claims a small array but unpacks to 50 MB."""
    path = _copy(tmp_path)
    with np.load(path / "arrays.npz", allow_pickle=False) as z:
        A = {k: z[k] for k in z.files}
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "<f4", "fortran_order": False, "shape": A["main_coef"].shape})
    with zipfile.ZipFile(path / "arrays.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in A.items():
            if k == "main_coef":
                zf.writestr("main_coef.npy", head.getvalue() + bytes(50_000_000))
            else:
                buf = io.BytesIO()
                np.save(buf, v, allow_pickle=False)
                zf.writestr(f"{k}.npy", buf.getvalue())
    assert (path / "arrays.npz").stat().st_size < 12_000_000  # the member claims 50 MB
    with pytest.raises(ValueError, match="main_coef.npy unpacks to 50,"):
        load_pretrained(path)


def test_a_model_file_does_not_choose_where_files_are_read(tmp_path):
    path = _copy(tmp_path)
    desc = json.loads((path / "model.json").read_text())
    desc["features"]["params"]["data_home"] = "/etc"
    (path / "model.json").write_text(json.dumps(desc))
    model = load_pretrained(path)
    assert model.features_.data_home is None  # the caller's (here: $SKLEARN_EMOTION_DATA)
    desc["features"]["params"]["backbone"] = "/tmp/planted.tflite"
    (path / "model.json").write_text(json.dumps(desc))
    with pytest.raises(ValueError, match="backbone='/tmp/planted.tflite' is not a registered"):
        load_pretrained(path)


# ------------------------------------------- every value a model file holds
def _v1(tmp_path):
    from sklearn_emotion.pretrained import SHIPPED_MODELS

    dst = tmp_path / "v1"
    shutil.copytree(SHIPPED_MODELS["v1"], dst)
    return dst


def _edit_json(path, change):
    desc = json.loads((path / "model.json").read_text())
    change(desc)
    (path / "model.json").write_text(json.dumps(desc))


@pytest.mark.parametrize("change, message", [
    (lambda d: d["params"].update(clip=float("nan")), r"params refused: .*'clip'"),
    (lambda d: d["params"].update(coverage=5), r"params refused: .*'coverage'"),
    (lambda d: d["params"].update(alphas=[-1.0]), r"params refused: alphas"),
    (lambda d: d["params"].update(cv=1), r"params refused: .*'cv'"),
    (lambda d: d["features"]["params"].update(weights=None), r"weights=None is not a registered"),
    (lambda d: d["features"]["params"].update(backbone="mobilenet_v2", weights="imagenet"),
     r"weights='imagenet' is not a registered"),
    (lambda d: d["features"]["params"].update(stats=["median"]), r"feature parameters refused"),
    (lambda d: d.pop("features"), r"model.json: features must be an object"),
    (lambda d: d["features"].update(names="abc"), r"features.names must be a list"),
    (lambda d: d.update(n_train="900"), r"n_train must be an integer >= 2"),
    (lambda d: d.update(alpha=[1.0, -2.0]), r"alpha must be two positive numbers"),
    (lambda d: d.update(emotion_names=["joy"]), r"emotion_names must be null or"),
    (lambda d: d.update(ood_threshold="high"), r"ood_threshold must be a finite number"),
    (lambda d: d.update(gram_rest=-3.0), r"not a Gram matrix's"),
], ids=["clip NaN", "coverage 5", "negative alphas", "cv 1", "weights null", "imagenet download",
        "unknown stat", "no features", "names not a list", "n_train a string", "negative alpha",
        "emotion names", "threshold a string", "negative Gram tail"])
def test_every_value_of_model_json_is_checked_at_load(tmp_path, change, message):
    """Each value the loader uses is checked by the estimator's own rules or
    the format's; a refusal names the file and the field, at load, never as
    NaN predictions or an IndexError later."""
    path = _v1(tmp_path)
    _edit_json(path, change)
    with pytest.raises(ValueError, match=message) as err:
        load_pretrained(path)
    assert "model.json" in str(err.value) or "arrays.npz" in str(err.value)


@pytest.mark.parametrize("text, message", [
    ("", "not a model description"),
    ("{not json", "not a model description"),
    ("[1, 2, 3]", "the description must be a JSON object"),
    ("[" * 100_000 + "]" * 100_000, "not a model description"),
], ids=["empty", "not JSON", "a list", "deeply nested"])
def test_a_model_json_that_is_not_a_description_names_the_file(tmp_path, text, message):
    path = _v1(tmp_path)
    (path / "model.json").write_text(text)
    with pytest.raises(ValueError, match=f"model.json: {message}"):
        load_pretrained(path)


@pytest.mark.parametrize("change, message", [
    (lambda A: A.__setitem__("fold_of", A["fold_of"] + 7), r"'fold_of' must hold each fold"),
    (lambda A: A.__setitem__("fold_of", A["fold_of"].astype(np.float64)),
     r"'fold_of' must hold each fold"),
    (lambda A: A["calibration_residuals"].__setitem__((0, 0), -1.0), r"negative residuals"),
    (lambda A: A["fold_alpha"].__setitem__((0, 0), 0.0), r"'fold_alpha' holds penalties"),
    (lambda A: A["gram_eigvals"].__setitem__(0, -1.0), r"not a Gram matrix's"),
], ids=["fold index out of range", "fold index not an integer", "negative residual",
        "zero penalty", "negative eigenvalue"])
def test_array_values_out_of_range_are_refused(tmp_path, change, message):
    path = _v1(tmp_path)
    _rewrite(path, change)
    with pytest.raises(ValueError, match=message):
        load_pretrained(path)


def test_too_many_or_too_large_members_are_refused_before_reading(tmp_path, monkeypatch):
    from sklearn_emotion import _affect_checks

    path = _v1(tmp_path)
    _rewrite(path, lambda A: A.update({f"extra{i}": np.zeros(1) for i in range(40)}))
    monkeypatch.setattr(_affect_checks, "MAX_MEMBERS", 30)
    with pytest.raises(ValueError, match="arrays; a saved model holds at most 30"):
        load_pretrained(path)
    monkeypatch.setattr(_affect_checks, "MAX_MEMBERS", 1024)
    monkeypatch.setattr(_affect_checks, "MAX_TOTAL_BYTES", 1_000_000)
    with pytest.raises(ValueError, match="unpack to .* bytes in all"):
        load_pretrained(path)


@pytest.fixture(scope="module")
def adapted_folder(tmp_path_factory):
    from sklearn_emotion.pretrained import SHIPPED_MODELS

    model = load_pretrained("v1")
    rng = np.random.default_rng(0)
    F = model.main_.mean + model.main_.scale * rng.normal(size=(30, model.n_features_in_))
    y = np.clip(model._predict_features(F) + rng.normal(0, 0.5, (30, 2)), 1, 9)
    adapted = model._adapt_features(F, y, strategies=("keep", "shift", "scale", "shrunk"))
    path = tmp_path_factory.mktemp("adapted") / "m"
    adapted.save(path)
    assert SHIPPED_MODELS["v1"] != path
    return path, adapted


@pytest.mark.parametrize("change, message", [
    (lambda d, A: d["adaptation"]["targets"][0].update(strategy="magic"), r"strategy must be one"),
    (lambda d, A: d["adaptation"]["targets"][1].update(n_folds=99), r"n_folds must be an integer"),
    (lambda d, A: A.__setitem__("adapt0_fold_of", A["adapt0_fold_of"] + 5), r"adapt0_fold_of"),
    (lambda d, A: A["adapt1_residuals"].__setitem__(0, -0.5), r"adapt1_residuals must hold"),
    (lambda d, A: d["adaptation"].update(n_images=1), r"n_images must be an integer >= 2"),
], ids=["unknown strategy", "folds", "fold index", "negative residual", "n_images"])
def test_an_adapted_models_blocks_are_checked(adapted_folder, tmp_path, change, message):
    src, _ = adapted_folder
    path = tmp_path / "m"
    shutil.copytree(src, path)
    # a hostile folder comes without a manifest (or with one made to match
    # its files): every value is checked on its own
    (path / "manifest.json").unlink()
    desc = json.loads((path / "model.json").read_text())
    with np.load(path / "arrays.npz", allow_pickle=False) as z:
        A = {k: z[k] for k in z.files}
    change(desc, A)
    (path / "model.json").write_text(json.dumps(desc))
    np.savez_compressed(path / "arrays.npz", **A)
    with pytest.raises(ValueError, match=message):
        load_pretrained(path)


def test_an_adapted_model_still_loads_and_predicts_the_same(adapted_folder):
    path, adapted = adapted_folder
    back = load_pretrained(path)
    rng = np.random.default_rng(1)
    F = adapted.main_.mean + adapted.main_.scale * rng.normal(size=(5, adapted.n_features_in_))
    np.testing.assert_allclose(back._predict_features(F), adapted._predict_features(F), atol=1e-4)

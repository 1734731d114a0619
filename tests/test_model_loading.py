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

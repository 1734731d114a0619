"""sklearn-emotion train / predict on real Emotion6 images."""

import shutil

import numpy as np
import pandas as pd
import pytest

from sklearn_emotion.cli import main
from sklearn_emotion.datasets import load_emotion6


@pytest.fixture(scope="module")
def model(tmp_path_factory, data_home):
    d = tmp_path_factory.mktemp("cli")
    b = load_emotion6()
    idx = np.arange(0, 1980, 90)  # 22 images
    root = data_home / "data/emotion6/images"
    rel = [str(p).split("/images/")[1] for p in b.filenames[idx]]
    # a ratings CSV on a 0-100 scale, CRLF, names without extension, shuffled columns
    v100 = (b.target[idx, 0] - 1) / 8 * 100
    a100 = (b.target[idx, 1] - 1) / 8 * 100
    lines = ["arousal_score,image,valence_score"] + [
        f"{a:.4f},{r[:-4]},{v:.4f}" for r, v, a in zip(rel, v100, a100)]
    (d / "ratings.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    out = d / "model.joblib"
    rc = main(["train", "--dataset", str(d / "ratings.csv"), "--image-dir", str(root),
               "--filename-column", "image", "--valence-column", "valence_score",
               "--arousal-column", "arousal_score", "--scale-low", "0", "--scale-high", "100",
               "--features", "color,lbp", "--regressor", "svr", "--output", str(out), "--quiet"])
    assert rc == 0 and out.stat().st_size > 0
    return d, out, [b.filenames[i] for i in idx[:3]]


def test_predict_folder_with_bad_files(model, tmp_path, capsys):
    d, out, imgs = model
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, p in enumerate(imgs[:2]):
        shutil.copy(p, folder / f"good{i}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    csv = tmp_path / "pred.csv"
    rc = main(["predict", "--model", str(out), str(folder), imgs[2], str(tmp_path / "missing.png"),
               "--output", str(csv), "--plot", str(tmp_path / "va.png"), "--quiet",
               "--trust-pickle"])
    assert rc == 0
    df = pd.read_csv(csv)
    assert list(df.columns) == ["path", "error", "valence", "arousal", "va_word"]
    # every input a row, in input order (the folder's files by name), with its reason
    assert list(df["path"]) == [str(folder / "broken.jpg"), str(folder / "good0.jpg"),
                                str(folder / "good1.jpg"), str(imgs[2]),
                                str(tmp_path / "missing.png")]
    ok = df["error"].isna()
    assert list(ok) == [False, True, True, True, False]
    assert "file not found" in df["error"].iloc[4] and df["error"].iloc[0]
    assert df.loc[ok, "valence"].between(1, 9).all() and df.loc[ok, "arousal"].between(1, 9).all()
    assert df.loc[ok, "va_word"].notna().all()
    assert df.loc[~ok, ["valence", "arousal", "va_word"]].isna().all().all()
    err = capsys.readouterr().err
    assert "failed (2): could not be read" in err
    assert "broken.jpg: " in err and "missing.png: file not found" in err
    assert err.rstrip().splitlines()[-1] == "predicted 3, failed 2, skipped 0"
    assert (tmp_path / "va.png").stat().st_size > 0
    # --strict: any failure is a non-zero exit, the good predictions still written
    csv.unlink()
    rc = main(["predict", "--model", str(out), str(folder), "--output", str(csv), "--quiet",
               "--strict", "--trust-pickle"])
    assert rc == 1 and len(pd.read_csv(csv)) == 3
    # --skip-failed: the old table, scored files only
    rc = main(["predict", "--model", str(out), str(folder), "--output", str(csv), "--quiet",
               "--skip-failed", "--trust-pickle"])
    assert rc == 0 and pd.read_csv(csv)["error"].isna().all() and len(pd.read_csv(csv)) == 2


def test_a_killed_predict_resumes_and_writes_the_same_csv(model, tmp_path, capsys):
    """The CSV is written a chunk at a time; cut after two rows and half a
    third (a run killed while writing), --resume scores only the rest and the
    file equals an uninterrupted run's."""
    d, out, imgs = model
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, p in enumerate(load_emotion6().filenames[::400][:5]):
        shutil.copy(p, folder / f"p{i}.jpg")
    (folder / "notes.txt").write_text("not an image")
    full, cut = tmp_path / "full.csv", tmp_path / "cut.csv"
    args = ["predict", "--model", str(out), str(folder), "--quiet", "--trust-pickle",
            "--batch-size", "2"]
    assert main(args + ["--output", str(full)]) == 0
    text = full.read_text()
    lines = text.splitlines(keepends=True)
    assert len(lines) == 7  # header, 6 files (the text file with its reason)
    assert "not an image" in lines[1]  # notes.txt sorts first
    cut.write_text("".join(lines[:3]) + lines[3][:10])
    capsys.readouterr()
    assert main(args + ["--output", str(cut), "--resume"]) == 0
    assert "after the 2 row(s) it held" in capsys.readouterr().out
    assert cut.read_text() == text
    # a resumed file of another model's columns is refused, not mixed
    other = tmp_path / "other.csv"
    other.write_text("path,error,something\n")
    assert main(args + ["--output", str(other), "--resume"]) == 2


def test_predict_nothing_usable_exits_nonzero(model, tmp_path):
    _, out, _ = model
    (tmp_path / "x.jpg").write_text("no")
    assert main(["predict", "--model", str(out), str(tmp_path / "x.jpg"), "--output",
                 str(tmp_path / "p.csv"), "--quiet", "--trust-pickle"]) == 1


def test_a_pickled_model_needs_trust_pickle(model, tmp_path, capsys, monkeypatch):
    import pickle

    _, out, imgs = model

    def refuse(*a, **k):
        raise AssertionError("unpickled without --trust-pickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr("joblib.load", refuse)
    assert main(["predict", "--model", str(out), imgs[0], "--output",
                 str(tmp_path / "p.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--trust-pickle" in err and "runs whatever code the file names" in err
    assert not (tmp_path / "p.csv").exists()


def test_saved_model_matches_direct_pipeline(model, data_home):
    import joblib

    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.svm import SVR

    from sklearn_emotion import make_paper_pipeline
    from sklearn_emotion.datasets import load_ratings

    d, out, imgs = model
    pipe = joblib.load(out)
    P = pipe.predict(imgs)
    assert P.shape == (3, 2)
    # the same pipeline built and fitted directly, on the CSV read directly
    rated = load_ratings(d / "ratings.csv", data_home / "data/emotion6/images",
                         filename_column="image", valence_column="valence_score",
                         arousal_column="arousal_score", scale=(0, 100))
    direct = make_paper_pipeline(["color", "lbp"], MultiOutputRegressor(SVR(C=1.0)))
    direct.fit(list(rated.filenames), rated.target)
    np.testing.assert_allclose(P, direct.predict(imgs), rtol=1e-10, atol=1e-10)
    # the saved pipeline carries no feature cache of the training machine
    for _, est in pipe.named_steps["features"].transformer_list:
        assert est.get_params()["cache_dir"] is None


def test_predict_streams_through_the_transformers_in_batches(tmp_path, monkeypatch):
    """No image is decoded up front: the model's transformer sees one chunk at a time."""
    from sklearn_emotion import PooledLayerFeatures

    b = load_emotion6()
    imgs = list(b.filenames[:5])
    seen = []
    original = PooledLayerFeatures.transform

    def spy(self, X):
        seen.append(len(X))
        return original(self, X)

    monkeypatch.setattr(PooledLayerFeatures, "transform", spy)
    batches = []
    compute = PooledLayerFeatures._compute_batch

    def spy_batch(self, images):
        batches.append((len(images), self.batch_size))
        return compute(self, images)

    monkeypatch.setattr(PooledLayerFeatures, "_compute_batch", spy_batch)
    out = tmp_path / "p.csv"
    assert main(["predict", *imgs, "--batch-size", "2", "--output", str(out), "--quiet"]) == 0
    assert seen == [2, 2, 1]
    # --batch-size is also the network's batch
    assert batches == [(2, 2), (2, 2), (1, 2)]
    assert len(pd.read_csv(out)) == 5


def test_predict_warns_about_images_the_shipped_model_was_trained_on(tmp_path, capsys):
    from sklearn_emotion.datasets import load_oasis

    shutil.copy(load_oasis().filenames[3], tmp_path / "renamed.jpg")  # the same bytes
    from PIL import Image

    Image.new("RGB", (32, 32), (5, 6, 7)).save(tmp_path / "new.png")
    rc = main(["predict", str(tmp_path), "--output", str(tmp_path / "p.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0
    assert ("warning: 1 of the predicted images are in the model's training set (emotion6, "
            f"oasis), e.g. {tmp_path / 'renamed.jpg'}") in err
    rc = main(["predict", str(tmp_path / "new.png"), "--output", str(tmp_path / "q.csv"),
               "--quiet"])
    assert "training set" not in capsys.readouterr().err


def test_train_prints_a_real_cross_validated_r(tmp_path, capsys):
    from scipy.stats import pearsonr
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.svm import SVR

    from sklearn_emotion import make_paper_pipeline

    b = load_emotion6()
    idx = np.arange(5, 1980, 66)  # 30 images
    rel = [str(p).split("/images/")[1] for p in b.filenames[idx]]
    lines = ["filename,valence,arousal"] + [f"{r},{v},{a}" for r, (v, a) in zip(rel, b.target[idx])]
    (tmp_path / "r.csv").write_text("\n".join(lines))
    root = str(b.filenames[0]).split("/images/")[0] + "/images"
    rc = main(["train", "--dataset", str(tmp_path / "r.csv"), "--image-dir", root,
               "--features", "color", "--regressor", "svr", "--cv", "3",
               "--output", str(tmp_path / "m.joblib"), "--quiet"])
    out = capsys.readouterr()
    assert rc == 0
    assert "training on 30 images of r.csv with features ['color'] and svr" in out.err
    X, y = list(b.filenames[idx]), b.target[idx]
    pipe = make_paper_pipeline(["color"], MultiOutputRegressor(SVR()))
    pred = cross_val_predict(pipe, X, y, cv=KFold(3, shuffle=True, random_state=0))
    r = [pearsonr(pred[:, j], y[:, j])[0] for j in range(2)]
    assert (f"3-fold cross-validated Pearson r on the training set: valence {r[0]:.3f}, "
            f"arousal {r[1]:.3f}") in out.out


def test_cli_output_has_no_native_log_noise_unless_verbose(tmp_path):
    """TensorFlow's and LiteRT's C++ log lines are filtered; --verbose shows them."""
    import subprocess
    import sys

    from PIL import Image

    Image.new("RGB", (64, 64), (120, 30, 200)).save(tmp_path / "a.png")
    cmd = [sys.executable, "-m", "sklearn_emotion", "predict", str(tmp_path / "a.png"),
           "--output", str(tmp_path / "p.csv"), "--quiet"]
    quiet = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert quiet.stderr.splitlines() == ["predicted 1, failed 0, skipped 0"]
    loud = subprocess.run(cmd + ["--verbose"], capture_output=True, text=True, check=True)
    assert "XNNPACK" in loud.stderr  # LiteRT's own notice, shown on request


def test_version_and_help_give_defaults(capsys):
    from sklearn_emotion import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"sklearn-emotion {__version__}"
    import argparse

    from sklearn_emotion.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, parser in sub.choices.items():
        for action in parser._actions:
            assert action.help, f"{command} {action.option_strings or action.dest} has no help"
            if action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
                assert "%(default)s" in action.help or "default" in action.help, (
                    f"{command} {action.option_strings[0]} does not give its default")


@pytest.mark.parametrize("line, noise", [
    ("I0000 00:00:1795993906.530677    1826 cudart_stub.cc:31] Could not find cuda drivers "
     "on your machine, GPU will not be used.", True),
    ("E0000 00:00:1795991998.627891   30999 cuda_platform.cc:52] failed call to cuInit", True),
    ("W1129 22:37:35.123456  4242 some_op.cc:77] a warning", True),
    ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.", True),
    ("predicted 1, failed 0, skipped 0", False),
    ("/work/a.jpg: file not found", False),
])
def test_native_noise_pattern(line, noise):
    from sklearn_emotion._quiet import NOISE

    assert bool(NOISE.match(line)) is noise


def test_importing_tensorflow_under_the_filter_prints_nothing():
    """The CLI's commands that train or run Keras models import TensorFlow
    inside the filter: its start-up lines (CUDA probing) must not get out."""
    import subprocess
    import sys

    code = ("from sklearn_emotion._quiet import quiet_native_logs\n"
            "with quiet_native_logs():\n"
            "    import tensorflow as tf\n"
            "    tf.zeros((2, 2)).numpy()\n"
            "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "ok" and res.stderr == "", res.stderr


def test_the_command_line_starts_without_scikit_learn_or_tensorflow():
    """``--version``, ``--help`` and parsing import neither: the CLI answers
    at once, and heavy imports happen only in the command that needs them."""
    import subprocess
    import sys

    code = ("import sys, sklearn_emotion, sklearn_emotion.cli as c\n"
            "c.build_parser().parse_args(['predict', 'x.jpg'])\n"
            "print(sorted(m for m in ('sklearn', 'tensorflow', 'keras', 'scipy') "
            "if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    # the public names still resolve (lazily), and dir() lists them
    import sklearn_emotion as se

    assert set(se.__all__) <= set(dir(se))
    for name in se.__all__:
        assert getattr(se, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        se.nope


def test_predict_new_raters_writes_their_intervals(tmp_path, capsys):
    """``predict --new-raters`` with the shipped model: the intervals for
    another set's raters, as the model's own predict_frame gives them, and
    the same valence; an unreadable file is reported, the rest written."""
    from sklearn_emotion import load_pretrained

    imgs = list(load_emotion6().filenames[:3])
    out = tmp_path / "p.csv"
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    rc = main(["predict", *imgs, str(bad), "--new-raters", "--output", str(out), "--quiet"])
    assert rc != 0 or "broken.jpg" in capsys.readouterr().err
    frame = pd.read_csv(out)
    assert "valence_low_80_new_raters" in frame.columns and "valence_low_80" not in frame
    ref = load_pretrained().predict_frame(imgs, new_raters=True)
    got = frame[frame["valence"].notna()].reset_index(drop=True)
    assert len(got) == 3
    for col in ("valence", "valence_low_80_new_raters", "arousal_high_80_new_raters"):
        np.testing.assert_allclose(got[col], ref[col], rtol=0, atol=5e-5)  # 4 decimals


def test_a_shipped_models_name_is_never_shadowed_by_a_folder(tmp_path, monkeypatch):
    """--model v2 means the shipped v2 even with a folder named v2 in the
    working directory; ./v2 is that folder (here refused: it is not a model)."""
    from sklearn_emotion.pretrained import load_model

    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "model.json").write_text("{not json")
    monkeypatch.chdir(tmp_path)
    model, kind = load_model("v2")
    assert kind == "pretrained" and model.n_features_in_ > 0
    with pytest.raises(Exception, match="model.json"):
        load_model("./v2")


def test_predict_with_a_tampered_model_folder_says_one_paragraph(tmp_path, capsys, monkeypatch):
    """A model folder whose model.json sets clip to NaN (it used to give NaN
    predictions labelled 'afraid') is refused at load: one line naming the
    file and the field, exit 2, no traceback; --verbose shows it."""
    import json

    from skimage import data
    from skimage.io import imsave

    from sklearn_emotion.pretrained import SHIPPED_MODELS

    folder = tmp_path / "m"
    shutil.copytree(SHIPPED_MODELS["v1"], folder)
    desc = json.loads((folder / "model.json").read_text())
    desc["params"]["clip"] = float("nan")
    (folder / "model.json").write_text(json.dumps(desc))
    imsave(tmp_path / "cat.png", data.chelsea())
    rc = main(["predict", "--model", str(folder), str(tmp_path / "cat.png"), "--output",
               str(tmp_path / "p.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "model.json" in lines[0] and "clip" in lines[0]
    # --verbose sets the package's verbose variable for the process: undone after the test,
    # or every later subprocess of the session would print native log lines
    monkeypatch.setenv("SKLEARN_EMOTION_VERBOSE", "")  # recorded, so undone at teardown
    with pytest.raises(ValueError, match="clip"):
        main(["predict", "--model", str(folder), str(tmp_path / "cat.png"), "--output",
              str(tmp_path / "p.csv"), "--quiet", "--verbose"])
    # the shipped v1 on the same inputs, plus a missing file: every row written
    rc = main(["predict", "--model", "v1", str(tmp_path / "cat.png"), str(tmp_path / "gone.jpg"),
               "--output", str(tmp_path / "p.csv"), "--quiet"])
    df = pd.read_csv(tmp_path / "p.csv")
    assert rc == 0 and len(df) == 2 and df["error"].isna().tolist() == [True, False]

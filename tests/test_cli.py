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
               "--output", str(csv), "--plot", str(tmp_path / "va.png"), "--quiet"])
    assert rc == 0
    df = pd.read_csv(csv)
    assert list(df.columns) == ["path", "valence", "arousal", "emotion_word"]
    assert len(df) == 3
    assert df["valence"].between(1, 9).all() and df["arousal"].between(1, 9).all()
    assert df["emotion_word"].notna().all()
    err = capsys.readouterr().err
    assert "failed (2): could not be read" in err
    assert "broken.jpg: " in err and "missing.png: file not found" in err
    assert err.rstrip().splitlines()[-1] == "predicted 3, failed 2, skipped 0"
    assert (tmp_path / "va.png").stat().st_size > 0
    # --strict: any failure is a non-zero exit, the good predictions still written
    csv.unlink()
    rc = main(["predict", "--model", str(out), str(folder), "--output", str(csv), "--quiet",
               "--strict"])
    assert rc == 1 and len(pd.read_csv(csv)) == 2


def test_predict_nothing_usable_exits_nonzero(model, tmp_path):
    _, out, _ = model
    (tmp_path / "x.jpg").write_text("no")
    assert main(["predict", "--model", str(out), str(tmp_path / "x.jpg"), "--output",
                 str(tmp_path / "p.csv"), "--quiet"]) == 1


def test_saved_model_matches_direct_pipeline(model):
    import joblib

    d, out, imgs = model
    pipe = joblib.load(out)
    P = pipe.predict(imgs)
    assert P.shape == (3, 2)
    # the saved pipeline carries no feature cache of the training machine
    for _, est in pipe.named_steps["features"].transformer_list:
        assert est.get_params()["memory"] is None


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
    out = tmp_path / "p.csv"
    assert main(["predict", *imgs, "--batch-size", "2", "--output", str(out), "--quiet"]) == 0
    assert seen == [2, 2, 1]
    assert len(pd.read_csv(out)) == 5

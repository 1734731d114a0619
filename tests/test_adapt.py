"""AffectModel.adapt: few-shot adaptation to a user's raters, on real features."""

import os
import pickle

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.linear_model import Ridge

from sklearn_emotion import AffectModel, PooledLayerFeatures, load_pretrained
from sklearn_emotion.datasets import load_emotion6, load_oasis


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    """Pooled MobileNetV2 features of 300 Emotion6 and 200 OASIS photos."""
    cache = str(tmp_path_factory.mktemp("adapt-cache"))
    e6, oasis = load_emotion6(), load_oasis()
    i6 = np.arange(0, 1980, 6)[:300]
    io = np.arange(0, 900, 4)[:200]
    feats = PooledLayerFeatures(cache_dir=cache)
    F6 = feats.fit_transform(list(e6.filenames[i6]))
    Fo = feats.fit_transform(list(oasis.filenames[io]))
    return (F6, e6.target[i6], e6.distributions[i6]), (Fo, oasis.target[io])


@pytest.fixture(scope="module")
def base(sets):
    (F6, y6, P6), _ = sets
    return AffectModel()._fit_features(PooledLayerFeatures().fit([]), F6, y6, P6)


def _mse(model, F, y):
    return ((model._predict_features(F) - y) ** 2).mean(axis=0)


def test_adaptation_follows_a_planted_shift_of_raters(sets, base):
    """New raters who rate OASIS's valence 1.5 higher and its arousal
    reversed: 60 of their ratings make the adapted model better than the
    unadapted one on the other 140 images, for both targets."""
    _, (Fo, yo) = sets
    y_new = np.c_[np.clip(yo[:, 0] + 1.5, 1, 9), 10 - yo[:, 1]]
    k = 60
    adapted = base._adapt_features(Fo[:k], y_new[:k])
    before, after = _mse(base, Fo[k:], y_new[k:]), _mse(adapted, Fo[k:], y_new[k:])
    assert (after < 0.9 * before).all(), (before, after)
    chosen = [t["strategy"] for t in adapted.adaptation_["targets"]]
    assert "keep" not in chosen
    # reversed arousal: the unadapted model ranks it backwards, the adapted one forwards
    assert pearsonr(base._predict_features(Fo[k:])[:, 1], y_new[k:, 1])[0] < 0
    assert pearsonr(adapted._predict_features(Fo[k:])[:, 1], y_new[k:, 1])[0] > 0.3
    # the base model is unchanged by adapting a copy of it
    assert not hasattr(base, "adaptation_")


def test_noise_labels_keep_the_model(sets, base):
    """Ratings that carry nothing about the images: the model falls back to
    itself, predictions unchanged."""
    _, (Fo, _) = sets
    for seed in range(3):
        noise = np.random.default_rng(seed).uniform(1, 9, size=(60, 2))
        adapted = base._adapt_features(Fo[:60], noise)
        assert [t["strategy"] for t in adapted.adaptation_["targets"]] == ["keep", "keep"]
        np.testing.assert_array_equal(adapted._predict_features(Fo[60:]),
                                      base._predict_features(Fo[60:]))


def test_refit_equals_refitting_on_training_plus_weighted_images(sets):
    """The 'refit' strategy, in closed form from the stored Gram summary, is
    the ridge head refitted on its training images plus the k new ones,
    weighted at ``weight`` times the training set's total weight."""
    (F6, y6, _), (Fo, yo) = sets
    n, k, weight, alpha = 80, 20, 0.25, 30.0
    model = AffectModel(alphas=(alpha,), clip=None, cv=0)._fit_features(
        PooledLayerFeatures(), F6[:n], y6[:n])
    adapted = model._adapt_features(Fo[:k], yo[:k], strategies=("refit",), weight=weight)
    Z = lambda F: (F - model.main_.mean) / model.main_.scale  # noqa: E731
    X = np.vstack([Z(F6[:n]), Z(Fo[:k])])
    w = np.r_[np.ones(n), np.full(k, weight * n / k)]
    for j in range(2):
        ridge = Ridge(alpha=alpha).fit(X, np.r_[y6[:n, j], yo[:k, j]], sample_weight=w)
        np.testing.assert_allclose(
            adapted._predict_features(Fo[k:])[:, j],
            np.clip(ridge.predict(Z(Fo[k:])), 1, 9), rtol=0, atol=1e-6)


def test_recalibrated_intervals_cover_the_new_raters(sets, base):
    """80 % intervals recalibrated on 60 rated images cover about 80 % of
    the other 140 images of the same raters.  Tolerance: +-0.12, about 3.5
    binomial standard deviations at 140 images (0.034) plus the CV+
    calibration's own spread at 60 images."""
    _, (Fo, yo) = sets
    y_new = np.c_[np.clip(yo[:, 0] + 1.5, 1, 9), 10 - yo[:, 1]]
    adapted = base._adapt_features(Fo[:60], y_new[:60])
    iv = adapted._interval_features(Fo[60:])
    pred = adapted._predict_features(Fo[60:])
    assert (iv[:, :, 0] <= pred + 1e-9).all() and (pred <= iv[:, :, 1] + 1e-9).all()
    inside = (y_new[60:] >= iv[:, :, 0]) & (y_new[60:] <= iv[:, :, 1])
    cover = inside.mean(axis=0)
    assert (np.abs(cover - 0.8) <= 0.12).all(), cover
    # the unadapted valence intervals do not: their centre is 1.5 too low
    iv0 = base._interval_features(Fo[60:])
    cover0 = ((y_new[60:] >= iv0[:, :, 0]) & (y_new[60:] <= iv0[:, :, 1])).mean(axis=0)
    assert cover0[0] < 0.6, cover0


def test_adapted_model_saves_and_loads_without_unpickling(sets, base, tmp_path, monkeypatch):
    _, (Fo, yo) = sets
    y_new = np.c_[yo[:, 0], 10 - yo[:, 1]]
    base._cast_like_saved()
    adapted = base._adapt_features(Fo[:40], y_new[:40])
    path = adapted.save(tmp_path / "adapted")

    def refuse(*a, **k):
        raise AssertionError("loading unpickled something")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    loaded = load_pretrained(path)
    assert [t["strategy"] for t in loaded.adaptation_["targets"]] == \
        [t["strategy"] for t in adapted.adaptation_["targets"]]
    np.testing.assert_allclose(loaded._predict_features(Fo[40:]),
                               adapted._predict_features(Fo[40:]), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(loaded._interval_features(Fo[40:]),
                               adapted._interval_features(Fo[40:]), rtol=1e-6, atol=1e-6)


def test_adapt_on_images_and_its_errors():
    """The public method takes images; an adapted model is not adapted again."""
    e6 = load_emotion6()
    model = load_pretrained()
    files = list(e6.filenames[1000:1030])
    adapted = model.adapt(files, e6.target[1000:1030])
    assert adapted.predict(files[:3]).shape == (3, 2)
    with pytest.raises(ValueError, match="already adapted"):
        adapted.adapt(files, e6.target[1000:1030])
    with pytest.raises(ValueError, match=r"y must be \(30, 2\)"):
        model.adapt(files, e6.target[1000:1030, 0])
    with pytest.raises(ValueError, match="strategies must be"):
        model.adapt(files, e6.target[1000:1030], strategies=("magic",))


def test_cli_adapt_then_predict_with_the_adapted_model(tmp_path, capsys):
    """`sklearn-emotion adapt ratings.csv --image-dir DIR --output M`, then
    `predict --model M`: the CSV's predictions are the adapted model's."""
    import pandas as pd

    from sklearn_emotion.cli import main

    oasis = load_oasis()
    idx = np.arange(1, 900, 25)  # 36 images
    files = [str(f) for f in oasis.filenames[idx]]
    image_dir = os.path.commonpath(files)
    y17 = 1 + (oasis.target[idx] - 1) * 6 / 8  # back to OASIS's own 1-7 scale
    csv = tmp_path / "my_ratings.csv"
    pd.DataFrame({"file": [f[len(image_dir) + 1:] for f in files], "V": y17[:, 0],
                  "A": y17[:, 1]}).to_csv(csv, index=False)
    out = tmp_path / "my-model"
    rc = main(["adapt", str(csv), "--image-dir", image_dir, "--output", str(out),
               "--filename-column", "file", "--valence-column", "V", "--arousal-column", "A",
               "--scale-low", "1", "--scale-high", "7", "--quiet"])
    assert rc == 0
    said = capsys.readouterr().out
    assert "adapted the shipped model to 36 rated images" in said and "out-of-fold MSE" in said
    adapted = load_pretrained(out)
    assert adapted.adaptation_["n_images"] == 36
    rc = main(["predict", *files[:4], "--model", str(out), "--output", str(tmp_path / "p.csv"),
               "--quiet"])
    assert rc == 0
    got = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(got[["valence", "arousal"]].to_numpy(),
                               adapted.predict(files[:4]), atol=1e-4)  # the CSV has 4 decimals


def test_adapted_reference_saves_loads_and_refuses_tampering(sets, base, tmp_path):
    """The flag threshold an adapted model's images raised survives save and
    load; a folder whose threshold is not a finite number, or whose image
    count is missing or not a positive integer, is refused."""
    import json

    import pandas as pd

    (F6, y6, P6), (Fo, yo) = sets
    # a model with an out-of-distribution score (its non-photos: exaggerated
    # feature rows, enough for the mechanics here)
    with_ood = AffectModel()._fit_features(PooledLayerFeatures().fit([]), F6, y6, P6,
                                           F_other=3 * F6[:60])._cast_like_saved()
    adapted = with_ood._adapt_features(Fo[:40], yo[:40], collection=Fo[40:70])
    info = adapted.adaptation_
    assert info["reference_images"] == 70 and np.isfinite(info["ood_threshold"])
    path = adapted.save(tmp_path / "adapted")
    loaded = load_pretrained(path)
    assert loaded.adaptation_["ood_threshold"] == info["ood_threshold"]
    pd.testing.assert_frame_equal(loaded._frame_from_features(Fo[70:]),
                                  adapted._frame_from_features(Fo[70:]), rtol=1e-6)
    desc = json.loads((path / "model.json").read_text())
    (path / "manifest.json").unlink()  # a hostile folder: its values are checked on their own
    for change, message in (
            (lambda a: a.update(ood_threshold=float("nan")), "ood_threshold must be a finite"),
            (lambda a: a.update(ood_threshold="high"), "ood_threshold must be a finite"),
            (lambda a: a.pop("reference_images"), "reference_images must be an integer"),
            (lambda a: a.update(reference_images=0), "reference_images must be an integer")):
        d2 = json.loads(json.dumps(desc))
        change(d2["adaptation"])
        (path / "model.json").write_text(json.dumps(d2))
        with pytest.raises(ValueError, match=message):
            load_pretrained(path)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """24 generated pictures (crops and colour shifts of scikit-image's
    samples, none in a training set) with ratings, as a user's folder."""
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("my-pictures")
    rng = np.random.default_rng(0)
    srcs = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    names, ratings = [], []
    for i in range(24):
        img = srcs[i % 4]
        h, w = img.shape[:2]
        y0, x0 = rng.integers(0, h // 3), rng.integers(0, w // 3)
        crop = img[y0:y0 + 2 * h // 3, x0:x0 + 2 * w // 3].astype(float)
        crop = np.clip(crop * rng.uniform(0.6, 1.2, size=3), 0, 255).astype(np.uint8)
        names.append(f"pic{i:02d}.png")
        Image.fromarray(crop).save(folder / names[-1])
        ratings.append([rng.uniform(2, 8), rng.uniform(2, 7)])
    return folder, names, np.array(ratings)


def _ratings_csv(path, names, y, encoding="utf-8"):
    lines = ["filename,valence,arousal"] + [f"{n},{v:.2f},{a:.2f}" for n, (v, a) in zip(names, y)]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def test_cli_adapt_skips_missing_and_unreadable_images_unless_strict(drawn, tmp_path, capsys,
                                                                     monkeypatch):
    from sklearn_emotion.cli import main

    folder, names, y = drawn
    monkeypatch.setenv("SKLEARN_EMOTION_VERBOSE", "")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    csv = _ratings_csv(tmp_path / "r.csv", names + ["gone.png", "broken.png"],
                       np.vstack([y, [[5, 5], [6, 4]]]))
    out = tmp_path / "m"
    rc = main(["adapt", str(csv), "--image-dir", str(folder), "--output", str(out), "--quiet"])
    said = capsys.readouterr()
    assert rc == 0, said.err
    assert "warning: " in said.err and "1 image(s) not found" in said.err and "gone.png" in said.err
    assert "have no features (unreadable) and are left out" in said.err
    assert "broken.png" in said.err and "Traceback" not in said.err
    assert load_pretrained(out).adaptation_["n_images"] == 24
    rc = main(["adapt", str(csv), "--image-dir", str(folder), "--output", str(tmp_path / "m2"),
               "--quiet", "--strict"])
    said = capsys.readouterr()
    assert rc == 2 and said.err.startswith("error: ") and "gone.png" in said.err
    assert "Traceback" not in said.err


@pytest.mark.parametrize("kind", ["utf-16", "latin-1", "binary", "no column"])
def test_cli_adapt_reads_utf16_and_names_a_bad_ratings_file(kind, drawn, tmp_path, capsys,
                                                             monkeypatch):
    from sklearn_emotion.cli import main

    folder, names, y = drawn
    monkeypatch.setenv("SKLEARN_EMOTION_VERBOSE", "")
    csv = tmp_path / "r.csv"
    if kind == "utf-16":  # what a spreadsheet writes as "Unicode text"
        _ratings_csv(csv, names, y, encoding="utf-16")
    elif kind == "latin-1":
        _ratings_csv(csv, ["café.png", *names[1:]], y, encoding="latin-1")
    elif kind == "binary":
        csv.write_bytes(b"PK\x03\x04\x00\x00" + bytes(range(256)))
    else:
        csv.write_text("file,valence,arousal\nx.png,5,5\n")
    rc = main(["adapt", str(csv), "--image-dir", str(folder), "--output", str(tmp_path / "m"),
               "--quiet"])
    said = capsys.readouterr()
    if kind == "utf-16":
        assert rc == 0, said.err
        return
    assert rc == 2 and "Traceback" not in said.err
    lines = said.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {csv}")
    assert {"latin-1": "not UTF-8 text", "binary": "is a binary file",
            "no column": "column 'filename' not found"}[kind] in lines[0]


def test_adapt_warns_on_training_images_below_twenty_and_on_duplicates(drawn):
    folder, names, y = drawn
    model = load_pretrained()
    e6 = load_emotion6()
    mine = [str(folder / n) for n in names[:12]]
    with pytest.warns(UserWarning) as got:
        model.adapt(mine + [mine[0]] + list(e6.filenames[:3]), np.vstack([y[:13], y[:3]]))
    said = [str(w.message) for w in got]
    assert any("3 of the 16 rated images are in this model's training set" in m for m in said)
    assert any("rated more than once" in m for m in said)
    assert any("15 rated images: below 20" in m for m in said)
    # each points at this file, the caller's
    assert all(w.filename == __file__ for w in got), [(w.filename, str(w.message)) for w in got]

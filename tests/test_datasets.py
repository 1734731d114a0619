import numpy as np
import pytest

from sklearn_emotion.datasets import load_emotion6, load_ratings


def test_load_emotion6(data_home):
    b = load_emotion6()
    assert b.filenames.shape == (1980,)
    assert b.target.shape == (1980, 2)
    assert b.target_names == ["valence", "arousal"]
    assert b.distributions.shape == (1980, 7)
    np.testing.assert_allclose(b.distributions.sum(1), 1, atol=1e-3)
    assert set(b.keywords) == {"anger", "disgust", "fear", "joy", "sadness", "surprise"}
    assert (np.unique(b.keywords, return_counts=True)[1] == 330).all()
    assert all(p.startswith(str(data_home.resolve())) for p in b.filenames)
    assert b.filenames[0].endswith("images/disgust/1.jpg")
    np.testing.assert_allclose(b.target[0], [2.5, 3.8])
    assert b.target.min() >= 1 and b.target.max() <= 9
    # the variances quoted in shared/README.md
    np.testing.assert_allclose(b.target.var(axis=0), [3.37, 0.78], atol=0.01)
    X, y = load_emotion6(return_X_y=True)
    assert list(X) == list(b.filenames) and np.array_equal(y, b.target)


def test_load_emotion6_as_frame():
    b = load_emotion6(as_frame=True)
    assert list(b.target.columns) == ["valence", "arousal"]
    assert b.frame.shape == (1980, 11)
    assert b.data.shape == (1980, 1)


def _images(d, names):
    from PIL import Image

    for n in names:
        Image.new("RGB", (4, 4)).save(d / n)


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("sep", [",", "\t"])
def test_load_ratings_formats(tmp_path, eol, sep):
    _images(tmp_path, ["a.jpg", "b.png"])
    rows = [["arousal", "img", "val"], ["0", "a.jpg ", "100"], ["50", "b", "25"]]
    (tmp_path / "r.csv").write_text(eol.join(sep.join(r) for r in rows) + eol)
    b = load_ratings(tmp_path / "r.csv", tmp_path, filename_column="img",
                     valence_column="val", arousal_column="arousal", scale=(0, 100))
    assert [p.split("/")[-1] for p in b.filenames] == ["a.jpg", "b.png"]
    np.testing.assert_allclose(b.target, [[9, 1], [3, 5]])


def test_load_ratings_reports_missing_images(tmp_path):
    _images(tmp_path, ["a.jpg"])
    (tmp_path / "r.csv").write_text("filename,valence,arousal\na.jpg,5,5\nx.jpg,5,5\ny,1,1\n")
    with pytest.raises(FileNotFoundError, match=r"2 image\(s\) not found.*x.jpg, y"):
        load_ratings(tmp_path / "r.csv", tmp_path)


def test_load_ratings_errors(tmp_path):
    _images(tmp_path, ["a.jpg", "a.png"])
    (tmp_path / "r.csv").write_text("filename,valence,arousal\na,5,5\n")
    with pytest.raises(ValueError, match="matches several images"):
        load_ratings(tmp_path / "r.csv", tmp_path)
    (tmp_path / "r.csv").write_text("filename,valence,arousal\na.jpg,10,5\n")
    with pytest.raises(ValueError, match="valence 10.0 outside scale"):
        load_ratings(tmp_path / "r.csv", tmp_path)
    with pytest.raises(ValueError, match="column 'v' not found"):
        load_ratings(tmp_path / "r.csv", tmp_path, valence_column="v")

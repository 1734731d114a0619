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


def test_oasis_every_row_against_the_csv_read_by_hand(data_home):
    """All 900 rows: the 1-7 means and SDs mapped to 1-9 by 1 + (x - 1) * 8 / 6
    (an SD by 8 / 6 only), rater counts as published, photos by theme."""
    import csv

    from sklearn_emotion.datasets import load_oasis

    text = (data_home / "data" / "oasis" / "OASIS.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.replace("\r\n", "\n").replace("\r", "\n").splitlines()))
    assert len(rows) == 900
    b = load_oasis()
    for i, r in enumerate(rows):
        v, a = float(r["Valence_mean"]), float(r["Arousal_mean"])
        assert tuple(b.target[i]) == pytest.approx((1 + (v - 1) * 8 / 6, 1 + (a - 1) * 8 / 6),
                                                   rel=1e-12), r["Theme"]
        assert tuple(b.target_sd[i]) == pytest.approx(
            (float(r["Valence_SD"]) * 8 / 6, float(r["Arousal_SD"]) * 8 / 6), rel=1e-12)
        assert tuple(b.n_raters[i]) == (float(r["Valence_N"]), float(r["Arousal_N"]))
        assert b.filenames[i].endswith(f"/images/{r['Theme'].strip()}.jpg")
        assert b.categories[i] == r["Category"].strip()


def test_emotion6_every_row_against_the_file_read_by_hand(data_home):
    """All 1,980 rows of ground_truth.txt: valence and arousal as written
    (already 1-9), the seven probabilities, the image under its keyword."""
    from sklearn_emotion.datasets import load_emotion6

    lines = (data_home / "data" / "emotion6" / "ground_truth.txt").read_text().splitlines()
    rows = [ln.split("\t") for ln in lines[1:] if ln.strip()]
    assert len(rows) == 1980
    b = load_emotion6()
    for i, r in enumerate(rows):
        assert b.filenames[i].endswith("/images/" + r[0].strip())
        assert tuple(b.target[i]) == (float(r[1]), float(r[2]))
        np.testing.assert_array_equal(b.distributions[i], [float(x) for x in r[3:10]])


def test_load_ratings_maps_any_scale_linearly(tmp_path):
    """Hand-worked: on a 1-7 scale, 1 -> 1, 4 -> 5, 7 -> 9, 2.5 -> 3."""
    _images(tmp_path, ["a.jpg", "b.jpg", "c.jpg"])
    (tmp_path / "r.csv").write_text("filename,valence,arousal\na.jpg,1,7\nb.jpg,4,2.5\n"
                                    "c.jpg,7,1\n")
    b = load_ratings(tmp_path / "r.csv", tmp_path, scale=(1, 7))
    np.testing.assert_allclose(b.target, [[1, 9], [5, 3], [9, 1]], rtol=1e-15)


@pytest.mark.parametrize("header, rows, vcol", [
    ("filename;valence;arousal", ["a.jpg;1;9", "b.png;5;5"], "valence"),
    ("file,name\tvalence,mean\tarousal", ["a.jpg\t1\t9", "b.png\t5\t5"], "valence,mean"),
    ("filename,valence,arousal,note\tx", ["a.jpg,1,9,0", "b.png,5,5,0"], "valence"),
], ids=["semicolons", "as many tabs as commas", "more commas than tabs"])
def test_the_separator_is_read_from_the_header(tmp_path, header, rows, vcol):
    """Semicolons (a European spreadsheet's CSV), and tabs against commas by
    their count in the header line, ties to tabs."""
    _images(tmp_path, ["a.jpg", "b.png"])
    (tmp_path / "r.csv").write_text("\r\n".join([header] + rows) + "\r\n")
    fcol = "file,name" if header.startswith("file,name") else "filename"
    b = load_ratings(tmp_path / "r.csv", tmp_path, valence_column=vcol, filename_column=fcol)
    np.testing.assert_allclose(b.target, [[1, 9], [5, 5]])
    assert b.target_names == ["valence", "arousal"]
    assert b.DESCR == (f"Ratings from {tmp_path / 'r.csv'} (scale (1.0, 9.0) mapped to 1-9), "
                       f"images in {tmp_path}.")


def test_ratings_errors_name_the_line_and_the_target(tmp_path):
    _images(tmp_path, ["a.jpg", "photo.v2.png"])
    (tmp_path / "r.csv").write_text("filename,valence,arousal\na.jpg,5,5\na.jpg,5,10\n")
    with pytest.raises(ValueError, match=r"r.csv:3: arousal 10.0 outside scale"):
        load_ratings(tmp_path / "r.csv", tmp_path)
    (tmp_path / "r.csv").write_text("filename,valence,arousal\na.jpg,5,5\na.jpg,five,5\n")
    with pytest.raises(ValueError, match=r"r.csv:3: cannot read row"):
        load_ratings(tmp_path / "r.csv", tmp_path)
    with pytest.raises(ValueError, match="high > low"):
        load_ratings(tmp_path / "r.csv", tmp_path, scale=(5, 5))
    # a name whose dot is not an image extension is a stem: photo.v2 -> photo.v2.png
    (tmp_path / "r.csv").write_text("filename,valence,arousal\nphoto.v2,5,5\n")
    b = load_ratings(tmp_path / "r.csv", tmp_path)
    assert b.filenames[0].endswith("photo.v2.png")


def test_many_missing_images_are_counted_and_the_first_twenty_named(tmp_path):
    _images(tmp_path, ["a.jpg"])
    names = [f"gone{i:02d}.jpg" for i in range(22)]
    (tmp_path / "r.csv").write_text("filename,valence,arousal\n"
                                    + "".join(f"{n},5,5\n" for n in names))
    with pytest.raises(FileNotFoundError) as err:
        load_ratings(tmp_path / "r.csv", tmp_path)
    msg = str(err.value)
    assert f"22 image(s) not found in {tmp_path}: " + ", ".join(names[:20]) + " ... (22 in all)" \
        in msg


def test_oasis_names_its_missing_photos_and_frames_every_column(tmp_path, data_home):
    """A data home whose OASIS folder lacks photos: the count and the first
    ten names; as_frame: the columns and values of the file, by hand."""
    import csv
    import os

    from sklearn_emotion.datasets import load_oasis

    src = data_home / "data" / "oasis"
    home = tmp_path / "home" / "data" / "oasis"
    (home / "images").mkdir(parents=True)
    os.symlink(src / "OASIS.csv", home / "OASIS.csv")
    text = (src / "OASIS.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.replace("\r\n", "\n").replace("\r", "\n").splitlines()))
    photos = sorted((src / "images").iterdir())
    for n_missing in (10, 11):
        for p in (home / "images").iterdir():
            p.unlink()
        for p in photos[:900 - n_missing]:
            os.symlink(p, home / "images" / p.name)
        present = {p.name for p in photos[:900 - n_missing]}
        gone = [f"{r['Theme'].strip()}.jpg" for r in rows
                if f"{r['Theme'].strip()}.jpg" not in present]
        assert len(gone) == n_missing
        with pytest.raises(FileNotFoundError) as err:
            load_oasis(data_home=tmp_path / "home")
        assert str(err.value) == (
            f"OASIS: {n_missing} photo(s) rated in {home / 'OASIS.csv'} are missing from "
            f"{home / 'images'}: " + ", ".join(gone[:10]) + (" ..." if n_missing > 10 else ""))
    f = load_oasis(as_frame=True)
    assert list(f.frame.columns) == ["filename", "theme", "category", "source", "valence",
                                     "arousal", "Valence_mean", "Valence_SD", "Valence_N",
                                     "Arousal_mean", "Arousal_SD", "Arousal_N"]
    for i in (0, 450, 899):
        r = rows[i]
        got = f.frame.iloc[i]
        assert (got["theme"], got["category"], got["source"]) == (
            r["Theme"].strip(), r["Category"].strip(), r["Source"].strip())
        assert got["valence"] == pytest.approx(1 + (float(r["Valence_mean"]) - 1) * 8 / 6)
        assert got["Arousal_SD"] == float(r["Arousal_SD"]) and got["Valence_N"] == float(
            r["Valence_N"])
    assert list(f.data.columns) == ["filename"] and list(f.data["filename"]) == list(
        f.frame["filename"])


@pytest.mark.parametrize("n_missing, suffix", [(20, False), (21, True)])
def test_the_missing_list_is_cut_after_twenty_names(tmp_path, n_missing, suffix):
    _images(tmp_path, ["a.jpg"])
    names = [f"gone{i:02d}.jpg" for i in range(n_missing)]
    (tmp_path / "r.csv").write_text("filename,valence,arousal\n"
                                    + "".join(f"{n},5,5\n" for n in names))
    with pytest.raises(FileNotFoundError) as err:
        load_ratings(tmp_path / "r.csv", tmp_path)
    msg = str(err.value)
    assert msg.endswith(", ".join(names[:20]) + (f" ... ({n_missing} in all)" if suffix else ""))


@pytest.mark.parametrize("text, kw", [
    # tab-separated, file names with commas: only the header line decides
    ("file\tvalence\tarousal\na,b,c,d,1,2.jpg\t1\t9\ne,f,g,h,3,4.png\t5\t5\n",
     {"filename_column": "file"}),
    # a semicolon inside a column's name of a tab- or comma-separated file
    ("file\tvalence;mean\tarousal\na,b,c,d,1,2.jpg\t1\t9\ne,f,g,h,3,4.png\t5\t5\n",
     {"filename_column": "file", "valence_column": "valence;mean"}),
    ("file,valence;mean,arousal\na.jpg,1,9\nb.png,5,5\n",
     {"filename_column": "file", "valence_column": "valence;mean"}),
], ids=["commas in names", "semicolon in a tab header", "semicolon in a comma header"])
def test_the_header_line_alone_decides_the_separator(tmp_path, text, kw):
    names = ["a,b,c,d,1,2.jpg", "e,f,g,h,3,4.png"] if "a,b" in text else ["a.jpg", "b.png"]
    _images(tmp_path, names)
    (tmp_path / "r.csv").write_text(text)
    b = load_ratings(tmp_path / "r.csv", tmp_path, **kw)
    np.testing.assert_allclose(b.target, [[1, 9], [5, 5]])
    assert [p.split("/")[-1] for p in b.filenames] == names


def test_a_ratings_file_with_a_header_only_is_empty(tmp_path):
    (tmp_path / "r.csv").write_text("filename,valence,arousal\n")
    b = load_ratings(tmp_path / "r.csv", tmp_path)
    assert b.target.shape == (0, 2) and len(b.filenames) == 0

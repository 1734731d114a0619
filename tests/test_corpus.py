"""The corpus of malformed and unusual inputs (tests/_corpus.py), each with its
exact outcome: through load_image, one feature family, a full pipeline with
``on_error="nan"``, and the command line in explicit and folder mode."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from sklearn_emotion import (
    ColorFeatures,
    ImageBatchError,
    ImageLoadError,
    load_image,
    make_paper_pipeline,
    predict_images,
)
from sklearn_emotion._image import describe_item
from sklearn_emotion.cli import main
from sklearn_emotion.datasets import load_emotion6

from ._corpus import make_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus-root")
    return root, make_corpus(root)


def test_the_corpus_is_large_and_varied(corpus):
    _, cases = corpus
    assert len(cases) >= 40
    assert sum(c.is_file for c in cases) >= 30 and sum(not c.is_file for c in cases) >= 20
    assert {c.folder for c in cases if c.is_file} >= {"predicted", "failed", "skipped", "hidden"}


def _check_outcome(case, index, got):
    name = describe_item(case.item, index)
    if case.ok:
        if not isinstance(got, np.ndarray):
            return f"{case.name}: expected a decoded image, got {got!r}"
        if got.dtype != np.uint8 or got.shape != case.shape:
            return f"{case.name}: shape {got.shape} {got.dtype}, expected {case.shape} uint8"
        if abs(got.mean() - case.mean) > case.atol + 1e-9:
            return f"{case.name}: mean {got.mean():.4f}, expected {case.mean:.4f} ± {case.atol}"
        return None
    if not isinstance(got, ImageLoadError):
        return f"{case.name}: expected ImageLoadError, got {got!r}"
    if got.item != name or case.reason not in got.reason:
        return f"{case.name}: got {got!s}, expected {name}: ...{case.reason}..."
    if not str(got).startswith(f"{name}: "):
        return f"{case.name}: message {got!s} does not start with the item's name"
    return None


def test_each_input_through_load_image(corpus):
    _, cases = corpus
    problems = []
    for i, case in enumerate(cases):
        try:
            got = load_image(case.item, i)
        except Exception as exc:  # noqa: BLE001 - the class is part of what is checked
            got = exc
        msg = _check_outcome(case, i, got)
        if msg:
            problems.append(msg)
    assert not problems, "\n".join(problems)


def test_each_input_through_a_feature_family(corpus):
    _, cases = corpus
    items = [c.item for c in cases]
    bad = [i for i, c in enumerate(cases) if not c.ok]
    est = ColorFeatures().fit(items)
    with pytest.raises(ImageBatchError) as info:
        est.transform(items)
    assert sorted(info.value.errors) == bad
    for i in bad:
        assert _check_outcome(cases[i], i, info.value.errors[i]) is None
    # the good rows were computed all the same, and equal those of the images alone
    F = info.value.features
    good = [i for i, c in enumerate(cases) if c.ok]
    assert np.isnan(F[bad]).all() and np.isfinite(F[good]).all()
    np.testing.assert_allclose(F[good], est.transform([items[i] for i in good]), rtol=1e-12)
    with pytest.warns(UserWarning, match=f"{len(bad)} image"):
        G = ColorFeatures(on_error="nan").fit(items).transform(items)
    np.testing.assert_array_equal(np.isnan(G).all(axis=1), [not c.ok for c in cases])


def test_each_input_through_a_nan_pipeline(corpus):
    _, cases = corpus
    b = load_emotion6()
    pipe = make_paper_pipeline(["color"], Ridge(alpha=10.0), on_error="nan").fit(
        list(b.filenames[:12]), b.target[:12])
    items = [c.item for c in cases]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pred = pipe.predict(items)
    assert pred.shape == (len(cases), 2)
    np.testing.assert_array_equal(np.isnan(pred).all(axis=1), [not c.ok for c in cases])
    assert np.isfinite(pred[[c.ok for c in cases]]).all()
    res = predict_images(pipe, items, batch_size=7)
    assert sorted(res.errors) == [i for i, c in enumerate(cases) if not c.ok]
    for i, e in res.errors.items():
        assert _check_outcome(cases[i], i, e) is None
    np.testing.assert_allclose(res.predictions, pred, rtol=1e-12)


def _read_cli(capsys, csv):
    err = capsys.readouterr().err
    table = pd.read_csv(csv)
    return table, err


def _listed(err, header):
    """{path: reason} of the lines under a 'failed (...)' or 'skipped (...)' header."""
    out, on = {}, False
    for line in err.splitlines():
        if line.startswith(header):
            on = True
            continue
        if on and line.startswith("  "):
            path, _, why = line.strip().partition(": ")
            out[path] = why
        elif on:
            on = False
    return out


def test_each_file_through_the_cli_explicitly(corpus, tmp_path, capsys):
    _, cases = corpus
    files = [c for c in cases if c.is_file]
    csv = tmp_path / "explicit.csv"
    rc = main(["predict", *[c.item for c in files], "--output", str(csv), "--quiet"])
    table, err = _read_cli(capsys, csv)
    assert rc == 0
    ok = [c.item for c in files if c.ok]
    # every input a row, in input order; the scored ones have no error
    assert list(table["path"]) == [c.item for c in files]
    good = table["error"].isna()
    assert list(table.loc[good, "path"]) == ok
    assert table.loc[good, ["valence", "arousal"]].apply(lambda s: s.between(1, 9)).all().all()
    assert table.loc[~good, ["valence", "arousal"]].isna().all().all()
    failed = _listed(err, "failed (")
    skipped = _listed(err, "skipped (")
    # a directory named explicitly is searched as a folder; every other bad file fails
    dirs = [c for c in files if not c.ok and c.name == "directory named .jpg"]
    assert skipped == {c.item: "folder holds no files" for c in dirs}
    expect_failed = [c for c in files if not c.ok and c not in dirs]
    assert sorted(failed) == sorted(c.item for c in expect_failed)
    for c in expect_failed:
        assert c.reason in failed[c.item], (c.name, failed[c.item])
    assert err.rstrip().splitlines()[-1] == (
        f"predicted {len(ok)}, failed {len(expect_failed)}, skipped {len(dirs)}")


def test_the_corpus_folder_through_the_cli(corpus, tmp_path, capsys):
    root, cases = corpus
    files = [c for c in cases if c.is_file and c.folder]
    csv = tmp_path / "folder.csv"
    rc = main(["predict", str(root / "corpus"), "--output", str(csv), "--quiet"])
    table, err = _read_cli(capsys, csv)
    assert rc == 0
    want = {k: sorted(c.item for c in files if c.folder == k)
            for k in ("predicted", "failed", "skipped", "hidden")}
    # every file a row (hidden ones left out), each failed or skipped one with its reason
    assert sorted(table.loc[table["error"].isna(), "path"]) == want["predicted"]
    assert sorted(table["path"]) == sorted(want["predicted"] + want["failed"] + want["skipped"])
    failed = _listed(err, "failed (")
    skipped = _listed(err, "skipped (")
    assert sorted(failed) == want["failed"] and sorted(skipped) == want["skipped"]
    for c in files:
        if c.folder == "failed":
            assert c.folder_reason in failed[c.item], (c.name, failed[c.item])
        if c.folder == "skipped":
            assert c.folder_reason in skipped[c.item], (c.name, skipped[c.item])
    n_hidden = len(want["hidden"])
    assert err.rstrip().splitlines()[-1] == (
        f"predicted {len(want['predicted'])}, failed {len(want['failed'])}, skipped "
        f"{len(want['skipped']) + n_hidden} (of which {n_hidden} hidden, names starting with '.')")
    # --strict turns any failure into a non-zero status; the CSV is written all the same
    assert main(["predict", str(root / "corpus"), "--output", str(csv), "--quiet",
                 "--strict"]) == 1
    assert pd.read_csv(csv)["error"].isna().sum() == len(want["predicted"])
    assert re.search(r"predicted \d+, failed", capsys.readouterr().err)

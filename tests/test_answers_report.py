"""The report's files against numbers recomputed from the folds, without a run.

A :class:`~sklearn_emotion.reproduce._report.Report` of two rows built from
known folds: ``tables.csv``'s mean and SD from the records written out,
``per_fold.csv`` and ``tables.md`` holding the same numbers, ``oof.csv`` and
``results.json``'s ``plotted`` recomputed with scikit-learn's metrics.
"""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_squared_error, r2_score

from sklearn_emotion.reproduce._evaluation import Result
from sklearn_emotion.reproduce._report import Report, write_report


def _row(table, model, features, rng, n_folds=3, n=30):
    folds = [{"test_mse_V": float(rng.uniform(1, 3)), "test_mse_A": float(rng.uniform(0.2, 1)),
              "test_r2_V": float(rng.uniform(-0.2, 0.5)), "test_r2_A": float(rng.uniform(0, 0.3)),
              "test_r_V": float(rng.uniform(0, 0.7)), "test_r_A": float(rng.uniform(0, 0.5)),
              "train_mse_V": float(rng.uniform(0.5, 1)), "train_mse_A": float(rng.uniform(0.1, .5)),
              "fit_seconds": float(rng.uniform(0, 2))} for _ in range(n_folds)]
    oof = np.c_[rng.uniform(2, 8, n), rng.uniform(3, 6, n)]
    fold_of = np.arange(n) % n_folds
    return Result(table, model, features, folds, oof, fold_of)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    rng = np.random.default_rng(0)
    out = tmp_path_factory.mktemp("report")
    n = 30
    y = np.c_[rng.uniform(1, 9, n), rng.uniform(2, 7, n)]
    paths = np.array([f"img/{i:02d}.jpg" for i in range(n)], dtype=object)
    rows = [_row("III", "SVR (RBF, C=1)", "low-level", rng),
            _row("best", "nested CV", "a / b", rng)]
    rep = Report(out, "Synthetic", paths, y, 3, 0, results=rows,
                 best={"candidates": ["a", "b"], "grid": {}, "choices": [
                     {"V": "a, C=1.0, epsilon=0.1", "A": "b, C=3.0, epsilon=0.3"}] * 3},
                 complete=True)
    write_report(rep)
    return out, rows, y, paths


def test_tables_csv_is_the_mean_and_population_sd_of_the_folds(written):
    out, rows, *_ = written
    t = pd.read_csv(out / "tables.csv")
    assert len(t) == 2
    for i, r in enumerate(rows):
        for key in ("test_mse_V", "test_r2_A", "test_r_V", "train_mse_A"):
            v = [f[key] for f in r.folds]
            mean = sum(v) / 3
            sd = (sum((x - mean) ** 2 for x in v) / 3) ** 0.5
            assert t[key + "_mean"].iloc[i] == pytest.approx(mean, rel=1e-12)
            assert t[key + "_std"].iloc[i] == pytest.approx(sd, rel=1e-12)
        assert t["model"].iloc[i] == r.model and t["table"].iloc[i] == r.table


def test_per_fold_csv_and_markdown_hold_the_fold_records(written):
    out, rows, *_ = written
    pf = pd.read_csv(out / "per_fold.csv")
    assert len(pf) == 6 and list(pf["fold"]) == [1, 2, 3] * 2
    for i, r in enumerate(rows):
        got = pf.iloc[3 * i:3 * i + 3]
        for k, f in enumerate(r.folds):
            for key, v in f.items():
                assert got[key].iloc[k] == pytest.approx(v, rel=1e-12), key
    md = (out / "tables.md").read_text()
    v = [f["test_r2_A"] for f in rows[0].folds]
    mean = sum(v) / 3
    assert f"{mean:.3f} ± {(sum((x - mean) ** 2 for x in v) / 3) ** 0.5:.3f}" in md
    assert "fold 1: V a, C=1.0, epsilon=0.1; A b, C=3.0, epsilon=0.3" in md
    # per-fold MSE table: fold 2 of the first row
    f = rows[0].folds[1]
    assert (f"| III | SVR (RBF, C=1) | low-level | 2 | {f['train_mse_V']:.3f} | "
            f"{f['test_mse_V']:.3f} | {f['train_mse_A']:.3f} | {f['test_mse_A']:.3f} |") in md


def test_the_plotted_row_and_its_pooled_scores(written):
    """The nested row is plotted; its out-of-fold predictions are written
    per image and the pooled numbers are scikit-learn's on them."""
    out, rows, y, paths = written
    best = rows[1]
    oof = pd.read_csv(out / "oof.csv")
    assert list(oof["path"]) == list(paths)
    np.testing.assert_array_equal(oof["fold"], best.fold_of + 1)
    np.testing.assert_allclose(oof[["valence", "arousal"]], y, rtol=1e-15)
    np.testing.assert_allclose(oof[["valence_pred", "arousal_pred"]], best.oof, rtol=1e-15)
    plotted = json.loads((out / "results.json").read_text())["plotted"]
    assert (plotted["table"], plotted["model"]) == ("best", "nested CV")
    for j, t in enumerate("VA"):
        assert plotted["pooled"][f"mse_{t}"] == pytest.approx(
            mean_squared_error(y[:, j], best.oof[:, j]), rel=1e-12)
        assert plotted["pooled"][f"r2_{t}"] == pytest.approx(
            r2_score(y[:, j], best.oof[:, j]), rel=1e-12)
        assert plotted["pooled"][f"r_{t}"] == pytest.approx(
            np.corrcoef(y[:, j], best.oof[:, j])[0, 1], rel=1e-12)
    for name in ("scatter_pred_vs_true.png", "va_thumbnails.png"):
        assert (out / name).stat().st_size > 0


def test_without_a_nested_row_the_ffnn_on_all_features_is_plotted(tmp_path):
    rng = np.random.default_rng(1)
    y = np.c_[rng.uniform(1, 9, 30), rng.uniform(2, 7, 30)]
    rows = [_row("IV", "SVR (RBF, C=1)", "all", rng), _row("III", "FFNN (tuned)", "all", rng),
            _row("III", "FFNN (tuned)", "object", rng)]
    rep = Report(tmp_path, "Synthetic", np.array([f"{i}.jpg" for i in range(30)], dtype=object),
                 y, 3, 0, results=rows, complete=True)
    write_report(rep)
    plotted = json.loads((tmp_path / "results.json").read_text())["plotted"]
    assert (plotted["model"], plotted["features"]) == ("FFNN (tuned)", "all")
    np.testing.assert_allclose(pd.read_csv(tmp_path / "oof.csv")["valence_pred"], rows[1].oof[:, 0])

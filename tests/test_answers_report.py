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
            _row("best", "nested CV", "one per fold, from: a; b", rng)]
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
    assert list(pf.columns[:4]) == ["table", "model", "features", "fold"]
    assert list(pf["table"]) == ["III"] * 3 + ["best"] * 3
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


def _by_hand(v):
    """A table cell written out: mean ± population SD to 3 decimals, or n/a."""
    v = np.asarray(v, dtype=float)
    if not np.isfinite(v.mean()):
        return "n/a"
    return f"{v.mean():.3f} ± {v.std():.3f}"


def test_tables_md_and_results_json_by_hand(tmp_path):
    """Every line of tables.md before the wall time, and every key of
    results.json, written out from the folds in the test."""
    rng = np.random.default_rng(5)
    n = 24
    y = np.c_[rng.uniform(1, 9, n), rng.uniform(3, 6, n)]
    paths = np.array([f"{i}.jpg" for i in range(n)], dtype=object)
    svr = _row("III", "SVR (RBF, C=1)", "low-level", rng, n=n)
    for f in svr.folds:
        f["test_r_A"] = float("nan")  # undefined in every fold: n/a
    best = _row("best", "nested CV: best of feature sets × SVR grid",
                "one per fold, from: a; b; c", rng, n=n)
    choices = [{"V": f"a, C=1.0, epsilon=0.{k}", "A": f"b, C=3.0, epsilon=0.{k}"}
               for k in range(3)]
    feats = {"color": {"n_features": 22, "computed": 20, "cached": 4, "seconds": 1.5},
             "lbp": {"n_features": 59, "computed": 0, "cached": 24, "seconds": 0.1}}
    rep = Report(tmp_path, "Synthetic", paths, y, 3, 7, results=[svr, best],
                 best={"candidates": ["a", "b", "c"], "grid": {"svr__C": [1.0]},
                       "choices": choices},
                 notes=["a note", "another"], features=feats, wall=12.4, complete=True,
                 n_jobs=2, scheduler=None,
                 tasks=[{"table": "III", "worker": "w1", "start": 5.0, "end": 7.5},
                        {"table": "best", "worker": "w2", "start": 6.0, "end": 6.5}])
    logged = []
    summary = write_report(rep, log=logged.append)
    var = y.var(axis=0)
    keys = ["test_mse_V", "test_mse_A", "test_r2_V", "test_r2_A", "test_r_V", "test_r_A",
            "train_mse_V", "train_mse_A"]

    def table(title, rows):
        out = [f"### {title}", "", "| model | features | test MSE V | test MSE A | test R² V | "
               "test R² A | test r V | test r A | train MSE V | train MSE A |",
               "|" + "---|" * 10]
        for r in rows:
            out.append("| " + " | ".join([r.model, r.features] + [
                _by_hand([f[k] for f in r.folds]) for k in keys]) + " |")
        return out + [""]

    want = ["# Synthetic: reproduction of Kim et al. (2018)", "",
            f"{n} images, 3-fold CV (KFold shuffle, random_state=7); mean ± std over folds. "
            f"Always predicting the training mean scores MSE ≈ the target variance (V "
            f"{var[0]:.2f}, A {var[1]:.2f} on these images). Unless a row says otherwise, "
            "features are standardised and clipped to ±5 (make_scaler).", "",
            "- a note", "- another", ""]
    want += table("Table III: feature families", [svr])
    want += table("Best configuration (nested CV)", [best])
    want += ["Chosen per outer fold (inner 3-fold grid search on the training folds only):", ""]
    want += [f"- fold {k + 1}: V {c['V']}; A {c['A']}" for k, c in enumerate(choices)] + [""]
    want += ["### Per-fold MSE", "", "| table | model | features | fold | train MSE V | test MSE V "
             "| train MSE A | test MSE A |", "|---|---|---|---|---|---|---|---|"]
    for r in (svr, best):
        for k, f in enumerate(r.folds):
            want.append(f"| {r.table} | {r.model} | {r.features} | {k + 1} | "
                        f"{f['train_mse_V']:.3f} | {f['test_mse_V']:.3f} | {f['train_mse_A']:.3f}"
                        f" | {f['test_mse_A']:.3f} |")
    want += ["", "### Features", "", "| family | columns | computed | from cache | seconds |",
             "|---|---|---|---|---|", "| color | 22 | 20 | 4 | 1.5 |",
             "| lbp | 59 | 0 | 24 | 0.1 |", ""]
    md = (tmp_path / "tables.md").read_text().split("\n")
    assert md[:len(want)] == want
    import re

    assert re.fullmatch(r"Wall time: 12 s(; peak memory \(RSS\) of the process [\d,]+ MiB)?"
                        r"(, of its model-fitting worker [\d,]+ MiB)?\.", md[len(want)]), \
        md[len(want)]
    assert md[len(want) + 1:] == [""]
    assert logged == [f"wrote {tmp_path}/tables.md, tables.csv, per_fold.csv, results.json and "
                      "plots (12 s)"]
    # results.json: every key, from the report's own inputs
    got = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "results.json").read_text().startswith('{\n "dataset": "Synthetic"')
    assert set(got) == {"dataset", "n_images", "folds", "random_state", "features", "results",
                        "best", "plotted", "notes", "wall_seconds", "peak_rss_mib",
                        "peak_rss_workers_mib", "n_jobs", "scheduler", "tasks", "versions",
                        "complete"}
    assert (got["dataset"], got["n_images"], got["folds"], got["random_state"]) == (
        "Synthetic", n, 3, 7)
    assert got["features"] == feats and got["best"]["choices"] == choices
    assert got["notes"] == ["a note", "another"] and got["wall_seconds"] == 12.4
    assert (got["n_jobs"], got["scheduler"], got["complete"]) == (2, None, True)
    assert got["versions"]["python"].count(".") == 2 and "numpy" in got["versions"]
    assert [r["model"] for r in got["results"]] == [svr.model, best.model]
    assert [(t["start"], t["end"], t["seconds"]) for t in got["tasks"]] == [
        (0.0, 2.5, 2.5), (1.0, 1.5, 0.5)]
    assert (tmp_path / "tasks.png").stat().st_size > 0
    plotted = got["plotted"]
    assert plotted["title"] == ("Best model by nested cross-validation: an RBF SVR per target, "
                                "its feature set (one of 3) and C, epsilon chosen inside each "
                                "training fold")
    for t in "VA":
        assert plotted["fold_mean_r"][t] == pytest.approx(
            np.mean([f[f"test_r_{t}"] for f in best.folds]))
    assert summary["plotted"] == got["plotted"] and summary["dataset"] == "Synthetic"


def test_an_unfinished_report_has_tables_but_no_plots(tmp_path):
    """While a run is in progress: tables, no plots, no out-of-fold file,
    no task chart, 'so far' in the wall time, nothing plotted."""
    rng = np.random.default_rng(6)
    y = np.c_[rng.uniform(1, 9, 30), rng.uniform(2, 7, 30)]
    rows = [_row("IV", "SVR (RBF, C=1)", "all", rng)]
    rep = Report(tmp_path, "Synthetic", np.array([f"{i}.jpg" for i in range(30)], dtype=object),
                 y, 3, 0, results=rows, wall=3.0, complete=False,
                 tasks=[{"table": "IV", "worker": "w", "start": 1.0, "end": 2.0}])
    logged = []
    write_report(rep, log=logged.append)
    assert (tmp_path / "tables.csv").exists() and logged == []
    for name in ("oof.csv", "scatter_pred_vs_true.png", "va_thumbnails.png", "tasks.png"):
        assert not (tmp_path / name).exists(), name
    got = json.loads((tmp_path / "results.json").read_text())
    assert got["plotted"] is None and got["complete"] is False
    assert "Wall time: 3 s so far (run in progress)" in (tmp_path / "tables.md").read_text()


def test_the_last_row_is_plotted_without_a_nested_or_ffnn_row_and_no_chart_without_times(tmp_path):
    rng = np.random.default_rng(7)
    y = np.c_[rng.uniform(1, 9, 30), rng.uniform(2, 7, 30)]
    rows = [_row("III", "SVR (RBF, C=1)", "object", rng), _row("II", "FFNN (paper)", "object", rng),
            _row("IV", "linear regression", "all", rng)]
    rows[2].fold_of = None  # a row that does not know its folds writes fold 0
    rep = Report(tmp_path, "Synthetic", np.array([f"{i}.jpg" for i in range(30)], dtype=object),
                 y, 3, 0, results=rows, complete=True, tasks=[{"table": "IV", "fold": 1}])
    write_report(rep)
    got = json.loads((tmp_path / "results.json").read_text())
    assert got["plotted"]["model"] == "linear regression"
    assert got["plotted"]["title"] == "linear regression on the feature set 'all'"
    assert (pd.read_csv(tmp_path / "oof.csv")["fold"] == 0).all()
    assert not (tmp_path / "tasks.png").exists()


def test_pooled_scores_by_hand_at_the_edges():
    from sklearn_emotion.reproduce._report import pooled_scores

    y = np.c_[np.full(6, 5.0), np.linspace(4.6, 5.4, 6)]  # a constant target; a spread < 1
    p = np.c_[np.linspace(4, 6, 6), 5.0 + np.linspace(0, 0.5, 6)]
    s = pooled_scores(y, p)
    assert np.isnan(s["r2_V"]) and s["mse_V"] == pytest.approx(np.mean((p[:, 0] - 5) ** 2))
    assert s["r2_A"] == pytest.approx(r2_score(y[:, 1], p[:, 1]))
    assert s["r_A"] == pytest.approx(np.corrcoef(y[:, 1], p[:, 1])[0, 1])  # spread 0.5: defined
    assert np.isnan(pooled_scores(y[:, ::-1], np.c_[p[:, 0], np.full(6, 5.0)])["r_A"])


def test_sections_come_in_table_order_and_missing_cells_stay_empty(tmp_path):
    """Tables II, III, IV, then the nested row, whatever the order of the
    results; a score only some rows have (epochs) is empty in the others';
    the nested row is plotted even when it is not the last."""
    rng = np.random.default_rng(8)
    y = np.c_[rng.uniform(1, 9, 30), rng.uniform(2, 7, 30)]
    rows = [_row("best", "nested", "a / b", rng), _row("IV", "SVR (RBF, C=1)", "all", rng),
            _row("II", "FFNN (paper settings)", "all", rng), _row("III", "SVR", "object", rng)]
    for f in rows[2].folds:
        f["epochs"] = 12.0
    rep = Report(tmp_path, "S", np.array([f"{i}.jpg" for i in range(30)], dtype=object), y, 3, 0,
                 results=rows, complete=True)
    write_report(rep)
    md = (tmp_path / "tables.md").read_text()
    heads = [md.index(h) for h in ("### Table II:", "### Table III:", "### Table IV:",
                                   "### Best configuration")]
    assert heads == sorted(heads)
    pf = pd.read_csv(tmp_path / "per_fold.csv")
    assert pf.loc[pf.table == "II", "epochs"].tolist() == [12.0] * 3
    assert pf.loc[pf.table != "II", "epochs"].isna().all()
    assert json.loads((tmp_path / "results.json").read_text())["plotted"]["model"] == "nested"


def test_a_report_without_rows_still_writes_its_tables(tmp_path):
    rep = Report(tmp_path, "S", np.array([], dtype=object), np.zeros((0, 2)) + 5, 3, 0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_report(rep)
    assert (tmp_path / "tables.csv").read_text().splitlines() == ["table"]


def test_the_wall_time_line_with_and_without_peak_memory(tmp_path, monkeypatch):
    from sklearn_emotion.reproduce import _report

    rng = np.random.default_rng(9)
    y = np.c_[rng.uniform(1, 9, 30), rng.uniform(2, 7, 30)]
    rep = Report(tmp_path, "S", np.array([f"{i}.jpg" for i in range(30)], dtype=object), y, 3, 0,
                 results=[_row("IV", "SVR", "all", rng)], wall=12.4)
    for peak, workers, line in [
            (100.0, 2500.0, "Wall time: 12 s so far (run in progress); peak memory (RSS) of the "
                            "process 100 MiB, of its model-fitting worker 2,500 MiB."),
            (None, None, "Wall time: 12 s so far (run in progress).")]:
        monkeypatch.setattr(_report, "peak_rss_mib", lambda p=peak: p)
        monkeypatch.setattr(_report, "peak_rss_workers_mib", lambda w=workers: w)
        write_report(rep)
        assert (tmp_path / "tables.md").read_text().rstrip("\n").split("\n")[-1] == line

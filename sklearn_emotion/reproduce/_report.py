"""Reporting: tables (Markdown, CSV), per-fold numbers, JSON and plots."""

from __future__ import annotations

import csv
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr

from .._keys import library_versions
from ._engine import peak_rss_mib
from ._protocol import CLIP

__all__ = ["Report", "peak_rss_mib", "pooled_scores", "write_report"]

TITLES = {"II": "Table II: FFNN on all features, per object backbone",
          "III": "Table III: feature families",
          "IV": "Table IV: regressors on all features",
          "best": "Best configuration (nested CV)"}


@dataclass
class Report:
    """Everything a reproduction writes."""

    out: Path
    dataset: str
    paths: np.ndarray
    y: np.ndarray
    folds: int
    random_state: int
    results: list = field(default_factory=list)
    features: dict = field(default_factory=dict)  # family -> computed/cached/seconds/columns
    best: dict | None = None
    notes: list = field(default_factory=list)  # what was skipped, and why
    wall: float = 0.0
    complete: bool = False
    n_jobs: int = 1  # folds of SVR / linear rows fitted at once (their fit_seconds overlap)
    tasks: list = field(default_factory=list)  # one record per fold: when, where, memory
    scheduler: str | None = None


def peak_rss_workers_mib():
    """Peak resident memory of the largest finished child process (the fit
    worker), in MiB (``RUSAGE_CHILDREN``); None where unavailable or none."""
    try:
        import resource
        import sys

        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    except (ImportError, OSError):
        return None
    return (rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024) or None


def _fmt(s, k):
    if not np.isfinite(s[k + "_mean"]):
        return "n/a"
    return f"{s[k + '_mean']:.3f} ± {s[k + '_std']:.3f}"


def _markdown(rows, title):
    cols = ["model", "features", "test MSE V", "test MSE A", "test R² V", "test R² A",
            "test r V", "test r A", "train MSE V", "train MSE A"]
    keys = ["test_mse_V", "test_mse_A", "test_r2_V", "test_r2_A", "test_r_V", "test_r_A",
            "train_mse_V", "train_mse_A"]
    lines = [f"### {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for s in rows:
        lines.append("| " + " | ".join([s["model"], s["features"]] + [_fmt(s, k) for k in keys]) + " |")
    return "\n".join(lines) + "\n"


def _per_fold_markdown(results):
    lines = ["| table | model | features | fold | train MSE V | test MSE V | train MSE A | test MSE A |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for k, f in enumerate(r.folds):
            lines.append(f"| {r.table} | {r.model} | {r.features} | {k + 1} | {f['train_mse_V']:.3f} | "
                         f"{f['test_mse_V']:.3f} | {f['train_mse_A']:.3f} | {f['test_mse_A']:.3f} |")
    return "\n".join(lines) + "\n"


def describe_model(result):
    """A figure title for a result row, in words."""
    if result.table == "best":
        n = len(result.features.split("; "))
        return (f"Best model by nested cross-validation: an RBF SVR per target, its feature set "
                f"(one of {n}) and C, epsilon chosen inside each training fold")
    return f"{result.model} on the feature set '{result.features}'"


def pooled_scores(y, oof):
    """Pooled scores of out-of-fold predictions, per target: every image's
    prediction from the fold that held it out, scored together (the numbers
    the scatter plot's titles print; ``results.json``'s ``plotted``).

    Parameters
    ----------
    y, oof : ndarray of shape (n, 2)
        Ratings and out-of-fold predictions (valence, arousal).

    Returns
    -------
    scores : dict
        ``mse_V``, ``r2_V``, ``r_V`` and the same for ``A``.
    """
    out = {}
    for j, t in enumerate(("V", "A")):
        e = y[:, j] - oof[:, j]
        mse = float(np.mean(e ** 2))
        var = float(np.var(y[:, j]))
        out[f"mse_{t}"] = mse
        out[f"r2_{t}"] = 1 - mse / var if var > 0 else float("nan")
        out[f"r_{t}"] = float(pearsonr(y[:, j], oof[:, j])[0]) if np.ptp(oof[:, j]) > 0 \
            else float("nan")
    return out


def _plots(out, y, oof, paths, title, pooled, fold_r=None, n_thumbs=40, seed=0):
    import textwrap

    from matplotlib.figure import Figure

    from .._plotting import plot_va_thumbnails

    fig = Figure(figsize=(10, 4.9))
    axes = fig.subplots(1, 2)
    for j, (ax, t) in enumerate(zip(axes, ("Valence", "Arousal"))):
        ax.scatter(y[:, j], oof[:, j], s=6, alpha=0.4)
        ax.plot([1, 9], [1, 9], "k--", lw=1)
        r, mse = pooled[f"r_{t[0]}"], pooled[f"mse_{t[0]}"]
        head = f"{t}: pooled r = {r:.2f}, MSE = {mse:.2f}"
        if fold_r is not None:
            head += f"\n(the table's r, mean over folds: {fold_r[j]:.3f})"
        ax.set(xlim=(1, 9), ylim=(1, 9), xlabel=f"rated {t.lower()}",
               ylabel=f"predicted {t.lower()}", title=head)
        ax.title.set_fontsize(10)
    fig.suptitle(textwrap.fill(f"{title}. Each image's prediction comes from the fold that "
                               f"held it out ({len(y)} images).", 110), fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "scatter_pred_vs_true.png", dpi=110)

    plot_va_thumbnails(list(paths), oof, out / "va_thumbnails.png",
                       title=textwrap.fill(f"Out-of-fold predicted valence-arousal. {title}", 90),
                       limits=None, max_thumbnails=n_thumbs, seed=seed)


def _write_oof(path, rep, result):
    """The plotted row's out-of-fold predictions, one line per image: its
    path, the fold (1-based) that held it out, its ratings and predictions."""
    fold_of = result.fold_of if result.fold_of is not None else np.full(len(rep.y), -1)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "fold", "valence", "arousal", "valence_pred", "arousal_pred"])
        for p, k, yv, pv in zip(rep.paths, fold_of, rep.y, result.oof):
            w.writerow([str(p), int(k) + 1, repr(float(yv[0])), repr(float(yv[1])),
                        repr(float(pv[0])), repr(float(pv[1]))])


def _task_records(rep):
    """The fold tasks' records, times in seconds from the first task's start."""
    t0 = min((t["start"] for t in rep.tasks if "start" in t), default=0.0)
    out = []
    for t in rep.tasks:
        r = dict(t)
        if "start" in r:
            r["start"], r["end"] = round(r["start"] - t0, 3), round(r["end"] - t0, 3)
            r["seconds"] = round(r["end"] - r["start"], 3)
        out.append(r)
    return out


def _gantt(path, tasks, rep):
    """One bar per fold task, one lane per worker process; colour by table."""
    import textwrap

    from matplotlib.figure import Figure

    timed = [t for t in tasks if "start" in t]
    workers = sorted({t["worker"] for t in timed})
    colours = {"II": "tab:blue", "III": "tab:orange", "IV": "tab:green", "best": "tab:red"}
    fig = Figure(figsize=(11, 1.2 + 0.45 * len(workers)))
    ax = fig.subplots()
    for t in timed:
        lane = workers.index(t["worker"])
        ax.barh(lane, t["seconds"], left=t["start"], height=0.7,
                color=colours.get(t.get("table"), "tab:gray"), edgecolor="black", linewidth=0.3)
    ax.set_yticks(range(len(workers)), [textwrap.shorten(w, 40) for w in workers], fontsize=7)
    ax.set_xlabel("seconds from the first fit")
    peak = {w: max((t.get("peak_rss_mib") or 0) for t in timed if t["worker"] == w) for w in workers}
    # the peaks wrapped under the heading: one line of 14 workers ran off the figure
    ax.set_title(f"{rep.dataset}: {len(timed)} fold fits on {len(workers)} worker process(es)"
                 f" ({rep.scheduler or 'this machine'})\n"
                 + textwrap.fill("peak memory per worker (MiB): "
                                 + ", ".join(f"{v:,.0f}" for v in peak.values()), 110),
                 fontsize=9)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=c, label=f"table {k}") for k, c in colours.items()],
              fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(rep: Report, log=None):
    """Write ``tables.md``, ``tables.csv``, ``per_fold.csv``, ``results.json``
    and, once the run is complete, the plots and the plotted row's
    out-of-fold predictions (``oof.csv``).  Called after every model, so a
    partial run leaves partial tables."""
    out = rep.out
    summaries = [r.summary() for r in rep.results]
    var = rep.y.var(axis=0)
    md = [f"# {rep.dataset}: reproduction of Kim et al. (2018)\n",
          f"{len(rep.paths)} images, {rep.folds}-fold CV (KFold shuffle, "
          f"random_state={rep.random_state}); mean ± std over folds. Always predicting the "
          f"training mean scores MSE ≈ the target variance (V {var[0]:.2f}, A {var[1]:.2f} on "
          "these images). Unless a row says otherwise, features are standardised and clipped "
          f"to ±{CLIP:g} (make_scaler).\n"]
    if rep.notes:
        md.append("\n".join(f"- {n}" for n in rep.notes) + "\n")
    for t in ("II", "III", "IV", "best"):
        rows = [s for s in summaries if s["table"] == t]
        if rows:
            md.append(_markdown(rows, TITLES[t]))
    if rep.best:
        md.append("Chosen per outer fold (inner 3-fold grid search on the training folds only):\n\n"
                  + "\n".join(f"- fold {k + 1}: V {c['V']}; A {c['A']}"
                              for k, c in enumerate(rep.best["choices"])) + "\n")
    md.append("### Per-fold MSE\n\n" + _per_fold_markdown(rep.results))
    md.append("### Features\n\n| family | columns | computed | from cache | seconds |\n|---|---|---|---|---|\n"
              + "\n".join(f"| {k} | {v['n_features']} | {v['computed']} | {v['cached']} | {v['seconds']} |"
                          for k, v in rep.features.items()) + "\n")
    peak, peak_workers = peak_rss_mib(), peak_rss_workers_mib()
    md.append(f"Wall time: {rep.wall:.0f} s{'' if rep.complete else ' so far (run in progress)'}"
              + (f"; peak memory (RSS) of the process {peak:,.0f} MiB" if peak else "")
              + (f", of its model-fitting worker {peak_workers:,.0f} MiB" if peak_workers else "")
              + ".\n")
    (out / "tables.md").write_text("\n".join(md), encoding="utf-8")
    with open(out / "tables.csv", "w", newline="") as f:
        keys = list(dict.fromkeys(k for s in summaries for k in s)) or ["table"]
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for s in summaries:
            w.writerow(s)
    with open(out / "per_fold.csv", "w", newline="") as f:
        keys = sorted({k for r in rep.results for fo in r.folds for k in fo})
        w = csv.writer(f)
        w.writerow(["table", "model", "features", "fold"] + keys)
        for r in rep.results:
            for k, fo in enumerate(r.folds):
                w.writerow([r.table, r.model, r.features, k + 1] + [fo.get(c, "") for c in keys])
    plotted_info = None
    if rep.complete and rep.results:
        plotted = next((r for r in rep.results if r.table == "best"), None) or next(
            (r for r in rep.results if r.model.startswith("FFNN") and r.features == "all"),
            rep.results[-1])
        fold_r = [float(np.mean([f.get(f"test_r_{t}", np.nan) for f in plotted.folds]))
                  for t in ("V", "A")]
        pooled = pooled_scores(rep.y, plotted.oof)
        plotted_info = {"table": plotted.table, "model": plotted.model,
                        "features": plotted.features, "title": describe_model(plotted),
                        "pooled": pooled,
                        "fold_mean_r": {"V": fold_r[0], "A": fold_r[1]}}
        _write_oof(out / "oof.csv", rep, plotted)
        _plots(out, rep.y, plotted.oof, rep.paths, describe_model(plotted), pooled,
               fold_r=fold_r)
    tasks = _task_records(rep)
    if rep.complete and any("start" in t for t in tasks):
        _gantt(out / "tasks.png", tasks, rep)
    summary = {"dataset": rep.dataset, "n_images": len(rep.paths), "folds": rep.folds,
               "random_state": rep.random_state, "features": rep.features, "results": summaries,
               "best": rep.best, "plotted": plotted_info, "notes": rep.notes, "wall_seconds": rep.wall,
               "peak_rss_mib": peak, "peak_rss_workers_mib": peak_workers,
               "n_jobs": rep.n_jobs, "scheduler": rep.scheduler, "tasks": tasks,
               "versions": {"python": platform.python_version(), **dict(library_versions())},
               "complete": rep.complete}
    (out / "results.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    if log and rep.complete:
        log(f"wrote {out}/tables.md, tables.csv, per_fold.csv, results.json and plots "
            f"({rep.wall:.0f} s)")
    return summary

"""The cross-set table: each feature family and regressor of Tables III and IV,
fitted on all of one rated set and tested on all of another, with the
within-set cross-validated numbers beside it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold

from ._checkpoints import FoldCheckpoints
from ._engine import Engine
from ._evaluation import evaluate, subset_indices, transfer
from ._protocol import FEATURE_SETS, TABLE3_SETS, models
from ._run import compute_features, load_dataset
from .._warn import DEPRECATED, renamed

__all__ = ["CROSS_RUNS", "run_cross_set"]

#: (model, feature set) pairs of Tables III and IV.
CROSS_RUNS = tuple(
    [(m, fs) for m in ("SVR (RBF, C=1)", "FFNN (tuned)") for fs in TABLE3_SETS]
    + [(m, "all") for m in ("mean of training targets", "linear regression",
                            "FFNN (paper settings)")]
)


def run_cross_set(output="cross-set-results", *, datasets=("emotion6", "oasis"), folds=5,
                  subset=None, runs=CROSS_RUNS, cache_dir=None, n_jobs=None, random_state=0,
                  ffnn_max_iter=300, ffnn_hidden=None, within=None, data_home=None, log=print,
                  verbose=True, progress=DEPRECATED):
    """Fit on all of one set, test on all of the other, in both directions.

    Parameters
    ----------
    output : path-like
        Folder for ``cross_set.md`` and ``cross_set.json``.
    datasets : pair of {"emotion6", "oasis"} or Bunch
    folds : int
        Folds of the within-set numbers reported beside (KFold, shuffled,
        seeded by ``random_state``).
    subset : int, optional
        Use a fixed random subset of this many images of each set.
    runs : sequence of (model name, feature set)
        Default: Table III's SVR and tuned FFNN on each family group, and
        Table IV's regressors on all features.
    within : pair of path-like, optional
        ``results.json`` of a full reproduction of each set, made with the
        same folds, seed and model settings: its per-model summaries are
        reported as the within-set numbers instead of cross-validating the
        same models on the same folds again.  Runs they lack are computed.
        They are read after every transfer fit, so a reproduction may still
        be running when this starts.  Every finished fit is checkpointed in
        ``<output>/.checkpoints/`` (removed on completion), so a rerun after
        an interruption or a refused ``within`` only fits what is left.
    verbose : bool, default=True
        Progress bars.
    progress : deprecated
        The old name of ``verbose`` (deprecated in 0.2, removed in 0.4).

    Returns
    -------
    summary : dict
        Written to ``cross_set.json``.
    """
    verbose = renamed(verbose, progress, "verbose", "progress", default=True)
    t0 = time.perf_counter()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    data = []
    need = sorted({f for _, fs in runs for f in FEATURE_SETS[fs]})
    for d in datasets:
        name, paths, y = load_dataset(d, data_home)
        if subset is not None and subset < len(paths):
            keep = subset_indices(len(paths), subset, random_state)
            paths, y = paths[keep], y[keep]
        feats, _ = compute_features(need, paths, cache_dir=cache_dir, n_jobs=n_jobs,
                                    data_home=data_home, verbose=verbose, log=log)
        data.append((name, y, feats))
    regs = models(random_state, ffnn_max_iter, ffnn_hidden)
    cv = KFold(folds, shuffle=True, random_state=random_state)
    # every finished fit is checkpointed, so an interrupted run resumes
    store = FoldCheckpoints(out / ".checkpoints")
    # one network worker for every transfer and within-set fit; stopped at the end
    with Engine(None, n_jobs) as engine:
        rows = []
        # the transfers first; the within-set numbers (read from `within` only
        # now, so a reproduction may still be running meanwhile) after
        for model_name, fs in runs:
            model, joint = regs[model_name]
            X = [np.hstack([f[c] for c in FEATURE_SETS[fs]]) for _, _, f in data]
            row = {"model": model_name, "features": fs}
            for a, b in ((0, 1), (1, 0)):
                key = store.key_of(model, bool(joint), X[a], data[a][1], X[b], data[b][1])
                hit = store.load(key, n=len(data[b][1]),
                                 fields=tuple(f"test_{m}_{t}" for m in ("mse", "r2", "r")
                                              for t in "VA"))
                if hit is None:
                    sc, pred = transfer(model, joint, X[a], data[a][1], X[b], data[b][1],
                                        engine=engine)
                    store.save(key, sc, pred)
                else:
                    sc = hit[0]
                row[f"{data[a][0]} -> {data[b][0]}"] = sc
            rows.append(row)
            if log:
                log(f"cross-set: {model_name} on {fs} done ({time.perf_counter() - t0:.0f} s)")
            _write(out, data, rows, folds, time.perf_counter() - t0)
        known = [_within_table(w, folds, random_state, len(d[1]))
                 for w, d in zip(within or (None, None), data)]
        for row in rows:
            model, joint = regs[row["model"]]
            X = [np.hstack([f[c] for c in FEATURE_SETS[row["features"]]]) for _, _, f in data]
            for (name, y, _), Xi, kn in zip(data, X, known):
                if (row["model"], row["features"]) in kn:
                    row[f"within {name}"] = kn[(row["model"], row["features"])]
                else:
                    row[f"within {name}"] = evaluate(model, Xi, y, cv, joint=joint,
                                                     checkpoints=store, engine=engine).summary()
            _write(out, data, rows, folds, time.perf_counter() - t0)
    summary = _write(out, data, rows, folds, time.perf_counter() - t0, complete=True)
    store.clear()
    return summary


def _within_table(path, folds, random_state, n_images):
    """{(model, features): summary} from a reproduction's results.json, if it matches."""
    if path is None:
        return {}
    info = json.loads(Path(path).read_text(encoding="utf-8"))
    if (info.get("folds"), info.get("random_state"), info.get("n_images")) != (
            folds, random_state, n_images) or not info.get("complete"):
        raise ValueError(f"{path}: not a complete run with folds={folds}, "
                         f"random_state={random_state} on {n_images} images")
    return {(r["model"], r["features"]): r for r in info["results"]}


def _r(sc, t, within=False):
    key = f"test_r_{t}_mean" if within else f"test_r_{t}"
    v = sc.get(key, float("nan"))
    return "n/a" if not np.isfinite(v) else f"{v:.3f}"


def _write(out, data, rows, folds, wall, complete=False):
    a, b = data[0][0], data[1][0]
    cols = [f"within {a}", f"within {b}", f"{a} -> {b}", f"{b} -> {a}"]
    md = [f"# Cross-set table: {a} and {b}", "",
          f"Pearson r, valence / arousal. 'within' = {folds}-fold CV mean over folds; "
          "'X -> Y' = fitted on all of X, tested on all of Y. R² and MSE of every cell are in "
          "`cross_set.json`.", "",
          "| model | features | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for row in rows:
        cells = [f"{_r(row.get(c, {}), 'V', c.startswith('within'))} / "
                 f"{_r(row.get(c, {}), 'A', c.startswith('within'))}" for c in cols]
        md.append(f"| {row['model']} | {row['features']} | " + " | ".join(cells) + " |")
    md.append("")
    md.append(f"Wall time: {wall:.0f} s{'' if complete else ' so far (run in progress)'}.")
    (out / "cross_set.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    summary = {"sets": [a, b], "folds": folds, "rows": rows, "wall_seconds": wall,
               "complete": complete}
    (out / "cross_set.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary

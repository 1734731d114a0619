"""Re-run chosen rows of the Emotion6 reproduction with the current code.

Same images, folds, features (through the cache) and settings as
``sklearn-emotion reproduce``; only the named (model, feature set) rows,
compared with ``benchmarks/results/emotion6/tables.csv``.  Written (as
``ffnn_rerun.py``) after FFNNRegressor took MLPRegressor's definitions of
alpha, initialisation and early stopping, to say what that changed without
the full (hours long) reproduction; it takes Table IV's fine-tuned CNN rows
too (features ``image pixels``).

Run::

    python -m benchmarks.rerun_rows --cache-dir feature-cache --name emotion6_ffnn_rerun \
        [--rows "FFNN (tuned)|all" "CNN fine-tuned, MobileNetV2 (conv-train, max 2 epochs)|image pixels" ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from benchmarks._common import RESULTS, write

from sklearn_emotion.reproduce import FEATURE_SETS, compute_features, evaluate, load_dataset
from sklearn_emotion.reproduce._protocol import CNN_ROWS, cnn_row, models

OLD = RESULTS / "emotion6" / "tables.csv"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--rows", nargs="+", default=["FFNN (tuned)|all"],
                    help="'model|feature set' pairs (default: %(default)s)")
    ap.add_argument("--name", default="emotion6_rerun", help="results file name")
    ap.add_argument("--cnn-max-iter", type=int, default=100, help="as reproduce's")
    ap.add_argument("--cnn-train-max-iter", type=int, default=2, help="as reproduce's")
    ap.add_argument("--note", default="", help="what changed, for the results file")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    _, paths, y = load_dataset("emotion6")
    pairs = [tuple(r.split("|")) for r in a.rows]
    need = sorted({f for _, fs in pairs if fs in FEATURE_SETS for f in FEATURE_SETS[fs]})
    feats, _ = compute_features(need, paths, cache_dir=a.cache_dir)
    cv = KFold(5, shuffle=True, random_state=0)
    regs = models(0, 300, None)
    budget = {"conv-frozen": a.cnn_max_iter, "conv-train": a.cnn_train_max_iter}
    for rng_name, lr in CNN_ROWS:
        name, model = cnn_row(rng_name, lr, budget[rng_name], cache_dir=a.cache_dir)
        regs[name] = (model, True)
    old = pd.read_csv(OLD)
    rows = []
    for name, fs in pairs:
        model, joint = regs[name]
        X = (paths.astype(object) if fs == "image pixels"
             else np.hstack([feats[f] for f in FEATURE_SETS[fs]]))
        s = evaluate(model, X, y, cv, joint=joint, name=name, features=fs).summary()
        prev = old[(old.model == name) & (old.features == fs)].iloc[0]
        rows.append({"model": name, "features": fs, "new": s, "old": prev.to_dict()})
        print(name, fs, {k: round(s[k], 3) for k in ("test_mse_V_mean", "test_mse_A_mean",
                                                     "test_r_V_mean", "test_r_A_mean")}, flush=True)
    keys = [("test MSE V", "test_mse_V_mean"), ("test MSE A", "test_mse_A_mean"),
            ("test r V", "test_r_V_mean"), ("test r A", "test_r_A_mean"),
            ("epochs", "epochs_mean"), ("fit s", "fit_seconds_mean")]
    md = ["Emotion6, the reproduction's 5 folds and features; mean over folds. 'before': "
          "`benchmarks/results/emotion6/tables.csv`; 'now': the current code. "
          f"{a.note} Fit seconds are not comparable across the two runs' machines.", "",
          "| model | features | " + " | ".join(f"{k} before → now" for k, _ in keys) + " |",
          "|---|---|" + "---|" * len(keys)]
    for r in rows:
        md.append(f"| {r['model']} | {r['features']} | " + " | ".join(
            f"{r['old'][c]:.3f} → {r['new'][c]:.3f}" for _, c in keys) + " |")
    md.append("")
    md.append(f"Wall time {time.perf_counter() - t0:.0f} s on 2 CPU cores.")
    opts = f"--cache-dir {a.cache_dir} --name {a.name}".split()
    if a.note:
        opts += ["--note", repr(a.note)]
    write(a.name, "python -m benchmarks.rerun_rows " + " ".join(
        opts + ["--rows"] + [f"'{r}'" for r in a.rows]),
        {"rows": json.loads(json.dumps(rows, default=float))}, "\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())

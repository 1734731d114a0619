"""Choose the 'tuned' FFNN settings without touching any test fold.

Only the training part of outer fold 1 (KFold(5, shuffle=True, random_state=0))
is used, split again 80/20; candidates are scored on that inner hold-out.
Run: python -m benchmarks.tune_ffnn --cache-dir cache
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import make_pipeline

from benchmarks._common import write

from sklearn_emotion import FFNNRegressor
from sklearn_emotion.pipeline import make_scaler
from sklearn_emotion.datasets import load_emotion6
from sklearn_emotion.pipeline import FEATURE_FAMILIES
from sklearn_emotion.reproduce import FEATURE_SETS

CANDIDATES = {
    "paper: SGD lr 1e-4, momentum 0.9, batch 1000": dict(solver="sgd", learning_rate_init=1e-4, batch_size=1000),
    "SGD lr 1e-3, momentum 0.9, batch 100": dict(solver="sgd", learning_rate_init=1e-3, batch_size=100),
    "Adam lr 1e-5, batch 64, L2 1e-3": dict(solver="adam", learning_rate_init=1e-5, batch_size=64, alpha=1e-3),
    "Adam lr 1e-4, batch 64, L2 1e-2": dict(solver="adam", learning_rate_init=1e-4, batch_size=64, alpha=1e-2),
    "Adam lr 1e-4, batch 64, L2 1e-1": dict(solver="adam", learning_rate_init=1e-4, batch_size=64, alpha=1e-1),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="cache")
    ap.add_argument("--max-iter", type=int, default=300)
    ap.add_argument("--features", default="all")
    ap.add_argument("--clip", type=float, default=5.0, help="clip z-scores (0: no clipping)")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    paths, y = load_emotion6(return_X_y=True)
    X = np.hstack([FEATURE_FAMILIES[f]().set_params(cache_dir=a.cache_dir).fit_transform(list(paths))
                   for f in FEATURE_SETS[a.features]])
    tr, _ = next(KFold(5, shuffle=True, random_state=0).split(X))
    itr, iva = train_test_split(tr, test_size=0.2, random_state=0)
    var = y[iva].var(axis=0)
    rows = {}
    for name, params in CANDIDATES.items():
        m = make_pipeline(make_scaler(a.clip or None), FFNNRegressor(**params, max_iter=a.max_iter,
                                                          n_iter_no_change=20, random_state=0))
        t0 = time.perf_counter()
        m.fit(X[itr], y[itr])
        p = m.predict(X[iva])
        mse = ((p - y[iva]) ** 2).mean(axis=0)
        reg = m[-1]
        rows[name] = dict(mse_V=float(mse[0]), mse_A=float(mse[1]),
                          r2_V=float(1 - mse[0] / var[0]), r2_A=float(1 - mse[1] / var[1]),
                          epochs=reg.n_iter_, seconds=time.perf_counter() - t0)
        print(name, rows[name], flush=True)
    md = [f"Inner hold-out of outer fold 1 ({len(itr)} train / {len(iva)} held out), "
          f"features '{a.features}' ({X.shape[1]} columns), network 3000-1000-500, "
          f"early stopping patience 20, at most {a.max_iter} epochs, inputs standardised"
          + (f" and clipped to ±{a.clip:g}." if a.clip else " (not clipped)."), "",
          "| settings | MSE V | MSE A | R² V | R² A | epochs | seconds |", "|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        md.append(f"| {k} | {r['mse_V']:.3f} | {r['mse_A']:.3f} | {r['r2_V']:.3f} | {r['r2_A']:.3f} | "
                  f"{r['epochs']} | {r['seconds']:.0f} |")
    write("tune_ffnn", f"python -m benchmarks.tune_ffnn --cache-dir {a.cache_dir} --max-iter {a.max_iter} "
          f"--features '{a.features}' --clip {a.clip:g}", {"rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()

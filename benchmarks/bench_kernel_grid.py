"""The nested search's SVR grid: GridSearchCV against precomputed RBF kernels.

One outer training fold of Emotion6 (fold 1 of the reproduction's
``KFold(5, shuffle=True, random_state=0)``: 1,584 images), both targets,
the nested search's grid (C in 1, 3, 10; epsilon in 0.1, 0.3; 3 inner
folds), the clipped scaler + RBF SVR.  Feature sets: colour + LBP +
ImageNet class logits (the reproduction's "all (object logits)" without
GIST and the scene fractions), and the pooled MobileNetV2 layers (wider
than any of the reproduction's three candidates, 1.7k-2.2k columns).  Each search runs side by side in one
process, the order alternated, ``--repeat`` times; the median is reported.

Usage::

    python -m benchmarks.bench_kernel_grid --cache-dir feature-cache --n-jobs 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVR

from benchmarks._common import write

from sklearn_emotion import PooledLayerFeatures
from sklearn_emotion.datasets import load_emotion6
from sklearn_emotion.pipeline import FEATURE_FAMILIES, make_scaler
from sklearn_emotion.reproduce._kernel_grid import svr_grid_search

GRID = {"svr__C": [1.0, 3.0, 10.0], "svr__epsilon": [0.1, 0.3]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    command = ("python -m benchmarks.bench_kernel_grid "
               + " ".join(argv if argv is not None else sys.argv[1:]))
    import joblib

    b = load_emotion6()
    paths = list(b.filenames)
    kw = dict(cache_dir=args.cache_dir, n_jobs=args.n_jobs)
    def family(name):
        return FEATURE_FAMILIES[name]().set_params(**kw).fit_transform(paths)

    sets = {
        "colour + LBP + ImageNet logits": np.hstack([family(f) for f in
                                                     ("color", "lbp", "object_logits")]),
        "pooled MobileNetV2 layers": PooledLayerFeatures(**kw).fit_transform(paths),
    }
    tr, _ = next(KFold(5, shuffle=True, random_state=0).split(paths))
    rows = {}
    for name, F in sets.items():
        X = F[tr]
        for j, target in enumerate(("valence", "arousal")):
            y = b.target[tr, j]
            times = {"GridSearchCV": [], "precomputed": []}
            for rep in range(args.repeat):
                order = ("GridSearchCV", "precomputed") if rep % 2 == 0 else ("precomputed",
                                                                               "GridSearchCV")
                for how in order:
                    t0 = time.perf_counter()
                    if how == "GridSearchCV":
                        gs = GridSearchCV(make_pipeline(make_scaler(5.0), SVR()), GRID, cv=3,
                                          scoring="neg_mean_squared_error", n_jobs=args.n_jobs)
                        with joblib.parallel_config(backend="threading"):
                            gs.fit(X, y)
                        old = (gs.best_score_, gs.best_params_, gs.predict(X))
                    else:
                        score, params, model = svr_grid_search(X, y, GRID, cv=3, clip=5.0,
                                                               n_jobs=args.n_jobs)
                        new = (score, params, model.predict(X))
                    times[how].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) for k, v in times.items()}
            rows[f"{name}, {target}"] = {
                "n": int(len(X)), "p": int(X.shape[1]), "seconds": med,
                "ratio": med["GridSearchCV"] / med["precomputed"],
                "same_choice": old[1] == new[1],
                "score_difference": abs(old[0] - new[0]),
                "max_prediction_difference": float(np.abs(old[2] - new[2]).max())}
            print(name, target, rows[f"{name}, {target}"], flush=True)
    L = ["| features, target | n × p | GridSearchCV (s) | precomputed kernels (s) | ratio | "
         "same choice | best-score difference | max prediction difference |",
         "|---|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        L.append(f"| {k} | {r['n']} × {r['p']} | {r['seconds']['GridSearchCV']:.1f} | "
                 f"{r['seconds']['precomputed']:.1f} | {r['ratio']:.1f}× | {r['same_choice']} | "
                 f"{r['score_difference']:.1e} | {r['max_prediction_difference']:.1e} |")
    L += ["", f"Median of {args.repeat} side-by-side runs, the order alternated; "
          f"{args.n_jobs} threads each; 2 CPU cores."]
    write("kernel_grid", command, {"rows": rows}, "\n".join(L))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""FFNNRegressor against MLPRegressor (same architecture) and SVR on Emotion6-sized data.

Each model runs in its own process, so peak memory is its own.
Run: python -m benchmarks.bench_ffnn [--epochs 10]
"""

import argparse
import json
import subprocess
import sys

from benchmarks._common import write

CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
kind, epochs = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
X = rng.normal(size=(1584, 1900)).astype(np.float64)
y = np.column_stack([X[:, :10].sum(1) * 0.3 + 5, X[:, 10:20].sum(1) * 0.2 + 4])
if kind == "ffnn":
    from sklearn_emotion import FFNNRegressor
    m = FFNNRegressor(max_iter=epochs, early_stopping=False, n_iter_no_change=10**6, tol=0,
                      random_state=0)
elif kind == "mlp":
    from sklearn.neural_network import MLPRegressor
    m = MLPRegressor(hidden_layer_sizes=(3000, 1000, 500), solver="sgd", batch_size=1000, learning_rate_init=1e-4,
                     momentum=0.9, nesterovs_momentum=False, max_iter=epochs, early_stopping=False,
                     n_iter_no_change=10**6, tol=0, shuffle=True, random_state=0)
else:
    from sklearn.svm import SVR
    m = SVR()
    y = y[:, 0]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
m.fit(X, y)
fit = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"fit_s": fit, "per_epoch_s": fit / epochs if kind != "svr" else None,
                  "peak_rss_mb": peak / 1024, "rss_before_fit_mb": base / 1024}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    a = ap.parse_args()
    res = {}
    for kind in ("ffnn", "mlp", "svr"):
        out = subprocess.run([sys.executable, "-c", CHILD, kind, str(a.epochs)], check=True,
                             capture_output=True, text=True)
        res[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        print(kind, res[kind], flush=True)
    f, m, s = res["ffnn"], res["mlp"], res["svr"]
    md = ["Emotion6-sized data: 1,584 × 1,900 features, 2 targets; the paper's network "
          "3000-1000-500, SGD, batch 1,000. One process per model, 2 CPU cores.", "",
          "| model | fit (s) | per epoch (s) | peak RSS (MB) | RSS growth in fit (MB) |", "|---|---|---|---|---|",
          f"| FFNNRegressor (Keras/TF) | {f['fit_s']:.1f} | {f['per_epoch_s']:.2f} | {f['peak_rss_mb']:.0f} | {f['peak_rss_mb'] - f['rss_before_fit_mb']:.0f} |",
          f"| MLPRegressor (same architecture) | {m['fit_s']:.1f} | {m['per_epoch_s']:.2f} | {m['peak_rss_mb']:.0f} | {m['peak_rss_mb'] - m['rss_before_fit_mb']:.0f} |",
          f"| SVR (RBF, one target) | {s['fit_s']:.1f} | — | {s['peak_rss_mb']:.0f} | {s['peak_rss_mb'] - s['rss_before_fit_mb']:.0f} |",
          "",
          f"Ratios: FFNN epoch / MLPRegressor epoch = {f['per_epoch_s'] / m['per_epoch_s']:.2f}; "
          f"FFNN {a.epochs}-epoch fit / SVR fit = {f['fit_s'] / s['fit_s']:.1f}; "
          f"FFNN peak RSS / MLPRegressor peak RSS = {f['peak_rss_mb'] / m['peak_rss_mb']:.2f}."]
    write("ffnn", f"python -m benchmarks.bench_ffnn --epochs {a.epochs}", {"results": res}, "\n".join(md))


if __name__ == "__main__":
    main()

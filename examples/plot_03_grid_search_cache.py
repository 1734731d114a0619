"""
Grid search over feature combinations, with the per-image cache
===============================================================

A grid over which families to use and the SVR's ``C``. With ``cache_dir=``
every family stores each image's features once: the second search computes
no feature and is much faster.
"""

import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.svm import SVR

from sklearn_emotion import GISTFeatures, LBPFeatures, make_paper_pipeline
from sklearn_emotion.datasets import load_emotion6

# fewer images when the documentation is built by the test suite
QUICK = os.environ.get("SKLEARN_EMOTION_EXAMPLES_QUICK") == "1"


def size(normal, quick):
    return quick if QUICK else normal


n = size(200, 40)
X, y = load_emotion6(return_X_y=True)
pick = np.random.default_rng(0).choice(len(X), n, replace=False)
X, valence = list(X[pick]), y[pick, 0]

cache = tempfile.mkdtemp()
pipe = make_paper_pipeline(["color", "gist", "lbp"], SVR(), cache_dir=cache)
grid = {"features__gist": ["drop", GISTFeatures(cache_dir=cache)],
        "features__lbp": ["drop", LBPFeatures(cache_dir=cache)],
        "regressor__C": [0.3, 1.0, 3.0]}
times = []
for run in ("cold", "warm"):
    t0 = time.perf_counter()
    search = GridSearchCV(pipe, grid, cv=KFold(3, shuffle=True, random_state=0)).fit(X, valence)
    times.append(time.perf_counter() - t0)
    print(f"{run} search: {times[-1]:.1f} s")
print(f"speed-up of the warm search: {times[0] / times[1]:.1f}x")
print("best:", {k: (v if isinstance(v, (str, float)) else type(v).__name__)
               for k, v in search.best_params_.items()}, f"R² {search.best_score_:.3f}")

# %%
res = search.cv_results_
labels = [f"{'G' if not isinstance(g, str) else '-'}{'L' if not isinstance(lb, str) else '-'} C={c}"
          for g, lb, c in zip(res["param_features__gist"], res["param_features__lbp"],
                              res["param_regressor__C"])]
fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 1]})
a1.barh(labels, res["mean_test_score"])
a1.set(xlabel="R² (3-fold CV), valence", title="colour + (G)IST / (L)BP, SVR C")
a2.bar(["cold", "warm"], times)
a2.set(ylabel="seconds", title="same search twice")
fig.tight_layout()
plt.show()

"""Beyond the reproduction: a longer conv-train CNN, and its average with the
nested-CV SVR, on the reproduction's folds.

For each outer fold (KFold(5, shuffle=True, random_state=0), as in
`sklearn-emotion reproduce`): CNNRegressor conv-train on MobileNetV2 (early
stopping on a validation split of the training fold, at most --epochs
epochs); an SVR on object logits + scene features whose C and epsilon are
chosen by 3-fold grid search inside the training fold; and the plain average
of the two (fixed weights, nothing tuned on test data).
Run: python -m benchmarks.cnn_svr_ensemble --cache-dir cache --epochs 6
"""

import argparse
import time
import warnings

import numpy as np
from scipy.stats import pearsonr
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVR

from benchmarks._common import write

from sklearn_emotion import CNNRegressor
from sklearn_emotion.datasets import load_emotion6
from sklearn_emotion.pipeline import make_scaler
from sklearn_emotion.pipeline import FEATURE_FAMILIES
from sklearn_emotion.reproduce import FEATURE_SETS


def scores(y, p):
    out = {}
    for j, t in enumerate("VA"):
        mse = float(np.mean((y[:, j] - p[:, j]) ** 2))
        out[f"mse_{t}"] = mse
        out[f"r_{t}"] = float(pearsonr(y[:, j], p[:, j])[0])
        out[f"r2_{t}"] = 1 - mse / float(np.var(y[:, j]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--epochs", type=int, default=6)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    paths, y = load_emotion6(return_X_y=True)
    X = np.hstack([FEATURE_FAMILIES[f]().set_params(cache_dir=a.cache_dir).fit_transform(list(paths))
                   for f in FEATURE_SETS["object logits + scene"]])
    cv = KFold(5, shuffle=True, random_state=0)
    oof = {k: np.zeros_like(y) for k in ("cnn", "svr", "mean")}
    epochs = []
    t0 = time.perf_counter()
    for k, (tr, te) in enumerate(cv.split(X)):
        cnn = CNNRegressor("mobilenet_v2", "models/mobilenet_v2_1.0_224_imagenet_notop.weights.h5",
                           "conv-train", max_iter=a.epochs, n_iter_no_change=2,
                           learning_rate=1e-4, random_state=0)
        cnn.fit(list(paths[tr]), y[tr])
        epochs.append(cnn.n_iter_)
        oof["cnn"][te] = cnn.predict(list(paths[te]))
        for j in range(2):
            gs = GridSearchCV(make_pipeline(make_scaler(5.0), SVR()),
                              {"svr__C": [1.0, 3.0, 10.0], "svr__epsilon": [0.1, 0.3]}, cv=3,
                              scoring="neg_mean_squared_error").fit(X[tr], y[tr, j])
            oof["svr"][te, j] = gs.predict(X[te])
        oof["mean"][te] = (oof["cnn"][te] + oof["svr"][te]) / 2
        print(f"fold {k + 1}: cnn {scores(y[te], oof['cnn'][te])}, epochs {cnn.n_iter_}", flush=True)
    rows = {k: scores(y, v) for k, v in oof.items()}
    names = {"cnn": f"CNN conv-train (MobileNetV2, early stopping, max {a.epochs} epochs)",
             "svr": "SVR on object logits + scene (C, epsilon by inner grid search)",
             "mean": "average of the two"}
    md = [f"Emotion6, the reproduction's 5 folds; scores of the pooled out-of-fold predictions. "
          f"CNN epochs per fold: {epochs}. Wall time {time.perf_counter() - t0:.0f} s on 2 CPU cores.", "",
          "| model | MSE V | MSE A | R² V | R² A | r V | r A |", "|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        md.append(f"| {names[k]} | {r['mse_V']:.3f} | {r['mse_A']:.3f} | {r['r2_V']:.3f} | "
                  f"{r['r2_A']:.3f} | {r['r_V']:.3f} | {r['r_A']:.3f} |")
    write("cnn_svr_ensemble", f"python -m benchmarks.cnn_svr_ensemble --cache-dir {a.cache_dir} "
          f"--epochs {a.epochs}", {"rows": rows, "epochs": epochs}, "\n".join(md))


if __name__ == "__main__":
    main()

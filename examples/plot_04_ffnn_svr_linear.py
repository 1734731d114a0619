"""
The paper's FFNN against SVR and linear regression
==================================================

The same features (colour and object classes), the same folds, three
regressors: the feed-forward network (the reproduction's tuned settings:
MLPRegressor's definitions of ``alpha`` and early stopping), an RBF SVR, and
ordinary least squares. The paper found FFNN ≤ SVR ≪ linear in MSE.
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.multioutput import MultiOutputRegressor
from sklearn.svm import SVR

from sklearn_emotion import FFNNRegressor, make_paper_pipeline
from sklearn_emotion.datasets import load_emotion6

# fewer images when the documentation is built by the test suite
QUICK = os.environ.get("SKLEARN_EMOTION_EXAMPLES_QUICK") == "1"


def size(normal, quick):
    return quick if QUICK else normal


n = size(300, 60)
X, y = load_emotion6(return_X_y=True)
pick = np.random.default_rng(0).choice(len(X), n, replace=False)
X, y = list(X[pick]), y[pick]
cache = tempfile.mkdtemp()
cv = KFold(5, shuffle=True, random_state=0)
regressors = {
    "FFNN": FFNNRegressor(hidden_layer_sizes=(256, 64), solver="adam", learning_rate_init=1e-4,
                          batch_size=64, alpha=6.4, max_iter=size(200, 20), random_state=0),
    "SVR": MultiOutputRegressor(SVR()),
    "linear": LinearRegression(),
}
mse = {}
for name, reg in regressors.items():
    pred = cross_val_predict(make_paper_pipeline(["color", "object"], reg, cache_dir=cache), X, y, cv=cv)
    mse[name] = ((pred - y) ** 2).mean(axis=0)
    print(f"{name:>6}: MSE valence {mse[name][0]:.2f}, arousal {mse[name][1]:.2f}")
base = ((y - y.mean(axis=0)) ** 2).mean(axis=0)
print(f"always the mean: MSE valence {base[0]:.2f}, arousal {base[1]:.2f}")

# %%
fig, ax = plt.subplots(figsize=(6, 4))
xpos = np.arange(len(mse))
ax.bar(xpos - 0.2, [m[0] for m in mse.values()], 0.4, label="valence")
ax.bar(xpos + 0.2, [m[1] for m in mse.values()], 0.4, label="arousal")
ax.axhline(base[0], color="C0", ls=":", lw=1)
ax.axhline(base[1], color="C1", ls=":", lw=1)
ax.set(xticks=xpos, xticklabels=list(mse), ylabel="MSE (5-fold CV); dotted: the mean",
       title=f"colour + object features, {n} Emotion6 photos")
ax.legend()
plt.show()

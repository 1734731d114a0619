"""
Which feature family carries emotion?
=====================================

The paper's question (its Table III): colour, texture (GIST, LBP), objects
(ImageNet classes) and scenes (ADE20K fractions), each alone, with an SVR,
cross-validated on the same folds. A random subset of Emotion6 keeps this
to a few minutes (the full protocol is ``sklearn-emotion reproduce``); with
so few images the differences are noisy.
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import pearsonr
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.multioutput import MultiOutputRegressor
from sklearn.svm import SVR

from sklearn_emotion import make_paper_pipeline
from sklearn_emotion.datasets import load_emotion6

# fewer images when the documentation is built by the test suite
QUICK = os.environ.get("SKLEARN_EMOTION_EXAMPLES_QUICK") == "1"


def size(normal, quick):
    return quick if QUICK else normal


n = size(150, 40)
X, y = load_emotion6(return_X_y=True)
pick = np.random.default_rng(0).choice(len(X), n, replace=False)
X, y = list(X[pick]), y[pick]
cache = tempfile.mkdtemp()
cv = KFold(5, shuffle=True, random_state=0)

scores = {}
for family in ("color", "gist", "lbp", "object", "scene"):
    pipe = make_paper_pipeline([family], MultiOutputRegressor(SVR()), cache_dir=cache)
    pred = cross_val_predict(pipe, X, y, cv=cv)
    scores[family] = [pearsonr(pred[:, j], y[:, j])[0] for j in range(2)]
    print(f"{family:>7}: r valence {scores[family][0]:.2f}, arousal {scores[family][1]:.2f}")

# %%
fig, ax = plt.subplots(figsize=(7, 4))
names = list(scores)
xpos = np.arange(len(names))
ax.bar(xpos - 0.2, [scores[k][0] for k in names], 0.4, label="valence")
ax.bar(xpos + 0.2, [scores[k][1] for k in names], 0.4, label="arousal")
ax.set(xticks=xpos, xticklabels=names, ylabel="Pearson r (5-fold CV)",
       title=f"One family at a time, SVR, {n} Emotion6 photos")
ax.legend()
plt.show()

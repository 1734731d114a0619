"""
Across picture sets: train on Emotion6, test on OASIS
=====================================================

A model trained on one rated set and tested on another shows what it learnt
about emotion rather than about one set's photos. Both sets are mapped to
the 1–9 scale; OASIS's arousal ratings spread far wider than Emotion6's.
"""

import os
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import pearsonr

from sklearn_emotion import AffectModel, PooledLayerFeatures
from sklearn_emotion.datasets import load_emotion6, load_oasis

# fewer images when the documentation is built by the test suite
QUICK = os.environ.get("SKLEARN_EMOTION_EXAMPLES_QUICK") == "1"


def size(normal, quick):
    return quick if QUICK else normal


n = size(400, 80)
rng = np.random.default_rng(0)
Xe, ye = load_emotion6(return_X_y=True)
Xo, yo = load_oasis(return_X_y=True)
ie = rng.choice(len(Xe), n, replace=False)
io = rng.choice(len(Xo), n, replace=False)
model = AffectModel(features=PooledLayerFeatures(), cv=3).fit(list(Xe[ie]), ye[ie])
pred = model.predict(list(Xo[io]))

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, j, target in zip(axes, range(2), ("valence", "arousal")):
    r = pearsonr(pred[:, j], yo[io, j])[0]
    ax.scatter(yo[io, j], pred[:, j], s=8, alpha=0.5)
    ax.plot([1, 9], [1, 9], color="grey", lw=0.8)
    ax.set(xlim=(1, 9), ylim=(1, 9), xlabel=f"rated {target} (OASIS)",
           ylabel=f"predicted {target}", title=f"r = {r:.2f}")
    print(f"Emotion6 -> OASIS, {target}: r = {r:.3f}")
fig.suptitle(f"Trained on {n} Emotion6 photos, tested on {n} OASIS photos")
fig.tight_layout()
plt.show()

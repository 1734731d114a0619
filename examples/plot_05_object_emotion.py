"""
Object emotion and rated emotion (the paper's Fig. 8)
=====================================================

The paper asked whether the emotion of the objects a CNN recognises (from
word norms of the class names) goes with the photo's rated emotion, and
found it does more for valence than for arousal.
"""

import os
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import pearsonr

from sklearn_emotion import ObjectEmotionFeatures
from sklearn_emotion.datasets import load_emotion6

# fewer images when the documentation is built by the test suite
QUICK = os.environ.get("SKLEARN_EMOTION_EXAMPLES_QUICK") == "1"


def size(normal, quick):
    return quick if QUICK else normal


n = size(300, 60)
X, y = load_emotion6(return_X_y=True)
pick = np.random.default_rng(0).choice(len(X), n, replace=False)
X, y = list(X[pick]), y[pick]
est = ObjectEmotionFeatures(backbone="mobilenet_v2",
                            weights="models/mobilenet_v2_1.0_224_imagenet.weights.h5")
F = est.fit_transform(X)
names = list(est.get_feature_names_out())
print(names)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, j, target in zip(axes, range(2), ("valence", "arousal")):
    col = F[:, names.index(f"objemo_{target}")]
    r, p = pearsonr(col, y[:, j])
    ax.scatter(col, y[:, j], s=8, alpha=0.5)
    ax.set(xlabel=f"object {target} (word norms, probability-weighted)",
           ylabel=f"rated {target}", title=f"r = {r:.2f} (p = {p:.1e})")
    print(f"{target}: r = {r:.3f}")
fig.suptitle(f"{n} Emotion6 photos")
fig.tight_layout()
plt.show()

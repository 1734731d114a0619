"""
Quick start: valence and arousal of a few photos
================================================

The pretrained model ships with the package: no training step. Here it
scores a handful of Emotion6 photos, and each photo is placed in the
valence–arousal plane beside its human rating.

The shipped model was trained on all of Emotion6 and OASIS, so for these
photos its predictions are in-sample, closer to the ratings than on new
photos; its cross-validated accuracy is in the model card.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.offsetbox import AnnotationBbox, OffsetImage

from sklearn_emotion import load_pretrained
from sklearn_emotion._plotting import thumbnail
from sklearn_emotion.datasets import load_emotion6

rated = load_emotion6()
pick = np.random.default_rng(1).choice(len(rated.filenames), 8, replace=False)
paths = list(rated.filenames[pick])

model = load_pretrained()
pred = model.predict(paths)  # (8, 2): valence, arousal on 1-9
for p, (v, a), (tv, ta) in zip(paths, pred, rated.target[pick]):
    print(f"{p.split('/')[-1]:>12}: predicted V {v:.2f} A {a:.2f}   rated V {tv:.2f} A {ta:.2f}")

# %%
# Each photo at its predicted position; a line joins it to its rating (dot).
fig, ax = plt.subplots(figsize=(7, 7))
for p, (v, a), (tv, ta) in zip(paths, pred, rated.target[pick]):
    ax.plot([v, tv], [a, ta], color="grey", lw=0.8)
    ax.scatter([tv], [ta], color="black", s=12, zorder=3)
    ax.add_artist(AnnotationBbox(OffsetImage(thumbnail(p, 48)), (v, a), frameon=False))
ax.set(xlim=(1, 9), ylim=(1, 9), xlabel="valence", ylabel="arousal",
       title="Pretrained model: predicted (photo) and rated (dot)")
ax.axhline(5, color="grey", lw=0.4)
ax.axvline(5, color="grey", lw=0.4)
plt.show()

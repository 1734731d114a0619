"""
The pretrained model on your own folder, with intervals
=======================================================

``predict_images`` scores a folder batch by batch, keeps going past files it
cannot read, and says why; ``method="predict_frame"`` adds 80 % CV+
intervals and Emotion6's seven emotions.
"""

import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sklearn_emotion import load_pretrained, predict_images
from sklearn_emotion.datasets import load_oasis

# a stand-in for your photos: a few OASIS pictures, and one broken file
folder = Path(tempfile.mkdtemp())
for f in load_oasis().filenames[::150]:
    shutil.copy(f, folder / Path(f).name)
(folder / "broken.jpg").write_bytes(b"not really a jpeg")
paths = sorted(str(p) for p in folder.iterdir())

res = predict_images(load_pretrained(), paths, method="predict_frame")
print(res.report())
frame = res.predictions.assign(name=[Path(p).stem for p in paths]).dropna(subset=["valence"])
print(frame[["name", "valence", "valence_low_80", "valence_high_80", "arousal", "emotion"]])

# %%
fig, ax = plt.subplots(figsize=(7, 6))
ax.errorbar(frame["valence"], frame["arousal"],
            xerr=[frame["valence"] - frame["valence_low_80"], frame["valence_high_80"] - frame["valence"]],
            yerr=[frame["arousal"] - frame["arousal_low_80"], frame["arousal_high_80"] - frame["arousal"]],
            fmt="o", capsize=3, alpha=0.7)
for _, row in frame.iterrows():
    ax.annotate(row["name"], (row["valence"], row["arousal"]), fontsize=8,
                xytext=(4, 4), textcoords="offset points")
ax.set(xlim=(1, 9), ylim=(1, 9), xlabel="valence", ylabel="arousal",
       title="Pretrained model with 80 % intervals (CV+)")
plt.show()

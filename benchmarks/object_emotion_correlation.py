"""The paper's Sec. IV-C / Fig. 8 study on a rated set (Emotion6 or OASIS): do
the emotions of the objects a CNN recognises correlate with the images' rated
valence and arousal?

Object emotion = word norms (Warriner et al. 2013, NRC-VAD fallback) of the
ImageNet classes, from (a) the top-1 matched class, (b) the
probability-weighted mixture over matched classes.
Run: python -m benchmarks.object_emotion_correlation --cache-dir cache [--dataset oasis]
"""

import argparse

import numpy as np
from scipy.stats import pearsonr

from benchmarks._common import RESULTS, write

from sklearn_emotion import ObjectFeatures
from sklearn_emotion.reproduce import load_dataset
from sklearn_emotion.features.object_emotion import class_emotion_table, object_emotion


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--dataset", default="emotion6", choices=["emotion6", "oasis"])
    a = ap.parse_args()
    name, X, y = load_dataset(a.dataset)
    suffix = "" if a.dataset == "emotion6" else f"_{a.dataset}"
    P = ObjectFeatures("mobilenet_v2", "models/mobilenet_v2_1.0_224_imagenet.weights.h5",
                       cache_dir=a.cache_dir).fit_transform(list(X))
    table, _ = class_emotion_table()
    ok = ~np.isnan(table[:, 0])
    masked = np.where(ok[None, :], P, -1.0)
    top1 = table[masked.argmax(axis=1)]  # top-1 among matched classes
    mix = object_emotion(P, table)[:, :3]
    rows = {}
    for kind, vals in (("top-1 class", top1), ("probability-weighted", mix)):
        for j, t in enumerate(("valence", "arousal")):
            r, p = pearsonr(vals[:, j], y[:, j])
            rows[f"{kind}, {t}"] = {"r": float(r), "p": float(p)}
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 8))
    axes = fig.subplots(2, 2)
    for i, (kind, vals) in enumerate((("top-1 class", top1), ("probability-weighted", mix))):
        for j, t in enumerate(("valence", "arousal")):
            ax = axes[i, j]
            ax.scatter(vals[:, j], y[:, j], s=5, alpha=0.35)
            st = rows[f"{kind}, {t}"]
            ax.set(xlabel=f"object {t} ({kind}, word norms)", ylabel=f"rated image {t}",
                   title=f"r = {st['r']:.3f}, p = {st['p']:.1e}")
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.suptitle(f"{name}: object emotion against rated emotion")
    fig.savefig(RESULTS / f"object_emotion_correlation{suffix}.png", dpi=100)
    holds = rows["top-1 class, valence"]["r"] > rows["top-1 class, arousal"]["r"]
    md = [f"{name}, {len(X):,} images; object classes from MobileNetV2 (data-home Keras weights); "
          f"{ok.mean():.1%} of the 1,000 ImageNet classes matched to word norms.", "",
          "| object emotion | Pearson r | p-value |", "|---|---|---|"]
    md += [f"| {k} | {v['r']:.3f} | {v['p']:.2e} |" for k, v in rows.items()]
    md += ["", "The paper found that object emotion correlates more strongly with valence than with "
           f"arousal. Here: {'it holds' if holds else 'it does not hold'} (top-1: valence r = "
           f"{rows['top-1 class, valence']['r']:.3f}, arousal r = {rows['top-1 class, arousal']['r']:.3f}; "
           f"weighted: {rows['probability-weighted, valence']['r']:.3f} vs "
           f"{rows['probability-weighted, arousal']['r']:.3f}).", "",
           f"![scatter](object_emotion_correlation{suffix}.png)"]
    write(f"object_emotion_correlation{suffix}",
          f"python -m benchmarks.object_emotion_correlation --cache-dir {a.cache_dir} "
          f"--dataset {a.dataset}",
          {"rows": rows, "matched_fraction": float(ok.mean())}, "\n".join(md))


if __name__ == "__main__":
    main()

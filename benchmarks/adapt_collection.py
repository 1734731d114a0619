"""Adaptation on a user's own kind of pictures: the flag and the intervals.

A collection unlike the training photos is generated from rated photos,
with ratings derived from the photos' own (never the shipped training
images themselves):

- ``sketch``: a pencil sketch of each OASIS photo (colour dodge of the grey
  image over its blurred negative: dark strokes on white), a kind the
  shipped model's out-of-distribution classifier never saw;
- ``silhouette``: black silhouettes (Otsu's threshold of the grey image),
  a kind among its non-photo examples, as in the issue's report.

Ratings: the drawing's raters rate milder and differently from the photo's
(valence ``5 + 0.6 (V - 5) + 0.3``, arousal ``4 + 0.5 (A - 4) - 0.5``, each
plus Gaussian rater noise of SD 0.5, clipped to 1-9; V and A are the
photo's OASIS means mapped to 1-9).

For each collection and each of ``--draws`` random draws, the shipped model
is adapted (public ``adapt``) on k rated drawings (and, in the last row, 200
more unrated ones given as ``collection``); every number is on the
drawings neither saw: the share flagged ``unusual``, the 80 % intervals'
coverage and mean width, and Pearson r, per target, averaged over the
draws.  Features are computed once (the model's own per-image cache).

Usage::

    python -m benchmarks.adapt_collection --cache-dir feature-cache [--draws 5]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy.stats import pearsonr

from benchmarks._common import write

KINDS = ("sketch", "silhouette")
ROWS = (("unadapted", 0, 0), ("adapted, k = 20", 20, 0), ("adapted, k = 50", 50, 0),
        ("adapted, k = 50 + 200 unrated", 50, 200))


def sketch(photo):
    """A pencil sketch: the grey image divided by its blurred negative."""
    from skimage.color import rgb2gray
    from skimage.filters import gaussian

    g = rgb2gray(photo)
    blur = gaussian(1.0 - g, sigma=6)
    s = np.clip(g / np.maximum(1.0 - blur, 1e-3), 0, 1)
    return np.repeat((s * 255).astype(np.uint8)[..., None], 3, axis=2)


def silhouette(photo):
    from skimage.color import rgb2gray
    from skimage.filters import threshold_otsu

    g = rgb2gray(photo)
    out = np.full(photo.shape, 255, np.uint8)
    out[g < threshold_otsu(g)] = 0
    return out


def derived_ratings(y, rng):
    v = 5 + 0.6 * (y[:, 0] - 5) + 0.3 + 0.5 * rng.normal(size=len(y))
    a = 4 + 0.5 * (y[:, 1] - 4) - 0.5 + 0.5 * rng.normal(size=len(y))
    return np.clip(np.c_[v, a], 1, 9)


def measure(frame, y):
    out = {"flagged": float(frame["unusual"].astype(bool).mean())}
    for t, j in (("valence", 0), ("arousal", 1)):
        lo, hi = frame[f"{t}_low_80"].to_numpy(), frame[f"{t}_high_80"].to_numpy()
        out[f"coverage_{t}"] = float(((y[:, j] >= lo) & (y[:, j] <= hi)).mean())
        out[f"width_{t}"] = float((hi - lo).mean())
        out[f"r_{t}"] = float(pearsonr(frame[t].to_numpy(), y[:, j])[0])
    return out


def main(argv=None):
    from sklearn_emotion import load_image, load_pretrained
    from sklearn_emotion.datasets import load_oasis

    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--n", type=int, default=900, help="photos to draw from (default: all)")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    oasis = load_oasis()
    photos = [load_image(f) for f in oasis.filenames[:a.n]]
    results = {}
    for kind, make in (("sketch", sketch), ("silhouette", silhouette)):
        images = [make(p) for p in photos]
        rng = np.random.default_rng(0)
        y = derived_ratings(oasis.target[:a.n], rng)
        model = load_pretrained()
        model.features_.set_params(cache_dir=a.cache_dir, verbose=False)
        model.predict_frame(images)  # every drawing's features into the cache, once
        rows = {name: [] for name, _, _ in ROWS}
        for d in range(a.draws):
            order = np.random.default_rng(100 + d).permutation(len(images))
            for name, k, extra in ROWS:
                test = order[250:]  # the same held-out drawings for every row of a draw
                if k == 0:
                    used = model
                else:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        used = model.adapt([images[i] for i in order[:k]], y[order[:k]],
                                           random_state=d,
                                           collection=[images[i] for i in order[50:50 + extra]]
                                           if extra else None)
                rows[name].append(measure(used.predict_frame([images[i] for i in test]),
                                          y[test]))
        results[kind] = {name: {m: float(np.mean([r[m] for r in v])) for m in v[0]}
                         for name, v in rows.items()}
        results[kind]["draws"] = {name: v for name, v in rows.items()}
    seconds = time.perf_counter() - t0
    lines = [
        f"{time.strftime('%Y-%m-%d')}, {seconds:.0f} s on 2 CPU cores. The shipped v2 model, "
        f"adapted with the public `adapt` on generated drawings of {a.n} OASIS photos, ratings "
        "derived from the photos' (see the module's docstring). "
        f"Means over {a.draws} draws; every number on the {a.n - 250} drawings no row of a draw "
        "saw (rated or unrated). Goal (issue 38): flagged below 20 % and coverage 0.80 ± 0.05 "
        "after adapting on k = 50.", ""]
    for kind in KINDS:
        lines += [f"## {kind}", "",
                  "| model | flagged unusual | coverage V | coverage A | width V | width A "
                  "| r V | r A |", "|---|---|---|---|---|---|---|---|"]
        for name, _, _ in ROWS:
            m = results[kind][name]
            lines.append(f"| {name} | {100 * m['flagged']:.1f} % | {m['coverage_valence']:.2f} | "
                         f"{m['coverage_arousal']:.2f} | {m['width_valence']:.2f} | "
                         f"{m['width_arousal']:.2f} | {m['r_valence']:.3f} | "
                         f"{m['r_arousal']:.3f} |")
        lines.append("")
    write("adapt_collection",
          "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.adapt_collection "
          f"--cache-dir feature-cache --draws {a.draws}" + (f" --n {a.n}" if a.n != 900 else ""),
          {"seconds": seconds, "results": results}, "\n".join(lines))


if __name__ == "__main__":
    main()

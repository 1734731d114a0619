"""ColorFeatures' colour descriptor: the current computation against the two it
replaced, side by side in one run, on Emotion6 and OASIS photos.

- "per pixel": skimage's rgb2hsv on every pixel (the first version);
- "distinct colours, v1": every quantity on the distinct colours, found with
  ``np.unique`` on shifted channels, HSV with reductions over the channel axis;
- "distinct colours, v2 (BLAS sums)": the same maths, with the colour code
  read from the pixel bytes, the distinct colours from one sort, elementwise
  channel maxima, and the count-weighted sums as BLAS products (``w @ M``),
  whose last digits follow BLAS's thread count;
- "now": v2 with the weighted sums in NumPy's ``einsum`` loop, one pass over
  the seven per-colour quantities, in an order independent of threads.

Each is also run with BLAS limited to one thread (as in a joblib worker), and
the largest change that makes to its values is reported.

All are timed on the same decoded images, alternating, and the largest
absolute difference of the 22 values from the current code is reported.

Run: SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_color
"""

import time

import numpy as np
from skimage.color import rgb2hsv

from benchmarks._common import write


def per_pixel(img, table, hsv_bins=(8, 3, 3)):
    """The previous implementation: every quantity on every pixel."""
    from sklearn_emotion.features.color import color_names

    rgb = img.reshape(-1, 3).astype(np.float64) / 255.0
    mean_rgb = rgb.mean(axis=0)
    hsv = rgb2hsv(img).reshape(-1, 3)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    ang = 2 * np.pi * h
    cx, cy = np.cos(ang).mean(), np.sin(ang).mean()
    mean_h = 0.0 if np.hypot(cx, cy) < 1e-12 else (np.arctan2(cy, cx) / (2 * np.pi)) % 1.0
    nh, ns, nv = hsv_bins
    hb = np.minimum((h * nh).astype(np.int64), nh - 1)
    sb = np.minimum((s * ns).astype(np.int64), ns - 1)
    vb = np.minimum((v * nv).astype(np.int64), nv - 1)
    hist = np.bincount((hb * ns + sb) * nv + vb, minlength=nh * ns * nv)
    peak = int(np.argmax(hist))
    names = color_names(img, table)
    B, S = v.mean(), s.mean()
    pad = [0.69 * B + 0.22 * S, -0.31 * B + 0.60 * S, -0.76 * B + 0.32 * S]
    return np.concatenate([mean_rgb, [mean_h, S, B, peak, hist[peak] / h.size], names, pad])


def _hsv_v1(rgb8):
    """v1's HSV: the maximum and range by reductions over the channel axis
    (the hue and saturation formulas are the package's, unchanged)."""
    from sklearn_emotion.features.color import hue_saturation

    arr = np.multiply(rgb8, 1.0 / 255, dtype=np.float64)
    v = arr.max(axis=1)
    delta = v - arr.min(axis=1)
    return hue_saturation(arr[:, 0], arr[:, 1], arr[:, 2], v, delta) + (v,)


def distinct_v1(img, table, hsv_bins=(8, 3, 3)):
    """The second implementation (issue 14's 39.8 ms), kept here as it was."""
    from sklearn_emotion.features.color import names_from_counts

    n = img.shape[0] * img.shape[1]
    flat = img.reshape(-1, 3)
    code = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    colours, counts = np.unique(code, return_counts=True)
    rgb8 = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
    w = counts.astype(np.float64)
    mean_rgb = (w @ (rgb8.astype(np.float64) / 255.0)) / n
    h, s, v = _hsv_v1(rgb8.astype(np.uint8))
    ang = 2 * np.pi * h
    cx, cy = (w @ np.cos(ang)) / n, (w @ np.sin(ang)) / n
    mean_h = 0.0 if np.hypot(cx, cy) < 1e-12 else (np.arctan2(cy, cx) / (2 * np.pi)) % 1.0
    nh, ns, nv = hsv_bins
    hb = np.minimum((h * nh).astype(np.int64), nh - 1)
    sb = np.minimum((s * ns).astype(np.int64), ns - 1)
    vb = np.minimum((v * nv).astype(np.int64), nv - 1)
    hist = np.bincount((hb * ns + sb) * nv + vb, weights=counts, minlength=nh * ns * nv)
    peak = int(np.argmax(hist))
    names = names_from_counts(rgb8, counts, table, "soft")
    B, S = (w @ v) / n, (w @ s) / n
    pad = [0.69 * B + 0.22 * S, -0.31 * B + 0.60 * S, -0.76 * B + 0.32 * S]
    return np.concatenate([mean_rgb, [mean_h, S, B, peak, hist[peak] / n], names, pad])


def distinct_v2_blas(img, table, hsv_bins=(8, 3, 3)):
    """The third implementation (10.8 ms): today's, with its count-weighted
    sums as the BLAS products it made: ``w @ rgb`` (n, 3) and one dot
    product for each of cos h, sin h, v and s; ``counts @ table`` (n, 11)."""
    from sklearn_emotion.features import color

    def blas_sums(w, rows):
        w, rows = np.asarray(w, np.float64), np.asarray(rows, np.float64)
        if len(rows) == 7:  # the means: r, g, b, cos h, sin h, v, s
            return np.concatenate([w @ np.ascontiguousarray(rows[:3].T),
                                   [w @ r for r in rows[3:]]])
        return w @ rows.T  # the colour-name masses

    now = color.weighted_sums
    color.weighted_sums = blas_sums
    try:
        return color.color_features(img, table, hsv_bins)
    finally:
        color.weighted_sums = now


def main():
    from sklearn_emotion._image import load_image
    from sklearn_emotion.datasets import load_emotion6, load_oasis
    from sklearn_emotion.features.color import color_features, load_color_name_table

    files = list(load_emotion6().filenames[::10]) + list(load_oasis().filenames[::10])
    imgs = [load_image(f) for f in files]
    table = load_color_name_table()
    from threadpoolctl import threadpool_limits

    impls = (("per pixel", per_pixel), ("distinct colours, v1", distinct_v1),
             ("distinct colours, v2 (BLAS sums)", distinct_v2_blas), ("now", color_features))
    diffs = {name: float(max(np.abs(fn(im, table) - color_features(im, table)).max()
                             for im in imgs)) for name, fn in impls[:3]}
    threads = {}
    for name, fn in impls[2:]:
        default = [fn(im, table) for im in imgs]
        with threadpool_limits(1):
            one = [fn(im, table) for im in imgs]
        threads[name] = float(max(np.abs(a - b).max() for a, b in zip(default, one)))
    times = {name: [] for name, _ in impls}
    for _ in range(3):  # alternate, so all see the same machine load
        for name, fn in impls:
            t0 = time.perf_counter()
            for im in imgs:
                fn(im, table)
            times[name].append((time.perf_counter() - t0) / len(imgs) * 1000)
    med = {k: float(np.median(v)) for k, v in times.items()}
    px = float(np.mean([im.shape[0] * im.shape[1] for im in imgs]))
    md = [f"{len(imgs)} photos (every 10th of Emotion6 and OASIS, mean {px:,.0f} pixels), decoded "
          "once; 22 values per image; median of 3 alternating passes.", "",
          "| implementation | ms per image |", "|---|---|"]
    md += [f"| {k} | {v:.1f} |" for k, v in med.items()]
    md += ["", f"Ratios: per pixel / now {med['per pixel'] / med['now']:.2f}, "
           f"v1 / now {med['distinct colours, v1'] / med['now']:.2f}. Largest absolute "
           f"difference of any value from now: per pixel {diffs['per pixel']:.1e}, "
           f"v1 {diffs['distinct colours, v1']:.1e}, "
           f"v2 {diffs['distinct colours, v2 (BLAS sums)']:.1e}; now / v2 "
           f"{med['now'] / med['distinct colours, v2 (BLAS sums)']:.2f}.",
           "", "Largest change of any value when BLAS runs on one thread (as in a joblib "
           f"worker): v2 {threads['distinct colours, v2 (BLAS sums)']:.1e}, "
           f"now {threads['now']:.1e}."]
    write("color_speed", "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_color",
          {"ms_per_image": med, "all_passes_ms": times, "max_abs_diff": diffs,
           "max_abs_change_blas_one_thread": threads,
           "images": len(imgs), "mean_pixels": px}, "\n".join(md))


if __name__ == "__main__":
    main()

"""ColorFeatures' colour descriptor: the distinct-colour computation against the
per-pixel one it replaced, side by side in one run, on Emotion6 and OASIS photos.

The per-pixel reference below is the code as it was before (skimage's rgb2hsv
on every pixel); both are timed on the same decoded images, alternating, and
the largest absolute difference of the 22 values is reported.

Run: SKLEARN_EMOTION_DATA=../shared python benchmarks/bench_color.py
"""

import sys
import time
from pathlib import Path

import numpy as np
from skimage.color import rgb2hsv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402


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


def main():
    from sklearn_emotion._image import load_image
    from sklearn_emotion.datasets import load_emotion6, load_oasis
    from sklearn_emotion.features.color import color_features, load_color_name_table

    files = list(load_emotion6().filenames[::10]) + list(load_oasis().filenames[::10])
    imgs = [load_image(f) for f in files]
    table = load_color_name_table()
    diff = max(np.abs(per_pixel(im, table) - color_features(im, table)).max() for im in imgs)
    times = {"per pixel (before)": [], "distinct colours (now)": []}
    for _ in range(3):  # alternate, so both see the same machine load
        for name, fn in (("per pixel (before)", per_pixel),
                         ("distinct colours (now)", color_features)):
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
    md += ["", f"Ratio before / now: {med['per pixel (before)'] / med['distinct colours (now)']:.2f}. "
           f"Largest absolute difference of any value: {diff:.1e}."]
    write("color_speed", "SKLEARN_EMOTION_DATA=../shared python benchmarks/bench_color.py",
          {"ms_per_image": med, "all_passes_ms": times, "max_abs_diff": float(diff),
           "images": len(imgs), "mean_pixels": px}, "\n".join(md))


if __name__ == "__main__":
    main()

"""Per-image cost of the colour, GIST and LBP features, and of the transformer shell.

Run: python -m benchmarks.bench_lowlevel [--n 40]
"""

import argparse

import numpy as np
import scipy.fft

from benchmarks._common import emotion6_subset, median_time, write

from sklearn_emotion import ColorFeatures, GISTFeatures, LBPFeatures, load_image
from sklearn_emotion.features.color import color_features, load_color_name_table
from sklearn_emotion.features.texture import (
    square_grey, gabor_filter_bank, gist, lbp_histogram,
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    paths = emotion6_subset(a.n)
    images = [load_image(p) for p in paths]
    table = load_color_name_table()
    bank = gabor_filter_bank((8, 8, 8, 8), 320)
    n = len(paths)
    decode = median_time(lambda: [load_image(p) for p in paths], a.repeat) / n
    rows = {}
    fams = {
        "color": (ColorFeatures(), lambda im: color_features(im, table)),
        "gist": (GISTFeatures(), lambda im: gist(im, filter_bank=bank)),
        "lbp": (LBPFeatures(), lambda im: lbp_histogram(im)),
    }
    for name, (est, fn) in fams.items():
        est.fit(paths)
        est.transform(paths[:2])  # lazy state (tables, filter bank) built once
        pure = median_time(lambda: [fn(im) for im in images], a.repeat) / n
        shell_arrays = median_time(lambda: est.transform(images), a.repeat) / n
        shell_paths = median_time(lambda: est.transform(paths), a.repeat) / n
        rows[name] = dict(pure_s=pure, transformer_arrays_s=shell_arrays,
                          transformer_paths_s=shell_paths,
                          shell_overhead=shell_arrays / pure,
                          paths_over_pure=shell_paths / pure)

    # GIST: time of the FFTs it performs, on the same sizes, against the whole descriptor
    grey = square_grey(images[0], 256)
    pre_side = 256 + 10 + (256 + 10) % 2
    x_pre = np.random.default_rng(0).random((pre_side, pre_side))
    x_main = np.random.default_rng(0).random((320, 320)).astype(np.float32)

    def ffts():
        for _ in range(2):  # prefilter: two low-pass convolutions
            scipy.fft.ifft2(scipy.fft.fft2(x_pre) * 1.0)
        spec = scipy.fft.fft2(x_main)
        scipy.fft.ifft2(spec[None] * bank, axes=(-2, -1))

    fft_t = median_time(ffts, 5)
    gist_t = median_time(lambda: gist(grey, filter_bank=bank), 5)
    rows["gist"]["fft_s"] = fft_t
    rows["gist"]["gist_over_fft"] = gist_t / fft_t

    # LBP: time of scikit-image's local_binary_pattern on the same grey images
    from skimage.feature import local_binary_pattern

    greys = [np.round(im.astype(np.float64) @ [0.299, 0.587, 0.114]).astype(np.uint8)
             for im in images]
    skimage_t = median_time(lambda: [local_binary_pattern(g, 8, 1, method="nri_uniform")
                                     for g in greys], a.repeat) / n
    rows["lbp"]["skimage_lbp_s"] = skimage_t
    rows["lbp"]["lbp_over_skimage"] = rows["lbp"]["pure_s"] / skimage_t

    md = [f"{n} Emotion6 images (every {1980 // n}th), median of {a.repeat} runs; "
          f"JPEG decoding alone: {decode * 1e3:.1f} ms an image.", "",
          "| family | pure function (ms/img) | transformer on arrays (ms/img) | shell overhead (ratio) | transformer on paths (ms/img) | paths / pure |",
          "|---|---|---|---|---|---|"]
    for k, r in rows.items():
        md.append(f"| {k} | {r['pure_s'] * 1e3:.1f} | {r['transformer_arrays_s'] * 1e3:.1f} | "
                  f"{r['shell_overhead']:.2f} | {r['transformer_paths_s'] * 1e3:.1f} | {r['paths_over_pure']:.2f} |")
    md += ["", f"GIST on a 256×256 image: {gist_t * 1e3:.1f} ms, of which the FFTs it performs "
           f"(2 prefilter convolutions, one forward FFT and 32 inverse FFTs of 320×320) take "
           f"{fft_t * 1e3:.1f} ms: GIST / FFT time = {gist_t / fft_t:.2f}.",
           "", f"LBP: scikit-image's `local_binary_pattern` (P=8, R=1, nri_uniform) alone takes "
           f"{skimage_t * 1e3:.1f} ms an image of the {rows['lbp']['pure_s'] * 1e3:.1f} ms of "
           f"`lbp_histogram` (ratio {rows['lbp']['pure_s'] / skimage_t:.2f}); the rest is the "
           "grey conversion and the histogram."]
    write("lowlevel", "python -m benchmarks.bench_lowlevel --n %d" % a.n,
          {"decode_s": decode, "families": rows}, "\n".join(md))


if __name__ == "__main__":
    main()

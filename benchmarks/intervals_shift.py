"""Zero-shot intervals under a shift of raters: leave-one-set-out calibration, measured.

The v2 recipe's features (pooled MobileNetV2 + EfficientNet-Lite2 layers)
and head (``AffectModel`` defaults).  For each direction (fit on all of one
set, score all of the other) three intervals at nominal 80 %:

- ``CV+``: the intervals for images rated like the training images
  (``new_raters=False``);
- ``new raters``: CV+ widened by ``shift_scale`` (``new_raters=True``).  With
  one training set there is no other set to calibrate on inside the
  direction, so the scale is the one the *other* direction measures
  (fit on the target set, residuals on the source set): it never sees the
  target set's ratings against a model that did not train on them;
- the scale each direction would have needed (an oracle, for reference).

Within-set rows (5-fold ``KFold(shuffle=True, random_state=0)``) give the
width the goal compares with.  The shipped v2 model's own scale (both
directions pooled, ``fit(..., groups=set)``) is reported from its file.

Usage::

    python -m benchmarks.intervals_shift --cache-dir feature-cache
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from sklearn.model_selection import KFold

from benchmarks._common import pooled_sets, write

from sklearn_emotion import AffectHead, load_pretrained

SETS = ("emotion6", "oasis")
T = ("valence", "arousal")


def _fit(F, y):
    return AffectHead().fit(F, y, None)


def _ratios(m, F, y):
    iv = m.predict_interval(F)
    half = np.maximum((iv[..., 1] - iv[..., 0]) / 2, 1e-9)
    return np.abs(y - iv.mean(-1)) / half, iv


def _cover(iv, y, scale):
    mid, half = iv.mean(-1), (iv[..., 1] - iv[..., 0]) / 2 * scale
    lo, hi = np.clip(mid - half, 1, 9), np.clip(mid + half, 1, 9)
    return ((lo <= y) & (y <= hi)).mean(0), (hi - lo).mean(0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", default="feature-cache")
    args = ap.parse_args(argv)
    command = ("python -m benchmarks.intervals_shift "
               + " ".join(argv if argv is not None else sys.argv[1:]))
    t0 = time.perf_counter()
    mn = pooled_sets(args.cache_dir)
    li = pooled_sets(args.cache_dir, backbone="efficientnet_lite2")
    F = {s: np.hstack([mn[s][1], li[s][1]]) for s in SETS}
    Y = {s: mn[s][0].target for s in SETS}
    within = {}
    for s in SETS:
        iv = np.zeros(Y[s].shape + (2,))
        for tr, te in KFold(5, shuffle=True, random_state=0).split(F[s]):
            iv[te] = _fit(F[s][tr], Y[s][tr]).predict_interval(F[s][te])
        cov, width = _cover(iv, Y[s], np.ones(2))
        within[s] = {"coverage": cov.tolist(), "width": width.tolist()}
    M = {s: _fit(F[s], Y[s]) for s in SETS}
    R, IV = {}, {}
    for s in SETS:
        o = SETS[1 - SETS.index(s)]
        R[s], IV[s] = _ratios(M[s], F[o], Y[o])  # model fitted on s, scored on o
    rows = {}
    for s in SETS:
        o = SETS[1 - SETS.index(s)]
        scale = np.maximum(np.quantile(R[o], 0.8, axis=0, method="higher"), 1.0)  # other direction
        oracle = np.quantile(R[s], 0.8, axis=0, method="higher")
        cov0, w0 = _cover(IV[s], Y[o], np.ones(2))
        cov1, w1 = _cover(IV[s], Y[o], scale)
        ref = np.asarray(within[s]["width"])
        rows[f"{s} -> {o}"] = {
            "cv_plus": {"coverage": cov0.tolist(), "width": w0.tolist()},
            "new_raters": {"scale": scale.tolist(), "coverage": cov1.tolist(),
                           "width": w1.tolist(), "width_over_within": (w1 / ref).tolist()},
            "oracle_scale": oracle.tolist()}
    shipped = load_pretrained("v2")
    pooled = np.maximum(np.quantile(np.vstack([R[s] for s in SETS]), 0.8, axis=0,
                                    method="higher"), 1.0)

    L = ["Intervals for new raters (nominal 80 %), zero-shot, the v2 recipe. Coverage on all "
         "of the other set; mean width; valence / arousal.", "",
         "| direction | CV+ coverage | CV+ width | scale (from the other direction) | "
         "new-raters coverage | new-raters width | width / within-set width | scale needed |",
         "|---|---|---|---|---|---|---|---|"]
    for k, r in rows.items():
        c, n = r["cv_plus"], r["new_raters"]
        L.append(f"| {k} | {c['coverage'][0]:.3f} / {c['coverage'][1]:.3f} | "
                 f"{c['width'][0]:.2f} / {c['width'][1]:.2f} | "
                 f"{n['scale'][0]:.2f} / {n['scale'][1]:.2f} | "
                 f"{n['coverage'][0]:.3f} / {n['coverage'][1]:.3f} | "
                 f"{n['width'][0]:.2f} / {n['width'][1]:.2f} | "
                 f"{n['width_over_within'][0]:.2f} / {n['width_over_within'][1]:.2f} | "
                 f"{r['oracle_scale'][0]:.2f} / {r['oracle_scale'][1]:.2f} |")
    L += ["", "Within a set (5-fold CV+): " + "; ".join(
        f"{s} coverage {w['coverage'][0]:.3f} / {w['coverage'][1]:.3f}, width "
        f"{w['width'][0]:.2f} / {w['width'][1]:.2f}" for s, w in within.items()) + ".",
          "", f"The shipped v2 model's scale (both directions pooled, fitted with "
          f"groups=set): {shipped.shift_scale_[0]:.2f} / {shipped.shift_scale_[1]:.2f} "
          f"(recomputed here: {pooled[0]:.2f} / {pooled[1]:.2f}).",
          "", f"{time.perf_counter() - t0:.0f} s on 2 CPU cores."]
    write("pretrained_v2/intervals_shift", command,
          {"within": within, "directions": rows, "shipped_scale": shipped.shift_scale_.tolist(),
           "pooled_scale": pooled.tolist(), "seconds": time.perf_counter() - t0}, "\n".join(L))
    return 0


if __name__ == "__main__":
    sys.exit(main())

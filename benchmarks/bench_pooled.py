"""Wall time of the pooled-feature extractor against the network's own invocations.

Run: python -m benchmarks.bench_pooled [--n 320]

For each configuration of :class:`~sklearn_emotion.PooledLayerFeatures`
(one extractor for any backbone), in one run, side by side:

- **wall**: ``transform`` on Emotion6 JPEG paths, no cache, after a warm-up
  call on other images (the networks are built);
- **raw**: the invocations alone that the same features need (the image
  and its mirror image, every tapped tensor read back), on inputs decoded
  and resized beforehand, in the same batches;
- **decode**: decoding and resizing the same files alone, in one thread.

The configurations: the v1 model's (MobileNetV2 TFLite), EfficientNet-Lite2
(through its LiteRT port, and through Keras as before issue 39), and the v2
model's (both; likewise), each as it is and, beside it, as before: one
interpreter with two threads instead of one single-threaded interpreter per
core (raw is measured with the same interpreters as wall, so each row's
ratio is against its own floor).  The goals: wall / raw at most 1.2 (issues
29 and 39), v2 at 35 images/s or more (issue 39).  Ratios move by about 0.05
between runs on this machine: compare rows of one run.  (Earlier rows, such
as float64 pooling and resizing in the network's thread, are in this
file's git history.)
"""

import argparse
import sys
import time

import numpy as np

from benchmarks._common import emotion6_subset, write

from sklearn_emotion import PooledLayerFeatures, config_context, load_image
from sklearn_emotion._image import resize_rgb

TFLITE = "models/mobilenet_v2_1.0_224_quant.tflite"


V2 = (TFLITE, "efficientnet_lite2")
#: name -> (class, parameters, runtime of EfficientNet-Lite2)
ONE = dict(num_threads=2)  # one interpreter with both cores' threads (before)
CONFIGS = {
    "MobileNetV2 TFLite (v1)": (PooledLayerFeatures, dict(backbone=TFLITE), "litert"),
    "MobileNetV2 TFLite (v1), one interpreter with 2 threads (before)":
        (PooledLayerFeatures, dict(backbone=TFLITE, **ONE), "litert"),
    "EfficientNet-Lite2 (LiteRT)":
        (PooledLayerFeatures, dict(backbone="efficientnet_lite2"), "litert"),
    "EfficientNet-Lite2 (LiteRT), one interpreter with 2 threads (before)":
        (PooledLayerFeatures, dict(backbone="efficientnet_lite2", **ONE), "litert"),
    "EfficientNet-Lite2 (Keras, before issue 39)":
        (PooledLayerFeatures, dict(backbone="efficientnet_lite2"), "keras"),
    "both (v2)": (PooledLayerFeatures, dict(backbone=V2), "litert"),
    "both (v2), one interpreter with 2 threads each (before)":
        (PooledLayerFeatures, dict(backbone=V2, **ONE), "litert"),
    "both (v2), EfficientNet-Lite2 through Keras (before issue 39)":
        (PooledLayerFeatures, dict(backbone=V2), "keras"),
}


def raw_time(est, paths):
    """The network invocations alone (with the mirror image), on resized inputs."""
    runners = est.runner()
    full = [load_image(p) for p in paths]
    bs = est.batch_size
    total = 0.0
    for r in runners:
        batch = np.stack([resize_rgb(im, r["side"]) for im in full])
        for s in range(0, len(batch), bs):
            b = batch[s:s + bs]
            if r["kind"] in ("tflite", "tflite_raw"):
                # as the extractor runs them: the images and their mirror
                # images in one run, shared by the interpreters
                runs = [np.concatenate([b, b[:, :, ::-1]])]
            else:
                runs = [b, b[:, :, ::-1]]
            for x in runs:
                if r["kind"] == "tflite":
                    x = x.astype(np.uint8)
                else:
                    x = x.astype(np.float32)
                    if r["pre"] is not None:
                        x = r["pre"](x)
                t0 = time.perf_counter()
                r["runner"].run(x)
                total += time.perf_counter() - t0
    return total


def decode_time(est, paths):
    t0 = time.perf_counter()
    for p in paths:
        im = load_image(p, size=est.decode_size())
        for r in est.runner():
            resize_rgb(im, r["side"])
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=320)
    args = ap.parse_args(argv)
    command = "python -m benchmarks.bench_pooled " + " ".join(argv if argv is not None else sys.argv[1:])
    paths = emotion6_subset(args.n + 32)
    warm, paths = paths[:32], paths[32:]
    rows = {}
    for name, (cls, params, runtime) in CONFIGS.items():
        with config_context(runtime=runtime):
            est = cls(n_jobs=2, **params).fit([])
            est.transform(warm)
            t0 = time.perf_counter()
            est.transform(paths)
            wall = time.perf_counter() - t0
            raw = raw_time(est, paths)
            dec = decode_time(est, paths)
        rows[name] = {"images": len(paths), "wall": wall, "raw": raw, "decode": dec,
                      "ratio": wall / raw}
        print(name, rows[name], flush=True)
    lines = [f"{len(paths)} Emotion6 JPEGs, no cache, batch 32, mirror averaging on, "
             "2 CPU cores; one run, side by side.", "",
             "| extractor | images/s | wall (s) | raw invocations (s) | decode + resize alone, "
             "1 thread (s) | wall / raw |", "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['images'] / r['wall']:.1f} | {r['wall']:.2f} | "
                     f"{r['raw']:.2f} | {r['decode']:.2f} | **{r['ratio']:.2f}** |")
    write("pooled_features_speed", command, {"rows": rows}, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Throughput of the CNN feature transformers and their overhead over the raw model.

Run: python benchmarks/bench_cnn.py [--n 32]
"""

import argparse
import sys
import time

import numpy as np

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import emotion6_subset, write  # noqa: E402

from sklearn_emotion import ObjectFeatures, SceneFeatures, load_image  # noqa: E402
from sklearn_emotion._image import resize_rgb  # noqa: E402


def raw_time(est, images):
    """Time of the model invocations alone, on inputs prepared beforehand."""
    r = est._runner()
    side = r["side"]
    batch = np.stack([resize_rgb(im, side) for im in images])
    bs = est.batch_size
    if isinstance(est, SceneFeatures):
        x = batch.astype(np.float32) / 127.5 - 1.0
    elif r["kind"] == "tflite":
        x = batch.astype(np.uint8)
    else:
        x = r["pre"](batch.astype(np.float32))
    runner = r["runner"]
    runner.run(x[:bs])  # warm-up
    t0 = time.perf_counter()
    for s in range(0, len(x), bs):
        runner.run(x[s:s + bs])
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=32)
    a = ap.parse_args()
    paths = emotion6_subset(a.n)
    images = [load_image(p) for p in paths]
    ests = {
        "ObjectFeatures (Keras MobileNetV2, batch 32)": ObjectFeatures(
            "mobilenet_v2", "models/mobilenet_v2_1.0_224_imagenet.weights.h5"),
        "ObjectFeatures (TFLite MobileNetV2 quant)": ObjectFeatures(
            "models/mobilenet_v2_1.0_224_quant.tflite"),
        "SceneFeatures (TFLite DeepLabV3 ADE20K)": SceneFeatures(),
    }
    rows = {}
    for name, est in ests.items():
        est.fit(paths)
        est.transform(paths)  # builds the runner and warms it up at the timed batch shapes
        t0 = time.perf_counter()
        est.transform(paths)
        wall = time.perf_counter() - t0
        raw = raw_time(est, images)
        rows[name] = dict(images_per_s=len(paths) / wall, wall_s=wall, raw_model_s=raw,
                          overhead=wall / raw)
        print(name, rows[name], flush=True)
    md = [f"{len(paths)} Emotion6 images from their JPEG paths, no feature cache, 2 CPU cores.", "",
          "| transformer | images/s | transformer wall (s) | raw model invocations (s) | wall / raw |",
          "|---|---|---|---|---|"]
    for k, r in rows.items():
        md.append(f"| {k} | {r['images_per_s']:.1f} | {r['wall_s']:.2f} | {r['raw_model_s']:.2f} | "
                  f"{r['overhead']:.2f} |")
    md += ["", "Wall / raw is the pipeline's overhead: decoding the JPEG, resizing, and turning "
           "outputs into features, over the model calls alone."]
    write("cnn_features", f"python benchmarks/bench_cnn.py --n {a.n}", {"rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()

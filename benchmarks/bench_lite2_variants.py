"""Lower-precision variants of EfficientNet-Lite2: faster, and how far from float32.

Run: python -m benchmarks.bench_lite2_variants [--calibration 64]

Issue 39 asks for int8 or BF16 variants to be measured and shipped only if
they are faster and the shipped v2's predictions stay within 0.02 of the
float32 port's on Emotion6 and OASIS.  In one run, side by side:

- LiteRT variants of the port (the same Keras graph and layers as
  :func:`sklearn_emotion._convert.write_lite2_tflite`, converted here into a
  scratch folder):

  - **float32**: the shipped port;
  - **int8, full**: weights and activations in int8, calibrated on
    ``--calibration`` Emotion6 photos (seeded draw), float32 in and out;
  - **int8, dynamic range**: int8 weights, float32 activations;
  - **float16 weights**: the converter's float16 option (XNNPACK computes
    in float32 on it, from weights rounded to float16);

- the Keras graph in float32 and with oneDNN's BF16 math
  (``ONEDNN_DEFAULT_FPMATH_MODE=BF16``; this CPU has AMX-BF16), each in a
  process of its own.

For each: images per second of the eight tapped layers for 184 Emotion6
photos with their mirror images (the extractor's own runner: one
single-threaded interpreter per core), and the largest difference of the
pooled features from float32's, relative to the largest feature.  For each
variant faster than float32: v2's ``predict_frame`` on all of Emotion6 and
OASIS (2,880 photos) with it, against float32's: the largest difference of
the predictions, interval bounds and OOD score, and the flags that change.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import emotion6_subset, write

TOLERANCE = 0.02


def convert_variants(folder, calibration):
    """The port's LiteRT variants, written into ``folder``; returns name -> path."""
    from sklearn_emotion import load_image
    from sklearn_emotion._backbones import LITE2_WEIGHTS, lite2_tflite
    from sklearn_emotion._efficientnet import LITE2_LAYERS, build_efficientnet_lite2, load_state
    from sklearn_emotion._image import resize_rgb
    from sklearn_emotion._quiet import import_keras, import_tensorflow
    from sklearn_emotion.resources import fetch

    keras, tf = import_keras(), import_tensorflow()
    model = build_efficientnet_lite2(load_state(fetch(LITE2_WEIGHTS)))
    taps = keras.Model(model.input, [model.get_layer(n).output for n in LITE2_LAYERS])
    from sklearn_emotion.datasets import load_emotion6

    paths = list(load_emotion6().filenames)
    rng = np.random.default_rng(0)
    chosen = [paths[i] for i in rng.choice(len(paths), calibration, replace=False)]

    def representative():
        for p in chosen:
            yield [resize_rgb(load_image(p), (260, 260)).astype(np.float32)[None]]

    out = {"float32": lite2_tflite()}
    for name in ("int8, full", "int8, dynamic range", "float16 weights"):
        conv = tf.lite.TFLiteConverter.from_keras_model(taps)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if name == "int8, full":
            conv.representative_dataset = representative
        elif name == "float16 weights":
            conv.target_spec.supported_types = [tf.float16]
        path = Path(folder) / (name.replace(", ", "_").replace(" ", "_") + ".tflite")
        path.write_bytes(conv.convert())
        out[name] = path
    return out


def litert_features(path, paths):
    """(images/s, pooled features) of the port ``path`` on ``paths``."""
    import sklearn_emotion.features.layers as layers
    from sklearn_emotion import PooledLayerFeatures, config_context

    keep = layers.lite2_tflite
    layers.lite2_tflite = lambda data_home=None: path
    try:
        with config_context(runtime="litert"):
            est = PooledLayerFeatures(backbone="efficientnet_lite2", n_jobs=2).fit([])
            est.transform(paths[:16])
            t0 = time.perf_counter()
            X = est.transform(paths[16:])
            return len(paths[16:]) / (time.perf_counter() - t0), X
    finally:
        layers.lite2_tflite = keep


def keras_features(out_npy):
    """In this process (under the caller's oneDNN setting): the Keras graph's
    features of the same photos; prints images/s."""
    from sklearn_emotion import PooledLayerFeatures, config_context

    paths = emotion6_subset(200)
    with config_context(runtime="keras"):
        est = PooledLayerFeatures(backbone="efficientnet_lite2", n_jobs=2).fit([])
        est.transform(paths[:16])
        t0 = time.perf_counter()
        X = est.transform(paths[16:])
        rate = len(paths[16:]) / (time.perf_counter() - t0)
    np.save(out_npy, X)
    print(json.dumps({"rate": rate}))


def v2_frame(path):
    """v2's predict_frame on every Emotion6 and OASIS photo, with the port ``path``."""
    import sklearn_emotion.features.layers as layers
    from sklearn_emotion import config_context, load_pretrained
    from sklearn_emotion.resources import get_data_home

    home = get_data_home()
    photos = (sorted(glob.glob(str(home / "data/emotion6/**/*.jpg"), recursive=True))
              + sorted(glob.glob(str(home / "data/oasis/images/*.jpg"))))
    keep = layers.lite2_tflite
    layers.lite2_tflite = lambda data_home=None: path
    try:
        with config_context(runtime="litert"):
            return load_pretrained().predict_frame(photos)
    finally:
        layers.lite2_tflite = keep


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calibration", type=int, default=64)
    ap.add_argument("--keras-features", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.keras_features:
        keras_features(args.keras_features)
        return 0
    command = "python -m benchmarks.bench_lite2_variants " + " ".join(
        argv if argv is not None else sys.argv[1:])
    paths = emotion6_subset(200)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        ports = convert_variants(tmp, args.calibration)
        feats = {}
        for name, path in ports.items():
            rate, feats[name] = litert_features(path, paths)
            rows[f"LiteRT {name}"] = {"rate": rate, "bytes": os.path.getsize(path)}
            print(name, rate, flush=True)
        for mode in ("float32", "BF16"):
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
            if mode == "BF16":
                env["ONEDNN_DEFAULT_FPMATH_MODE"] = "BF16"
            npy = Path(tmp) / f"keras_{mode}.npy"
            done = subprocess.run([sys.executable, "-m", "benchmarks.bench_lite2_variants",
                                   "--keras-features", str(npy)], env=env, check=True,
                                  capture_output=True, text=True)
            rate = json.loads(done.stdout.strip().splitlines()[-1])["rate"]
            feats[f"keras {mode}"] = np.load(npy)
            rows[f"Keras graph, {mode} math"] = {"rate": rate, "bytes": None}
            print(mode, rate, flush=True)
        base = feats["float32"]
        scale = float(np.abs(base).max())
        for name, key in [(f"LiteRT {n}", n) for n in ports] + [
                ("Keras graph, float32 math", "keras float32"),
                ("Keras graph, BF16 math", "keras BF16")]:
            rows[name]["feature_diff"] = float(np.abs(feats[key] - base).max() / scale)
        floor = rows["LiteRT float32"]["rate"]
        frames = {}
        for name, path in ports.items():
            if name == "float32" or rows[f"LiteRT {name}"]["rate"] > floor:
                frames[name] = v2_frame(path)
        for name, frame in frames.items():
            if name == "float32":
                continue
            ref = frames["float32"]
            cols = [c for c in ref.columns if ref[c].dtype.kind == "f"]
            diffs = {c: float(np.nanmax(np.abs(frame[c].to_numpy() - ref[c].to_numpy())))
                     for c in cols}
            rows[f"LiteRT {name}"]["v2"] = {
                "images": len(ref),
                "prediction_diff": max(diffs["valence"], diffs["arousal"]),
                "interval_diff": max(v for c, v in diffs.items() if "_80" in c),
                "ood_diff": diffs["ood_score"],
                "mean_prediction_diff": float(np.mean(np.abs(
                    frame[["valence", "arousal"]].to_numpy()
                    - ref[["valence", "arousal"]].to_numpy()))),
                "flags_changed": int((frame["unusual"] != ref["unusual"]).sum()),
            }
    lines = [f"EfficientNet-Lite2's eight tapped layers on {len(paths) - 16} Emotion6 photos "
             "with their mirror images, 2 CPU cores (AVX-512, AMX-BF16/INT8); one run, side "
             f"by side.  int8 (full) is calibrated on {args.calibration} Emotion6 photos.", "",
             "| variant | images/s | vs LiteRT float32 | features: largest difference / "
             "largest feature | v2 on Emotion6 + OASIS: largest prediction difference "
             "(mean) | shipped? |", "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        v2 = r.get("v2")
        v2_text = (f"{v2['prediction_diff']:.3f} ({v2['mean_prediction_diff']:.3f}); "
                   f"intervals {v2['interval_diff']:.3f}; {v2['flags_changed']} of "
                   f"{v2['images']} flags change" if v2 else
                   ("(the reference)" if name == "LiteRT float32" else "not measured: not faster"))
        faster = r["rate"] > floor
        ok = v2 is not None and faster and v2["prediction_diff"] <= TOLERANCE
        shipped = ("yes (the port)" if name == "LiteRT float32" else
                   "yes" if ok else "no: " + ("not faster" if not faster else
                                              f"above {TOLERANCE}"))
        if name.startswith("Keras graph, float32"):
            shipped = "the fallback and the GPU path"
        lines.append(f"| {name} | {r['rate']:.1f} | {r['rate'] / floor:.2f}x | "
                     f"{r['feature_diff']:.2g} | {v2_text} | {shipped} |")
    write("lite2_variants", command, {"rows": rows, "calibration": args.calibration},
          "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How far the conv-train CNN's fit is from its network's own arithmetic (issue 14).

Run: SKLEARN_EMOTION_DATA=../shared python benchmarks/bench_cnn_train_floor.py [--images 400]

The conv-train CNN is the reproduction's largest row (``emotion6_profile.md``):
MobileNetV2 fine-tuned end to end for 2 epochs, minibatches of 50 whose
gradient is accumulated over micro-batches of 10 images.  On ``--images``
Emotion6 images (every k-th), with the reproduction's own row settings
(``cnn_row``), this measures side by side in one process:

- **fit**: ``CNNRegressor.fit`` for one epoch, as the reproduction runs it
  (backbone built from the weights file, images decoded and resized once,
  early stopping's 10 % hold-out and its validation pass);
- the same epoch's parts, on the fitted network with a fresh Adam at the
  row's learning rate:
  - **decode**: decoding and resizing the images into the fit's image store;
  - **gradient steps, micro-batches of 10**: the minibatch updates of one
    epoch on images already decoded and preprocessed in memory, with the
    fit's own accumulating step — forward and backward passes and Adam's
    update, nothing else;
  - **gradient steps, whole minibatches**: the same updates with one
    forward and backward pass per minibatch of 50 (what the micro-batches
    trade for memory);
  - **validation pass**: inference on the hold-out, as the fit's.

fit / (decode + micro-batch steps + validation) near 1 means the row's time
is inside the network's invocations; steps are a warm-up step apart from
their timing (tracing is counted in the fit, not in the floor).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=400)
    a = ap.parse_args()
    import keras
    from sklearn.model_selection import train_test_split

    from sklearn_emotion.models.cnn import _accumulating_step, _chunks, _infer, _ResizedImages
    from sklearn_emotion.reproduce import load_dataset
    from sklearn_emotion.reproduce._protocol import CNN_ROWS, cnn_row

    _, paths, y = load_dataset("emotion6")
    step = len(paths) // a.images
    paths, y = list(paths[::step][:a.images]), y[::step][:a.images]
    lr = dict(CNN_ROWS)["conv-train"]
    name, cnn = cnn_row("conv-train", lr, 1)
    t0 = time.perf_counter()
    cnn.fit(paths, y)
    fit_s = time.perf_counter() - t0

    # a split of the fit's sizes, its batch size and preprocessing, on the fitted network
    n = len(paths)
    n_val = max(2, int(np.ceil(cnn.validation_fraction * n)))
    tr, va = train_test_split(np.arange(n), test_size=n_val,
                              random_state=np.random.RandomState(0))
    side = cnn._side()
    t0 = time.perf_counter()
    store = _ResizedImages(paths, side)
    decode_s = time.perf_counter() - t0
    Xtr, Xva = cnn._prep(store[tr]), cnn._prep(store[va])
    store.close()
    Y = np.asarray(y, np.float32)[tr]
    model = cnn.model_
    order = np.random.RandomState(1).permutation(len(tr))
    batches = [order[s:s + cnn.batch_size] for s in range(0, len(tr), cnn.batch_size)]

    def epoch(stepper):
        stepper(batches[0])  # warm-up: trace and build the optimizer's slots
        t = time.perf_counter()
        for idx in batches:
            stepper(idx)
        return time.perf_counter() - t

    micro_s = epoch(_accumulating_step(model, keras.optimizers.Adam(lr), lambda i: Xtr[i], Y,
                                       cnn.micro_batch_size))
    whole_s = epoch(_accumulating_step(model, keras.optimizers.Adam(lr), lambda i: Xtr[i], Y,
                                       cnn.batch_size))
    t0 = time.perf_counter()
    for c in _chunks(len(va)):
        _infer(model, Xva[c])
    val_s = time.perf_counter() - t0

    floor = decode_s + micro_s + val_s
    rows = {"fit, one epoch (CNNRegressor.fit)": fit_s, "decode and resize": decode_s,
            f"gradient steps, micro-batches of {cnn.micro_batch_size}": micro_s,
            f"gradient steps, whole minibatches of {cnn.batch_size}": whole_s,
            "validation pass": val_s}
    md = [f"{name}, the reproduction's row settings, on {n} Emotion6 images (every "
          f"{step}th): {len(tr)} training images in {len(batches)} minibatches, {len(va)} "
          "held out. One process, side by side, 2 CPU cores, no GPU.", "",
          "| stage | seconds | ms / training image |", "|---|---|---|"]
    for k, s in rows.items():
        md.append(f"| {k} | {s:.1f} | {1000 * s / len(tr):.0f} |")
    md += ["", f"**fit / (decode + micro-batch steps + validation pass) = {fit_s / floor:.2f}**; "
           f"the gradient steps are {100 * micro_s / fit_s:.0f} % of the fit. Micro-batches "
           f"cost {micro_s / whole_s:.2f}× the whole-minibatch steps (they bound the "
           "activations held at once to 10 images'; `benchmarks/results/memory.md`).",
           "",
           "The remaining fit time over the parts is building the backbone from its weights "
           "file, tracing the step, and the bookkeeping of early stopping."]
    write("cnn_train_floor",
          f"SKLEARN_EMOTION_DATA=../shared python benchmarks/bench_cnn_train_floor.py --images {a.images}",
          {"seconds": rows, "ratio_fit_over_parts": fit_s / floor, "micro_over_whole": micro_s / whole_s,
           "images": n, "train": int(len(tr)), "validation": int(len(va))}, "\n".join(md))


if __name__ == "__main__":
    main()

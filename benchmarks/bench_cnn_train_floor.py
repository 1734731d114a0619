"""How far the conv-train CNN's fold is from its network's own arithmetic (issue 14).

Run: SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_cnn_train_floor [--images 1980]

The conv-train CNN is the reproduction's largest row (``emotion6_profile.md``):
MobileNetV2 fine-tuned end to end for 2 epochs, minibatches of 50 whose
gradient is accumulated over micro-batches of 10 images.  On the first fold
of the reproduction's 5-fold split of ``--images`` Emotion6 images (all by
default), with the reproduction's own row (``cnn_row``), this measures side
by side in one process:

- **fold**: what the reproduction times as the fold's ``fit_seconds``: fit
  on the training images, predict the training and the test images (as the
  fit worker's ``_fit_predict_here`` does, here in this process);
- the same fold's parts, on the fitted network with a fresh Adam at the
  row's learning rate:
  - **decode**: decoding and resizing the training images into the fit's
    image store, and every image again for the two predictions;
  - **gradient steps**: one epoch of minibatch updates on images already
    decoded and preprocessed in memory, with the fit's own accumulating step
    (forward and backward passes and Adam's update, nothing else), times the
    epochs the fit ran; and the same epoch with one pass per whole minibatch
    of 50, for what the micro-batches of 10 cost or save;
  - **inference**: the validation pass of each epoch and the two
    predictions, on preprocessed images.

fold / (decode + gradient steps + inference) near 1 means the row's time is
inside the network's invocations.  The steps are timed after a warm-up step
(tracing is counted in the fold, not in the parts).
"""

import argparse
import time

import numpy as np

from benchmarks._common import write


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1980)
    a = ap.parse_args()
    import keras
    from sklearn.model_selection import KFold, train_test_split

    from sklearn_emotion._backbones import BACKBONES, preprocess_fn
    from sklearn_emotion._runners import infer
    from sklearn_emotion.models._cnn_steps import ResizedImages, accumulating_step, chunks
    from sklearn_emotion.reproduce import load_dataset
    from sklearn_emotion.reproduce._protocol import CNN_ROWS, cnn_row

    _, paths, y = load_dataset("emotion6")
    step = len(paths) // a.images
    paths, y = np.asarray(paths[::step][:a.images], dtype=object), y[::step][:a.images]
    tr, te = next(KFold(5, shuffle=True, random_state=0).split(paths))
    lr = dict(CNN_ROWS)["conv-train"]
    name, cnn = cnn_row("conv-train", lr, 2)
    t0 = time.perf_counter()  # the fit worker's _fit_predict_here, on this instance
    cnn.fit(paths[tr], y[tr])
    cnn.predict(paths[tr])
    cnn.predict(paths[te])
    fold_s = time.perf_counter() - t0
    epochs = int(cnn.n_iter_)

    # the fit's split sizes, batch size and preprocessing
    n = len(tr)
    n_val = max(2, int(np.ceil(cnn.validation_fraction * n)))
    fit_tr, fit_va = train_test_split(np.arange(n), test_size=n_val,
                                      random_state=np.random.RandomState(0))
    side = BACKBONES[cnn.backbone][2]
    t0 = time.perf_counter()
    store = ResizedImages(list(paths[tr]), side)
    decode_fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ResizedImages(list(paths[np.r_[tr, te]]), side).close()
    decode_predict_s = time.perf_counter() - t0
    X = preprocess_fn(cnn.backbone)(store[np.arange(n)].astype(np.float32))
    store.close()
    Xtr, Xva, Y = X[fit_tr], X[fit_va], np.asarray(y, np.float32)[tr][fit_tr]
    model = cnn.model_  # trained on further below: only the time of its steps is kept
    order = np.random.RandomState(1).permutation(len(fit_tr))
    batches = [order[s:s + cnn.batch_size] for s in range(0, len(fit_tr), cnn.batch_size)]

    def epoch(micro):
        stepper = accumulating_step(model, keras.optimizers.Adam(lr), lambda i: Xtr[i], Y, micro)
        stepper(batches[0])  # warm-up: trace and build the optimizer's slots
        t = time.perf_counter()
        for idx in batches:
            stepper(idx)
        return time.perf_counter() - t

    micro_s = epoch(cnn.micro_batch_size)
    whole_s = epoch(cnn.batch_size)
    t0 = time.perf_counter()
    for c in chunks(len(Xva)):
        infer(model, Xva[c])
    val_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for c in chunks(n):
        infer(model, X[c])
    infer_s = (time.perf_counter() - t0) * (n + len(te)) / n  # train and test predictions

    parts = {"decode and resize (image store, then both predictions)": decode_fit_s + decode_predict_s,
             f"gradient steps, micro-batches of {cnn.micro_batch_size} ({epochs} epochs)": epochs * micro_s,
             f"inference (validation pass × {epochs}, predictions)": epochs * val_s + infer_s}
    floor = sum(parts.values())
    rows = {f"fold: fit and predict ({name})": fold_s, **parts,
            f"(instead: gradient steps, whole minibatches of {cnn.batch_size}, {epochs} epochs)":
                epochs * whole_s}
    md = [f"{name}, the reproduction's row, on fold 1 of its 5-fold split of {len(paths)} "
          f"Emotion6 images: fitted on {n} ({len(fit_tr)} trained on in {len(batches)} minibatches "
          f"an epoch, {len(fit_va)} held out for early stopping), {epochs} epochs, then "
          f"predicting the {n} training and {len(te)} test images. One process, side by side, "
          "2 CPU cores, no GPU.", "",
          "| stage | seconds | share of the fold |", "|---|---|---|"]
    for k, sec in rows.items():
        md.append(f"| {k} | {sec:.1f} | {100 * sec / fold_s:.0f} % |")
    md += ["", f"**fold / (decode + gradient steps + inference) = {fold_s / floor:.2f}**. "
           f"Micro-batches of {cnn.micro_batch_size} take {micro_s / whole_s:.2f}× the time of "
           f"whole minibatches of {cnn.batch_size}, and hold a fifth of the activations at once.",
           "",
           "What the parts leave out: building the backbone from its weights file, tracing the "
           "step and the inference function, and copying minibatches out of the image store."]
    write("cnn_train_floor",
          f"SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_cnn_train_floor --images {a.images}",
          {"seconds": rows, "fold_over_parts": fold_s / floor, "micro_over_whole": micro_s / whole_s,
           "images": len(paths), "train": n, "test": int(len(te)), "epochs": epochs},
          "\n".join(md))


if __name__ == "__main__":
    main()

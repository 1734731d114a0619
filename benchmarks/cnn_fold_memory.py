"""Peak memory of one conv-train CNN fold, by phase (issue 28, item 1).

Run: SKLEARN_EMOTION_DATA=../shared python -m benchmarks.cnn_fold_memory [--epochs 2] [--label now]

The conv-train row is the reproduction's largest process: its network
worker reached 2,400 MiB in the committed full run (``full_run_emotion6.md``).
This fits the reproduction's own row (``cnn_row``: MobileNetV2, minibatches
of 50, micro-batches of 10) on the first fold of the reproduction's 5-fold
split of Emotion6, in a fresh process, and samples its resident set every
50 ms, labelled by phase:

- **import**: after importing the package, TensorFlow and the data;
- **fit**: the fit, with its validation pass after each epoch;
- **predict**: predicting the fold's test images.

The figures are the process's resident set, not Python's allocations: what
the operating system has to find.  ``--label`` names the code measured, so
two runs (e.g. before and after a change, from two checkouts) land in one
results file side by side; each run replaces its own label's row.
"""

import argparse
import json
import resource
import threading
import time

import numpy as np
import psutil

from benchmarks._common import RESULTS, write

NAME = "cnn_fold_memory"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--label", default="now", help="name of the code measured (a commit)")
    a = ap.parse_args(argv)

    phase, peaks, done = ["import"], {}, threading.Event()
    me = psutil.Process()

    def sample():
        while not done.is_set():
            peaks[phase[0]] = max(peaks.get(phase[0], 0.0), me.memory_info().rss / 2**20)
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    from sklearn.model_selection import KFold

    from sklearn_emotion._quiet import import_tensorflow
    from sklearn_emotion.reproduce import load_dataset
    from sklearn_emotion.reproduce._protocol import CNN_ROWS, cnn_row

    import_tensorflow()
    _, paths, y = load_dataset("emotion6")
    paths = np.asarray(paths, dtype=object)
    tr, te = next(KFold(5, shuffle=True, random_state=0).split(paths))
    _, cnn = cnn_row("conv-train", dict(CNN_ROWS)["conv-train"], a.epochs)
    phase[0] = "fit"
    t0 = time.perf_counter()
    cnn.fit(paths[tr], y[tr])
    fit_s = time.perf_counter() - t0
    phase[0] = "predict"
    t0 = time.perf_counter()
    cnn.predict(paths[te])
    predict_s = time.perf_counter() - t0
    time.sleep(0.2)
    done.set()
    thread.join()
    row = {"label": a.label, "epochs": int(cnn.n_iter_), "fit_s": round(fit_s, 1),
           "predict_s": round(predict_s, 1),
           "micro_batch_size": cnn.micro_batch_size, "batch_size": cnn.batch_size,
           "peak_mib": {k: round(v) for k, v in peaks.items()},
           "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}

    path = RESULTS / f"{NAME}.json"
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    rows = [r for r in rows if r["label"] != a.label] + [row]
    lines = ["One conv-train fold of the reproduction (Emotion6 fold 1 of 5, "
             f"{len(tr)} training images, {len(te)} test images), each label in a "
             "fresh process; peak resident set by phase (MiB).", "",
             "| code | epochs | after import | fit | predict | process peak | fit s | predict s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p = r["peak_mib"]
        lines.append(f"| {r['label']} | {r['epochs']} | {p.get('import', 0)} | {p.get('fit', 0)} "
                     f"| {p.get('predict', 0)} | {r['ru_maxrss_mib']} | {r['fit_s']} "
                     f"| {r['predict_s']} |")
    lines += ["", "Each row's command is this file's, with `--label` set to the code "
              "measured; rows from two checkouts were run one after the other on one "
              "machine with nothing else running."]
    write(NAME, "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.cnn_fold_memory "
          "--label LABEL", {"rows": rows}, "\n".join(lines))


if __name__ == "__main__":
    main()

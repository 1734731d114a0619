"""Record what the shipped models and the reproduction's quick look output,
for the before/after equality test (``tests/test_outputs_unchanged.py``).

Run at the commit whose numbers every later restructuring must keep (the
result names it), with a data home::

    git worktree add /tmp/before 29414ff
    cd /tmp/before && SKLEARN_EMOTION_DATA=/path/to/data-home \\
        python /path/to/repo/benchmarks/record_outputs.py /path/to/repo/tests/data/outputs_before

It uses only names public at 29414ff and today: ``load_pretrained``,
``predict``, ``predict_interval``, ``predict_emotions``, ``ood_score``,
``predict_frame``, and the ``reproduce`` command with the arguments of
``tests/test_reproduce.py``'s run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

#: The reproduction's quick look: tests/test_reproduce.py's run, unchanged.
QUICK_LOOK = ["--subset", "40", "--folds", "2", "--tables", "2,3,4,best", "--ffnn-max-iter", "4",
              "--ffnn-hidden", "16", "--cnn-max-iter", "2", "--cnn-train-max-iter", "1"]


def images():
    """The test images: 8 Emotion6 and 4 OASIS photos (the first by sorted
    path), three scikit-image samples, a flat grey and a noise image."""
    from skimage import data

    from sklearn_emotion.datasets import load_emotion6, load_oasis

    e6 = sorted(str(p) for p in load_emotion6(return_X_y=True)[0])[:8]
    oa = sorted(str(p) for p in load_oasis(return_X_y=True)[0])[:4]
    rng = np.random.default_rng(0)
    arrays = [data.astronaut(), data.chelsea(), data.coffee(),
              np.full((240, 320, 3), 128, np.uint8),
              rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)]
    return e6 + oa, arrays


def model_outputs():
    from sklearn_emotion import load_pretrained

    paths, arrays = images()
    X = paths + arrays
    out = {}
    for name in ("v1", "v2"):
        m = load_pretrained(name)
        out[f"{name}_predict"] = m.predict(X)
        out[f"{name}_interval"] = m.predict_interval(X)
        try:  # v1 was fitted on one picture set: no intervals for new raters
            out[f"{name}_interval_new_raters"] = m.predict_interval(X, new_raters=True)
        except ValueError:
            pass
        out[f"{name}_emotions"] = m.predict_emotions(X)
        out[f"{name}_ood_score"] = m.ood_score(X)
        out[f"{name}_unusual"] = m.predict_frame(X)["unusual"].to_numpy(bool)
    from sklearn_emotion import get_data_home

    home = get_data_home().resolve()
    return out, [Path(p).resolve().relative_to(home).as_posix() for p in paths]


def quick_look_tables(folder):
    cmd = [sys.executable, "-m", "sklearn_emotion", "reproduce", "--output", str(folder / "res"),
           *QUICK_LOOK, "--cache-dir", str(folder / "cache"), "--quiet"]
    subprocess.run(cmd, check=True)
    import pandas as pd

    return pd.read_csv(folder / "res" / "tables.csv")


def main(dest):
    dest = Path(dest)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    arrays, names = model_outputs()
    np.savez_compressed(dest.with_suffix(".npz"), **arrays)
    with tempfile.TemporaryDirectory() as tmp:
        t = quick_look_tables(Path(tmp))
    t.to_csv(dest.with_suffix(".tables.csv"), index=False)
    dest.with_suffix(".json").write_text(json.dumps(
        {"commit": commit, "images": names, "arrays": "outputs_before.npz: 17 images (the "
         "paths above, then astronaut, chelsea, coffee, grey, noise)",
         "quick_look": ["reproduce", *QUICK_LOOK]}, indent=1) + "\n")
    print(f"recorded at {commit}: {dest}.*")


if __name__ == "__main__":
    main(sys.argv[1])

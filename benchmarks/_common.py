"""Shared helpers of the benchmark scripts."""

import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def emotion6_subset(n, step=None):
    from sklearn_emotion.datasets import load_emotion6

    X = load_emotion6().filenames
    step = step or len(X) // n
    return list(X[::step][:n])


def median_time(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine():
    import os

    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "cpus": os.cpu_count(), "numpy": np.__version__}


def write(name, command, payload, markdown):
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"command": command, "machine": machine(), **payload}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1))
    (RESULTS / f"{name}.md").write_text(f"Command: `{command}`\n\n{markdown}\n")
    print(markdown)


def pooled_sets(cache_dir, n_jobs=2, verbose=False, **params):
    """Emotion6 and OASIS with pooled CNN features, the shipped recipe's
    MobileNetV2 by default, other ``PooledLayerFeatures`` parameters (e.g.
    ``backbone="efficientnet_lite2"``) otherwise, read from the per-image
    cache ``cache_dir`` where present: ``{"emotion6": (bunch, F), "oasis":
    (bunch, F)}``."""
    from sklearn_emotion import PooledLayerFeatures
    from sklearn_emotion.datasets import load_emotion6, load_oasis

    feats = PooledLayerFeatures(memory=cache_dir, n_jobs=n_jobs, verbose=verbose, **params)
    return {name: (b, feats.fit_transform(list(b.filenames)))
            for name, b in (("emotion6", load_emotion6()), ("oasis", load_oasis()))}

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


def pooled_sets(cache_dir, n_jobs=2, verbose=False, recipe=None, **params):
    """Emotion6 and OASIS with pooled CNN features, read from the per-image
    cache ``cache_dir`` where present: ``{"emotion6": (bunch, F), "oasis":
    (bunch, F)}``.  The features of a shipped model's recipe (``"v1"``,
    ``"v2"``), or ``PooledLayerFeatures(**params)`` (the v1 features by
    default; e.g. ``backbone="efficientnet_lite2"``)."""
    from sklearn_emotion import PooledLayerFeatures
    from sklearn_emotion.datasets import load_emotion6, load_oasis
    from sklearn_emotion.pretrained import recipe_features

    kw = dict(cache_dir=cache_dir, n_jobs=n_jobs, verbose=verbose)
    feats = recipe_features(recipe, **kw) if recipe else PooledLayerFeatures(**kw, **params)
    return {name: (b, feats.fit_transform(list(b.filenames)))
            for name, b in (("emotion6", load_emotion6()), ("oasis", load_oasis()))}


def recipe_argument(ap):
    """``--recipe v1|v2``: which shipped model's features a v2 benchmark uses;
    results of v1 go to ``<name>_v1``."""
    ap.add_argument("--recipe", choices=["v1", "v2"], default="v2",
                    help="the shipped model whose recipe is measured (default: %(default)s)")


def result_name(name, recipe):
    return name if recipe == "v2" else f"{name}_{recipe}"


RECIPE_WORDS = {
    "v1": "the v1 recipe (`AffectModel()` on the pooled MobileNetV2 TFLite layers)",
    "v2": "the v2 recipe (`AffectModel()` on the pooled MobileNetV2 TFLite and "
          "EfficientNet-Lite2 layers)",
}


def tree_rss_mib(root):
    """Resident memory (VmRSS) of ``root`` and each of its descendants now:
    ``{pid: MiB}`` (Linux)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                parent[int(d.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                continue
    tree, grew = {root}, True
    while grew:
        new = {p for p, pp in parent.items() if pp in tree} - tree
        tree |= new
        grew = bool(new)
    out = {}
    for p in tree:
        try:
            out[p] = next(int(line.split()[1]) for line in open(f"/proc/{p}/status")
                          if line.startswith("VmRSS")) / 1024
        except (OSError, StopIteration):
            continue
    return out


def watch(proc, last, timeline=None, tag=None):
    """Sample the memory of ``proc`` and its descendants every 0.5 s until it
    exits: the largest sum at one moment, with what the main process and each
    child held then, when, and the run's latest log line (``last[0]``).
    Every sample is appended to the JSON-lines file ``timeline`` when given
    (``tag``'s fields added)."""
    t0 = time.perf_counter()
    peak = {"total": 0.0}
    out = open(timeline, "a") if timeline else None
    try:
        while proc.poll() is None:
            rss = tree_rss_mib(proc.pid)
            total = sum(rss.values())
            kids = sorted((round(v) for p, v in rss.items() if p != proc.pid), reverse=True)
            if out:
                out.write(json.dumps({**(tag or {}), "t": round(time.perf_counter() - t0, 1),
                                      "main": rss.get(proc.pid, 0.0), "children": kids,
                                      "stage": last[0]}) + "\n")
            if total > peak["total"]:
                peak = {"total": total, "main": rss.get(proc.pid, 0.0), "children": kids,
                        "stage": last[0], "t": time.perf_counter() - t0}
            time.sleep(0.5)
    finally:
        if out:
            out.close()
    return peak


"""Cold versus warm reproduction: the per-image cache makes a second run compute no feature.

Runs the reproduction twice on the same subset with a fresh cache folder and
reports both wall times, how many images each family computed or read from
the cache, and that the warm run invoked no network.
Run: python -m benchmarks.bench_cache [--subset 200]
"""

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks._common import write

from sklearn_emotion._runners import KerasRunner, TFLiteRunner
from sklearn_emotion.reproduce import run_reproduction


class _Count:
    """Counts model invocations by wrapping the runners' run methods."""

    def __init__(self):
        self.calls = 0
        self._orig = {}

    def __enter__(self):
        for cls in (KerasRunner, TFLiteRunner):
            orig = cls.run
            self._orig[cls] = orig

            def run(this, batch, _orig=orig):
                self.calls += 1
                return _orig(this, batch)

            cls.run = run
        return self

    def __exit__(self, *exc):
        for cls, orig in self._orig.items():
            cls.run = orig


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subset", type=int, default=200)
    a = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as d:
        for run in ("cold", "warm"):
            with _Count() as c:
                t0 = time.perf_counter()
                s = run_reproduction(Path(d) / run, subset=a.subset, folds=5, tables=("3",),
                                     cache_dir=Path(d) / "cache", verbose=False, log=lambda m: None)
                wall = time.perf_counter() - t0
            feat_s = sum(v["seconds"] for v in s["features"].values())
            rows[run] = dict(wall_s=wall, feature_s=feat_s, model_invocations=c.calls,
                             computed=sum(v["computed"] for v in s["features"].values()),
                             cached=sum(v["cached"] for v in s["features"].values()))
            print(run, rows[run], flush=True)
    c, w = rows["cold"], rows["warm"]
    md = [f"Reproduction Table III (7 feature families, FFNN and SVR, 5 folds) on {a.subset} "
          "Emotion6 images, run twice with one fresh per-image cache folder.", "",
          "| run | wall (s) | feature stage (s) | images computed | images from cache | network invocations |",
          "|---|---|---|---|---|---|",
          f"| cold | {c['wall_s']:.0f} | {c['feature_s']:.1f} | {c['computed']} | {c['cached']} | {c['model_invocations']} |",
          f"| warm | {w['wall_s']:.0f} | {w['feature_s']:.1f} | {w['computed']} | {w['cached']} | {w['model_invocations']} |",
          "", f"Warm / cold wall time = {w['wall_s'] / c['wall_s']:.2f}; feature stage warm / cold = "
          f"{w['feature_s'] / c['feature_s']:.3f}. The warm run invoked "
          f"{w['model_invocations']} network batches (cold: {c['model_invocations']})."]
    write("cache_cold_warm", f"python -m benchmarks.bench_cache --subset {a.subset}", {"rows": rows},
          "\n".join(md))


if __name__ == "__main__":
    main()

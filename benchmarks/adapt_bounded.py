"""Adaptation's cost on large or repeated ratings: wall time and peak memory.

The shipped v2 (8,224 features) adapted on feature rows drawn around its
training features' mean and spread (the cost depends on the number of rows
and their width, not on what they show), each case in a fresh process so
that its peak resident memory is its own:

- 10,000 rating rows of one image (merged into one: refused, at once);
- 10,000 rows of 100 images each rated 100 times (merged to 100);
- 10,000 distinct images (a subsample of ``max_images`` = 500 is used);
- 500 distinct images (the cap itself, for comparison).

Usage::

    SKLEARN_EMOTION_DATA=../shared python -m benchmarks.adapt_bounded
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from benchmarks._common import write

CASES = {"10,000 rows of one image": (1, 10_000), "10,000 rows of 100 images": (100, 10_000),
         "10,000 distinct images": (10_000, 10_000), "500 distinct images": (500, 500)}

_CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
from sklearn_emotion import load_pretrained

distinct, rows = int(sys.argv[1]), int(sys.argv[2])
model = load_pretrained("v2")
rng = np.random.default_rng(0)
F0 = model.main_.mean + model.main_.scale * rng.normal(size=(distinct, model.n_features_in_))
F = F0 if rows == distinct else F0[np.arange(rows) % distinct]
y = np.clip(5 + rng.normal(0, 1.2, size=(rows, 2)), 1, 9)
t0 = time.perf_counter()
outcome = "adapted"
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    try:
        adapted = model.head_.adapt(F, y)
        outcome += ": " + ", ".join(t["strategy"] for t in adapted.adaptation_["targets"])
    except ValueError as exc:
        outcome = f"refused: {exc}"
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss / 1024, "outcome": outcome,
    "warnings": [str(x.message) for x in w]}))
"""


def main():
    rows = {}
    for name, (distinct, n) in CASES.items():
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _CHILD, str(distinct), str(n)],
                             capture_output=True, text=True, check=True)
        rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
        rows[name]["process_seconds"] = time.perf_counter() - t0
        print(name, rows[name], flush=True)
    md = ["Adaptation of the shipped v2 on synthetic feature rows (8,224 features), each "
          "case in a fresh process on 2 cores; seconds are `adapt`'s own, peak memory the "
          "whole process's (the model and the rows included).", "",
          "| case | seconds | peak MiB | outcome | warnings |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        md.append(f"| {name} | {r['seconds']:.1f} | {r['peak_mib']:,.0f} | {r['outcome']} | "
                  + "; ".join(r["warnings"]) + " |")
    write("adapt_bounded", "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.adapt_bounded",
          {"cases": rows}, "\n".join(md))


if __name__ == "__main__":
    main()

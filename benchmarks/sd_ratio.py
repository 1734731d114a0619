"""How much of the rated spread the shipped recipe's predictions keep.

The ratio of the standard deviation of the predictions to that of the
ratings, per target, for the recipe (``AffectModel()`` on the pooled
MobileNetV2 features) under the protocols of ``pretrained_eval.py``:
5-fold ``KFold(shuffle=True, random_state=0)`` within each set, and fitted
on all of one set, predicting the other. A ridge regression shrinks toward
the mean: a ratio well below 1 means the predictions crowd the middle of
the scale (a deliberate trade of spread for squared error), so a
prediction of 6 is a stronger statement than it looks.

Usage::

    SKLEARN_EMOTION_DATA=../shared python -m benchmarks.sd_ratio --cache-dir feature-cache
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold

from sklearn_emotion import AffectHead

from benchmarks._common import RECIPE_WORDS, pooled_sets, recipe_argument, result_name

RESULTS = Path(__file__).resolve().parent / "results" / "pretrained_v2"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="feature-cache")
    recipe_argument(ap)
    a = ap.parse_args(argv)
    data = {name: (F, b.target) for name, (b, F) in pooled_sets(a.cache_dir, recipe=a.recipe).items()}
    rows = {}
    for name, (F, y) in data.items():
        pred = np.empty_like(y)
        for tr, te in KFold(5, shuffle=True, random_state=0).split(F):
            pred[te] = AffectHead(cv=0).fit(F[tr], y[tr]).predict(F[te])
        rows[f"within {name}"] = (pred.std(axis=0) / y.std(axis=0)).tolist()
    for src, dst in (("emotion6", "oasis"), ("oasis", "emotion6")):
        m = AffectHead(cv=0).fit(*data[src])
        F, y = data[dst]
        rows[f"{src} -> {dst}"] = (m.predict(F).std(axis=0) / y.std(axis=0)).tolist()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{result_name('sd_ratio', a.recipe)}.json").write_text(json.dumps(rows, indent=1))
    cmd = f"SKLEARN_EMOTION_DATA=../shared python -m benchmarks.sd_ratio --cache-dir {a.cache_dir} --recipe {a.recipe}"
    lines = [f"Command: `{cmd}`", "",
             f"Standard deviation of the predictions of {RECIPE_WORDS[a.recipe]} over that of the ratings "
             "(out-of-fold within a set; fitted on all of one set for the other).", "",
             "| protocol | valence | arousal |", "|---|---|---|"]
    lines += [f"| {k} | {v[0]:.2f} | {v[1]:.2f} |" for k, v in rows.items()]
    (RESULTS / f"{result_name('sd_ratio', a.recipe)}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

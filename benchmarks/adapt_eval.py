"""Few-shot adaptation to a new set's raters (``AffectModel.adapt``), measured.

Directions Emotion6 -> OASIS and OASIS -> Emotion6.  The starting model is
the shipped recipe (``AffectModel`` with its defaults on the pooled
MobileNetV2 features) fitted on the **source set only**.  For each k in
{10, 20, 50, 100} and each of 10 random draws, k target images with their
ratings are given to ``adapt``; everything is scored on the **rest of the
target set** (the images the adaptation never saw): Pearson r, 80 % interval
coverage and mean width, per target.  Beside the automatic choice, each
strategy alone (forced, with the same recalibration) and the unadapted
model, on the same draws.

Usage::

    python benchmarks/adapt_eval.py --cache-dir feature-cache [--draws 10]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr

from sklearn_emotion import AffectModel, PooledLayerFeatures
from sklearn_emotion._adapt import STRATEGIES
from sklearn_emotion.datasets import load_emotion6, load_oasis

RESULTS = Path(__file__).resolve().parent / "results" / "pretrained_v2"
KS = (10, 20, 50, 100)
CANDIDATES = ("auto", *STRATEGIES)


def features(bunch, cache_dir):
    est = PooledLayerFeatures(memory=cache_dir, n_jobs=2)
    return est.fit_transform(list(bunch.filenames))


def score(model, F, y):
    pred = model._predict_features(F)
    iv = model._interval_features(F)
    out = {}
    for j, t in enumerate(("valence", "arousal")):
        inside = (y[:, j] >= iv[:, j, 0]) & (y[:, j] <= iv[:, j, 1])
        out[t] = {"r": float(pearsonr(pred[:, j], y[:, j])[0]),
                  "coverage": float(inside.mean()),
                  "width": float((iv[:, j, 1] - iv[:, j, 0]).mean())}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--ks", default=",".join(map(str, KS)))
    a = ap.parse_args(argv)
    ks = [int(k) for k in a.ks.split(",")]
    t0 = time.time()
    e6, oasis = load_emotion6(), load_oasis()
    data = {"emotion6": (e6, features(e6, a.cache_dir)), "oasis": (oasis, features(oasis, a.cache_dir))}
    rows = []
    for src, dst in (("emotion6", "oasis"), ("oasis", "emotion6")):
        sb, sF = data[src]
        db, dF = data[dst]
        dist = sb.distributions if src == "emotion6" else None
        base = AffectModel()._fit_features(PooledLayerFeatures(), sF, sb.target, dist)
        y = db.target
        s0 = score(base, dF, y)
        rows.append({"direction": f"{src}->{dst}", "k": 0, "draw": None, "model": "unadapted",
                     "scores_all": s0})
        print(src, "->", dst, "unadapted", json.dumps(s0), flush=True)
        for k in ks:
            for d in range(a.draws):
                rng = np.random.default_rng(1000 * k + d)
                pick = rng.choice(len(y), k, replace=False)
                rest = np.setdiff1d(np.arange(len(y)), pick)
                for cand in CANDIDATES:
                    strategies = STRATEGIES if cand == "auto" else (cand,)
                    m = base._adapt_features(dF[pick], y[pick], strategies=strategies)
                    s = score(m, dF[rest], y[rest])
                    s_unad = score(base, dF[rest], y[rest]) if cand == "auto" else None
                    rows.append({"direction": f"{src}->{dst}", "k": k, "draw": d, "model": cand,
                                 "chosen": [t["strategy"] for t in m.adaptation_["targets"]],
                                 "scores": s, "unadapted_same_rest": s_unad})
            summary(rows, f"{src}->{dst}", k)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "adapt.json").write_text(json.dumps({"rows": rows, "seconds": time.time() - t0,
                                                    "draws": a.draws, "ks": ks}, indent=1))
    write_md(rows, ks, a, time.time() - t0)


def _mean(rows, t, m):
    return float(np.mean([r["scores"][t][m] for r in rows])) if rows else float("nan")


def summary(rows, direction, k):
    for cand in CANDIDATES:
        sel = [r for r in rows if r["direction"] == direction and r["k"] == k and r["model"] == cand]
        print(direction, k, cand, " ".join(f"{t[0]} r {_mean(sel, t, 'r'):.3f}"
                                           f" cov {_mean(sel, t, 'coverage'):.2f}"
                                           f" w {_mean(sel, t, 'width'):.2f}"
                                           for t in ("valence", "arousal")), flush=True)


def write_md(rows, ks, a, seconds):
    pass


if __name__ == "__main__":
    main()

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

    python -m benchmarks.adapt_eval --cache-dir feature-cache [--draws 10]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr

from sklearn_emotion import AffectHead
from sklearn_emotion.pretrained import ADAPT_STRATEGIES as STRATEGIES

from benchmarks._common import RECIPE_WORDS, pooled_sets, recipe_argument, result_name

RESULTS = Path(__file__).resolve().parent / "results" / "pretrained_v2"
KS = (10, 20, 50, 100)
CANDIDATES = ("auto", *STRATEGIES)


def score(model, F, y):
    pred = model.predict(F)
    iv = model.predict_interval(F)
    out = {}
    for j, t in enumerate(("valence", "arousal")):
        inside = (y[:, j] >= iv[:, j, 0]) & (y[:, j] <= iv[:, j, 1])
        # a forced "scale" whose least-squares slope is negative is clamped
        # to 0: one constant prediction, whose r is undefined (None)
        constant = np.ptp(pred[:, j]) == 0
        out[t] = {"r": None if constant else float(pearsonr(pred[:, j], y[:, j])[0]),
                  "coverage": float(inside.mean()),
                  "width": float((iv[:, j, 1] - iv[:, j, 0]).mean())}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--ks", default=",".join(map(str, KS)))
    recipe_argument(ap)
    a = ap.parse_args(argv)
    ks = [int(k) for k in a.ks.split(",")]
    t0 = time.time()
    data = pooled_sets(a.cache_dir, recipe=a.recipe)
    rows = []
    for src, dst in (("emotion6", "oasis"), ("oasis", "emotion6")):
        sb, sF = data[src]
        db, dF = data[dst]
        dist = sb.distributions if src == "emotion6" else None
        base = AffectHead().fit(sF, sb.target, dist)
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
                    m = base.adapt(dF[pick], y[pick], strategies=strategies)
                    s = score(m, dF[rest], y[rest])
                    s_unad = score(base, dF[rest], y[rest]) if cand == "auto" else None
                    rows.append({"direction": f"{src}->{dst}", "k": k, "draw": d, "model": cand,
                                 "chosen": [t["strategy"] for t in m.adaptation_["targets"]],
                                 "scores": s, "unadapted_same_rest": s_unad})
            summary(rows, f"{src}->{dst}", k)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{result_name('adapt', a.recipe)}.json").write_text(json.dumps({"rows": rows, "seconds": time.time() - t0,
                                                    "draws": a.draws, "ks": ks}, indent=1))
    write_md(rows, ks, a, time.time() - t0)


def _mean(rows, t, m):
    """Mean of score ``m`` over ``rows``; for r, over the draws where it is
    defined (NaN: a run before r of a constant prediction was recorded as
    None)."""
    vals = [r["scores"][t][m] for r in rows if _defined(r["scores"][t][m])]
    return float(np.mean(vals)) if vals else float("nan")


def _defined(v):
    return v is not None and bool(np.isfinite(v))


def _r_cell(rows, t):
    """The mean r, with the number of draws it is over when some had a
    constant prediction."""
    n = sum(_defined(r["scores"][t]["r"]) for r in rows)
    if n == len(rows):
        return f"{_mean(rows, t, 'r'):.3f}"
    return "undefined" if n == 0 else f"{_mean(rows, t, 'r'):.3f} ({n} of {len(rows)})"


def summary(rows, direction, k):
    for cand in CANDIDATES:
        sel = [r for r in rows if r["direction"] == direction and r["k"] == k and r["model"] == cand]
        print(direction, k, cand, " ".join(f"{t[0]} r {_mean(sel, t, 'r'):.3f}"
                                           f" cov {_mean(sel, t, 'coverage'):.2f}"
                                           f" w {_mean(sel, t, 'width'):.2f}"
                                           for t in ("valence", "arousal")), flush=True)


GOALS = {("emotion6->oasis", 50): (0.56, 0.50), ("emotion6->oasis", 100): (0.60, 0.56),
         ("oasis->emotion6", 50): (0.64, 0.22)}


def write_md(rows, ks, a, seconds):
    cmd = "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.adapt_eval " + \
        f"--cache-dir {a.cache_dir} --draws {a.draws} --ks {','.join(map(str, ks))} " \
        f"--recipe {a.recipe}"
    lines = [f"Command: `{cmd}`", "",
             f"{seconds:.0f} s on 2 CPU cores (features read from the per-image cache).", "",
             f"Starting model: {RECIPE_WORDS[a.recipe]}, fitted on the **source set only**. For each k and each of "
             f"{a.draws} random draws, `adapt` gets k target images with their ratings; every "
             "number is on the **rest of the target set**, never seen by the adaptation, "
             "averaged over the draws. `auto` is `adapt` as shipped (the strategy chosen per "
             "target by repeated 5-fold CV on the k images, a change only where its "
             "out-of-fold predictions correlate with the ratings at p < 0.05); the other rows "
             "force one strategy (same recalibration). Intervals: nominal 80 %, CV+ on the k "
             "images. \"r (n of 10)\": the mean over the n draws where the prediction varied; "
             "in the others the forced `scale` strategy's least-squares slope on the k images "
             "was negative and is clamped to 0 (the strategy never reverses the model's "
             "ranking), so its prediction is one constant and r is undefined.", ""]
    for direction in ("emotion6->oasis", "oasis->emotion6"):
        base = next(r for r in rows if r["direction"] == direction and r["k"] == 0)
        s0 = base["scores_all"]
        lines += [f"## {direction}", "",
                  f"Unadapted, on the whole target set: r V {s0['valence']['r']:.3f}, "
                  f"r A {s0['arousal']['r']:.3f}; coverage V {s0['valence']['coverage']:.2f}, "
                  f"A {s0['arousal']['coverage']:.2f}; mean width V {s0['valence']['width']:.2f}, "
                  f"A {s0['arousal']['width']:.2f}.", "",
                  "| k | model | r V | r A | coverage V | coverage A | width V | width A | "
                  "chosen (V / A, over draws) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for k in ks:
            for cand in ("keep",) + tuple(c for c in CANDIDATES if c != "keep"):
                sel = [r for r in rows if r["direction"] == direction and r["k"] == k
                       and r["model"] == cand]
                if not sel:
                    continue
                chosen = ""
                if cand == "auto":
                    from collections import Counter

                    cv_ = Counter(r["chosen"][0] for r in sel)
                    ca = Counter(r["chosen"][1] for r in sel)
                    chosen = (", ".join(f"{s} {n}" for s, n in cv_.most_common()) + " / "
                              + ", ".join(f"{s} {n}" for s, n in ca.most_common()))
                name = "unadapted" if cand == "keep" else ("**auto (adapt)**" if cand == "auto"
                                                           else cand)
                lines.append(
                    f"| {k} | {name} | {_r_cell(sel, 'valence')} | "
                    f"{_r_cell(sel, 'arousal')} | {_mean(sel, 'valence', 'coverage'):.2f} | "
                    f"{_mean(sel, 'arousal', 'coverage'):.2f} | {_mean(sel, 'valence', 'width'):.2f}"
                    f" | {_mean(sel, 'arousal', 'width'):.2f} | {chosen} |")
        lines.append("")
    lines += ["## Against the goals (Pearson r of `auto`, valence / arousal)", "",
              "| direction, k | goal | measured | met |", "|---|---|---|---|"]
    for (direction, k), (gv, ga) in GOALS.items():
        sel = [r for r in rows if r["direction"] == direction and r["k"] == k
               and r["model"] == "auto"]
        if not sel:
            continue
        mv, ma = _mean(sel, "valence", "r"), _mean(sel, "arousal", "r")
        lines.append(f"| {direction}, k = {k} | {gv:.2f} / {ga:.2f} | {mv:.3f} / {ma:.3f} | "
                     f"{'yes' if mv >= gv else 'no'} / {'yes' if ma >= ga else 'no'} |")
    worst = []
    for direction in ("emotion6->oasis", "oasis->emotion6"):
        for k in ks:
            auto = [r for r in rows if r["direction"] == direction and r["k"] == k
                    and r["model"] == "auto"]
            keep = [r for r in rows if r["direction"] == direction and r["k"] == k
                    and r["model"] == "keep"]
            for t in ("valence", "arousal"):
                worst.append((_mean(auto, t, "r") - _mean(keep, t, "r"), direction, k, t))
    d, direction, k, t = min(worst)
    lines += ["", f"Adapted against unadapted (mean r over the draws, same images): the largest "
              f"drop is {-d:+.3f} ({direction}, k = {k}, {t}); goal: never lower by more "
              f"than 0.02.", ""]
    (RESULTS / f"{result_name('adapt', a.recipe)}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

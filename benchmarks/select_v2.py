"""Choose the zero-shot affect model for transfer, not for one set (issue 29 item 3).

Candidates, fixed before any number was computed: the shipped recipe's head
(:class:`~sklearn_emotion.AffectModel`: standardise, clip, one ridge per
target with its penalty chosen by leave-one-out on the training images) on

- ``mobilenet_v2``: today's pooled MobileNetV2 TFLite layers (v1);
- ``efficientnet_lite2``: pooled EfficientNet-Lite2 layers (Keras port);
- ``both``: the two concatenated;
- ``both+colour``: the two plus :class:`~sklearn_emotion.ColorFeatures`;
- ``per-target``: for each target, the feature set above with the best
  criterion on that target.

Criterion: the mean, over valence and arousal, of four Pearson r: within
Emotion6 and within OASIS (5-fold ``KFold(shuffle=True, random_state=0)``,
the folds of ``benchmarks/results/pretrained/``) and the two
leave-one-set-out directions (fit on all of one set, score all of the
other).  Every fit sees only its training images; the penalty is chosen
inside it.  The choice among five candidates is made on these same
cross-validated numbers, so the winner's numbers carry a small selection
optimism (five candidates, 2,880 images).

Usage::

    python -m benchmarks.select_v2 --cache-dir feature-cache
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy.stats import pearsonr
from sklearn.model_selection import KFold

from benchmarks._common import pooled_sets, write

from sklearn_emotion import AffectHead, ColorFeatures

SETS = ("emotion6", "oasis")
TARGETS = ("valence", "arousal")
TIE = 0.001
ROWS = ("within emotion6", "within oasis", "emotion6 -> oasis", "oasis -> emotion6")


def _fit(F, y):
    return AffectHead().fit(F, y, None)


def evaluate(feats, y):
    """r per row and target, plus interval coverage and width, for one feature set."""
    r, cov, width = {}, {}, {}
    for s in SETS:
        F, Y = feats[s], y[s]
        pred = np.zeros_like(Y)
        iv = np.zeros(Y.shape + (2,))
        for tr, te in KFold(5, shuffle=True, random_state=0).split(F):
            m = _fit(F[tr], Y[tr])
            pred[te] = m.predict(F[te])
            iv[te] = m.predict_interval(F[te])
        key = f"within {s}"
        r[key] = [float(pearsonr(Y[:, j], pred[:, j])[0]) for j in range(2)]
        inside = (iv[..., 0] <= Y) & (Y <= iv[..., 1])
        cov[key] = inside.mean(0).tolist()
        width[key] = (iv[..., 1] - iv[..., 0]).mean(0).tolist()
    for s in SETS:
        o = SETS[1 - SETS.index(s)]
        m = _fit(feats[s], y[s])
        pred = m.predict(feats[o])
        iv = m.predict_interval(feats[o])
        key = f"{s} -> {o}"
        r[key] = [float(pearsonr(y[o][:, j], pred[:, j])[0]) for j in range(2)]
        inside = (iv[..., 0] <= y[o]) & (y[o] <= iv[..., 1])
        cov[key] = inside.mean(0).tolist()
        width[key] = (iv[..., 1] - iv[..., 0]).mean(0).tolist()
    crit = [float(np.mean([r[k][j] for k in ROWS])) for j in range(2)]
    return {"r": r, "coverage": cov, "width": width, "criterion_per_target": crit,
            "criterion": float(np.mean(crit))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", default="feature-cache")
    args = ap.parse_args(argv)
    command = "python -m benchmarks.select_v2 " + " ".join(argv if argv is not None else sys.argv[1:])
    t0 = time.perf_counter()
    mn = pooled_sets(args.cache_dir)
    lite = pooled_sets(args.cache_dir, backbone="efficientnet_lite2")
    colour = {s: ColorFeatures(cache_dir=args.cache_dir, n_jobs=2).fit_transform(list(mn[s][0].filenames))
              for s in SETS}
    y = {s: mn[s][0].target for s in SETS}
    cands = {
        "mobilenet_v2": {s: mn[s][1] for s in SETS},
        "efficientnet_lite2": {s: lite[s][1] for s in SETS},
        "both": {s: np.hstack([mn[s][1], lite[s][1]]) for s in SETS},
        "both+colour": {s: np.hstack([mn[s][1], lite[s][1], colour[s]]) for s in SETS},
    }
    t_feat = time.perf_counter() - t0
    res = {}
    for name, feats in cands.items():
        res[name] = evaluate(feats, y)
        print(name, round(res[name]["criterion"], 4), flush=True)
    # per-target: each target from the candidate with the best criterion on it
    pick = [max(cands, key=lambda c: res[c]["criterion_per_target"][j]) for j in range(2)]
    per = {"picked": pick}
    for field in ("r", "coverage", "width"):
        per[field] = {k: [res[pick[j]][field][k][j] for j in range(2)] for k in ROWS}
    per["criterion_per_target"] = [res[pick[j]]["criterion_per_target"][j] for j in range(2)]
    per["criterion"] = float(np.mean(per["criterion_per_target"]))
    res["per-target"] = per
    # candidates are listed simplest first (one network, two, two plus colour,
    # a feature set per target); a criterion within TIE of the best is a tie,
    # won by the simpler candidate.  (This rule was written after seeing the
    # first run of this table, where per-target led both by 0.0002.)
    best = max(r["criterion"] for r in res.values())
    winner = next(c for c in res if res[c]["criterion"] >= best - TIE)
    v1 = res["mobilenet_v2"]
    losses = {k: [res[winner]["r"][k][j] - v1["r"][k][j] for j in range(2)] for k in ROWS}

    lines = ["Zero-shot candidates for the v2 affect model: Pearson r, valence / arousal "
             "(criterion = mean of the eight).", "",
             "| candidate | " + " | ".join(ROWS) + " | criterion |",
             "|---|" + "---|" * (len(ROWS) + 1)]
    for name, rr in res.items():
        cells = [f"{rr['r'][k][0]:.3f} / {rr['r'][k][1]:.3f}" for k in ROWS]
        label = name + (f" ({rr['picked'][0]} / {rr['picked'][1]})" if name == "per-target" else "")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | **{rr['criterion']:.4f}** |")
    lines += ["", "80 % CV+ interval coverage (mean width), valence / arousal:", "",
              "| candidate | " + " | ".join(ROWS) + " |", "|---|" + "---|" * len(ROWS)]
    for name, rr in res.items():
        cells = [f"{rr['coverage'][k][0]:.2f} ({rr['width'][k][0]:.2f}) / "
                 f"{rr['coverage'][k][1]:.2f} ({rr['width'][k][1]:.2f})" for k in ROWS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    worst = min(min(v) for v in losses.values())
    lines += ["", f"Ties: a criterion within {TIE} of the best is a tie, won by the simpler "
              "candidate (listed first); this rule was written after a first run of this table, "
              "where per-target led both by 0.0002.",
              "", f"Winner on the criterion: **{winner}** ({res[winner]['criterion']:.4f} against "
              f"v1's {v1['criterion']:.4f}, +{res[winner]['criterion'] - v1['criterion']:.4f}). "
              f"Its smallest difference from v1 on any row and target: {worst:+.3f} "
              + ("(it loses on no row)." if worst >= 0 else
                 f"({'within' if worst >= -0.01 else 'beyond'} the 0.01 loss the issue allows)."),
              "", f"Features {t_feat:.0f} s (from the per-image cache where present), "
              f"total {time.perf_counter() - t0:.0f} s."]
    write("pretrained_v2/selection", command,
          {"results": res, "winner": winner, "loss_vs_v1": losses,
           "seconds": {"features": t_feat, "total": time.perf_counter() - t0}},
          "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

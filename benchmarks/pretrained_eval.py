"""The pretrained model's recipe under cross-validation, within and across sets.

Every number here comes from models that never saw the images they are scored
on: the recipe (``AffectModel`` with its defaults, the one that
``sklearn-emotion train --recipe default`` fits on everything) is refitted on
training folds, and its only data-driven choice, the ridge penalty per target,
is made inside each fit by leave-one-out on that fit's training images.  The
feature design (MobileNetV2 TFLite, seven layers, mean and std, mirror
averaging) was fixed before any of these numbers were computed.

Protocols (5-fold ``KFold(shuffle=True, random_state=0)`` within a set):

- ``within``: train on 4 folds of the set, test on the 5th;
- ``joint``: train on 4 folds of the set **plus all of the other set**, test
  on the 5th: this is how the shipped model is trained;
- ``cross``: train on all of one set, test on all of the other.

Beside it, side by side on the same folds, the baseline the issue measured:
MobileNetV2 logits + ``StandardScaler`` + ``SVR``.

Usage::

    python -m benchmarks.pretrained_eval --cache-dir feature-cache [--check-rebuild]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import KFold
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from benchmarks._common import RESULTS, machine

from sklearn_emotion import AffectHead, ObjectFeatures, load_pretrained
from sklearn_emotion.datasets import load_emotion6, load_oasis
from sklearn_emotion.pretrained import check_images, fit_recipe, recipe_features

OUT = RESULTS / "pretrained"
#: where ``--recipe v2`` writes (``--recipe v1``, the default, writes OUT)
OUT_V2 = RESULTS / "pretrained_v2" / "eval"
SETS = ("emotion6", "oasis")
TARGETS = ("valence", "arousal")


def scores(y, p):
    return {t: {"r": float(pearsonr(y[:, j], p[:, j])[0]),
                "r2": float(r2_score(y[:, j], p[:, j])),
                "mse": float(mean_squared_error(y[:, j], p[:, j]))}
            for j, t in enumerate(TARGETS)}


def coverage(y, iv):
    inside = (iv[:, :, 0] <= y) & (y <= iv[:, :, 1])
    return {t: {"coverage": float(inside[:, j].mean()),
                "mean_width": float((iv[:, j, 1] - iv[:, j, 0]).mean())}
            for j, t in enumerate(TARGETS)}


class Affect:
    """The recipe on precomputed features."""

    name = "AffectModel (pooled MobileNetV2 layers + ridge), the shipped recipe"

    def fit(self, F, y, P=None):
        self.m = AffectHead().fit(F, y, P)
        return self

    def predict(self, F):
        return self.m.predict(F)


class Baseline:
    """MobileNetV2 logits + StandardScaler + SVR (the issue's 'today')."""

    name = "baseline: MobileNetV2 logits + SVR (C=1)"

    def fit(self, F, y, P=None):
        self.m = make_pipeline(StandardScaler(), MultiOutputRegressor(SVR())).fit(F, y)
        return self

    def predict(self, F):
        return self.m.predict(F)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--check-rebuild", action="store_true",
                    help="refit the recipe and compare with the shipped model")
    ap.add_argument("--only", choices=["emotions", "rebuild", "markdown"], default=None,
                    help="re-run one part and merge it into the committed results.json "
                         "('markdown': only write results.md again from results.json)")
    ap.add_argument("--recipe", choices=["v1", "v2"], default="v1",
                    help="the shipped model whose recipe is measured; v2 writes to "
                         "results/pretrained_v2/eval (default: %(default)s)")
    args = ap.parse_args(argv)
    global OUT
    if args.recipe == "v2":
        OUT = OUT_V2
        Affect.name = ("AffectModel (pooled MobileNetV2 TFLite + EfficientNet-Lite2 layers + "
                       "ridge), the v2 recipe")
    if args.only:
        return rerun_part(args, argv)
    command = "python -m benchmarks.pretrained_eval " + " ".join(argv if argv is not None else sys.argv[1:])
    t_start = time.perf_counter()
    e6, oa = load_emotion6(), load_oasis()
    data = {"emotion6": (list(e6.filenames), e6.target, e6.distributions),
            "oasis": (list(oa.filenames), oa.target, None)}
    feats = {}
    for s, (X, y, _) in data.items():
        layers = recipe_features(args.recipe, cache_dir=args.cache_dir, n_jobs=2, verbose=True)
        logits = ObjectFeatures("models/mobilenet_v2_1.0_224_quant.tflite", output="logits",
                                cache_dir=args.cache_dir, n_jobs=2, verbose=True)
        feats[s] = {"affect": layers.fit_transform(X), "baseline": logits.fit_transform(X)}
    t_feat = time.perf_counter() - t_start

    models = {"affect": Affect, "baseline": Baseline}
    results = {"within": {}, "joint": {}, "cross": {}}
    per_fold = []
    oof = {}
    intervals = {}
    emotions = None
    for mk, M in models.items():
        for s in SETS:
            other = SETS[1 - SETS.index(s)]
            F, y, P = feats[s][mk], data[s][1], data[s][2]
            Fo, yo = feats[other][mk], data[other][1]
            for proto in ("within", "joint"):
                pred = np.zeros_like(y)
                ivs = np.zeros(y.shape + (2,))
                Q = np.zeros_like(P) if (P is not None and proto == "joint" and mk == "affect") else None
                for k, (tr, te) in enumerate(KFold(5, shuffle=True, random_state=0).split(F)):
                    if proto == "within":
                        Ft, yt, Pt = F[tr], y[tr], None
                    else:
                        Ft, yt = np.vstack([F[tr], Fo]), np.vstack([y[tr], yo])
                        Pt = None
                        if Q is not None:
                            Pt = np.vstack([P[tr], np.full((len(Fo), P.shape[1]), np.nan)])
                    m = M().fit(Ft, yt, Pt)
                    pred[te] = m.predict(F[te])
                    if mk == "affect":
                        ivs[te] = m.m.predict_interval(F[te])
                    if Q is not None:
                        Q[te] = m.m.predict_emotions(F[te])
                    sc = scores(y[te], pred[te])
                    per_fold.append({"model": mk, "protocol": proto, "set": s, "fold": k,
                                     **{f"{m_}_{t}": sc[t][m_] for t in TARGETS for m_ in ("r", "r2", "mse")}})
                    print(mk, proto, s, k, {t: round(sc[t]["r"], 3) for t in TARGETS}, flush=True)
                results[proto].setdefault(mk, {})[s] = scores(y, pred)
                oof[(mk, proto, s)] = pred
                if mk == "affect":
                    intervals[f"{proto}:{s}"] = coverage(y, ivs)
                if Q is not None:
                    emotions = emotion_scores(P, Q, KFold(5, shuffle=True, random_state=0).split(F))
            m = M().fit(F, y)
            pred = m.predict(Fo)
            results["cross"].setdefault(mk, {})[f"{s}->{other}"] = scores(yo, pred)
            oof[(mk, "cross", other)] = pred
            if mk == "affect":
                intervals[f"cross:{s}->{other}"] = coverage(yo, m.m.predict_interval(Fo))
            print(mk, "cross", s, "->", other, results["cross"][mk][f"{s}->{other}"], flush=True)

    rebuild = rebuild_check(args, e6, oa) if args.check_rebuild else None

    OUT.mkdir(parents=True, exist_ok=True)
    payload = {"command": command, "recipe": args.recipe, "machine": machine(), "results": results,
               "intervals": intervals, "emotions": emotions, "rebuild": rebuild,
               "seconds": {"features": t_feat, "total": time.perf_counter() - t_start}}
    (OUT / "results.json").write_text(json.dumps(payload, indent=1))
    import csv  # noqa: E401

    with open(OUT / "per_fold.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(per_fold[0]))
        w.writeheader()
        w.writerows(per_fold)
    plot(oof, data)
    (OUT / "results.md").write_text(markdown(payload, models))
    print(markdown(payload, models))
    return 0


def emotion_cv(e6, F, P, Fo):
    """The emotion head under the joint protocol: E6 folds + all of OASIS (no distributions)."""
    Q = np.zeros_like(P)
    alphas = []
    y, yo = e6.target, np.full((len(Fo), 2), 5.0)
    splits = list(KFold(5, shuffle=True, random_state=0).split(F))
    for tr, te in splits:
        Ft = np.vstack([F[tr], Fo])
        Pt = np.vstack([P[tr], np.full((len(Fo), P.shape[1]), np.nan)])
        m = AffectHead(cv=0).fit(Ft, np.vstack([y[tr], yo]), Pt)
        Q[te] = m.predict_emotions(F[te])
        alphas.append(m.emotion_alpha_)
        print("emotion fold", len(alphas), m.emotion_alpha_, flush=True)
    out = emotion_scores(P, Q, splits)
    out["chosen_alpha_per_fold"] = alphas
    return out


def rerun_part(args, argv):
    payload = json.loads((OUT / "results.json").read_text())
    if args.only == "markdown":
        if payload.get("recipe") == "v2":
            Affect.name = ("AffectModel (pooled MobileNetV2 TFLite + EfficientNet-Lite2 layers + "
                           "ridge), the v2 recipe")
        payload.setdefault("rendered_again", []).append(
            "python -m benchmarks.pretrained_eval " + " ".join(argv if argv is not None else sys.argv[1:]))
        (OUT / "results.json").write_text(json.dumps(payload, indent=1))
        (OUT / "results.md").write_text(markdown(payload, {"affect": Affect, "baseline": Baseline}))
        return 0
    command = "python -m benchmarks.pretrained_eval " + " ".join(argv if argv is not None else sys.argv[1:])
    payload.setdefault("partial_reruns", []).append(command)
    t0 = time.perf_counter()
    e6, oa = load_emotion6(), load_oasis()
    if args.only == "emotions":
        f = recipe_features(args.recipe, cache_dir=args.cache_dir, n_jobs=2)
        F, Fo = f.fit_transform(list(e6.filenames)), f.fit_transform(list(oa.filenames))
        payload["emotions"] = emotion_cv(e6, F, e6.distributions, Fo)
        payload["emotions"]["seconds"] = time.perf_counter() - t0
    else:
        payload["rebuild"] = rebuild_check(args, e6, oa)
    (OUT / "results.json").write_text(json.dumps(payload, indent=1))
    (OUT / "results.md").write_text(markdown(payload, {"affect": Affect, "baseline": Baseline}))
    print(markdown(payload, {"affect": Affect, "baseline": Baseline}))
    return 0


def rebuild_check(args, e6, oa):
    t0 = time.perf_counter()
    model, meta = fit_recipe(args.recipe, cache_dir=args.cache_dir)
    shipped = load_pretrained(args.recipe)
    probe = check_images() + list(oa.filenames[:20]) + list(e6.filenames[::99])
    a, b = model.predict(probe), shipped.predict(probe)
    ia, ib = model.predict_interval(probe), shipped.predict_interval(probe)
    ea, eb = model.predict_emotions(probe), shipped.predict_emotions(probe)
    rebuild = {"images": len(probe),
               "max_abs_diff_predict": float(np.abs(a - b).max()),
               "max_abs_diff_interval": float(np.abs(ia - ib).max()),
               "max_abs_diff_emotions": float(np.abs(ea - eb).max()),
               "seconds": time.perf_counter() - t0}
    print("rebuild", rebuild, flush=True)
    return rebuild


def emotion_scores(P, Q, splits):
    """KL(P || Q) and top-1 agreement, against the training folds' mean distribution."""
    eps = 1e-12
    base = np.zeros_like(P)
    for tr, te in splits:
        base[te] = P[tr].mean(axis=0)

    def kl(A, B):
        return float(np.mean(np.sum(A * (np.log(A + eps) - np.log(B + eps)), axis=1)))

    top = P.argmax(axis=1)
    return {"model": {"kl": kl(P, Q), "top1": float((Q.argmax(axis=1) == top).mean())},
            "mean_distribution": {"kl": kl(P, base),
                                  "top1": float((base.argmax(axis=1) == top).mean())}}


def plot(oof, data):
    import matplotlib

    matplotlib.use("Agg")  # a script, not library code: it may choose its backend
    import matplotlib.pyplot as plt

    for proto in ("within", "joint", "cross"):
        fig, axes = plt.subplots(2, 2, figsize=(9, 9))
        for i, s in enumerate(SETS):
            y = data[s][1]
            p = oof[("affect", proto, s)]
            for j, t in enumerate(TARGETS):
                ax = axes[i, j]
                ax.scatter(y[:, j], p[:, j], s=4, alpha=0.4)
                ax.plot([1, 9], [1, 9], color="grey", lw=0.8)
                r = pearsonr(y[:, j], p[:, j])[0]
                ax.set(xlim=(1, 9), ylim=(1, 9), xlabel=f"rated {t}", ylabel=f"predicted {t}",
                       title=f"{s} ({proto}): r {r:.3f}")
        fig.suptitle(f"AffectModel recipe, {proto} protocol, out-of-fold predictions")
        fig.tight_layout()
        fig.savefig(OUT / f"pred_vs_rated_{proto}.png", dpi=80)
        plt.close(fig)


def markdown(p, models):
    R = p["results"]
    reruns = "".join(f" Then `{c}` (that part re-run after a change)." for c in p.get("partial_reruns", []))
    reruns += "".join(f" This page written again by `{c}` (the first run's page writer failed "
                      "after every number was saved)." for c in p.get("rendered_again", []))
    lines = [f"Command: `{p['command']}`.{reruns}", "",
             f"Features {p['seconds']['features']:.0f} s (cached where present), total "
             f"{p['seconds']['total']:.0f} s on {p['machine']['cpus']} CPU cores. Pearson r of the "
             "pooled out-of-fold predictions (per-fold numbers in `per_fold.csv`); R² and MSE "
             "on 1-9.", ""]
    lines += ["| protocol | set | model | r V | r A | R² V | R² A | MSE V | MSE A |",
              "|---|---|---|---|---|---|---|---|---|"]
    for proto in ("within", "joint", "cross"):
        for mk, M in models.items():
            for s, sc in R[proto][mk].items():
                v, a = sc["valence"], sc["arousal"]
                lines.append(f"| {proto} | {s} | {M.name} | {v['r']:.3f} | {a['r']:.3f} | "
                             f"{v['r2']:.3f} | {a['r2']:.3f} | {v['mse']:.3f} | {a['mse']:.3f} |")
    lines += ["", "Intervals (nominal 80 %, CV+ calibrated on the training images of each fit):", "",
              "| where | coverage V | coverage A | mean width V | mean width A |", "|---|---|---|---|---|"]
    for k, c in p["intervals"].items():
        lines.append(f"| {k} | {c['valence']['coverage']:.3f} | {c['arousal']['coverage']:.3f} | "
                     f"{c['valence']['mean_width']:.2f} | {c['arousal']['mean_width']:.2f} |")
    if p["emotions"]:
        e = p["emotions"]
        alphas = e.get("chosen_alpha_per_fold")
        lines += ["", "Emotion6 7-way distributions, joint protocol, 5-fold CV"
                  + (f" (penalty chosen per fold by inner 3-fold CV: {alphas})" if alphas else "")
                  + ":", "",
                  "| predictor | KL(rated ‖ predicted) | top-1 agreement |", "|---|---|---|",
                  f"| AffectModel emotion head | {e['model']['kl']:.4f} | {e['model']['top1']:.3f} |",
                  f"| mean distribution of the training folds | {e['mean_distribution']['kl']:.4f} | "
                  f"{e['mean_distribution']['top1']:.3f} |"]
    if p["rebuild"]:
        rb = p["rebuild"]
        lines += ["", f"Rebuild: `fit_recipe('{p.get('recipe', 'v1')}')` against the shipped model on {rb['images']} "
                  f"images: max |Δ| predict {rb['max_abs_diff_predict']:.2e}, interval "
                  f"{rb['max_abs_diff_interval']:.2e}, emotions {rb['max_abs_diff_emotions']:.2e} "
                  f"({rb['seconds']:.0f} s)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

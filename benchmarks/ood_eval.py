"""The pretrained recipe's out-of-distribution score, measured.

The score (``AffectModel.ood_score``) is the log-odds of a logistic
regression on the standardised features, fitted on the training photos
against non-photos generated from them (outlier exposure); the flag's
threshold lets through 95 % of held-out photos (the quantile of the model's
own out-of-fold scores, chosen inside ``fit``).

Protocol: Emotion6 and OASIS together, 5-fold ``KFold(shuffle=True,
random_state=0)``. In each fold the recipe is fitted on the training
photos; its score and flag are measured on the held-out photos and on a
generated corpus of non-photos (``sklearn_emotion.datasets.make_non_photos``,
made from other held-out photos): line drawings, black silhouettes, rendered
text, plot screenshots, flat colours, noise and heavy blur. AUROC of each
kind against the held-out photos, and the share flagged, two ways:

- **as shipped**: the classifier saw generated examples of all seven kinds
  (made from the training photos, another seed than the test corpus);
- **unseen kind**: the classifier saw the six other kinds only, a stand-in
  for non-photos nobody thought of.

Beside it, the flag rate on the other set's photos when the recipe is
fitted on one set only (a different picture set, still photos).

Usage::

    SKLEARN_EMOTION_DATA=../shared python -m benchmarks.ood_eval --cache-dir feature-cache
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold

from sklearn.base import clone

from sklearn_emotion import AffectHead
from sklearn_emotion.pretrained import recipe_features
from sklearn_emotion.datasets import NON_PHOTO_KINDS, make_non_photos

from benchmarks._common import RECIPE_WORDS, pooled_sets, recipe_argument, result_name

RESULTS = Path(__file__).resolve().parent / "results" / "pretrained_v2"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--per-kind", type=int, default=30,
                    help="test non-photos of each kind per fold")
    ap.add_argument("--unseen-folds", type=int, default=2,
                    help="folds on which each kind is also left out of training (costs 7 fits "
                         "a fold)")
    ap.add_argument("--examples", type=int, default=40,
                    help="training non-photos of each kind (the recipe's ood_examples)")
    recipe_argument(ap)
    a = ap.parse_args(argv)
    t0 = time.time()
    sets = pooled_sets(a.cache_dir, recipe=a.recipe)
    feats = recipe_features(a.recipe)
    (e6, F6), (oasis, Fo) = sets["emotion6"], sets["oasis"]
    F = np.vstack([F6, Fo])
    y = np.vstack([e6.target, oasis.target])
    paths = list(e6.filenames) + list(oasis.filenames)
    n6 = len(e6.filenames)
    per_kind = {k: {"auroc": [], "flagged": [], "auroc_unseen": [], "flagged_unseen": []}
                for k in NON_PHOTO_KINDS}
    photos_flagged = []
    for f, (tr, te) in enumerate(KFold(5, shuffle=True, random_state=0).split(F)):
        rng = np.random.default_rng(f)
        # training non-photos from training photos; test ones from held-out photos
        src_tr = [paths[i] for i in rng.choice(tr, 3 * a.examples, replace=False)]
        imgs, k_tr = make_non_photos(src_tr, n_per_kind=a.examples, random_state=100 + f)
        F_tr = clone(feats).fit_transform(imgs)
        src = [paths[i] for i in rng.choice(te, a.per_kind * 3, replace=False)]
        imgs, kinds = make_non_photos(src, n_per_kind=a.per_kind, random_state=f)
        Fn = clone(feats).fit_transform(imgs)
        model = AffectHead(cv=5, adapt_components=0).fit(F[tr], y[tr],
                                                                     X_other=F_tr)
        s_photo = model.ood_score(F[te])
        photos_flagged.append(float(np.mean(s_photo > model.ood_threshold_)))
        s_non = model.ood_score(Fn)
        for k in NON_PHOTO_KINDS:
            sk = s_non[kinds == k]
            lab = np.r_[np.zeros(len(s_photo)), np.ones(len(sk))]
            per_kind[k]["auroc"].append(float(roc_auc_score(lab, np.r_[s_photo, sk])))
            per_kind[k]["flagged"].append(float(np.mean(sk > model.ood_threshold_)))
            if f >= a.unseen_folds:
                continue
            # the same without any example of this kind
            m_k = AffectHead(cv=5, adapt_components=0).fit(F[tr], y[tr], X_other=F_tr[k_tr != k])
            sp, sk = m_k.ood_score(F[te]), m_k.ood_score(Fn[kinds == k])
            per_kind[k]["auroc_unseen"].append(float(roc_auc_score(lab, np.r_[sp, sk])))
            per_kind[k]["flagged_unseen"].append(float(np.mean(sk > m_k.ood_threshold_)))
        print(f"fold {f + 1}: photos flagged {photos_flagged[-1]:.3f}; " + ", ".join(
            f"{k} {per_kind[k]['auroc'][-1]:.2f}" for k in NON_PHOTO_KINDS), flush=True)
    cross = {}
    for src, dst, (a_, b_) in (("emotion6", "oasis", (slice(0, n6), slice(n6, None))),
                               ("oasis", "emotion6", (slice(n6, None), slice(0, n6)))):
        rng = np.random.default_rng(7)
        idx = np.arange(len(F))[a_]
        imgs, _ = make_non_photos([paths[i] for i in rng.choice(idx, 3 * a.examples,
                                                                replace=False)],
                                  n_per_kind=a.examples, random_state=7)
        model = AffectHead(cv=5, adapt_components=0).fit(F[a_], y[a_],
                                                X_other=clone(feats).fit_transform(imgs))
        cross[f"{src}->{dst}"] = float(np.mean(model.ood_score(F[b_]) > model.ood_threshold_))
    out = {"per_kind": per_kind, "photos_flagged": photos_flagged, "cross_set_flagged": cross,
           "per_kind_n": a.per_kind, "seconds": time.time() - t0}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{result_name('ood', a.recipe)}.json").write_text(json.dumps(out, indent=1))
    cmd = (f"SKLEARN_EMOTION_DATA=../shared python -m benchmarks.ood_eval --cache-dir {a.cache_dir} "
           f"--unseen-folds {a.unseen_folds} --recipe {a.recipe}")
    lines = [f"Command: `{cmd}`", "",
             f"{out['seconds']:.0f} s on 2 CPU cores. Emotion6 + OASIS, 5-fold CV: "
             f"{RECIPE_WORDS[a.recipe]}, its out-of-distribution classifier fitted on the training "
             f"photos against {a.examples} generated non-photos of each kind made from them, "
             "threshold at 95 % of its own out-of-fold photo scores, fitted on 4 folds; scored "
             f"on the held-out photos and on {a.per_kind} generated non-photos of each kind "
             "per fold, made from held-out photos with another seed. Mean over the 5 folds; "
             f"the unseen-kind columns over the first {a.unseen_folds} folds (7 more fits a "
             "fold).",
             "",
             f"Held-out photos flagged: {np.mean(photos_flagged):.3f} (nominal 0.05).", "",
             "| kind | AUROC, as shipped | flagged, as shipped | AUROC, kind unseen in "
             "training | flagged, kind unseen |", "|---|---|---|---|---|"]
    for k in NON_PHOTO_KINDS:
        p = per_kind[k]
        lines.append(f"| {k.replace('_', ' ')} | {np.mean(p['auroc']):.3f} | "
                     f"{np.mean(p['flagged']):.2f} | {np.mean(p['auroc_unseen']):.3f} | "
                     f"{np.mean(p['flagged_unseen']):.2f} |")
    lines += ["", "Photos of the other set, the recipe fitted on one set only: flagged "
              + "; ".join(f"{k} {v:.3f}" for k, v in cross.items())
              + " (a different picture set, still photos: the flag is about what an image is, "
              "not whose raters scored it).", ""]
    (RESULTS / f"{result_name('ood', a.recipe)}.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

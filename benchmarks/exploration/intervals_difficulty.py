"""Difficulty-scaled (normalised CV+) intervals against constant CV+: tried, not shipped.

Runs only at commit 143bfee, where ``AffectModel(interval_scale=...)``
existed (it was removed in the next commit; results and verdict in
``benchmarks/results/pretrained_v2/intervals_difficulty.md``)::

    git checkout 143bfee
    SKLEARN_EMOTION_DATA=../shared python -m benchmarks.exploration.intervals_difficulty feature-cache
"""
import numpy as np, sys
from sklearn.model_selection import KFold
from sklearn_emotion import AffectModel, PooledLayerFeatures
from sklearn_emotion.datasets import load_emotion6, load_oasis, make_non_photos
e6, oasis = load_emotion6(), load_oasis()
feats = PooledLayerFeatures(cache_dir=sys.argv[1] if len(sys.argv) > 1 else "feature-cache", n_jobs=2)
D = {"emotion6": (feats.fit_transform(list(e6.filenames)), e6.target),
     "oasis": (feats.fit_transform(list(oasis.filenames)), oasis.target)}
rng = np.random.default_rng(5)
paths = list(e6.filenames) + list(oasis.filenames)
imgs, _ = make_non_photos([paths[i] for i in rng.choice(len(paths), 120, replace=False)], 40, random_state=5)
Fo = PooledLayerFeatures().fit_transform(imgs)
base = PooledLayerFeatures().fit([])
def cov(m, F, y):
    iv = m._interval_features(F); ins = (y >= iv[:,:,0]) & (y <= iv[:,:,1])
    return ins.mean(0), (iv[:,:,1]-iv[:,:,0]).mean(0)
for scale in ("constant", "difficulty"):
    for name, (F, y) in D.items():
        c, w = [], []
        for tr, te in KFold(5, shuffle=True, random_state=0).split(F):
            m = AffectModel(interval_scale=scale)._fit_features(base, F[tr], y[tr], F_other=Fo)
            a, b = cov(m, F[te], y[te]); c.append(a); w.append(b)
        print(scale, "within", name, np.mean(c,0).round(3), np.mean(w,0).round(2), flush=True)
    for src, dst in (("emotion6","oasis"),("oasis","emotion6")):
        m = AffectModel(interval_scale=scale)._fit_features(base, *D[src], F_other=Fo)
        a, b = cov(m, *D[dst]); print(scale, "cross", src, dst, a.round(3), b.round(2), flush=True)
    # non-photos width vs photos
    m = AffectModel(interval_scale=scale)._fit_features(base, *D["emotion6"], F_other=Fo)
    w_ph = np.diff(m._interval_features(D["oasis"][0][:200]), axis=2).mean((0,2))
    w_np = np.diff(m._interval_features(Fo[::3]), axis=2).mean((0,2))
    print(scale, "width photos", w_ph.round(2), "non-photos", w_np.round(2), flush=True)

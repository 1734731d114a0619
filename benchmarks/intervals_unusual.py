"""Intervals that widen for unusual images (``AffectModel(widen_unusual=True)``), measured.

The shipped v2 recipe, fitted through ``AffectModel.fit`` on images as the
shipped model is (its out-of-distribution classifier trained on non-photos
it generates from the training images), with the widening on and off
(``set_params(widen_unusual=False)`` on the same fitted model: only the
intervals change).  Protocols:

- within each set: 5-fold ``KFold(shuffle=True, random_state=0)``;
- across sets: fitted on all of one set, scored on all of the other.

Each protocol is scored on its held-out photos (coverage and mean width of
the nominal 80 % intervals, all of them and the flagged ones) and on
generated non-photos (``make_non_photos``, 10 of each kind per fold, made
from held-out photos with seed 100 + fold): their mean width against the
held-out photos'.  Non-photos have no ratings, so no coverage: the widening
is a rule, not a calibration (see ``widen_unusual``).

Usage::

    python -m benchmarks.intervals_unusual --cache-dir feature-cache
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from sklearn.model_selection import KFold

from benchmarks._common import write

from sklearn_emotion import AffectModel
from sklearn_emotion.datasets import NON_PHOTO_KINDS, load_emotion6, load_oasis, make_non_photos
from sklearn_emotion.pretrained import recipe_features

SETS = {"emotion6": load_emotion6, "oasis": load_oasis}


def _cover_width(iv, y):
    inside = (y >= iv[..., 0]) & (y <= iv[..., 1])
    return inside.mean(0), (iv[..., 1] - iv[..., 0]).mean(0)


def _score(model, paths, y, seed):
    """Widened and constant intervals on held-out photos and on non-photos
    made from them: the sums this protocol's table reads."""
    out = {}
    others, kinds = make_non_photos(list(paths[:70]), n_per_kind=10, random_state=seed)
    flagged = model.predict_frame(list(paths))["unusual"].to_numpy(bool)
    for widen in (True, False):
        model.set_params(widen_unusual=widen)
        iv = model.predict_interval(list(paths))
        ivo = model.predict_interval(others)
        out[widen] = {"photo_iv": iv, "other_iv": ivo}
    model.set_params(widen_unusual=True)
    return out, flagged, np.asarray(kinds)


def _collect(rows, key, res, flagged, kinds, y):
    r = rows.setdefault(key, {"y": [], "flagged": [], "kinds": [],
                              True: {"photo_iv": [], "other_iv": []},
                              False: {"photo_iv": [], "other_iv": []}})
    r["y"].append(y)
    r["flagged"].append(flagged)
    r["kinds"].append(kinds)
    for widen in (True, False):
        for part in ("photo_iv", "other_iv"):
            r[widen][part].append(res[widen][part])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args(argv)
    command = ("python -m benchmarks.intervals_unusual "
               + " ".join(argv if argv is not None else sys.argv[1:]))
    t0 = time.perf_counter()
    data = {s: load() for s, load in SETS.items()}

    def model():
        return AffectModel(features=recipe_features("v2", cache_dir=args.cache_dir,
                                                    n_jobs=args.n_jobs))

    rows = {}
    for s, b in data.items():
        paths, y = np.asarray(b.filenames, dtype=object), b.target
        for k, (tr, te) in enumerate(KFold(5, shuffle=True, random_state=0).split(paths)):
            m = model().fit(list(paths[tr]), y[tr])
            res, flagged, kinds = _score(m, paths[te], y[te], 100 + k)
            _collect(rows, f"within {s}", res, flagged, kinds, y[te])
            print(f"within {s} fold {k + 1}: {time.perf_counter() - t0:.0f} s", flush=True)
    for s, b in data.items():
        o = next(x for x in data if x != s)
        m = model().fit(list(b.filenames), b.target)
        res, flagged, kinds = _score(m, np.asarray(data[o].filenames, dtype=object),
                                     data[o].target, 200)
        _collect(rows, f"{s} -> {o}", res, flagged, kinds, data[o].target)
        print(f"{s} -> {o}: {time.perf_counter() - t0:.0f} s", flush=True)

    table = {}
    for key, r in rows.items():
        y, fl, kinds = np.vstack(r["y"]), np.concatenate(r["flagged"]), np.concatenate(r["kinds"])
        entry = {"n_photos": int(len(y)), "flagged_photos": int(fl.sum()),
                 "n_non_photos": int(len(kinds))}
        for widen, name in ((False, "constant"), (True, "widened")):
            iv, ivo = np.concatenate(r[widen]["photo_iv"]), np.concatenate(r[widen]["other_iv"])
            c, w = _cover_width(iv, y)
            cf, wf = _cover_width(iv[fl], y[fl])
            wo = (ivo[..., 1] - ivo[..., 0])
            entry[name] = {"coverage": c.tolist(), "width": w.tolist(),
                           "flagged_coverage": cf.tolist(), "flagged_width": wf.tolist(),
                           "non_photo_width": wo.mean(0).tolist(),
                           "non_photo_width_by_kind": {
                               k: wo[kinds == k].mean(0).tolist() for k in NON_PHOTO_KINDS}}
        table[key] = entry

    def pair(v, fmt="{:.3f}"):
        return f"{fmt.format(v[0])} / {fmt.format(v[1])}"

    L = ["Intervals of unusual images widened (`widen_unusual=True`, as shipped) against "
         "constant-width CV+ (`widen_unusual=False`), the same fitted v2-recipe models. "
         "Nominal 80 %; valence / arousal.", "",
         "| protocol | photos (flagged) | coverage: constant | coverage: widened | "
         "width: constant | width: widened | flagged photos' coverage: constant → widened | "
         "non-photos' width: constant → widened |",
         "|---|---|---|---|---|---|---|---|"]
    for key, e in table.items():
        c, w = e["constant"], e["widened"]
        L.append(f"| {key} | {e['n_photos']} ({e['flagged_photos']}) | {pair(c['coverage'])} | "
                 f"{pair(w['coverage'])} | {pair(c['width'], '{:.2f}')} | "
                 f"{pair(w['width'], '{:.2f}')} | {pair(c['flagged_coverage'])} → "
                 f"{pair(w['flagged_coverage'])} | {pair(c['non_photo_width'], '{:.2f}')} → "
                 f"{pair(w['non_photo_width'], '{:.2f}')} |")
    L += ["", "Non-photos' mean width by kind, widened (constant in brackets), pooled over the "
          "within-set folds of both sets:", "",
          "| kind | valence | arousal |", "|---|---|---|"]
    for k in NON_PHOTO_KINDS:
        ws = np.mean([table[f"within {s}"]["widened"]["non_photo_width_by_kind"][k] for s in SETS], 0)
        cs = np.mean([table[f"within {s}"]["constant"]["non_photo_width_by_kind"][k] for s in SETS], 0)
        L.append(f"| {k} | {ws[0]:.2f} ({cs[0]:.2f}) | {ws[1]:.2f} ({cs[1]:.2f}) |")
    L += ["", f"{time.perf_counter() - t0:.0f} s on 2 CPU cores."]
    write("pretrained_v2/intervals_unusual", command,
          {"protocols": table, "seconds": time.perf_counter() - t0}, "\n".join(L))
    return 0


if __name__ == "__main__":
    sys.exit(main())

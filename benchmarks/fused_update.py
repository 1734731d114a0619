"""FFNN ``fused_update=True`` against Keras' own step on the reproduction's tuned rows.

Issue 28 asks whether the tuned FFNN rows (Adam, batch 64, L2: the setting
where ``fused_update`` is 1.35x faster an epoch, ``results/ffnn_floor.md``)
may use it by default: yes if their tables agree within the fold-to-fold
spread. This runs the reproduction's own "FFNN (tuned)" model
(:func:`sklearn_emotion.reproduce.evaluate`, the same images, features, folds
and settings as ``sklearn-emotion reproduce``) with both steps, side by side
in one process, for several seeds (``random_state``: the network's
initialisation, its early-stopping split and its minibatch order), and
reports per row and target:

- the mean over folds of test r and MSE for each step and seed;
- the difference fused - Keras of those means, per seed;
- the fold-to-fold standard deviation of the Keras step's test r and MSE
  (the spread the issue compares against), and the seed-to-seed spread of
  the Keras step's means (how much the row moves anyway);
- fit seconds per fold, and the ratio.

Run::

    SKLEARN_EMOTION_DATA=../shared python -m benchmarks.fused_update --cache-dir feature-cache \
        [--rows all semantic] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.model_selection import KFold

from benchmarks._common import write

from sklearn_emotion.reproduce import FEATURE_SETS, compute_features, evaluate, load_dataset
from sklearn_emotion.reproduce._protocol import TUNED_FFNN, ffnn

TARGETS = ("V", "A")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--rows", nargs="+", default=["all", "semantic"],
                    help="feature sets of the tuned FFNN rows (default: %(default)s)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--max-iter", type=int, default=300, help="as reproduce's --ffnn-max-iter")
    ap.add_argument("--note", default="", help="conditions of the run, for the results file")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the report from the last run's results/fused_update.json")
    a = ap.parse_args(argv)
    if a.report_only:
        import json

        from benchmarks._common import RESULTS

        saved = json.loads((RESULTS / "fused_update.json").read_text())
        write("fused_update", saved["command"], {k: saved[k] for k in ("runs", "wall_seconds")},
              report(saved["runs"], a) + (f"\n\n{a.note}" if a.note else ""))
        return
    _, paths, y = load_dataset("emotion6")
    need = sorted({f for fs in a.rows for f in FEATURE_SETS[fs]})
    feats, _ = compute_features(need, paths, cache_dir=a.cache_dir)
    cv = KFold(5, shuffle=True, random_state=0)
    out = []
    t_all = time.perf_counter()
    for fs in a.rows:
        X = np.hstack([feats[f] for f in FEATURE_SETS[fs]])
        for seed in a.seeds:
            for fused in (False, True):
                model = ffnn({**TUNED_FFNN, "fused_update": fused}, seed, a.max_iter)
                res = evaluate(model, X, y, cv, joint=True)
                folds = res.folds
                rec = {"row": fs, "seed": seed, "fused_update": fused,
                       "fit_seconds": [f["fit_seconds"] for f in folds],
                       "epochs": [f.get("epochs") for f in folds]}
                for t in TARGETS:
                    rec[f"r_{t}"] = [f[f"test_r_{t}"] for f in folds]
                    rec[f"mse_{t}"] = [f[f"test_mse_{t}"] for f in folds]
                out.append(rec)
                print(fs, seed, fused, {k: round(float(np.mean(v)), 4) for k, v in rec.items()
                                        if k.startswith(("r_", "mse_", "fit"))}, flush=True)
    md = report(out, a) + (f"\n\n{a.note}" if a.note else "")
    command = ("SKLEARN_EMOTION_DATA=../shared python -m benchmarks.fused_update "
               f"--cache-dir {a.cache_dir} --rows " + " ".join(f'"{r}"' for r in a.rows)
               + " --seeds " + " ".join(map(str, a.seeds))
               + ("" if a.max_iter == 300 else f" --max-iter {a.max_iter}"))
    write("fused_update", command, {"runs": out, "wall_seconds": time.perf_counter() - t_all},
          md)


def verdict(out, rows, seeds):
    """Per (row, target, metric): the largest |fused - Keras| of the fold
    means over seeds, the Keras step's fold-to-fold SD (mean over seeds), and
    whether the former is within the latter."""
    by = {(r["row"], r["seed"], r["fused_update"]): r for r in out}
    lines = []
    for fs in rows:
        for t in TARGETS:
            for m in ("r", "mse"):
                diffs = [np.mean(by[fs, s, True][f"{m}_{t}"]) - np.mean(by[fs, s, False][f"{m}_{t}"])
                         for s in seeds]
                sd = np.mean([np.std(by[fs, s, False][f"{m}_{t}"], ddof=1) for s in seeds])
                seed_sd = (np.std([np.mean(by[fs, s, False][f"{m}_{t}"]) for s in seeds], ddof=1)
                           if len(seeds) > 1 else float("nan"))
                worst = float(np.max(np.abs(diffs)))
                lines.append({"row": fs, "target": t, "metric": m, "diffs": diffs,
                              "fold_sd": float(sd), "seed_sd": float(seed_sd),
                              "worst": worst, "within": worst <= sd})
    return lines


def report(out, a):
    by = {(r["row"], r["seed"], r["fused_update"]): r for r in out}
    md = ["Tuned FFNN rows of the Emotion6 reproduction (5 folds, the reproduction's split, "
          "features from the cache), fitted with Keras' step (`fused_update=False`) and with "
          "the fused XLA step (`fused_update=True`), side by side in one process on 2 CPU "
          "cores; `random_state` = seed.", "",
          "| row | seed | step | test r V | test r A | test MSE V | test MSE A | epochs (folds) "
          "| s / fold |", "|---|---|---|---|---|---|---|---|---|"]
    for r in out:
        md.append(f"| {r['row']} | {r['seed']} | {'fused' if r['fused_update'] else 'Keras'} | "
                  f"{np.mean(r['r_V']):.3f} | {np.mean(r['r_A']):.3f} | "
                  f"{np.mean(r['mse_V']):.3f} | {np.mean(r['mse_A']):.3f} | "
                  f"{', '.join(str(e) for e in r['epochs'])} | {np.mean(r['fit_seconds']):.1f} |")
    md += ["", "Fused minus Keras, per seed, against the Keras step's fold-to-fold standard "
           "deviation (mean over seeds) and its seed-to-seed standard deviation of the "
           "fold means:", "",
           "| row | target | metric | fused - Keras, per seed | fold-to-fold SD | "
           "seed-to-seed SD | within fold-to-fold spread |", "|---|---|---|---|---|---|---|"]
    lines = verdict(out, a.rows, a.seeds)
    for v in lines:
        md.append(f"| {v['row']} | {v['target']} | {v['metric']} | "
                  f"{', '.join(f'{d:+.4f}' for d in v['diffs'])} | {v['fold_sd']:.4f} | "
                  f"{v['seed_sd']:.4f} | {'yes' if v['within'] else 'no'} |")
    t_k = np.mean([np.mean(by[fs, s, False]["fit_seconds"]) for fs in a.rows for s in a.seeds])
    t_f = np.mean([np.mean(by[fs, s, True]["fit_seconds"]) for fs in a.rows for s in a.seeds])
    agree = all(v["within"] for v in lines)
    md += ["", f"Fit seconds per fold, mean over rows and seeds: Keras {t_k:.1f}, fused "
           f"{t_f:.1f} ({t_k / t_f:.2f}x). Every difference within the fold-to-fold spread: "
           f"**{'yes' if agree else 'no'}**."]
    return "\n".join(md)


if __name__ == "__main__":
    main()

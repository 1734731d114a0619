"""Where a reproduction's wall time goes: features per family, fits per model.

Reads a finished run's ``results.json`` and ``per_fold.csv`` (the
``fit_seconds`` of every fold and the ``seconds`` of every feature family,
measured by the run itself) and writes the breakdown, largest first, with
each model's share of the run and its seconds per fold.

Run: python -m benchmarks.profile_reproduction benchmarks/results/oasis [--n-jobs N]
     (writes benchmarks/results/<name>_profile.md/.json)
"""

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path

from benchmarks._common import write


def concurrent(model, tables, n_jobs):
    """Whether the reproduction fitted this row's folds ``n_jobs`` at a time:
    with ``--n-jobs`` above 1, ``evaluate`` does so for models that train no
    Keras network (SVR, linear regression, the mean); the nested search's
    outer folds and the networks' folds run one at a time."""
    return n_jobs > 1 and "best" not in tables and not model.startswith(("FFNN", "CNN"))


def profile(folder, n_jobs=None):
    folder = Path(folder)
    info = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    # runs before results.json recorded n_jobs need it from the command line
    n_jobs = n_jobs or info.get("n_jobs") or 1
    # a (model, features) pair shared by several tables is fitted once: count it once
    fits, folds, tables = defaultdict(float), defaultdict(set), defaultdict(list)
    with open(folder / "per_fold.csv", newline="") as f:
        for row in csv.DictReader(f):
            key = (row["model"], row["features"])
            if row["table"] not in tables[key]:
                tables[key].append(row["table"])
            if row["fold"] not in folds[key]:
                fits[key] += float(row["fit_seconds"])
                folds[key].add(row["fold"])
    feats = {k: float(v["seconds"]) for k, v in info["features"].items()}
    wall = float(info["wall_seconds"])
    rows = []
    for (m, fs), s in fits.items():
        k, tb = len(folds[(m, fs)]), tables[(m, fs)]
        at_once = min(n_jobs, k) if concurrent(m, tb, n_jobs) else 1
        # folds fitted side by side: each fold's seconds are its own wall time
        # beside the others, so the row's wall time is about their sum / at_once
        rows.append({"tables": ", ".join(tb), "model": m, "features": fs, "seconds": s / at_once,
                     "fold_seconds": s, "folds": k, "at_once": at_once})
    rows.sort(key=lambda r: -r["seconds"])
    return {"dataset": info.get("dataset", folder.name), "n_images": info["n_images"], "wall_seconds": wall,
            "n_jobs": n_jobs, "features_seconds": feats,
            "computed": {k: v["computed"] for k, v in info["features"].items()},
            "fits": rows,
            "other_seconds": wall - sum(feats.values()) - sum(r["seconds"] for r in rows),
            "resumed": next((n for n in info.get("notes", []) if "checkpoints" in n), None)}


def markdown(p):
    wall = p["wall_seconds"]
    intro = (f"{p['n_images']} images; wall time {wall / 60:.1f} min. From the run's own timers "
             "(`fit_seconds` per fold in `per_fold.csv`, `seconds` per family in `results.json`).")
    if p.get("resumed"):
        # the wall time is the last invocation's; resumed folds' seconds are earlier ones'
        wall = sum(p["features_seconds"].values()) + sum(r["seconds"] for r in p["fits"])
        p = {**p, "other_seconds": 0.0}
        intro += (f" The run was resumed ({p['resumed']}), so its wall time covers only the "
                  f"last invocation: shares below are of the {wall / 60:.1f} min the timers "
                  "add up to, and resumed folds' seconds were measured on a machine shared "
                  "with other runs.")
    if p.get("n_jobs", 1) > 1:
        intro += (f" The run used `--n-jobs {p['n_jobs']}`: rows marked ≈ fitted their folds "
                  f"{p['n_jobs']} at a time, so each fold's seconds are its wall time beside the "
                  "others, and the row's wall time is estimated as their sum divided by the "
                  "folds fitted at once; the networks' folds and the nested search's outer "
                  "folds ran one at a time.")
    md = [f"# Where the {p['dataset']} reproduction's time goes", "", intro, "",
          "| stage | seconds | share | per fold |", "|---|---|---|---|"]
    for name, s in sorted(p["features_seconds"].items(), key=lambda kv: -kv[1]):
        md.append(f"| features: {name} ({p['computed'][name]} computed) | {s:.0f} | "
                  f"{100 * s / wall:.1f} % | |")
    for r in p["fits"]:
        approx, per = ("≈ ", f"{r['fold_seconds'] / r['folds']:.0f} s, {r['at_once']} at a time") \
            if r.get("at_once", 1) > 1 else ("", f"{r['seconds'] / r['folds']:.0f} s")
        md.append(f"| [{r['tables']}] {r['model']} on {r['features']} | {approx}{r['seconds']:.0f} | "
                  f"{100 * r['seconds'] / wall:.1f} % | {per} |")
    md.append(f"| everything else (data loading, reports, plots) | {p['other_seconds']:.0f} | "
              f"{100 * p['other_seconds'] / wall:.1f} % | |")
    fit_s = sum(r["seconds"] for r in p["fits"])
    feat_s = sum(p["features_seconds"].values())
    md += ["", f"In all: model fits {fit_s:.0f} s ({100 * fit_s / wall:.1f} %), features "
           f"{feat_s:.0f} s ({100 * feat_s / wall:.1f} %), everything else "
           f"{p['other_seconds']:.0f} s ({100 * p['other_seconds'] / wall:.1f} %)."]
    return "\n".join(md) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--n-jobs", type=int, default=None,
                    help="the run's --n-jobs, for runs whose results.json predates recording it")
    a = ap.parse_args()
    p = profile(a.folder, a.n_jobs)
    command = f"python -m benchmarks.profile_reproduction {a.folder}" + (
        f" --n-jobs {a.n_jobs}" if a.n_jobs else "")
    write(f"{Path(a.folder).name}_profile", command, p, markdown(p))


if __name__ == "__main__":
    main()

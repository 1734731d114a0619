"""Where a reproduction's wall time goes: features per family, fits per model.

Reads a finished run's ``results.json`` and ``per_fold.csv`` (the
``fit_seconds`` of every fold and the ``seconds`` of every feature family,
measured by the run itself) and writes the breakdown, largest first, with
each model's share of the run and its seconds per fold.

Run: python benchmarks/profile_reproduction.py benchmarks/results/oasis
     (writes benchmarks/results/<name>_profile.md/.json)
"""

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402


def profile(folder):
    folder = Path(folder)
    info = json.loads((folder / "results.json").read_text(encoding="utf-8"))
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
    rows = sorted(fits.items(), key=lambda kv: -kv[1])
    return {"dataset": info.get("dataset", folder.name), "n_images": info["n_images"], "wall_seconds": wall,
            "features_seconds": feats,
            "computed": {k: v["computed"] for k, v in info["features"].items()},
            "fits": [{"tables": ", ".join(tables[(m, fs)]), "model": m, "features": fs,
                      "seconds": s, "folds": len(folds[(m, fs)])} for (m, fs), s in rows],
            "other_seconds": wall - sum(feats.values()) - sum(fits.values()),
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
    md = [f"# Where the {p['dataset']} reproduction's time goes", "", intro, "",
          "| stage | seconds | share | per fold |", "|---|---|---|---|"]
    for name, s in sorted(p["features_seconds"].items(), key=lambda kv: -kv[1]):
        md.append(f"| features: {name} ({p['computed'][name]} computed) | {s:.0f} | "
                  f"{100 * s / wall:.1f} % | |")
    for r in p["fits"]:
        md.append(f"| [{r['tables']}] {r['model']} on {r['features']} | {r['seconds']:.0f} | "
                  f"{100 * r['seconds'] / wall:.1f} % | {r['seconds'] / r['folds']:.0f} s |")
    md.append(f"| everything else (data loading, reports, plots) | {p['other_seconds']:.0f} | "
              f"{100 * p['other_seconds'] / wall:.1f} % | |")
    return "\n".join(md) + "\n"


def main(folder):
    p = profile(folder)
    name = Path(folder).name
    command = f"python benchmarks/profile_reproduction.py {folder}"
    write(f"{name}_profile", command, p, markdown(p))


if __name__ == "__main__":
    main(sys.argv[1])

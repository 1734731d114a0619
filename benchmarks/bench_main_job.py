"""The main job's wall time, cold and warm, and where it goes (issue 14).

Runs ``sklearn-emotion reproduce`` as a user would, each run a fresh process,
one after the other on one fresh cache folder:

1. **cold**: the cache folder empty, every feature computed;
2. **warm**: the same cache, every feature read from it;
3. **warm, --n-jobs J** (with ``--n-jobs J``): the scikit-learn models'
   folds J at a time.

For each: wall time, the peak resident memory of the largest process
(``ru_maxrss`` of the children), and the breakdown from the run's own timers
(``benchmarks/profile_reproduction.py``): feature families, model fits
(Keras networks, scikit-learn models) and everything else.  The three runs'
``tables.csv`` must be identical (the same numbers whatever the cache and
``--n-jobs``); the benchmark fails otherwise.

Run: SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_main_job \
         [--n-jobs 2] -- --subset 200 --folds 2 --no-cnn
"""

import argparse
import csv
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import write
from benchmarks.profile_reproduction import profile

KERAS_MODELS = ("FFNN", "CNN")


def run(args, out, cache):
    cmd = [sys.executable, "-m", "sklearn_emotion", "reproduce", *args, "--output", str(out),
           "--cache-dir", str(cache), "--quiet", "--no-resume"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = profile(out)
    feats = sum(p["features_seconds"].values())
    keras = sum(f["seconds"] for f in p["fits"] if f["model"].startswith(KERAS_MODELS))
    sk = sum(f["seconds"] for f in p["fits"]) - keras
    return dict(wall_s=wall, peak_rss_mib=peak / 1024 if peak > before else None,
                features_s=feats, keras_fits_s=keras, sklearn_fits_s=sk,
                other_s=wall - feats - keras - sk,
                computed=sum(p["computed"].values()), fits=p["fits"],
                features=p["features_seconds"], tables=scores(Path(out) / "tables.csv"))


def scores(path):
    """tables.csv without its timing columns: what must not depend on the cache
    or on --n-jobs."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: v for k, v in row.items() if not k.startswith("fit_seconds")}
                for row in csv.DictReader(f)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-jobs", type=int, default=None)
    ap.add_argument("args", nargs="*", help="reproduce's own arguments, after --")
    a = ap.parse_args()
    args = a.args or ["--subset", "200", "--folds", "2", "--no-cnn"]
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        runs["cold"] = run(args, Path(tmp) / "cold", cache)
        print("cold", {k: v for k, v in runs["cold"].items() if k not in ("fits", "tables")},
              flush=True)
        runs["warm"] = run(args, Path(tmp) / "warm", cache)
        if a.n_jobs:
            runs[f"warm, --n-jobs {a.n_jobs}"] = run([*args, "--n-jobs", str(a.n_jobs)],
                                                     Path(tmp) / "warm-jobs", cache)
    first = runs["cold"]["tables"]
    for name, r in runs.items():
        if r["tables"] != first:
            bad = [f"{a['table']} {a['model']} on {a['features']}"
                   for a, b in zip(first, r["tables"]) if a != b]
            raise SystemExit(f"{name}: tables.csv scores differ from the cold run's: {bad}")
    shown = " ".join(args)
    md = [f"`sklearn-emotion reproduce {shown}`, each run a fresh process on one fresh cache "
          "folder, one after the other, 2 CPU cores, no GPU.  Seconds from the runs' own "
          "timers; peak RSS of the largest process (the fit worker or the main one).", "",
          "| run | wall (s) | features (s) | Keras fits (s) | scikit-learn fits (s) | "
          "everything else (s) | images computed | peak RSS (MiB) |",
          "|---|---|---|---|---|---|---|---|"]
    for name, r in runs.items():
        rss = f"{r['peak_rss_mib']:.0f}" if r["peak_rss_mib"] else "(below an earlier run's)"
        md.append(f"| {name} | {r['wall_s']:.0f} | {r['features_s']:.0f} | "
                  f"{r['keras_fits_s']:.0f} | {r['sklearn_fits_s']:.0f} | {r['other_s']:.0f} | "
                  f"{r['computed']:,} | {rss} |")
    warm = runs["warm"]
    md += ["", f"Warm: {100 * warm['keras_fits_s'] / warm['wall_s']:.0f} % of the wall time is "
           f"fitting the Keras networks, {100 * warm['sklearn_fits_s'] / warm['wall_s']:.0f} % "
           "the scikit-learn models.  Every run's `tables.csv` has the same numbers (its "
           "`fit_seconds` columns aside).", "",
           "Feature families of the cold run, seconds:", "",
           "| family | seconds |", "|---|---|"]
    md += [f"| {k} | {v:.0f} |" for k, v in sorted(runs["cold"]["features"].items(),
                                                     key=lambda kv: -kv[1])]
    md += ["",
           "Fits of the warm run, largest first:", "",
           "| tables | model | features | seconds |", "|---|---|---|---|"]
    md += [f"| {f['tables']} | {f['model']} | {f['features']} | {f['seconds']:.1f} |"
           for f in warm["fits"]]
    command = ("SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_main_job"
               + (f" --n-jobs {a.n_jobs}" if a.n_jobs else "") + " -- " + shown)
    write("main_job", command,
          {k: {kk: vv for kk, vv in r.items() if kk != "tables"} for k, r in runs.items()},
          "\n".join(md))


if __name__ == "__main__":
    main()

"""Peak memory of the reproduction against the number of images (issue 14).

Run::

    SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_memory \
        --cache-dir feature-cache [--sizes 200,1000,1980] [--cold 200] [--family-sizes 16,64] \
        [--tables 2,3,4,best] [--n-jobs 2]

Every measurement is one fresh process, and its peak resident memory is the
kernel's high-water mark (``VmHWM``):

- **warm**: ``sklearn-emotion reproduce --subset N`` for each N, features
  read from ``--cache-dir`` (fill it first with a full run), the tables of
  ``--tables`` (all by default) and both CNN rows, with the epoch budgets cut
  (``--ffnn-max-iter 3 --cnn-max-iter 2 --cnn-train-max-iter 1``): an epoch
  holds the same arrays whatever their number, so the peak is the full run's
  while the time is minutes.  ``reproduce`` records its own ``VmHWM`` in
  ``results.json`` (``peak_rss_mib``), and of its largest fit worker; the
  benchmark also samples, every half second, what the main process and all
  its children hold together (their peaks need not coincide).
- **cold**: the same command the issue measured (``--subset N --folds 2
  --no-cnn``) on an empty cache folder, so every feature family runs its
  network or filter bank on every image.
- **one family, cold**: each feature family alone on the first 16 and 64
  images (``--family-sizes``), empty cache: features stream in batches, so
  the peak should not grow with the number of images.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks._common import watch, write

FAMILY_SCRIPT = r"""
import sys, json
from sklearn_emotion.pipeline import make_features
from sklearn_emotion.datasets import load_emotion6
n, family, cache = int(sys.argv[1]), sys.argv[2], sys.argv[3]
X = list(load_emotion6().filenames[:n])
est = make_features([family], cache_dir=cache)
est.fit(X).transform(X)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"peak_rss_mib": hwm / 1024}))
"""


def _count_files(folder):
    return sum(len(f) for _, _, f in os.walk(folder)) if Path(folder).is_dir() else 0


def _reproduce(args, n, cache, extra, out):
    cmd = [sys.executable, "-m", "sklearn_emotion", "reproduce", "--subset", str(n),
           "--output", str(out), "--cache-dir", str(cache), "--quiet", "--no-resume", *extra]
    if args.n_jobs:
        cmd += ["--n-jobs", str(args.n_jobs)]
    cached_at_start = _count_files(cache)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    last = [""]  # the run's latest log line: the stage it is in

    def follow():
        for line in proc.stdout:
            if line.strip():
                last[0] = line.strip()

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    # the processes' peaks need not coincide: sample what they hold together,
    # and at the largest sum, what each held and what the run was doing
    peak = watch(proc, last, args.timeline, {"images": n})
    reader.join()
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    wall = time.perf_counter() - t0
    res = json.loads((Path(out) / "results.json").read_text())
    return {"images": n, "peak_rss_mib": res["peak_rss_mib"],
            "peak_rss_workers_mib": res.get("peak_rss_workers_mib"),
            "peak_rss_together_mib": peak["total"], "together_at_peak": peak,
            "cache_files_at_start": cached_at_start, "wall_s": wall,
            "command": " ".join(cmd[2:])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--sizes", default="200,1000,1980")
    ap.add_argument("--cold", type=int, default=200)
    ap.add_argument("--family-sizes", default="16,64")
    ap.add_argument("--families", default="color,gist,lbp,object,scene")
    ap.add_argument("--tables", default="2,3,4,best",
                    help="tables of the warm runs (the CNN rows come with them)")
    ap.add_argument("--name", default="memory", help="results file name")
    ap.add_argument("--n-jobs", type=int, default=None, help="reproduce's --n-jobs")
    ap.add_argument("--timeline", default=None,
                    help="append every sample (JSON lines: seconds, each process's MiB, the "
                         "run's latest log line) to this file")
    ap.add_argument("--warm-log", default=None,
                    help="take the warm rows from this log of an earlier invocation (the "
                         "lines it printed) instead of measuring them again")
    a = ap.parse_args()
    warm_extra = ["--ffnn-max-iter", "3", "--cnn-max-iter", "2", "--cnn-train-max-iter", "1",
                  "--tables", a.tables]
    rows = {"warm": [], "cold": [], "family": []}
    if a.warm_log:
        import ast

        rows["warm"] = [ast.literal_eval(line) for line in Path(a.warm_log).read_text().splitlines()
                        if line.startswith("{'images'") and "--folds" not in line]
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in a.sizes.split(",") if s and not a.warm_log]:
            rows["warm"].append(_reproduce(a, n, a.cache_dir, warm_extra, Path(tmp) / f"w{n}"))
            print(rows["warm"][-1], flush=True)
        if a.cold:
            cold_cache = Path(tmp) / "cold-cache"
            rows["cold"].append(_reproduce(a, a.cold, cold_cache, ["--folds", "2", "--no-cnn"],
                                           Path(tmp) / "cold"))
            print(rows["cold"][-1], flush=True)
        for fam in a.families.split(","):
            for n in [int(s) for s in a.family_sizes.split(",") if s]:
                cache = Path(tmp) / f"fam-{fam}-{n}"
                t0 = time.perf_counter()
                p = subprocess.run([sys.executable, "-c", FAMILY_SCRIPT, str(n), fam, str(cache)],
                                   check=True, capture_output=True, text=True)
                peak = json.loads(p.stdout.strip().splitlines()[-1])["peak_rss_mib"]
                rows["family"].append({"family": fam, "images": n, "peak_rss_mib": peak,
                                       "wall_s": time.perf_counter() - t0})
                print(rows["family"][-1], flush=True)

    md = ["Peak resident memory (VmHWM) of one process per line, 2 CPU cores, no GPU.", ""]
    if a.warm_log:
        md += [f"The warm rows are the lines `{a.warm_log}` recorded (an earlier invocation, "
               "with the commands in `memory.json`); the rest was measured by this one.", ""]
    md += ["## The reproduction, features from the cache", "",
          f"Tables {a.tables} and both CNN rows; epoch budgets cut to `--ffnn-max-iter 3 "
          "--cnn-max-iter 2 --cnn-train-max-iter 1` (an epoch holds the same arrays however "
          "many there are).", "",
          "`reproduce` runs every fit in a worker process: the Keras models (FFNN, CNN) one at a "
          "time in its network worker (replaced when TensorFlow's per-network leak has grown it "
          "by 300 MB, stopped after each stage), the others on joblib's loky workers; the "
          "worker column is the largest worker's peak.", "",
          "`together` is the largest sum of the resident memory of the main process and all its "
          "children (the network worker, joblib's workers) at one moment, sampled every 0.5 s.",
          "", "| images | peak RSS, main process (MiB) | per image over the smallest run (KiB) "
          "| peak RSS, largest worker (MiB) | together (MiB) | wall (s) |",
          "|---|---|---|---|---|---|"]
    w = rows["warm"]
    for r in w:
        per = ("" if r is w[0] else
               f"{(r['peak_rss_mib'] - w[0]['peak_rss_mib']) * 1024 / (r['images'] - w[0]['images']):.0f}")
        wk, tog = r.get("peak_rss_workers_mib"), r.get("peak_rss_together_mib")
        md.append(f"| {r['images']} | {r['peak_rss_mib']:.0f} | {per} | "
                  f"{'' if wk is None else f'{wk:.0f}'} | {'' if tog is None else f'{tog:.0f}'} "
                  f"| {r['wall_s']:.0f} |")
    if not w:
        md += ["| (not measured in this invocation) | | | | | |"]
    for r in w:
        pk = r.get("together_at_peak")
        if pk:
            kids = " + ".join(f"{v} MiB" for v in pk["children"]) or "none"
            md += ["", f"At {r['images']} images the largest sum came {pk['t']:.0f} s into the run: "
                   f"main process {pk['main']:.0f} MiB, its children {kids}; the run's latest log "
                   f"line then: `{pk['stage']}`."]
        if r.get("cache_files_at_start") == 0:
            md += ["", f"At {r['images']} images the cache folder was empty at the start: this run "
                   "computed every feature (and the conv-frozen CNN's backbone outputs) before "
                   "fitting, so it covers a cold full run."]
    if len(w) > 1:
        md += ["", f"{w[-1]['images'] / w[0]['images']:.1f}× the images, "
               f"{w[-1]['peak_rss_mib'] / w[0]['peak_rss_mib']:.2f}× the main process's peak memory."]
    if rows["cold"]:
        r = rows["cold"][0]
        md += ["", "## Cold: every feature computed", "",
               f"`{r['command']}` on an empty cache folder: peak **{r['peak_rss_mib']:.0f} MiB** "
               f"(fit worker {r.get('peak_rss_workers_mib') or 0:.0f} MiB, together "
               f"{r.get('peak_rss_together_mib') or 0:.0f} MiB) "
               f"for {r['images']} images, {r['wall_s']:.0f} s."]
    if rows["family"]:
        md += ["", "## One feature family, cold", "", "| family | images | peak RSS (MiB) | wall (s) |",
               "|---|---|---|---|"]
        md += [f"| {r['family']} | {r['images']} | {r['peak_rss_mib']:.0f} | {r['wall_s']:.0f} |"
               for r in rows["family"]]
    cmd = "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_memory " + " ".join(sys.argv[1:])
    write(a.name, cmd.strip(), {"rows": rows, "env_data_home": os.environ.get("SKLEARN_EMOTION_DATA")},
          "\n".join(md))


if __name__ == "__main__":
    main()

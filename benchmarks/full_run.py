"""The main job in full, timed, with the memory of every process it starts.

Runs the README's main job (``sklearn-emotion reproduce``, every table, every
fold, the full epoch budgets) in a fresh process, its output in ``--output``
(the committed results folder), and samples every half second what the
main process and each of its children (the engine's network worker,
joblib's loky workers) hold, as ``bench_memory.py`` does for its shortened
runs.  Reports the wall time, the main process's and the largest worker's
peak (the run's own ``results.json``), the largest sum of all processes at
one moment and what each held then, and how many folds were read from the
checkpoints of an interrupted invocation (then the wall time is this
invocation's alone, and the report says so).

Run::

    SKLEARN_EMOTION_DATA=../shared python -m benchmarks.full_run --cache-dir feature-cache \
        --output benchmarks/results/emotion6 [--dataset emotion6] [--n-jobs 2] [--no-resume]
"""

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks._common import watch, write


_BAR = re.compile(r"^[^|:]*: *\d+%\|[^|]*\|[^\]]*\]\s*")
_FEATURES = re.compile(r"^features (\S+): (\d+) computed, (\d+) read from cache")


def clean_log(lines):
    """The reproduction's log without its progress bars: one line per
    message (tqdm's bars share lines with the messages printed under them)."""
    out = []
    for line in lines:
        for part in line.split("\r"):
            part = _BAR.sub("", part.strip())
            if part and not _BAR.match(part + " "):
                out.append(part)
    return out


def features_read(lines):
    """How the features were obtained, from the log: a phrase."""
    got = [m.groups() for m in map(_FEATURES.match, lines) if m]
    if not got:
        return "no feature family logged"
    computed = [name for name, c, _ in got if int(c)]
    if not computed:
        return "every feature read from the cache"
    return ("features computed on an empty cache for " + ", ".join(computed)
            + (f"; read from the cache for {', '.join(n for n, c, _ in got if not int(c))}"
               if len(computed) < len(got) else ""))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="feature-cache")
    ap.add_argument("--output", default="benchmarks/results/emotion6")
    ap.add_argument("--dataset", default="emotion6")
    ap.add_argument("--n-jobs", type=int, default=2)
    ap.add_argument("--no-resume", action="store_true", help="reproduce's --no-resume")
    ap.add_argument("--timeline", default=None, help="also write every sample to this JSONL file")
    a = ap.parse_args(argv)
    cmd = [sys.executable, "-m", "sklearn_emotion", "reproduce", "--dataset", a.dataset,
           "--output", a.output, "--cache-dir", a.cache_dir, "--n-jobs", str(a.n_jobs)]
    cmd += ["--no-resume"] if a.no_resume else []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last, log = [""], []

    def follow():
        for line in proc.stdout:
            if line.strip():
                last[0] = line.strip()
                log.append(line.rstrip("\n"))
                print(line, end="", flush=True)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    peak = watch(proc, last, a.timeline)
    reader.join()
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"reproduce failed ({proc.returncode}); last line: {last[0]}")
    res = json.loads((Path(a.output) / "results.json").read_text())
    lines = clean_log(log)
    (Path(a.output) / "run.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    resumed = sum(1 for t in res.get("tasks", []) if t.get("from_checkpoint"))
    fitted = [t for t in res.get("tasks", []) if "start" in t]
    workers = {}
    for t in fitted:
        workers[t["worker"]] = max(workers.get(t["worker"], 0), t.get("peak_rss_mib") or 0)
    md = [f"The main job on {res.get('dataset', a.dataset)}: every table, every fold, the full "
          f"epoch budgets, cache `{a.cache_dir}` ({features_read(lines)}), "
          f"`--n-jobs {a.n_jobs}`, 2 CPU cores, no GPU. The log: `{a.output}/run.log`.", "",
          "| | value |", "|---|---|",
          f"| wall time, this invocation | {wall:.0f} s ({wall / 60:.1f} min) |",
          f"| folds fitted / read from checkpoints | {len(fitted)} / {resumed} |",
          f"| peak RSS, main process | {res.get('peak_rss_mib', float('nan')):.0f} MiB |",
          f"| peak RSS, largest worker | {res.get('peak_rss_workers_mib') or float('nan'):.0f} "
          "MiB |",
          f"| largest sum of all processes at one moment | {peak['total']:.0f} MiB "
          f"({peak['total'] * 1.048576 / 1000:.2f} GB) |", "",
          f"At that moment ({peak.get('t', 0):.0f} s in): main process {peak.get('main', 0):.0f} "
          f"MiB, its children {' + '.join(f'{v} MiB' for v in peak.get('children', [])) or 'none'}"
          f"; the run's latest log line: `{peak.get('stage', '')}`.", "",
          f"Worker processes that fitted folds: {len(workers)}; the largest peak each reached "
          "while fitting (MiB, the process's peak so far at its tasks' ends): "
          + ", ".join(f"{v:.0f}" for v in sorted(workers.values(), reverse=True)) + "."]
    if resumed:
        md += ["", f"**Resumed:** {resumed} folds came from the checkpoints of an interrupted "
               "invocation; the wall time above is this invocation's alone."]
    write(f"full_run_{a.dataset}",
          "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.full_run "
          + " ".join(argv if argv is not None else sys.argv[1:]),
          {"wall_s": wall, "peak_together": peak, "resumed": resumed, "fitted": len(fitted),
           "workers_peak_mib": workers, "log_tail": log[-40:]}, "\n".join(md))


if __name__ == "__main__":
    main()

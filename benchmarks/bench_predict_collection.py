"""A collection of N images through ``sklearn-emotion predict``, end to end.

Run: python -m benchmarks.bench_predict_collection [--n 10000] [--folder DIR]

The collection: the 2,880 photos of Emotion6 and OASIS, hard-linked (or,
across filesystems, copied) under new names into ``--folder`` until there
are N files; a file repeated under another name is scored again (no cache).
In one run, side by side, on this machine:

1. **uninterrupted**: ``sklearn-emotion predict FOLDER --output full.csv``
   with the shipped v2 (the default), timed from start to exit, the peak
   resident memory of every process of its tree sampled every 0.2 s;
2. **killed at half, resumed**: the same command writing ``half.csv``,
   killed (SIGKILL) once the CSV holds N/2 rows, then run again with
   ``--resume``: the rows of the killed run are kept and only the others
   are scored; the final CSV is compared with the uninterrupted one;
3. **Dask**: :func:`sklearn_emotion.dask.predict` of the same v2 on the same
   files, on a ``LocalCluster`` of 2 single-threaded workers (each network
   on one thread), against run 1's wall time.

Each run starts a fresh process (the networks are built and loaded in it).
"""

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks._common import write


def make_collection(folder, n):
    """``n`` image files in ``folder``: Emotion6's and OASIS's photos, linked
    under new names (round robin)."""
    from sklearn_emotion.datasets import load_emotion6, load_oasis

    sources = [str(p) for p in load_emotion6().filenames] + [str(p) for p in
                                                            load_oasis().filenames]
    folder.mkdir(parents=True, exist_ok=True)
    have = sorted(folder.iterdir())
    if len(have) == n:
        return [str(p) for p in have]
    for p in have:
        p.unlink()
    out = []
    for k in range(n):
        src = sources[k % len(sources)]
        dst = folder / f"{k:05d}{Path(src).suffix.lower()}"
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
        out.append(str(dst))
    return out


class PeakMemory:
    """The largest resident set size of each process of a tree, sampled."""

    def __init__(self, pid, every=0.2):
        import psutil

        self.root, self.every, self.peak = psutil.Process(pid), every, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root] + self.root.children(recursive=True)
            except psutil.Error:
                return
            for p in procs:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                self.peak[p.pid] = max(self.peak.get(p.pid, 0), rss)
            time.sleep(self.every)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def cli(*args):
    return [sys.executable, "-m", "sklearn_emotion", "predict", *args]


def rows(path):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return max(0, sum(1 for _ in f) - 1)
    except OSError:
        return 0


def run_cli(args, kill_at=None, out=None):
    """Wall time, peak RSS per process, and whether it was killed."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    mem = PeakMemory(proc.pid)
    killed = False
    while proc.poll() is None:
        if kill_at is not None and rows(out) >= kill_at:
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.2)
    err = proc.communicate()[1]
    wall = time.perf_counter() - t0
    peak = mem.stop()
    if not killed and proc.returncode != 0:
        raise RuntimeError(f"predict failed ({proc.returncode}): {err[-2000:]}")
    return {"wall": wall, "peak_rss_mib": {str(k): v / 2**20 for k, v in peak.items()},
            "killed": killed, "rows_at_end": rows(out)}


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def compare(a, b):
    """Whether two prediction CSVs hold the same rows; the largest difference
    of any number."""
    ra, rb = read_csv(a), read_csv(b)
    same_paths = [r["path"] for r in ra] == [r["path"] for r in rb]
    worst = 0.0
    for x, y in zip(ra, rb):
        for k, v in x.items():
            try:
                worst = max(worst, abs(float(v) - float(y[k])))
            except (TypeError, ValueError):
                if v != y.get(k):
                    worst = float("inf")
    return same_paths and len(ra) == len(rb), worst


def dask_run(paths):
    import dask
    from dask.distributed import Client, LocalCluster

    import sklearn_emotion.dask as sed
    from sklearn_emotion import load_pretrained
    from sklearn_emotion._predict import image_transformers

    model = load_pretrained()
    for t in image_transformers(model.features_):
        t.set_params(num_threads=1, n_jobs=1)
    mem = PeakMemory(os.getpid())  # this process, the nannies and the workers
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        t0 = time.perf_counter()
        res = sed.predict(model, paths, partition_size=256)
        arr, errors = dask.compute(res.array, res.errors)
        wall = time.perf_counter() - t0
    peak = mem.stop()
    return {"wall": wall, "rows": int(len(arr)), "failed": len(errors),
            "finite_rows": int(np.isfinite(arr).all(axis=1).sum()),
            "peak_rss_mib": {str(k): v / 2**20 for k, v in peak.items()}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--folder", default=None)
    args = ap.parse_args(argv)
    command = ("python -m benchmarks.bench_predict_collection "
               + " ".join(argv if argv is not None else sys.argv[1:]))
    work = Path(tempfile.mkdtemp(prefix="predict-collection-"))
    folder = Path(args.folder) if args.folder else work / "images"
    paths = make_collection(folder, args.n)
    full, half = work / "full.csv", work / "half.csv"
    res = {"n": args.n}
    res["uninterrupted"] = run_cli([str(folder), "--output", str(full), "--quiet"], out=full)
    print("uninterrupted", res["uninterrupted"]["wall"], flush=True)
    res["killed"] = run_cli([str(folder), "--output", str(half), "--quiet"],
                            kill_at=args.n // 2, out=half)
    res["resumed"] = run_cli([str(folder), "--output", str(half), "--resume", "--quiet"],
                             out=half)
    same, worst = compare(full, half)
    res["resume_same_rows"], res["resume_largest_difference"] = same, worst
    print("resumed", res["resumed"]["wall"], same, worst, flush=True)
    res["dask"] = dask_run(paths)
    print("dask", res["dask"], flush=True)
    u, k, r, d = res["uninterrupted"], res["killed"], res["resumed"], res["dask"]

    def peak(run):
        return max(run["peak_rss_mib"].values())

    lines = [
        f"{args.n} images (Emotion6's and OASIS's 2,880 photos under new names), the shipped "
        "v2 (the default), no feature cache, 2 CPU cores; one run, side by side.", "",
        "| run | wall (s) | images/s | peak RSS of any process (MiB) | processes |",
        "|---|---|---|---|---|",
        f"| `predict` uninterrupted | {u['wall']:.0f} | {args.n / u['wall']:.1f} | "
        f"{peak(u):,.0f} | {len(u['peak_rss_mib'])} |",
        f"| `predict`, killed (SIGKILL) at {k['rows_at_end']} rows | {k['wall']:.0f} | | "
        f"{peak(k):,.0f} | {len(k['peak_rss_mib'])} |",
        f"| the same command with `--resume` | {r['wall']:.0f} | "
        f"{(args.n - k['rows_at_end']) / r['wall']:.1f} (rows it scored) | {peak(r):,.0f} | "
        f"{len(r['peak_rss_mib'])} |",
        f"| `sklearn_emotion.dask.predict`, LocalCluster 2 workers × 1 thread | "
        f"{d['wall']:.0f} | {args.n / d['wall']:.1f} | {peak(d):,.0f} | "
        f"{len(d['peak_rss_mib'])} (client, nannies, workers) |",
        "",
        f"Killed and resumed against uninterrupted: same rows in the same order: "
        f"**{same}**; largest difference of any number: {worst:.1e}.",
        f"Dask against one process: {u['wall'] / d['wall']:.2f}× the speed "
        f"({d['rows']} rows, {d['failed']} failed).",
    ]
    write("predict_collection", command, res, "\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

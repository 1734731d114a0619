"""The cold part of the full reproduction: every feature the main job reads,
computed on an empty cache, family by family (issue 14).

A cold ``reproduce`` is a warm one plus the features it computes: the fits
are the same (the quick look measured cold = features + warm to within its
other costs, ``results/main_job.md``).  Rather than a second multi-hour run,
this computes, on all images of the set and on an empty cache folder, what a
cold full run computes before its fits:

- every feature family the default tables read (the reproduction's own
  ``make_plan`` / ``families_needed``), through ``compute_features`` with the
  given ``--n-jobs``, as ``reproduce --n-jobs`` does;
- the conv-frozen CNN row's frozen-backbone features, which that row caches
  per image on its first fold: one ``CNNRegressor`` fit of one epoch on all
  images with the same cache (the epoch of its head is a fraction of a
  second).

Seconds and images a second per family, and the process's peak resident
memory (``VmHWM``).

Run: SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_cold_features \
         [--dataset emotion6] [--n-jobs 2]
"""

import argparse
import tempfile
import time

from benchmarks._common import write


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="emotion6")
    ap.add_argument("--n-jobs", type=int, default=None)
    ap.add_argument("--subset", type=int, default=None,
                    help="only the first N images (a smoke test; no result is written)")
    a = ap.parse_args()
    from sklearn_emotion.reproduce import load_dataset
    from sklearn_emotion.reproduce._protocol import CNN_ROWS, cnn_row, make_plan
    from sklearn_emotion.reproduce._report import peak_rss_mib
    from sklearn_emotion.reproduce._run import compute_features, families_needed

    tables = ("2", "3", "4", "best")
    name, paths, y = load_dataset(a.dataset)
    if a.subset:
        paths, y = paths[:a.subset], y[:a.subset]
    runs, sets, families = make_plan(tables)
    order = families_needed(tables, runs, sets, families)
    with tempfile.TemporaryDirectory(dir=".") as cache:
        t0 = time.perf_counter()
        _, info = compute_features(order, paths, families=families, cache_dir=cache,
                                   n_jobs=a.n_jobs, log=print)
        rows = {f: info[f]["seconds"] for f in order}
        train_range, lr = CNN_ROWS[0]
        _, cnn = cnn_row(train_range, lr, 1, cache_dir=cache)
        t1 = time.perf_counter()
        cnn.fit(list(paths), y)
        rows["CNN conv-frozen backbone (one fit of 1 epoch)"] = round(time.perf_counter() - t1, 2)
        wall = time.perf_counter() - t0
        # object_emotion reads the object family's probabilities, which this run
        # has just cached: it computes nothing of its own
        assert all(info[f]["failed"] == 0 and info[f]["computed"] + info[f]["cached"] == len(paths)
                   for f in order), info
    peak = peak_rss_mib()
    if a.subset:
        print(rows, f"{wall:.0f} s, {peak:.0f} MiB; --subset: nothing written")
        return
    n_jobs = a.n_jobs or 1
    md = [f"{name}, {len(paths)} images, every feature family the default tables "
          f"(2, 3, 4, best) read, computed on an empty cache folder with n_jobs={n_jobs}, "
          "in one process, 2 CPU cores, no GPU.", "",
          "| family | seconds | images / s | computed |", "|---|---|---|---|"]
    for f, sec in sorted(rows.items(), key=lambda kv: -kv[1]):
        done = info[f]["computed"] if f in info else len(paths)
        md.append(f"| {f} | {sec:.1f} | {len(paths) / max(sec, 1e-9):.1f} | {done} |")
    md += ["", "`computed` counts the images the family computed itself; the rest it read "
           "from what this run had already cached (object emotion is a weighted mean of "
           "the object family's probabilities)."]
    md += ["", f"Total {wall:.0f} s ({wall / 60:.1f} min); peak RSS {peak:.0f} MiB.  A cold "
           "full reproduction is the warm one plus this time."]
    write(f"cold_features_{a.dataset}",
          "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_cold_features "
          f"--dataset {a.dataset}" + (f" --n-jobs {a.n_jobs}" if a.n_jobs else ""),
          {"seconds": rows, "wall_s": wall, "peak_rss_mib": peak, "images": len(paths),
           "n_jobs": n_jobs, "families": order}, "\n".join(md))


if __name__ == "__main__":
    main()

"""Feature families on a two-worker Dask LocalCluster against one process.

For each family: per-image wall time in one process (serial, its default
threads) and through ``joblib.parallel_config(backend="dask")`` on a
``LocalCluster(n_workers=2, threads_per_worker=1)`` (the same 2 cores),
measured side by side in one run after a warm-up call that lets each worker
build its network (two alternating passes, the faster of each); the tasks each worker ran; each worker's peak RSS.  Then a
paper estimate for 10 million images on 100 such workers, from the measured
per-image costs and the cache's bytes per image.

Run: SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_dask
"""

import time

from benchmarks._common import write

FAMILIES = {
    # name: (factory, images measured)
    "color": ("ColorFeatures(batch_size=8)", 64),
    "gist": ("GISTFeatures(batch_size=8)", 64),
    "lbp": ("LBPFeatures(batch_size=8)", 64),
    "object (TFLite)": ("ObjectFeatures(backbone='models/mobilenet_v2_1.0_224_quant.tflite', "
                        "batch_size=8)", 64),
    "layers": ("PooledLayerFeatures(batch_size=8)", 64),
    "scene": ("SceneFeatures(batch_size=4)", 16),
}


def main():
    import joblib
    import numpy as np
    from distributed import Client, LocalCluster, get_task_stream

    import sklearn_emotion as se
    from sklearn_emotion.datasets import load_emotion6

    files = [str(f) for f in load_emotion6().filenames]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(files))
    rows = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        for name, (expr, n) in FAMILIES.items():
            make = eval("lambda: se." + expr, {"se": se})  # noqa: S307 - fixed strings above
            warm = [files[i] for i in order[:8]]
            X = [files[i] for i in order[8:8 + n]]
            est = make().fit(X)
            est.transform(warm)  # builds the network in this process
            dist = make().fit(X)
            with joblib.parallel_config(backend="dask"):
                dist.transform(warm + warm)  # each worker builds its network
            t_s, t_d = [], []
            for _ in range(2):  # alternate, so both see the same machine load
                t0 = time.perf_counter()
                serial = est.transform(X)
                t_s.append(time.perf_counter() - t0)
                with joblib.parallel_config(backend="dask"), get_task_stream(client) as ts:
                    t0 = time.perf_counter()
                    got = dist.transform(X)
                    t_d.append(time.perf_counter() - t0)
            t_serial, t_dist = min(t_s), min(t_d)
            assert np.allclose(got, serial, rtol=1e-5, atol=1e-6), name
            tasks = {}
            for t in ts.data:
                tasks[t["worker"]] = tasks.get(t["worker"], 0) + 1
            peak = client.run(lambda: __import__("resource").getrusage(
                __import__("resource").RUSAGE_SELF).ru_maxrss / 1024)
            rows[name] = {"images": n, "serial_s_per_image": t_serial / n,
                          "dask_s_per_image": t_dist / n, "ratio": t_dist / t_serial,
                          "tasks_per_worker": sorted(tasks.values()),
                          "worker_peak_mib": sorted(round(v) for v in peak.values()),
                          "columns": int(serial.shape[1])}
            print(name, rows[name], flush=True)
    # paper estimate: 10 million images, 100 workers of one core each
    n_img, workers = 10_000_000, 100
    est_rows = []
    for name, r in rows.items():
        core_s = r["dask_s_per_image"] * 2  # two one-core workers ran side by side
        wall_h = n_img * core_s / workers / 3600
        # one .npy per image: 128-byte header + float64 values, in a 4 KiB block
        per_file = 128 + 8 * r["columns"]
        disk = n_img * max(4096, -(-per_file // 4096) * 4096)
        est_rows.append((name, core_s, wall_h, per_file * n_img / 1e9, disk / 1e9))
    md = ["Two-worker `LocalCluster(n_workers=2, threads_per_worker=1)` against one process "
          "(the same 2 cores), measured side by side after a warm-up; Emotion6 photos.", "",
          "| family | images | serial s/image | Dask s/image | Dask / serial | tasks per worker "
          "| worker peak RSS (MiB) |", "|---|---|---|---|---|---|---|"]
    md += [f"| {k} | {r['images']} | {r['serial_s_per_image']:.3f} | {r['dask_s_per_image']:.3f} "
           f"| {r['ratio']:.2f} | {r['tasks_per_worker']} | {r['worker_peak_mib']} |"
           for k, r in rows.items()]
    md += ["", f"Paper estimate for {n_img:,} images on {workers} one-core workers (per-image "
           "cost from the Dask column × 2 cores; cache as one `.npy` per image, each taking at "
           "least one 4 KiB filesystem block):", "",
           "| family | core-seconds per image | wall hours | feature bytes (GB) | on disk, one "
           "file per image (GB) |", "|---|---|---|---|---|"]
    md += [f"| {n} | {c:.3f} | {h:,.1f} | {b:,.1f} | {d:,.0f} |" for n, c, h, b, d in est_rows]
    write("dask_scaling", "SKLEARN_EMOTION_DATA=../shared python -m benchmarks.bench_dask",
          {"rows": rows}, "\n".join(md))


if __name__ == "__main__":
    main()

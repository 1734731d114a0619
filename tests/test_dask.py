"""Scale-out: every family through joblib's Dask backend (and Ray's, where it
installs), the Dask entry point, and a feature cache shared by workers.

A ``LocalCluster`` of two worker processes, about 20 Emotion6 images."""

import io
import os
import stat
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_emotion import (
    ColorFeatures,
    LBPFeatures,
    ObjectFeatures,
    load_pretrained,
    make_paper_pipeline,
)
from sklearn_emotion.datasets import load_emotion6

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

TFLITE = "models/mobilenet_v2_1.0_224_quant.tflite"


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


@pytest.fixture(scope="module")
def images():
    b = load_emotion6()
    idx = np.arange(3, 1980, 99)[:20]
    return [str(p) for p in b.filenames[idx]], b.target[idx]


@pytest.mark.parametrize("make", [
    lambda: ColorFeatures(batch_size=3),
    lambda: LBPFeatures(batch_size=3),
    lambda: ObjectFeatures(backbone=TFLITE, batch_size=3),
], ids=["color", "lbp", "object"])
def test_families_run_on_the_workers_and_equal_serial(client, images, make):
    X, _ = images
    serial = make().fit(X).transform(X)
    est = make().fit(X)
    with distributed.get_task_stream(client) as ts, joblib.parallel_config(backend="dask"):
        got = est.transform(X)
    np.testing.assert_allclose(got, serial, rtol=1e-6, atol=1e-7)
    workers = {t["worker"] for t in ts.data}
    assert len(workers) == 2, workers  # both workers did part of it


def test_cnn_family_builds_its_network_once_per_worker(client, images):
    X, _ = images
    est = ObjectFeatures(backbone=TFLITE, batch_size=2).fit(X)

    def built():
        from sklearn_emotion.features import _base

        return len([k for k in _base._WORKER_OBJECTS if k[1] == "ObjectFeatures"])

    client.run(lambda: __import__("sklearn_emotion.features._base",
                                  fromlist=["x"])._WORKER_OBJECTS.clear())
    with joblib.parallel_config(backend="dask"):
        est.transform(X)  # 10 tasks over 2 workers
    per_worker = client.run(built)
    assert sorted(per_worker.values()) == [1, 1], per_worker


def test_grid_search_with_a_shared_cache(client, images, tmp_path):
    X, y = images
    cache = tmp_path / "shared-cache"
    pipe = make_paper_pipeline(["color", "lbp"], Ridge(), cache_dir=str(cache))
    grid = {"regressor__alpha": [0.1, 10.0],
            "features__lbp": ["drop", LBPFeatures(cache_dir=str(cache))]}
    cv = KFold(2, shuffle=True, random_state=0)
    serial = GridSearchCV(make_paper_pipeline(["color", "lbp"], Ridge()),
                          {**grid, "features__lbp": ["drop", LBPFeatures()]}, cv=cv).fit(X, y)
    log = tmp_path / "writes.log"

    def count_writes(log=str(log)):  # runs in each worker: log every cache write
        from sklearn_emotion._feature_cache import FeatureCache

        put = FeatureCache.__dict__.get("_real_put", FeatureCache.put)

        def logged(self, key, vector):
            with open(log, "a") as f:
                f.write(f"{self.dir.name}/{key}\n")
            return put(self, key, vector)

        FeatureCache._real_put, FeatureCache.put = put, logged

    def stop_counting():
        from sklearn_emotion._feature_cache import FeatureCache

        FeatureCache.put = FeatureCache.__dict__.get("_real_put", FeatureCache.put)

    client.run(count_writes)
    count_writes()  # the refit on all of X runs here
    old = os.umask(0o002)
    try:
        with joblib.parallel_config(backend="dask"):
            cold = GridSearchCV(pipe, grid, cv=cv).fit(X, y)
    finally:
        os.umask(old)
        client.run(stop_counting)
        stop_counting()
    # every entry was written once: no image computed by two workers
    writes = log.read_text().split()
    entries = [p for p in cache.rglob("*.npyc")]
    assert len(entries) == 2 * len(X)
    assert len(writes) == len(set(writes)) == len(entries), (len(writes), len(set(writes)))
    np.testing.assert_allclose(cold.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], rtol=1e-10)
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.suffix == ".tmp"]  # no temporary files left
    # entries follow the umask of the process that wrote them (002 on the workers'
    # side is inherited from their own start; at least group/other can read)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in files}
    assert all(m & 0o044 == 0o044 for m in modes), modes
    before = {p: p.stat().st_mtime_ns for p in files}
    with joblib.parallel_config(backend="dask"):
        warm = GridSearchCV(pipe, grid, cv=cv).fit(X, y)
    after = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    assert after == before  # the warm run wrote nothing
    np.testing.assert_allclose(warm.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], rtol=1e-10)


def test_dask_entry_point_keeps_order_and_names_bad_images(client, images, tmp_path):
    import dask.bag as db

    import sklearn_emotion.dask as sed

    X, _ = images
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff")
    items = X[:7] + [str(bad)] + X[7:12] + [str(tmp_path / "missing.png")]
    est = ColorFeatures().fit(items)
    ref = ColorFeatures(on_error="nan").fit(items)
    with pytest.warns(UserWarning):
        expected = ref.transform(items)
    import dask.dataframe as dd
    import pandas as pd

    column = dd.from_pandas(pd.DataFrame({"path": items}), npartitions=3)["path"]
    for source in (items, db.from_sequence(items, npartitions=4), column):
        res = sed.transform(est, source, partition_size=5, dtype="float32")
        assert res.array.shape[1] == 22 and res.array.dtype == np.float32
        arr, errors = res.compute()
        np.testing.assert_allclose(arr, expected, rtol=1e-6, equal_nan=True)
        assert [e["item"] for e in errors] == [str(bad), str(tmp_path / "missing.png")]
        assert errors[1]["reason"] == "file not found"
        assert "not a recognised image" in errors[0]["reason"]
        if source is items:
            assert [e["index"] for e in errors] == [7, 13]
    # a fitted pipeline and the pretrained model through predict
    model = load_pretrained()
    arr, errors = sed.predict(model, items, partition_size=6).compute()
    good = [i for i in range(len(items)) if i not in (7, 13)]
    np.testing.assert_allclose(arr[good], model.predict([items[i] for i in good]), rtol=1e-10)
    assert np.isnan(arr[[7, 13]]).all() and len(errors) == 2


def test_dask_entry_point_stores_one_shard_per_partition(client, images, tmp_path):
    import sklearn_emotion.dask as sed

    import shutil

    X = []
    for i, src in enumerate(images[0][:9]):  # copies: one gets a new mtime below
        X.append(shutil.copy(src, tmp_path / f"{i}{os.path.splitext(src)[1]}"))
    items = X + [str(tmp_path / "missing.png")]
    est = ColorFeatures().fit(items)
    store = tmp_path / "shards"
    first, errors = sed.transform(est, items, partition_size=4, cache_dir=store).compute()
    shards = sorted(store.rglob("*.npzc"))
    assert len(shards) == 3 and not list(store.rglob("*.tmp"))  # 10 images, 4 a partition
    np.testing.assert_allclose(first[:9], ColorFeatures().fit(X).transform(X))
    assert [(e["index"], e["reason"]) for e in errors] == [(9, "file not found")]

    from sklearn_emotion._store import read_record, sealed
    from sklearn_emotion.dask import read_shard

    def open_shard(sh):
        arrays, errs = read_record(sh, ["rows"])
        return arrays["rows"], errs

    def seal(sh, rows, blob):  # a writer that seals what it writes
        buf = io.BytesIO()
        np.savez(buf, rows=rows, __meta__=blob)
        sh.write_bytes(sealed(buf.getvalue()))

    # a second run reads the shards: proven by planting values in one of them
    sh = next(sh for sh in shards if open_shard(sh)[0].shape[0] == 4 and not open_shard(sh)[1])
    good_rows = open_shard(sh)[0]
    good = sh.read_bytes()
    seal(sh, np.full_like(good_rows, 7.0), np.frombuffer(b"[]", np.uint8))
    again, errors2 = sed.transform(est, items, partition_size=4, cache_dir=store).compute()
    assert (again == 7.0).all(axis=1).sum() == 4
    assert errors2 == errors  # errors restamped with partition and index
    # a tampered shard is never returned: recomputed, with a warning naming it
    tampers = [
        ("not JSON", lambda: seal(sh, good_rows, np.frombuffer(b"{not json", np.uint8))),
        ("wrong width", lambda: seal(sh, good_rows[:, :-1], np.frombuffer(b"[]", np.uint8))),
        ("NaN rows", lambda: seal(sh, np.where(good_rows > 0, np.nan, good_rows),
                                  np.frombuffer(b"[]", np.uint8))),
        ("checksum mismatch", lambda: sh.write_bytes(good[:100] + bytes([good[100] ^ 1])
                                                     + good[101:])),
        ("no checksum", lambda: sh.write_bytes(good[:-5])),
    ]
    for name, tamper in tampers:
        tamper()
        # what the worker does with it (its warning stays in the worker's log)
        with pytest.warns(UserWarning, match=r"Dask shard .*\.npzc: ") as rec:
            assert read_shard(sh, 4, first.shape[1], first.dtype) is None
        if name in ("checksum mismatch", "no checksum"):
            assert name in str(rec[0].message)
        again, _ = sed.transform(est, items, partition_size=4, cache_dir=store).compute()
        np.testing.assert_allclose(again, first, equal_nan=True)
    # a changed file (new mtime) or a changed parameter misses its shard
    os.utime(items[0], ns=(0, 0))
    fresh, _ = sed.transform(est, items, partition_size=4, cache_dir=store).compute()
    np.testing.assert_allclose(fresh[:4], first[:4])
    sed.transform(ColorFeatures(names_mode="hard").fit(items), items, partition_size=4,
                  cache_dir=store).compute()
    assert len(list(store.rglob("*.npzc"))) == 3 + 1 + 3


def test_ray_backend_for_one_family(images):
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    X, _ = images
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        register_ray()
        est = ColorFeatures(batch_size=5).fit(X[:10])
        with joblib.parallel_config(backend="ray", n_jobs=2):
            got = est.transform(X[:10])
    finally:
        ray.shutdown()
    np.testing.assert_allclose(got, ColorFeatures().fit(X[:10]).transform(X[:10]), rtol=1e-12)


def test_url_cache_is_refused_clearly():
    with pytest.raises(ValueError, match="is a URL; the per-image feature cache needs a folder"):
        ColorFeatures(cache_dir="s3://bucket/features").fit([np.zeros((4, 4, 3), np.uint8)])


def test_the_core_package_never_imports_dask():
    code = ("import sys, sklearn_emotion, sklearn_emotion.pipeline, sklearn_emotion.cli; "
            "print([m for m in sys.modules if m == 'dask' or m.startswith('dask.')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_settings_reach_the_dask_workers(client, images):
    """config_context in the client reaches the tasks of both Dask paths:
    joblib's Dask backend and the package's own Dask entry point."""
    import sklearn_emotion.dask as sed
    from sklearn_emotion import ImageBatchError, config_context

    X, _ = images
    X = X[:6]
    est = ColorFeatures(batch_size=2).fit(X)
    with config_context(max_pixels=1000):
        with joblib.parallel_config(backend="dask"), pytest.raises(ImageBatchError) as info:
            est.transform(X)
        assert len(info.value.errors) == len(X)
        _, errors = sed.transform(est, X, partition_size=2).compute()
    assert len(errors) == len(X) and all("exceeds the limit of 1,000" in e["reason"] for e in errors)
    F, errors = sed.transform(est, X, partition_size=2).compute()
    assert not errors and np.isfinite(F).all()


def test_store_is_the_deprecated_name_of_cache_dir(images, tmp_path):
    """``store=`` still works for one release, with a FutureWarning; giving
    both names is refused."""
    import sklearn_emotion.dask as sed

    items = list(images[0][:3])
    est = ColorFeatures().fit(items)
    with pytest.warns(FutureWarning, match="`store` was renamed `cache_dir`"):
        old, _ = sed.transform(est, items, partition_size=2, store=tmp_path / "s").compute()
    assert len(list((tmp_path / "s").rglob("*.npzc"))) == 2
    new, _ = sed.transform(est, items, partition_size=2, cache_dir=tmp_path / "s").compute()
    np.testing.assert_array_equal(old, new)
    with pytest.raises(ValueError, match="pass cache_dir only"):
        sed.transform(est, items, cache_dir=tmp_path, store=tmp_path)

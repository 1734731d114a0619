"""End to end: the reproduction command on a small subset with the real models."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, cross_validate

from sklearn_emotion import make_paper_pipeline
from sklearn_emotion.cli import main
from sklearn_emotion.datasets import load_emotion6
from sklearn_emotion.reproduce import subset_indices

N, FOLDS = 40, 2


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_home):
    out = tmp_path_factory.mktemp("repro")
    args = ["reproduce", "--output", str(out / "res"), "--subset", str(N), "--folds", str(FOLDS),
            "--tables", "2,3,4,best", "--ffnn-max-iter", "4", "--ffnn-hidden", "16",
            "--cnn-max-iter", "2", "--cnn-train-max-iter", "1", "--cache-dir", str(out / "cache"),
            "--quiet"]
    assert main(args) == 0
    return out, args


def test_files_and_finite_numbers(run):
    out, _ = run
    res = out / "res"
    for name in ("tables.md", "tables.csv", "per_fold.csv", "results.json",
                 "scatter_pred_vs_true.png", "va_thumbnails.png"):
        assert (res / name).stat().st_size > 0, name
    # the versions that decide the numbers are recorded with them
    versions = json.loads((res / "results.json").read_text())["versions"]
    assert versions["numpy"] == np.__version__ and versions["tensorflow"]
    assert versions["python"].count(".") == 2
    t = pd.read_csv(res / "tables.csv")
    assert set(t["table"]) == {"II", "III", "IV", "best"}
    num = t.select_dtypes("number")
    # epochs exist only for the networks; Pearson r is undefined only for the
    # constant mean predictor; every other number is finite
    mse_r2 = num[[c for c in num if "mse" in c or "r2" in c or "seconds" in c]]
    assert np.isfinite(mse_r2.to_numpy()).all()
    r_cols = [c for c in num if "_r_" in c]
    not_mean = t["model"] != "mean of training targets"
    assert np.isfinite(num.loc[not_mean, r_cols].to_numpy()).all()
    assert num.loc[~not_mean, r_cols].isna().all().all()
    nets = t["model"].str.contains("FFNN|CNN")
    assert np.isfinite(num.loc[nets, ["epochs_mean"]].to_numpy()).all()
    models = set(t["model"])
    assert {"linear regression", "SVR (RBF, C=1)", "mean of training targets",
            "FFNN (paper settings)", "FFNN (tuned)"} <= models
    assert any(m.startswith("CNN fine-tuned") and "conv-frozen" in m for m in models)
    assert any("conv-train" in m for m in models)
    assert set(t[t.table == "III"]["features"]) == {
        "low-level", "object", "semantic", "all", "all + face", "all + object emotion",
        "all + face + object emotion"}
    assert any("no clipping" in m for m in models)
    # the CNN rows are fitted first (the main process is smallest then), but
    # the rows are written in the plan's order: the runs, the nested CV, the
    # two CNN rows
    assert list(t["table"].iloc[-3:]) == ["best", "IV", "IV"]
    assert "conv-frozen" in t["model"].iloc[-2] and "conv-train" in t["model"].iloc[-1]
    order = {"II": 0, "III": 1, "IV": 2, "best": 3}
    assert t["table"].iloc[:-2].map(order).is_monotonic_increasing
    pf = pd.read_csv(res / "per_fold.csv")
    assert (pf.groupby(["table", "model", "features"]).size() == FOLDS).all()
    md = (res / "tables.md").read_text()
    assert "Table II" in md and "Table IV" in md and "±" in md


def test_tables_match_a_direct_cross_validate(run):
    out, _ = run
    X, y = load_emotion6(return_X_y=True)
    keep = subset_indices(len(X), N, 0)
    X, y = list(X[keep]), y[keep]
    cv = KFold(FOLDS, shuffle=True, random_state=0)
    pf = pd.read_csv(out / "res" / "per_fold.csv")
    for model, reg, target, col in (("SVR (RBF, C=1)", "svr", 0, "test_mse_V"),
                                    ("SVR (RBF, C=1)", "svr", 1, "test_mse_A"),
                                    ("linear regression", "linear", 0, "test_mse_V")):
        pipe = make_paper_pipeline("all", reg, cache_dir=out / "cache")
        cvres = cross_validate(pipe, X, y[:, target] if reg == "svr" else y, cv=cv,
                               scoring="neg_mean_squared_error" if reg == "svr" else None,
                               return_estimator=True)
        rows = pf[(pf.table == "IV") & (pf.model == model)].sort_values("fold")
        if reg == "svr":
            direct = -cvres["test_score"]
        else:
            direct = []
            for est, (_, te) in zip(cvres["estimator"], cv.split(X)):
                p = est.predict([X[i] for i in te])
                direct.append(np.mean((y[te, 0] - p[:, 0]) ** 2))
        np.testing.assert_allclose(rows[col].to_numpy(), direct, rtol=1e-6)


def test_warm_run_reads_every_feature_from_cache(run, tmp_path):
    out, args = run
    args = list(args)
    args[args.index("--output") + 1] = str(tmp_path / "warm")
    args[args.index("--tables") + 1] = "3"
    assert main(args) == 0
    info = json.loads((tmp_path / "warm" / "results.json").read_text())
    assert all(v["computed"] == 0 and v["cached"] == N for v in info["features"].values())
    # the run records its own peak memory (the memory curve comes from these)
    import resource

    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert 50 < info["peak_rss_mib"] <= own_peak * 1.01 + 1
    # and how many folds it fitted at once, which its fold seconds depend on
    assert info["n_jobs"] == 1


def test_table2_backbones_only_when_asked(tmp_path, monkeypatch):
    from sklearn_emotion.reproduce import make_plan

    # weights in the user's Keras cache do not change what runs
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels.h5").write_bytes(b"x")
    runs, sets, fams = make_plan(("2",))
    assert [(r.model_name, r.feature_set) for r in runs] == [
        ("FFNN (tuned)", "all"), ("FFNN (tuned)", "all (TFLite object)"),
        ("FFNN (paper settings)", "all")]
    assert fams == {}
    runs, sets, fams = make_plan(("2",), backbones=("vgg16",))
    assert ("FFNN (tuned)", "all (vgg16 object)") in [(r.model_name, r.feature_set) for r in runs]
    assert sets["all (vgg16 object)"] == ("color", "gist", "lbp", "object_vgg16", "scene")
    est = fams["object_vgg16"]()
    assert est.backbone == "vgg16" and est.weights == "imagenet"


def test_reproduce_on_a_second_rated_set_matches_cross_validate(tmp_path):
    """`reproduce --dataset oasis` on a subset: its numbers are a direct cross_validate's."""
    from sklearn_emotion.datasets import load_oasis

    n, folds = 30, 2
    out = tmp_path / "oasis"
    args = ["reproduce", "--dataset", "oasis", "--output", str(out), "--subset", str(n),
            "--folds", str(folds), "--tables", "4", "--no-cnn", "--ffnn-max-iter", "3",
            "--ffnn-hidden", "8", "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    assert main(args) == 0
    md = (out / "tables.md").read_text()
    assert md.startswith("# OASIS") and "30 images" in md
    assert "Every table applies to OASIS" in md and "mapped linearly to 1-9" in md
    X, y = load_oasis(return_X_y=True)
    keep = subset_indices(len(X), n, 0)
    X, y = list(X[keep]), y[keep]
    cv = KFold(folds, shuffle=True, random_state=0)
    pf = pd.read_csv(out / "per_fold.csv")
    rows = pf[(pf.table == "IV") & (pf.model == "SVR (RBF, C=1)")].sort_values("fold")
    for target, col in ((0, "test_mse_V"), (1, "test_mse_A")):
        res = cross_validate(make_paper_pipeline("all", "svr", cache_dir=tmp_path / "cache"), X,
                             y[:, target], cv=cv, scoring="neg_mean_squared_error")
        np.testing.assert_allclose(rows[col].to_numpy(), -res["test_score"], rtol=1e-6)


def test_cross_set_table_matches_direct_fits(tmp_path):
    from scipy.stats import pearsonr

    from sklearn_emotion.datasets import load_oasis
    from sklearn_emotion.reproduce import run_cross_set

    n = 24
    runs = (("SVR (RBF, C=1)", "low-level"), ("linear regression", "object"))
    summary = run_cross_set(tmp_path / "x", subset=n, folds=2, runs=runs,
                            cache_dir=tmp_path / "cache", verbose=False, log=None)
    assert summary["complete"] and len(summary["rows"]) == 2
    md = (tmp_path / "x" / "cross_set.md").read_text()
    assert "Emotion6 -> OASIS" in md and "OASIS -> Emotion6" in md
    e6, oa = load_emotion6(), load_oasis()
    ke, ko = subset_indices(1980, n, 0), subset_indices(900, n, 0)
    Xe, ye = list(e6.filenames[ke]), e6.target[ke]
    Xo, yo = list(oa.filenames[ko]), oa.target[ko]
    # SVR, one model per target, on the low-level families, fitted on Emotion6
    pipe = make_paper_pipeline("low", "svr", cache_dir=tmp_path / "cache")
    pv = pipe.fit(Xe, ye[:, 0]).predict(Xo)
    got = summary["rows"][0]["Emotion6 -> OASIS"]
    assert got["test_r_V"] == pytest.approx(pearsonr(yo[:, 0], pv)[0], rel=1e-6)
    assert got["test_mse_V"] == pytest.approx(np.mean((yo[:, 0] - pv) ** 2), rel=1e-6)
    # linear regression on object features, fitted on OASIS, both targets at once
    pipe = make_paper_pipeline("object", "linear", cache_dir=tmp_path / "cache")
    pa = pipe.fit(Xo, yo).predict(Xe)
    got = summary["rows"][1]["OASIS -> Emotion6"]
    assert got["test_r_A"] == pytest.approx(pearsonr(ye[:, 1], pa[:, 1])[0], rel=1e-6)
    # the within-set numbers are there too
    assert np.isfinite(summary["rows"][0]["within OASIS"]["test_r_V_mean"])


def test_cross_set_takes_within_numbers_from_matching_reproductions(tmp_path):
    from sklearn_emotion.reproduce import run_cross_set

    n, cache = 24, tmp_path / "cache"
    runs = (("SVR (RBF, C=1)", "low-level"),)
    results = []
    for ds in ("emotion6", "oasis"):
        assert main(["reproduce", "--dataset", ds, "--output", str(tmp_path / ds), "--subset",
                     str(n), "--folds", "2", "--tables", "3", "--ffnn-max-iter", "2",
                     "--ffnn-hidden", "4", "--cache-dir", str(cache), "--quiet"]) == 0
        results.append(tmp_path / ds / "results.json")
    computed = run_cross_set(tmp_path / "a", subset=n, folds=2, runs=runs, cache_dir=cache,
                             verbose=False, log=None)
    reused = run_cross_set(tmp_path / "b", subset=n, folds=2, runs=runs, cache_dir=cache,
                           within=results, verbose=False, log=None)
    for key in ("within Emotion6", "within OASIS"):
        a, b = computed["rows"][0][key], reused["rows"][0][key]
        assert a["test_r_V_mean"] == pytest.approx(b["test_r_V_mean"], rel=1e-9)
        assert a["test_mse_A_mean"] == pytest.approx(b["test_mse_A_mean"], rel=1e-9)
    with pytest.raises(ValueError, match="not a complete run with folds=3"):
        run_cross_set(tmp_path / "c", subset=n, folds=3, runs=runs, cache_dir=cache,
                      within=results, verbose=False, log=None)


def test_an_interrupted_run_resumes_from_its_finished_folds(run, tmp_path, monkeypatch):
    """Folds finished before an interruption are read back; the tables equal
    an uninterrupted run's; the checkpoints are gone once the run completes."""
    from sklearn_emotion.reproduce import _engine, run_reproduction

    out, _ = run
    kw = dict(dataset="emotion6", folds=FOLDS, subset=N, tables=("4",), cnn=False,
              ffnn_max_iter=3, ffnn_hidden=(8,), cache_dir=out / "cache", verbose=False)
    reference = run_reproduction(tmp_path / "ref", log=None, **kw)
    real = _engine.Engine.run

    def interrupted_after_three_fits(self, stages, **k):
        for n, item in enumerate(real(self, stages, **k)):
            yield item
            if n == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(_engine.Engine, "run", interrupted_after_three_fits)
    with pytest.raises(KeyboardInterrupt):
        run_reproduction(tmp_path / "res", log=None, **kw)
    ckpt = tmp_path / "res" / ".checkpoints"
    assert len(list(ckpt.glob("*.npzc"))) == 3
    assert not list(ckpt.glob("*.tmp"))
    monkeypatch.setattr(_engine.Engine, "run", real)
    logs = []
    resumed = run_reproduction(tmp_path / "res", log=logs.append, **kw)
    assert sum("from checkpoint" in line for line in logs) == 3
    assert not ckpt.exists()
    assert any("3 of" in n and "checkpoints" in n for n in resumed["notes"])
    ref = pd.read_csv(tmp_path / "ref" / "per_fold.csv")
    got = pd.read_csv(tmp_path / "res" / "per_fold.csv")
    cols = [c for c in ref if c.startswith(("test_", "train_"))]
    pd.testing.assert_frame_equal(got[["model", "fold", *cols]], ref[["model", "fold", *cols]],
                                  rtol=1e-6)
    assert reference["complete"] and resumed["complete"]


def test_cross_set_resumes_its_fits_and_reads_within_numbers_last(tmp_path, monkeypatch):
    """The within-set reproductions are read after the transfers (so they may
    still be running when the cross-set starts); fits survive a failure."""
    from sklearn_emotion.reproduce import _cross, run_cross_set

    n, cache = 24, tmp_path / "cache"
    runs = (("SVR (RBF, C=1)", "low-level"), ("linear regression", "object"))
    calls = []
    real = _cross.transfer
    monkeypatch.setattr(_cross, "transfer", lambda *a, **k: calls.append(1) or real(*a, **k))
    pending = tmp_path / "emotion6-running" / "results.json"
    with pytest.raises(FileNotFoundError):
        run_cross_set(tmp_path / "x", subset=n, folds=2, runs=runs, cache_dir=cache,
                      within=[pending, pending], verbose=False, log=None)
    assert len(calls) == 4 and len(list((tmp_path / "x" / ".checkpoints").glob("*.npzc"))) == 4
    done = run_cross_set(tmp_path / "x", subset=n, folds=2, runs=runs, cache_dir=cache,
                         verbose=False, log=None)
    assert len(calls) == 4  # every transfer read back
    assert not (tmp_path / "x" / ".checkpoints").exists()
    fresh = run_cross_set(tmp_path / "y", subset=n, folds=2, runs=runs, cache_dir=cache,
                          verbose=False, log=None)
    for a, b in zip(done["rows"], fresh["rows"]):
        for k in ("Emotion6 -> OASIS", "OASIS -> Emotion6", "within OASIS"):
            assert a[k]["test_mse_V" if "->" in k else "test_mse_V_mean"] == pytest.approx(
                b[k]["test_mse_V" if "->" in k else "test_mse_V_mean"], rel=1e-9)


def test_keras_fits_run_in_a_worker_and_the_run_stays_flat():
    """TensorFlow keeps ~110 MB of each deleted network of the paper's size;
    the engine fits Keras models in its network worker (a loky process,
    replaced when it has grown by 300 MB, stopped with the engine), so this
    process's memory does not grow with the fits, and the numbers equal an
    in-process fit."""
    import os

    from sklearn_emotion import FFNNRegressor
    from sklearn_emotion.reproduce import Engine, _evaluation

    def rss():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS"))

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 300)), rng.normal(size=(120, 2))
    model = FFNNRegressor(hidden_layer_sizes=(3000, 1000, 500), solver="adam", max_iter=2,
                          early_stopping=False, random_state=0)
    here, n_here = _evaluation._fit_predict_here(model, True, X[:100], y[:100], [X[100:]])
    before = rss()
    pids = set()
    with Engine() as engine:
        for _ in range(4):
            (pred,), n_iter = engine.call(_evaluation._fit_predict_here, model, True,
                                          X[:100], y[:100], [X[100:]])
            np.testing.assert_allclose(pred, here[0], rtol=1e-6)
            assert n_iter == n_here == 2
            pids |= set(engine._worker._processes)
    assert rss() - before < 100, "the fits' memory stayed in this process"
    assert pids and os.getpid() not in pids
    assert engine._worker is None  # stopped with the engine
    # models without TensorFlow are not sent to the network worker
    from sklearn.svm import SVR

    assert not _evaluation.uses_tensorflow(SVR())
    assert _evaluation.uses_tensorflow(model)


def _square(x):
    return x * x


def test_light_tasks_run_in_loky_workers_that_exit_when_idle():
    """Tasks without a network run in joblib's loky processes (not threads
    of this process, whose heap would keep what they freed), and those
    workers exit within seconds of their stage instead of idling 300 s
    beside the next stage's network."""
    import os
    import time

    import psutil

    from sklearn_emotion.reproduce import Engine, Task
    from sklearn_emotion.reproduce._engine import IDLE_WORKER_TIMEOUT

    tasks = [Task(("t", i), _square, (i,)) for i in range(6)]
    with Engine(n_jobs=2) as engine:
        got = {t.name: (res, rec) for t, res, rec in engine.run([tasks])}
    assert {k[1]: v[0] for k, v in got.items()} == {i: i * i for i in range(6)}
    workers = {rec["worker"].rsplit(":", 1)[1] for _, rec in got.values()}
    assert str(os.getpid()) not in workers

    def loky_children():
        found = []
        for c in psutil.Process().children(recursive=True):
            try:
                if "LokyProcess" in " ".join(c.cmdline()):
                    found.append(c)
            except psutil.Error:  # exited (or a zombie) while being looked at: gone
                continue
        return found

    deadline = time.monotonic() + IDLE_WORKER_TIMEOUT + 20
    while loky_children() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not loky_children()


FEATURES_IN_WORKER = r"""
import json, sys, time
import numpy as np
import psutil
from sklearn_emotion.reproduce._run import compute_features
from sklearn_emotion.reproduce._engine import IDLE_WORKER_TIMEOUT
from sklearn_emotion.datasets import load_emotion6
paths = np.asarray(load_emotion6().filenames)[:3]
from sklearn_emotion.features import ColorFeatures
# one image a chunk: three chunks, so the colour family goes to joblib's workers
feats, info = compute_features(["color", "object"], paths, cache_dir=sys.argv[1], n_jobs=2,
                               families={"color": lambda: ColorFeatures(batch_size=1)})
def loky():
    return [c for c in psutil.Process().children(recursive=True)
            if "LokyProcess" in " ".join(c.cmdline())]
left_at_once = len(loky())
deadline = time.monotonic() + IDLE_WORKER_TIMEOUT + 20
while loky() and time.monotonic() < deadline:
    time.sleep(0.5)
print(json.dumps({"object": feats["object"].tolist(), "color": feats["color"].tolist(),
                  "computed": info["object"]["computed"], "left_at_once": left_at_once,
                  "idle_joblib_workers": len(loky()),
                  "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
"""


def test_feature_networks_run_in_the_worker_and_leave_with_it(tmp_path, data_home):
    """A CNN family's network runs in the engine's network worker, which
    stops when the features are done (TensorFlow keeps ~1 GB of a process
    that ran the feature networks): the run's own process never imports
    TensorFlow, and the features equal the transformer's in this process.
    joblib's image-level workers (colour, ``n_jobs=2``) exit within seconds
    rather than idling loky's 300 s beside the fits that follow."""
    import subprocess
    import sys

    from sklearn_emotion.pipeline import FEATURE_FAMILIES

    p = subprocess.run([sys.executable, "-c", FEATURES_IN_WORKER, str(tmp_path / "cache")],
                       capture_output=True, text=True, check=True)
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["computed"] == 3 and out["idle_joblib_workers"] == 0
    assert out["left_at_once"] <= 2  # the colour workers, idle; the network worker is gone
    assert not out["tensorflow"] and not out["keras"]
    paths = list(load_emotion6().filenames[:3])
    np.testing.assert_allclose(out["object"], FEATURE_FAMILIES["object"]().fit_transform(paths),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out["color"], FEATURE_FAMILIES["color"]().fit_transform(paths),
                               rtol=1e-12)


def test_the_network_worker_leaves_joblibs_process_pool_alone():
    """After a Keras fit in the network worker, scikit-learn's own process
    pool (a GridSearchCV with n_jobs=2) still starts: a fit worker once took
    loky's process-wide executor and the grid search failed on it
    (AttributeError: no _temp_folder_manager)."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVR

    from sklearn_emotion import FFNNRegressor
    from sklearn_emotion.reproduce import Engine, _evaluation

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), rng.normal(size=(60, 2))
    model = FFNNRegressor((8,), max_iter=2, early_stopping=False, random_state=0)
    with Engine() as engine:
        engine.call(_evaluation._fit_predict_here, model, True, X[:50], y[:50], [X[50:]])
        search = GridSearchCV(SVR(), {"C": [1.0, 10.0]}, cv=2, n_jobs=2).fit(X, y[:, 0])
        serial = GridSearchCV(SVR(), {"C": [1.0, 10.0]}, cv=2, n_jobs=1).fit(X, y[:, 0])
        np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                      serial.cv_results_["mean_test_score"])
        # and the network worker still serves the next fit
        (pred,), _ = engine.call(_evaluation._fit_predict_here, model, True, X[:50],
                                 y[:50], [X[50:]])
        assert pred.shape == (10, 2)


def _worker_pid_then_sleep(seconds):
    import os
    import time

    time.sleep(seconds)
    return os.getpid()


def test_an_interrupted_engine_ends_its_network_worker_at_once():
    """Ended by an error (Ctrl-C: KeyboardInterrupt) while the network worker
    runs a long task, an engine kills the worker rather than waiting for the
    task: a conv-train fold takes minutes and holds gigabytes."""
    import threading
    import time

    import psutil

    from sklearn_emotion.reproduce import Engine

    pids, box = [], {}
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        with Engine() as engine:
            pids.append(engine.call(os.getpid))  # start the worker, and learn its pid
            thread = threading.Thread(target=lambda: box.setdefault(
                "out", _call_quietly(engine, _worker_pid_then_sleep, 120)))
            thread.start()
            time.sleep(1.0)
            raise KeyboardInterrupt
    assert time.perf_counter() - t0 < 30
    thread.join(30)
    assert not thread.is_alive()
    time.sleep(1.0)
    alive = [p for p in pids if psutil.pid_exists(p)
             and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert pids and not alive, alive


def _call_quietly(engine, fn, *args):
    try:
        return engine.call(fn, *args)
    except Exception as exc:  # the killed worker's task fails
        return exc


def test_the_network_workers_replacement_notice_is_not_shown():
    """loky warns when it starts a new network worker in place of one whose
    memory grew (deliberate: see _network_worker); an engine hides that
    notice, from whichever thread, and nothing else."""
    import inspect
    import re
    import threading
    import warnings

    from joblib.externals.loky import process_executor

    from sklearn_emotion.reproduce import Engine
    from sklearn_emotion.reproduce._engine import _WORKER_REPLACED

    # loky's own words (its source splits the string over two literals)
    assert _WORKER_REPLACED in re.sub(r'"\s*"', "", inspect.getsource(process_executor))

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with Engine():
            t = threading.Thread(target=warnings.warn, args=(
                _WORKER_REPLACED + ". This can be caused by a too short worker timeout or by a "
                "memory leak.", UserWarning))
            t.start()
            t.join()
            warnings.warn("something else", UserWarning)
    assert [str(w.message) for w in seen] == ["something else"]


def test_scikit_learn_folds_in_parallel_give_the_same_numbers(data_home):
    """evaluate(n_jobs=2) fits an SVR's folds at once (loky processes); every
    fold's scores and out-of-fold predictions equal the one-at-a-time run's."""
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVR

    from sklearn_emotion import ColorFeatures
    from sklearn_emotion.reproduce import evaluate

    X, y = load_emotion6(return_X_y=True)
    X = ColorFeatures().fit_transform(list(X[:80]))
    y = y[:80]
    cv = KFold(4, shuffle=True, random_state=0)
    model = make_pipeline(SVR(C=3.0))
    serial = evaluate(model, X, y, cv, joint=False)
    parallel = evaluate(model, X, y, cv, joint=False, n_jobs=2)
    np.testing.assert_array_equal(parallel.oof, serial.oof)
    for a, b in zip(serial.folds, parallel.folds):
        assert {k: v for k, v in a.items() if k != "fit_seconds"} == \
               {k: v for k, v in b.items() if k != "fit_seconds"}
    assert np.isfinite(serial.oof).all() and len(serial.folds) == 4


def test_kernel_grid_search_equals_gridsearchcv():
    """The nested search's SVR grid on precomputed RBF kernels: the same
    scores, choice and predictions as GridSearchCV on the clipped-scaler +
    SVR pipeline, on real colour + LBP features of 150 Emotion6 photos."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVR

    from sklearn_emotion import ColorFeatures, LBPFeatures
    from sklearn_emotion.pipeline import make_scaler
    from sklearn_emotion.reproduce._kernel_grid import svr_grid_search

    X, y = load_emotion6(return_X_y=True)
    paths = list(X[::13][:150])
    F = np.hstack([ColorFeatures().fit_transform(paths), LBPFeatures().fit_transform(paths)])
    grid = {"svr__C": [1.0, 3.0, 10.0], "svr__epsilon": [0.1, 0.3]}
    for target in (0, 1):
        yt = y[::13][:150, target]
        tr, te = np.arange(110), np.arange(110, 150)
        gs = GridSearchCV(make_pipeline(make_scaler(5.0), SVR()), grid, cv=3,
                          scoring="neg_mean_squared_error").fit(F[tr], yt[tr])
        score, params, model = svr_grid_search(F[tr], yt[tr], grid, cv=3, clip=5.0, n_jobs=2)
        assert params == gs.best_params_
        np.testing.assert_allclose(score, gs.best_score_, rtol=1e-9)
        np.testing.assert_allclose(model.predict(F[te]), gs.predict(F[te]), rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(model.predict(F[tr]), gs.predict(F[tr]), rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match="exactly 'svr__C' and 'svr__epsilon'"):
        svr_grid_search(F, yt, {"svr__C": [1.0]})


def test_fits_on_a_local_dask_cluster_equal_the_serial_run(run, tmp_path):
    """``--scheduler local:2``: every fold is a task on a two-worker Dask
    LocalCluster; the tables equal the serial run's to the last digit (the
    Keras rows too: same seeds, one thread per worker, measured equal), and
    every task is recorded with its worker, times and peak memory."""
    out, args = run
    args = [a if a != str(out / "res") else str(tmp_path / "res") for a in args]
    assert main(args + ["--scheduler", "local:2"]) == 0
    cols = lambda df: df[[c for c in df if c.startswith(("test_", "train_", "epochs"))]]
    serial = pd.read_csv(out / "res" / "per_fold.csv")
    dist = pd.read_csv(tmp_path / "res" / "per_fold.csv")
    assert list(dist["model"]) == list(serial["model"])
    pd.testing.assert_frame_equal(cols(dist), cols(serial), rtol=0, atol=0)
    res = json.loads((tmp_path / "res" / "results.json").read_text())
    serial_res = json.loads((out / "res" / "results.json").read_text())
    assert res["best"]["choices"] == serial_res["best"]["choices"]
    timed = [t for t in res["tasks"] if "start" in t]
    # a (model, features) row shared by several tables is fitted once
    assert len(timed) == len(serial.drop_duplicates(["model", "features", "fold"]))
    assert len({t["worker"] for t in timed}) == 2
    assert all(t["end"] >= t["start"] >= 0 and t["peak_rss_mib"] > 0 for t in timed)
    assert res["scheduler"] == "local:2" and (tmp_path / "res" / "tasks.png").stat().st_size > 0
    # refused in one line, no traceback
    assert main(args + ["--scheduler", "local:zero"]) == 2


def test_fits_on_ray_equal_the_serial_run(run, tmp_path):
    """``--scheduler ray:2``: the same tasks through Ray's joblib backend, on
    Ray started on this machine with two CPUs.  The scikit-learn rows equal
    the serial run's to the last digit; the Keras rows within 1e-6 (a Ray
    worker may give TensorFlow another number of threads, which changes the
    order of its sums); every task recorded with a Ray worker."""
    pytest.importorskip("ray")
    out, args = run
    args = [a if a != str(out / "res") else str(tmp_path / "res") for a in args]
    assert main(args + ["--scheduler", "ray:2"]) == 0
    cols = lambda df: df[[c for c in df if c.startswith(("test_", "train_"))]]
    serial = pd.read_csv(out / "res" / "per_fold.csv")
    ray_ = pd.read_csv(tmp_path / "res" / "per_fold.csv")
    assert list(ray_["model"]) == list(serial["model"])
    keras = serial["model"].str.startswith(("FFNN", "CNN"))
    pd.testing.assert_frame_equal(cols(ray_[~keras]), cols(serial[~keras]), rtol=0, atol=0)
    pd.testing.assert_frame_equal(cols(ray_[keras]), cols(serial[keras]), rtol=1e-6, atol=1e-8)
    res = json.loads((tmp_path / "res" / "results.json").read_text())
    serial_res = json.loads((out / "res" / "results.json").read_text())
    assert res["best"]["choices"] == serial_res["best"]["choices"]
    timed = [t for t in res["tasks"] if "start" in t]
    assert len(timed) == len(serial.drop_duplicates(["model", "features", "fold"]))
    assert os.getpid() not in {int(t["worker"].rsplit(":", 1)[1]) for t in timed}
    assert res["scheduler"] == "ray:2"
    assert main(args + ["--scheduler", "ray:none"]) == 2  # refused in one line


def test_kernel_grid_gamma_is_svrs_scale():
    """gamma="scale" as SVR computes it, including its two edge cases: all
    values equal (variance 0: gamma 1) and a variance of exactly 1."""
    from sklearn.svm import SVR

    from sklearn_emotion.reproduce._kernel_grid import _scale_gamma

    y = np.array([0.0, 1.0, 0.0, 1.0])
    for X in (np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, 1.0]]),  # var 1
              np.full((4, 3), 2.0),  # var 0
              np.arange(12.0).reshape(4, 3)):
        assert _scale_gamma(X) == SVR().fit(X, y)._gamma


def test_columns_stack_rows_as_hstack_does():
    """The reproduction's feature sets are column blocks stacked per task:
    the rows taken equal those of the stacked matrix, bit for bit."""
    from sklearn_emotion.reproduce._evaluation import Columns

    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(30, k)) for k in (3, 1, 7)]
    X = Columns(parts)
    full = np.hstack(parts)
    assert X.shape == full.shape and len(X) == 30
    rows = rng.permutation(30)[:11]
    np.testing.assert_array_equal(X[rows], full[rows])
    np.testing.assert_array_equal(X[np.arange(30) % 2 == 0], full[::2])


def test_tables_and_plotted_numbers_recomputed_from_the_folds(run):
    """tables.csv's mean and SD columns from per_fold.csv; the plotted row's
    out-of-fold predictions (oof.csv) on the rows of the run's own folds
    (recomputed with KFold on the subset), each fold's scores and the
    plot's pooled numbers recomputed from them with scikit-learn."""
    from sklearn.metrics import mean_squared_error, r2_score

    out, _ = run
    res = out / "res"
    t, pf = pd.read_csv(res / "tables.csv"), pd.read_csv(res / "per_fold.csv")
    metrics = [c for c in pf.columns if c.startswith(("test_", "train_"))]
    for (table, model, features), g in pf.groupby(["table", "model", "features"]):
        row = t[(t.table == table) & (t.model == model) & (t.features == features)]
        assert len(row) == 1
        for m in metrics:
            v = g[m].to_numpy(dtype=float)
            if np.isnan(v).all():
                continue
            assert row[m + "_mean"].item() == pytest.approx(v.sum() / len(v), rel=1e-9), m
            sd = np.sqrt(((v - v.sum() / len(v)) ** 2).sum() / len(v))
            assert row[m + "_std"].item() == pytest.approx(sd, rel=1e-9, abs=1e-12), m
    summary = json.loads((res / "results.json").read_text())
    plotted = summary["plotted"]
    assert plotted["table"] == "best"
    oof = pd.read_csv(res / "oof.csv")
    X, y = load_emotion6(return_X_y=True)
    keep = subset_indices(len(X), N, 0)
    assert list(oof["path"]) == [str(p) for p in X[keep]]
    np.testing.assert_array_equal(oof[["valence", "arousal"]].to_numpy(), y[keep])
    cv = KFold(FOLDS, shuffle=True, random_state=0)
    rows = pf[pf.table == "best"].sort_values("fold")
    for k, (_, te) in enumerate(cv.split(np.arange(N))):
        np.testing.assert_array_equal(oof["fold"].to_numpy()[te], k + 1)
        for t, col in (("V", "valence"), ("A", "arousal")):
            yt, yp = oof[col].to_numpy()[te], oof[col + "_pred"].to_numpy()[te]
            assert rows[f"test_mse_{t}"].iloc[k] == pytest.approx(mean_squared_error(yt, yp), rel=1e-9)
            assert rows[f"test_r2_{t}"].iloc[k] == pytest.approx(r2_score(yt, yp), rel=1e-9)
    for t, col in (("V", "valence"), ("A", "arousal")):
        yt, yp = oof[col].to_numpy(), oof[col + "_pred"].to_numpy()
        assert plotted["pooled"][f"mse_{t}"] == pytest.approx(mean_squared_error(yt, yp), rel=1e-9)
        assert plotted["pooled"][f"r2_{t}"] == pytest.approx(r2_score(yt, yp), rel=1e-9)
        assert plotted["pooled"][f"r_{t}"] == pytest.approx(np.corrcoef(yt, yp)[0, 1], rel=1e-9)


def test_the_quick_look_tables_are_what_the_old_code_gave(run):
    """Before and after the restructuring of issue 37: this run's tables
    against ``tests/data/outputs_before.tables.csv``, the same command run at
    29414ff (``benchmarks/record_outputs.py``).  Every score equal up to the
    last bits on the recording machine's CPU, and on any CPU where no
    TensorFlow kernel is involved (below); the nested row's label alone was
    reworded since (issue 38)."""
    from pathlib import Path

    out, args = run
    before = pd.read_csv(Path(__file__).resolve().parent / "data" / "outputs_before.tables.csv")
    now = pd.read_csv(out / "res" / "tables.csv")
    assert args[args.index("--subset"):args.index("--cache-dir")] == json.loads(
        (Path(__file__).resolve().parent / "data" / "outputs_before.json").read_text())[
        "quick_look"][1:]
    assert list(now.columns) == list(before.columns)
    assert (now[["table", "model"]].to_numpy() == before[["table", "model"]].to_numpy()).all()
    relabelled = now["features"] != before["features"]
    assert list(now.loc[relabelled, "features"]) == [
        "one per fold, from: " + before.loc[relabelled, "features"].iloc[0].replace(" / ", "; ")]
    scores = [c for c in now.columns if c.startswith(("train_", "test_"))]
    epochs = [c for c in now.columns if c.startswith("epochs_")]
    # Rows computed without TensorFlow (the low-level and semantic features,
    # the TFLite object features, scikit-learn's models on them) are equal
    # up to the last bits on any CPU.  TensorFlow's CPU kernels (the Keras
    # object features, every Keras-trained model) differ by CPU in the last
    # float32 bits: bit for bit on the recording machine's CPU; on another,
    # measured, within 5.3e-4 relative (the fine-tuned CNN), ill-conditioned
    # rows (no clipping) within 1e-5 of their huge values, and an early
    # stop's epoch moved by one.
    no_tf = (before["features"].isin(["low-level", "semantic", "all (TFLite object)"])
             & ~before["model"].str.startswith(("FFNN", "CNN"))) | (
        before["model"] == "mean of training targets")
    assert no_tf.sum() == 3
    np.testing.assert_allclose(now.loc[no_tf, scores + epochs].to_numpy(float),
                               before.loc[no_tf, scores + epochs].to_numpy(float),
                               rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(now[scores].to_numpy(float), before[scores].to_numpy(float),
                               rtol=1e-3, atol=1e-3, equal_nan=True)
    np.testing.assert_allclose(now[epochs].to_numpy(float), before[epochs].to_numpy(float),
                               rtol=0, atol=1, equal_nan=True)

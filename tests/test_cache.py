"""The per-image feature cache (``cache_dir=``)."""

import os
import shutil

import numpy as np
import pytest
from joblib import Memory
from PIL import Image

from sklearn_emotion import ColorFeatures, LBPFeatures


@pytest.fixture
def paths(tmp_path):
    rng = np.random.default_rng(3)
    out = []
    for i in range(5):
        p = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(p)
        out.append(str(p))
    return out


class Counting(LBPFeatures):
    calls = 0
    images = 0

    def _compute_batch(self, images):
        Counting.calls += 1  # subclasses count here too
        Counting.images += len(images)
        return super()._compute_batch(images)


@pytest.mark.parametrize("as_memory", [False, True])
def test_second_run_over_seen_images_computes_nothing(paths, tmp_path, as_memory):
    Counting.calls = Counting.images = 0
    mem = Memory(tmp_path / "c", verbose=0) if as_memory else tmp_path / "c"
    F = Counting(cache_dir=mem).fit_transform(paths[:4])
    assert Counting.images == 4
    # a different subset, all seen already: no computation at all
    F2 = Counting(cache_dir=mem).fit_transform([paths[2], paths[0]])
    assert Counting.images == 4
    np.testing.assert_array_equal(F2, F[[2, 0]])
    # one new image: only it is computed
    Counting(cache_dir=mem).fit_transform(paths)
    assert Counting.images == 5
    np.testing.assert_allclose(Counting().fit_transform(paths), Counting(cache_dir=mem).fit_transform(paths))


def test_changed_parameter_or_file_gives_fresh_features(paths, tmp_path):
    Counting.calls = Counting.images = 0
    Counting(cache_dir=tmp_path / "c").fit_transform(paths)
    Counting(cache_dir=tmp_path / "c", R=2).fit_transform(paths)
    assert Counting.images == 10  # R changes the numbers: new namespace
    # mechanics parameters do not
    Counting(cache_dir=tmp_path / "c", batch_size=2, verbose=True).fit_transform(paths)
    assert Counting.images == 10
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(paths[1])  # edited in place
    F = Counting(cache_dir=tmp_path / "c").fit_transform(paths)
    assert Counting.images == 11
    assert F[1, -2] == 1.0  # constant image: all in the "all ones" uniform bin


def test_cache_safe_with_parallel_workers(paths, tmp_path):
    F1 = ColorFeatures(cache_dir=tmp_path / "c", n_jobs=2, batch_size=1).fit_transform(paths)
    F2 = ColorFeatures(cache_dir=tmp_path / "c", n_jobs=2, batch_size=1).fit_transform(paths)
    np.testing.assert_array_equal(F1, F2)
    np.testing.assert_allclose(F1, ColorFeatures().fit_transform(paths))
    assert not list((tmp_path / "c").rglob("*.tmp"))


def test_bad_memory_type():
    with pytest.raises(TypeError, match="'cache_dir' parameter of LBPFeatures must be"):
        LBPFeatures(cache_dir=3).fit([np.zeros((4, 4, 3), np.uint8)])


# ---------------------------------------------------------------- claims
def _entry(est, path):
    """The cache and key of ``path`` for the fitted ``est``."""
    from sklearn_emotion._keys import image_key

    return est._get_cache(owner="test"), image_key(path, 0)


def _claim(cache, key, holder):
    path = cache._claim_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(holder)
    return path


def test_an_image_repeated_in_a_batch_is_computed_once(paths, tmp_path):
    Counting.calls = Counting.images = 0
    X = [paths[0], paths[1], paths[0], paths[0]]
    est = Counting(cache_dir=tmp_path / "c")
    F = est.fit_transform(X)
    assert Counting.images == 2
    assert est._transform_stats == {"images": 4, "cached": 2, "computed": 2, "failed": 0}
    np.testing.assert_array_equal(F[2], F[0])
    np.testing.assert_allclose(F, Counting().fit_transform(X))


def test_an_entry_another_worker_claimed_is_waited_for(paths, tmp_path):
    """A live foreign claim: the transform computes its other images, then
    takes the entry the other worker writes instead of computing it."""
    import threading

    Counting.calls = Counting.images = 0
    expected = LBPFeatures().fit_transform(paths[:3])
    est = Counting(cache_dir=tmp_path / "c").fit(paths)
    cache, key = _entry(est, paths[1])
    claim = _claim(cache, key, "another-host:1:x")  # a worker elsewhere is computing paths[1]

    def other_worker():
        import time

        time.sleep(1.0)
        cache.put(key, expected[1])
        claim.unlink()

    t = threading.Thread(target=other_worker)
    t.start()
    F = est.transform(paths[:3])
    t.join()
    assert Counting.images == 2  # paths[0] and paths[2] only
    assert est._transform_stats["cached"] == 1 and est._transform_stats["computed"] == 2
    np.testing.assert_allclose(F, expected)
    assert not list((tmp_path / "c").rglob("*.claim")) and not list((tmp_path / "c").rglob("*.tmp"))


def test_an_abandoned_claim_is_taken_over(paths, tmp_path):
    import os
    import subprocess
    import sys
    import time

    from sklearn_emotion import _claims

    Counting.calls = Counting.images = 0
    est = Counting(cache_dir=tmp_path / "c").fit(paths)
    cache, key0 = _entry(est, paths[0])
    _, key1 = _entry(est, paths[1])
    # an old claim from elsewhere (its worker died long ago)
    old = _claim(cache, key0, "another-host:1:x")
    os.utime(old, (time.time() - 2 * _claims.claim_timeout(),) * 2)
    # a claim by a process of this machine that has exited
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    _claim(cache, key1, f"{_claims.socket.gethostname()}:{dead}:x")
    start = time.monotonic()
    F = est.transform(paths[:2])
    assert time.monotonic() - start < 30  # no waiting for the timeout
    assert Counting.images == 2
    np.testing.assert_allclose(F, LBPFeatures().fit_transform(paths[:2]))
    assert not list((tmp_path / "c").rglob("*.claim"))


def test_a_claim_left_without_an_entry_is_computed_after_the_wait(paths, tmp_path):
    """The other worker failed and released its claim without writing."""
    import threading
    import time

    Counting.calls = Counting.images = 0
    est = Counting(cache_dir=tmp_path / "c").fit(paths)
    cache, key = _entry(est, paths[0])
    claim = _claim(cache, key, "another-host:1:x")
    threading.Timer(0.5, claim.unlink).start()
    F = est.transform(paths[:1])
    time.sleep(0.1)
    assert Counting.images == 1 and est._transform_stats["computed"] == 1
    np.testing.assert_allclose(F, LBPFeatures().fit_transform(paths[:1]))


def test_two_threads_on_the_same_new_images_compute_each_once(paths, tmp_path):
    """Two transforms at once (a threaded grid search, a worker with two
    threads) share the work through claims instead of both computing."""
    from concurrent.futures import ThreadPoolExecutor

    class Slow(Counting):
        def _compute_batch(self, images):
            import time

            time.sleep(0.2)
            return super()._compute_batch(images)

    Counting.calls = Counting.images = 0
    X = paths * 2  # every image twice, in different batches
    with ThreadPoolExecutor(2) as pool:
        futs = [pool.submit(lambda: Slow(cache_dir=tmp_path / "c", batch_size=1).fit_transform(X))
                for _ in range(2)]
        a, b = (f.result() for f in futs)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, LBPFeatures().fit_transform(X))
    assert Counting.images == len(paths)
    assert not list((tmp_path / "c").rglob("*.claim"))


def test_a_peer_killed_while_holding_claims_costs_seconds_not_the_timeout(paths, tmp_path):
    """Two processes share a cache; the other one claims every image, then is
    killed (SIGKILL) while this one waits for its entries.  The survivor
    notices the dead holder and computes the images itself within 30 s
    (the claim timeout is 600 s)."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    Counting.calls = Counting.images = 0
    est = Counting(cache_dir=tmp_path / "c").fit(paths)
    keys = [_entry(est, p)[1] for p in paths]
    cache = _entry(est, paths[0])[0]
    holder = subprocess.Popen([sys.executable, "-c", (
        "import os, sys, time\n"
        "from sklearn_emotion._feature_cache import FeatureCache\n"
        f"c = FeatureCache({str(tmp_path / 'c')!r}, {cache.dir.name!r}, owner='peer')\n"
        f"assert all(c.claim(k) for k in {keys!r})\n"
        "print('claimed', flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "claimed"
        out = {}
        worker = threading.Thread(target=lambda: out.setdefault("F", est.transform(paths)))
        start = time.monotonic()
        worker.start()
        time.sleep(1.0)  # the transform is now waiting for the peer's entries
        assert Counting.images == 0
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        worker.join(timeout=60)
        elapsed = time.monotonic() - start
    finally:
        if holder.poll() is None:
            holder.kill()
    assert not worker.is_alive() and elapsed < 30, elapsed
    assert Counting.images == len(paths)
    np.testing.assert_allclose(out["F"], LBPFeatures().fit_transform(paths))


@pytest.mark.parametrize("tamper, problem", [
    # a writer that seals what it writes (a bug, or someone who recomputes
    # the checksum) still meets the content checks
    ("strings", "not real floating-point numbers"),
    ("complex", "not real floating-point numbers"),
    ("nan", "not finite"),
    ("inf", "not finite"),
    ("short", "of shape"),
    ("sealed garbage", "unreadable"),
    ("huge header", "a header declaring 8,000,000,000,000 bytes"),
    ("another image's entry", "not the entry of this image"),
    # anything else fails the checksum first
    ("edited", "checksum mismatch"),
    ("truncated", "no checksum"),
    ("plain npy", "no checksum"),
    ("garbage", "no checksum"),
    # and nothing but a regular file of an entry's size is read at all
    ("folder", "not a regular file \\(a folder\\)"),
    ("fifo", "not a regular file \\(a FIFO\\)"),
    ("link to /dev/zero", "a symbolic link"),
    ("sparse 3 GB", "3,221,225,472 bytes, more than such a file can hold"),
])
def test_a_tampered_entry_is_recomputed_with_a_warning(paths, tmp_path, tamper, problem):
    """Whatever sits where an entry belongs, the transform never crashes and
    never returns it: a warning names the entry, the image is computed again."""
    import io

    from sklearn_emotion._store import sealed

    est = Counting(cache_dir=tmp_path / "c").fit(paths)
    expected = est.transform(paths[:2])
    cache, key = _entry(est, paths[0])
    entry = cache._path(key)
    good = entry.read_bytes()
    entry.unlink()
    d = expected.shape[1]

    def npy(a):
        buf = io.BytesIO()
        np.save(buf, a)
        return buf.getvalue()

    line = key.encode() + b"\n"  # an entry names the key it was written for
    if tamper == "folder":
        entry.mkdir()
    elif tamper == "fifo":
        os.mkfifo(entry)
    elif tamper == "link to /dev/zero":
        os.symlink("/dev/zero", entry)
    elif tamper == "sparse 3 GB":
        with open(entry, "wb") as f:
            f.truncate(3 << 30)
    elif tamper == "huge header":
        from numpy.lib import format as npformat

        buf = io.BytesIO()
        npformat.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                              "shape": (10 ** 12,)})
        entry.write_bytes(sealed(line + buf.getvalue() + b"\0" * 64))
    elif tamper == "another image's entry":
        other_cache, other_key = _entry(est, paths[1])
        shutil.copy(other_cache._path(other_key), entry)
    elif tamper == "garbage":
        entry.write_bytes(b"\x93NUMPY not really")
    elif tamper == "sealed garbage":
        entry.write_bytes(sealed(line + b"\x93NUMPY not really"))
    elif tamper == "edited":  # one value changed in place, the checksum left as it was
        body = line + npy(expected[0])
        changed = line + npy(np.where(np.arange(d) == 3, expected[0][3] + 0.5, expected[0]))
        assert good.startswith(body) and len(changed) == len(body)
        entry.write_bytes(changed + good[len(body):])
    elif tamper == "truncated":
        entry.write_bytes(good[:-10])
    elif tamper == "plain npy":
        entry.write_bytes(npy(expected[0]))
    else:
        bad = {"strings": np.array(["x"] * d), "complex": expected[0] + 1j,
               "nan": np.where(np.arange(d) == 3, np.nan, expected[0]),
               "inf": np.where(np.arange(d) == 3, np.inf, expected[0]),
               "short": expected[0][:-1]}[tamper]
        entry.write_bytes(sealed(line + npy(bad)))
    Counting.calls = Counting.images = 0
    with pytest.warns(UserWarning, match=rf"feature cache entry .*{key}\.npyc: {problem}") as rec:
        F = Counting(cache_dir=tmp_path / "c").fit(paths).transform(paths[:2])
    message = str(next(w.message for w in rec if key in str(w.message)))
    detail = {"strings": "(dtype <U1)", "complex": "(dtype complex128)",
              "short": f"expected ({d},)"}.get(tamper)
    assert detail is None or detail in message, message
    np.testing.assert_array_equal(F, expected)
    assert Counting.images == 1  # only the tampered one
    if tamper != "folder":  # rewritten: read back clean
        assert entry.read_bytes() == good
        assert np.array_equal(cache.get(key), expected[0])


def test_memory_is_the_deprecated_name_of_cache_dir(paths, tmp_path):
    """``memory`` (scikit-learn's Pipeline caches fitted transformers under
    that name) was renamed ``cache_dir``: the old name still works, with a
    FutureWarning at fit, into the same folder; giving both is an error."""
    from sklearn_emotion import make_paper_pipeline
    from sklearn_emotion.pipeline import make_features

    new = Counting(cache_dir=tmp_path / "c").fit_transform(paths[:3])
    Counting.calls = 0
    with pytest.warns(FutureWarning, match="`memory` was renamed `cache_dir`"):
        old = Counting(memory=tmp_path / "c").fit_transform(paths[:3])
    assert Counting.calls == 0  # read from the folder cache_dir wrote
    np.testing.assert_array_equal(old, new)
    with pytest.raises(ValueError, match="pass cache_dir only"):
        Counting(cache_dir=tmp_path / "c", memory=tmp_path / "c").fit(paths[:1])
    with pytest.warns(FutureWarning, match="renamed `cache_dir`"):
        union = make_features(["color"], memory=tmp_path / "d")
    assert union.transformer_list[0][1].get_params()["cache_dir"] == tmp_path / "d"
    with pytest.warns(FutureWarning, match="renamed `cache_dir`"):
        pipe = make_paper_pipeline(["color"], "linear", memory=tmp_path / "e")
    assert pipe.named_steps["features"].transformer_list[0][1].cache_dir == tmp_path / "e"


def test_an_entry_of_the_older_format_is_recomputed_quietly(paths, tmp_path):
    """Entries written before they named their key cannot show whose they are:
    computed again and rewritten, without a warning per entry."""
    import io
    import warnings

    from sklearn_emotion._store import sealed

    est = Counting(cache_dir=tmp_path / "c").fit(paths)
    expected = est.transform(paths[:1])
    cache, key = _entry(est, paths[0])
    buf = io.BytesIO()
    np.save(buf, expected[0])
    cache._path(key).write_bytes(sealed(buf.getvalue()))
    Counting.images = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F = Counting(cache_dir=tmp_path / "c").fit(paths).transform(paths[:1])
    assert Counting.images == 1
    np.testing.assert_array_equal(F, expected)
    assert cache._path(key).read_bytes().startswith(key.encode() + b"\n")


def test_a_key_folder_replaced_by_a_link_is_never_written_through(paths, tmp_path):
    """A subfolder of the cache replaced by a symbolic link to a folder
    elsewhere: nothing is read from or written there."""
    est = Counting(cache_dir=tmp_path / "c").fit(paths)
    expected = est.transform(paths[:1])
    cache, key = _entry(est, paths[0])
    sub = cache._path(key).parent
    shutil.rmtree(sub)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, sub)
    with pytest.warns(UserWarning, match="leads outside"):
        F = Counting(cache_dir=tmp_path / "c").fit(paths).transform(paths[:1])
    np.testing.assert_array_equal(F, expected)
    assert not list(outside.iterdir())


@pytest.mark.parametrize("kind", ["empty", "garbage", "zombie", "reused pid", "folder"])
def test_a_stale_claim_costs_a_peer_seconds_not_the_timeout(paths, tmp_path, kind):
    """An empty or malformed claim, a holder killed but not yet reaped (a
    zombie still answers kill(pid, 0)), a live process that is not the one
    that wrote the claim (its pid reused), a folder in the claim's place:
    each is abandoned within seconds (the timeout is 600 s)."""
    import subprocess
    import sys
    import time

    from sklearn_emotion import _claims

    assert _claims.claim_timeout() >= 600
    Counting.calls = Counting.images = 0
    est = Counting(cache_dir=tmp_path / "c").fit(paths)
    cache, key = _entry(est, paths[0])
    host = _claims.socket.gethostname()
    child = None
    if kind == "empty":
        _claim(cache, key, "")
    elif kind == "garbage":
        _claim(cache, key, "not a claim at all")
    elif kind == "zombie":
        child = subprocess.Popen([sys.executable, "-c", "pass"])
        import psutil

        deadline = time.monotonic() + 30
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(child.pid, 0)  # a zombie still answers: the old check waited 600 s
        _claim(cache, key, f"{host}:{child.pid}:{_claims._start_time(child.pid)!r}:w")
    elif kind == "reused pid":
        # the parent process is alive, but started long before this claim says
        _claim(cache, key, f"{host}:{os.getppid()}:{time.time() - 5.0!r}:w")
    else:
        path = cache._claim_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
    try:
        start = time.monotonic()
        F = est.transform(paths[:1])
        elapsed = time.monotonic() - start
    finally:
        if child is not None:
            child.wait()
    assert elapsed < 10, elapsed
    assert Counting.images == 1
    np.testing.assert_allclose(F, LBPFeatures().fit_transform(paths[:1]))


def test_a_long_wait_for_a_peer_says_so_once(paths, tmp_path, monkeypatch):
    """A live peer's claim: the transform waits for it (here 3 s) and says so,
    once, after the first seconds."""
    import time

    from sklearn_emotion import _claims, _feature_cache
    from sklearn_emotion import config_context

    monkeypatch.setattr(_feature_cache, "_SAY_WAITING_AFTER", 0.5)
    est = Counting(cache_dir=tmp_path / "c").fit(paths)
    cache, k0 = _entry(est, paths[0])
    _, k1 = _entry(est, paths[1])
    me = _claims._owner("a live peer")  # this process: alive, the right start time
    _claim(cache, k0, me)
    _claim(cache, k1, me)
    with config_context(claim_timeout=3):
        start = time.monotonic()
        with pytest.warns(UserWarning, match=r"waiting for 2 feature\(s\) that another process "
                          r"claimed") as rec:
            est.transform(paths[:2])
    assert 2.5 < time.monotonic() - start < 10
    assert sum("waiting for" in str(w.message) for w in rec) == 1

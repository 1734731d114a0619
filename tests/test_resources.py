import hashlib
import http.server
import threading
from functools import partial

import pytest

from sklearn_emotion import ResourceError, get_data_home
from sklearn_emotion.resources import DATA_HOME_ENV, REGISTRY, Resource, fetch


def test_data_home_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path))
    assert get_data_home() == tmp_path.resolve()
    assert get_data_home(tmp_path / "x") == (tmp_path / "x").resolve()


def test_data_home_default_without_env(monkeypatch):
    monkeypatch.delenv(DATA_HOME_ENV, raising=False)
    assert "sklearn-emotion" in str(get_data_home())


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_resource_verifies_in_shared(name, data_home):
    """Every resource is in the data home, verified; one that an installed
    extra carries (``Resource.package``) may be used from there instead.
    Nothing is downloaded or built: the shared data home is read, never
    written (EfficientNet-Lite2's LiteRT port, built on first use elsewhere,
    may be absent)."""
    from sklearn_emotion._backbones import LITE2_TFLITE
    from sklearn_emotion.resources import REGISTRY, ResourceError, installed_copy

    if name == LITE2_TFLITE and not (data_home / name).exists():
        with pytest.raises(ResourceError, match="not found in data home"):
            fetch(name, download=False)
        return
    path = fetch(name, download=False)
    res = REGISTRY[name]
    if res.package is not None and not (data_home.resolve() / name).is_file():
        assert path == installed_copy(res)
    else:
        assert path == data_home.resolve() / name
    assert path.is_file()


def _reg(sha, url=None):
    return {"small/file.txt": Resource(sha, url, "test file")}


def test_wrong_hash_is_refused(tmp_path):
    (tmp_path / "small").mkdir()
    (tmp_path / "small/file.txt").write_bytes(b"corrupted copy")
    good = hashlib.sha256(b"original").hexdigest()
    with pytest.raises(ResourceError, match="corrupted.*refusing") as exc:
        fetch("small/file.txt", tmp_path, registry=_reg(good))
    assert str(tmp_path / "small/file.txt") in str(exc.value)
    assert good in str(exc.value)


def test_missing_resource_error_names_everything(tmp_path):
    url = "https://example.invalid/file.txt"
    with pytest.raises(ResourceError) as exc:
        fetch("small/file.txt", tmp_path, registry=_reg("0" * 64, url), download=False)
    msg = str(exc.value)
    assert "'small/file.txt'" in msg and str(tmp_path) in msg
    assert str(tmp_path / "small/file.txt") in msg and url in msg and DATA_HOME_ENV in msg


def test_missing_resource_without_url(tmp_path):
    with pytest.raises(ResourceError, match="no direct download; source: test file"):
        fetch("small/file.txt", tmp_path, registry=_reg("0" * 64))


def test_unknown_resource():
    with pytest.raises(ResourceError, match="unknown resource 'nope'"):
        fetch("nope")


def test_failed_download_is_a_resource_error(tmp_path):
    # nothing listens on this port: the download fails fast and is explained
    url = "http://127.0.0.1:9/file.txt"
    with pytest.raises(ResourceError, match="Downloading it from http://127.0.0.1:9/file.txt failed") as info:
        fetch("small/file.txt", tmp_path / "home", registry=_reg("0" * 64, url))
    msg = str(info.value)
    # one paragraph: which file, where it was looked for, how to get it
    assert "\n" not in msg and "SKLEARN_EMOTION_DATA" in msg
    assert str(tmp_path / "home" / "small" / "file.txt") in msg
    # and the failed attempt created nothing
    assert not (tmp_path / "home").exists()


def test_failed_download_error_keeps_the_whole_cause(tmp_path, monkeypatch):
    """The cause is never cut mid-word: a long network error arrives whole."""
    import pooch

    cause = ("HTTPConnectionPool(host='example.invalid', port=80): Max retries exceeded with url: "
             "/file.txt (Caused by NameResolutionError(\"<urllib3.connection.HTTPConnection "
             "object>: Failed to resolve 'example.invalid' ([Errno -2] Name or service not "
             "known)\"))")

    def offline(*args, **kwargs):
        raise ConnectionError(cause)

    monkeypatch.setattr(pooch, "retrieve", offline)
    url = "http://example.invalid/file.txt"
    with pytest.raises(ResourceError) as info:
        fetch("small/file.txt", tmp_path / "home", registry=_reg("0" * 64, url))
    msg = str(info.value)
    assert cause in msg and url in msg and str(tmp_path / "home/small/file.txt") in msg
    assert msg.endswith("(README, 'Data home')")


def test_cli_missing_resource_is_one_paragraph_without_traceback(tmp_path, capsys, monkeypatch):
    from sklearn_emotion.cli import main

    monkeypatch.setenv("SKLEARN_EMOTION_DATA", str(tmp_path / "empty-home"))
    (tmp_path / "empty-home").mkdir()
    rc = main(["reproduce", "--subset", "10", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: resource 'data/emotion6/") and "Traceback" not in err
    assert "SKLEARN_EMOTION_DATA" in err
    assert list((tmp_path / "empty-home").iterdir()) == []


@pytest.fixture
def http_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield served, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_download_from_local_server_is_verified(http_server, tmp_path):
    served, base = http_server
    payload = b"valence,arousal\n5,5\n" * 100
    (served / "file.txt").write_bytes(payload)
    reg = _reg(hashlib.sha256(payload).hexdigest(), f"{base}/file.txt")
    home = tmp_path / "home"
    path = fetch("small/file.txt", home, registry=reg)
    assert path == home.resolve() / "small/file.txt"
    assert path.read_bytes() == payload
    # second call uses the file in place
    assert fetch("small/file.txt", home, registry=reg, download=False) == path


def test_download_with_wrong_hash_is_rejected(http_server, tmp_path):
    served, base = http_server
    (served / "file.txt").write_bytes(b"tampered")
    reg = _reg(hashlib.sha256(b"expected").hexdigest(), f"{base}/file.txt")
    with pytest.raises(ResourceError, match="failed"):
        fetch("small/file.txt", tmp_path / "home", registry=reg)
    assert not (tmp_path / "home/small/file.txt").exists()


def test_relative_data_home_is_resolved_once(monkeypatch, tmp_path):
    """A relative $SKLEARN_EMOTION_DATA names the folder it named when first
    read; changing folder afterwards does not move the data home."""
    (tmp_path / "home").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "work/elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setenv(DATA_HOME_ENV, "../home")
    first = get_data_home()
    assert first == (tmp_path / "home").resolve()
    monkeypatch.chdir(tmp_path / "work/elsewhere")
    assert get_data_home() == first
    # written back, so worker processes started from any folder inherit it
    import os

    assert os.environ[DATA_HOME_ENV] == str(first)


def test_relative_data_home_survives_chdir_in_a_fresh_process(tmp_path, data_home):
    """The README's form, SKLEARN_EMOTION_DATA=../shared, in a new process
    that changes folder after importing the package: resources still verify."""
    import os
    import subprocess
    import sys

    work = tmp_path / "clone"
    work.mkdir()
    rel = os.path.relpath(data_home.resolve(), work)
    code = ("import os, sklearn_emotion\n"
            "from sklearn_emotion.resources import fetch\n"
            "os.chdir('/')\n"
            "print(fetch('color/w2c.npy'))\n")
    env = {**os.environ, DATA_HOME_ENV: rel}
    out = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(data_home.resolve() / "color/w2c.npy")

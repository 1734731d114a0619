"""EfficientNet-Lite2: the whitelisting weights reader and the Keras port
against the PyTorch reference's logits."""

import io
import os
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from sklearn_emotion._efficientnet import (
    LITE2_SIDE,
    TorchFileError,
    _MAGIC,
    read_torch_legacy,
)
from sklearn_emotion.resources import REGISTRY, fetch, installed_copy

HERE = Path(__file__).parent
REFERENCE = HERE / "data" / "efficientnet_lite2_reference.npz"
NAME = "models/efficientnet-lite2-9656183e.pth"


def _weights():
    try:
        return fetch(NAME, download=False)
    except Exception as exc:  # neither the extra nor the data home has it
        pytest.skip(f"EfficientNet-Lite2 weights unavailable (install the [efficientnet] extra): "
                    f"{exc}")


def _header():
    buf = io.BytesIO()
    for obj in (_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                               "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(obj, buf, protocol=2)
    return buf


def test_reader_refuses_a_global_outside_the_whitelist(tmp_path):
    planted = tmp_path / "planted"
    buf = _header()
    # what a malicious file would hold: posix.system("touch <planted>")
    cmd = f"touch {planted}".encode()
    buf.write(b"\x80\x02cposix\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd + b"\x85R.")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(buf.getvalue())
    with pytest.raises(TorchFileError, match=r"refuses global posix\.system"):
        read_torch_legacy(bad)
    assert not planted.exists()


def test_reader_refuses_a_builtin_reached_through_reduce(tmp_path):
    buf = _header()
    buf.write(b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1q\x00\x85R.")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(buf.getvalue())
    with pytest.raises(TorchFileError, match=r"builtins\.eval"):
        read_torch_legacy(bad)


def test_reader_refuses_a_file_that_is_not_a_legacy_file(tmp_path):
    bad = tmp_path / "zip.pth"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    with pytest.raises(TorchFileError, match="not a PyTorch legacy file"):
        read_torch_legacy(bad)


def test_reader_refuses_a_truncated_file(tmp_path):
    src = _weights()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(TorchFileError, match="truncated"):
        read_torch_legacy(cut)


def test_reader_reads_the_state_dict():
    state = read_torch_legacy(_weights())
    assert len(state) == 386
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    assert all(np.isfinite(v).all() for v in state.values())


def test_weights_are_the_registered_file():
    """Whichever copy is found, it is the registered file; the data home's copy
    (``data fetch --all`` puts one there) comes first, then the extra's."""
    import hashlib
    import os

    from sklearn_emotion.resources import get_data_home

    res = REGISTRY[NAME]
    path = _weights()
    assert path.stat().st_size == res.size
    assert hashlib.sha256(path.read_bytes()).hexdigest() == res.sha256
    in_home = get_data_home() / NAME
    expected = in_home if in_home.is_file() else installed_copy(res)
    assert os.path.samefile(path, expected)


def _extra_copy():
    src = installed_copy(REGISTRY[NAME])
    if src is None:
        pytest.skip("the [efficientnet] extra is not installed")
    return src


@pytest.mark.parametrize("layout", ["data home only", "extra only", "both"])
def test_weights_found_in_every_data_home_layout(layout, tmp_path, monkeypatch):
    """The three data homes a user can have: built by ``data fetch --all``
    without the extra, the extra installed and the data home without the file,
    and both (``data fetch --all`` first, the extra installed afterwards)."""
    import hashlib

    from sklearn_emotion import resources

    src = _extra_copy()
    home = tmp_path / "home"
    if layout != "extra only":
        (home / NAME).parent.mkdir(parents=True)
        shutil.copyfile(src, home / NAME)
    if layout == "data home only":
        monkeypatch.setattr(resources, "installed_copy", lambda res: None)
    home.mkdir(exist_ok=True)
    path = fetch(NAME, home, download=False)
    assert path == (src if layout == "extra only" else home / NAME)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == REGISTRY[NAME].sha256
    rows = {r["name"]: r for r in resources.status(home)}
    assert rows[NAME]["status"] == "present"


def test_port_matches_reference_logits():
    from sklearn_emotion._efficientnet import build_efficientnet_lite2, load_state

    from benchmarks.reference.efficientnet_lite2_logits import inputs
    ref = np.load(REFERENCE)
    x, names = inputs()
    assert list(ref["names"]) == names
    model = build_efficientnet_lite2(load_state(_weights()))
    assert model.input_shape[1:3] == (LITE2_SIDE, LITE2_SIDE)
    logits = model.predict(x, verbose=0)
    np.testing.assert_allclose(logits, ref["logits"], atol=1e-3, rtol=0)
    # the classes a person would name: Egyptian cat, espresso
    assert logits[1].argmax() == 285 and logits[2].argmax() == 967


def test_wrong_weights_file_is_refused():
    from sklearn_emotion._backbones import build_backbone

    with pytest.raises(ValueError, match="efficientnet_lite2 takes weights"):
        build_backbone("efficientnet_lite2", "models/mobilenet_v2_1.0_224_imagenet.weights.h5",
                       include_top=True)


def test_pooled_features_default_layers():
    from skimage import data

    from sklearn_emotion import PooledLayerFeatures

    _weights()
    f = PooledLayerFeatures(backbone="efficientnet_lite2", flip=False).fit([data.astronaut()])
    X = f.transform([data.astronaut(), data.chelsea()])
    names = f.get_feature_names_out()
    assert X.shape == (2, len(names))
    assert names[0] == "block0_out_mean_0" and names[-1] == "head_relu_std_1279"
    assert np.isfinite(X).all() and not np.allclose(X[0], X[1])


def test_two_backbones_give_the_two_feature_sets_side_by_side(tmp_path):
    """A tuple of backbones: each image decoded once (and resized in the
    decoding threads), features equal to each network's computed apart."""
    from skimage import data

    from sklearn_emotion import PooledLayerFeatures

    _weights()
    paths = []
    for k, name in enumerate(("astronaut", "chelsea", "coffee")):
        from PIL import Image

        p = tmp_path / f"{k}.jpg"
        Image.fromarray(getattr(data, name)()).save(p, quality=90)
        paths.append(str(p))
    tfl = "models/mobilenet_v2_1.0_224_quant.tflite"
    a = PooledLayerFeatures(backbone=tfl).fit_transform(paths)
    b = PooledLayerFeatures(backbone="efficientnet_lite2").fit_transform(paths)
    both = PooledLayerFeatures(backbone=(tfl, "efficientnet_lite2"), n_jobs=2, batch_size=2)
    # batches of 2 + 1 here, of 3 apart: the numbers do not depend on it
    np.testing.assert_array_equal(both.fit_transform(paths), np.hstack([a, b]))
    assert both.n_features_out_ == a.shape[1] + b.shape[1]
    with pytest.raises(ValueError, match="one sequence of layer names per backbone"):
        PooledLayerFeatures(backbone=(tfl, "efficientnet_lite2"),
                            layers=["block0_out"]).fit([])


def test_litert_port_equals_the_keras_graph_layer_for_layer(emotion6_paths):
    """Issue 39: each of the eight layers v2 pools, from the LiteRT port and
    from the Keras graph, on 12 Emotion6 photos.  Measured: pooled features
    differ by at most 3e-5 (values up to 40), raw activations by 6e-4
    (values up to 66): float32 rounding of another kernel order."""
    from sklearn_emotion import PooledLayerFeatures, config_context

    _weights()
    paths = emotion6_paths[::165][:12]
    feats = {}
    for runtime in ("keras", "litert"):
        with config_context(runtime=runtime):
            f = PooledLayerFeatures(backbone="efficientnet_lite2", flip=False).fit(paths)
            assert [r["kind"] for r in f.runner()] == (
                ["named"] if runtime == "keras" else ["tflite_raw"])
            feats[runtime] = f.transform(paths)
    a, b = feats["keras"], feats["litert"]
    assert a.shape == b.shape == (12, 2 * 2136)
    assert np.abs(a - b).max() < 2e-4
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)
    assert np.abs(a - b).max() > 0  # two computations, not one twice


def test_litert_port_is_built_on_first_use_and_checked(tmp_path, monkeypatch):
    """Without a copy in the data home, the port is converted once into the
    derived folder.  Its bytes are the registered ones only where the
    converter and the CPU are those that registered them; elsewhere it is
    accepted by its numbers (its layers against the Keras port's on probe
    images), and that check is remembered under its sha256.  A file that is
    not the port is refused, and the features come from the Keras graph,
    with a warning that says why."""
    import hashlib

    from sklearn_emotion import PooledLayerFeatures, config_context
    from sklearn_emotion._backbones import LITE2_TFLITE, LITE2_WEIGHTS, lite2_tflite
    from sklearn_emotion.resources import (REGISTRY, ResourceError, _CHECKED, check_file,
                                           derived_home)

    _weights()
    mobilenet = fetch("models/mobilenet_v2_1.0_224_quant.tflite", download=False)
    monkeypatch.setenv("SKLEARN_EMOTION_DERIVED", str(tmp_path / "derived"))
    # a data home without the port (the weights come from the extra or the
    # shared data home's copy, linked, never copied)
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    shared = Path(os.environ["SKLEARN_EMOTION_DATA"]) / "models" / Path(LITE2_WEIGHTS).name
    if shared.is_file():
        (home / "models" / shared.name).symlink_to(shared)
    monkeypatch.setenv("SKLEARN_EMOTION_DATA", str(home))
    assert derived_home() == tmp_path / "derived"
    path = lite2_tflite()
    assert path == tmp_path / "derived" / LITE2_TFLITE
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    ok, how = check_file(REGISTRY[LITE2_TFLITE], path)
    assert ok and how == ("sha256" if digest == REGISTRY[LITE2_TFLITE].sha256 else "numbers")
    stamp = path.stat().st_mtime_ns
    assert lite2_tflite() == path and path.stat().st_mtime_ns == stamp  # not rebuilt
    path.write_bytes(b"damaged")
    assert lite2_tflite() == path and path.stat().st_size == REGISTRY[LITE2_TFLITE].size

    # bytes other than the registered ones (another converter or CPU): the
    # numbers decide, and a passed check is kept under the file's sha256
    from dataclasses import replace

    _CHECKED.clear()
    other = replace(REGISTRY[LITE2_TFLITE], sha256="0" * 64)
    assert check_file(other, path) == (True, "numbers")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    record = tmp_path / "derived" / "checked" / f"lite2_port_numbers-{digest}.json"
    assert record.is_file()

    # a file that is not the port: refused (here MobileNetV2's model)
    wrong = home / LITE2_TFLITE
    shutil.copyfile(mobilenet, wrong)
    with pytest.raises(ResourceError, match="not a LiteRT model of EfficientNet-Lite2"):
        lite2_tflite()
    with config_context(runtime="litert"), pytest.warns(
            UserWarning, match="runs through Keras.*not a LiteRT model"):
        f = PooledLayerFeatures(backbone="efficientnet_lite2").fit([])
        assert [r["kind"] for r in f.runner()] == ["named"]
    assert not list((tmp_path / "derived" / "checked").glob(
        f"*-{hashlib.sha256(wrong.read_bytes()).hexdigest()}.json"))  # nothing refused is kept


def test_the_runtime_is_part_of_the_cache_key(tmp_path):
    from sklearn_emotion import PooledLayerFeatures, config_context

    _weights()
    keys = {}
    for runtime in ("keras", "litert"):
        with config_context(runtime=runtime):
            f = PooledLayerFeatures(backbone="efficientnet_lite2", cache_dir=tmp_path).fit([])
            keys[runtime] = f._get_cache(owner="t").dir
    assert keys["keras"] != keys["litert"]
    with pytest.raises(ValueError, match="runtime must be one of"):
        with config_context(runtime="gpu"):
            pass


def test_auto_runtime_is_keras_on_an_nvidia_gpu_and_litert_otherwise(monkeypatch):
    from sklearn_emotion import _backbones, config_context

    for gpu, want in ((True, "keras"), (False, "litert")):
        monkeypatch.setattr(_backbones, "_nvidia_gpu", lambda gpu=gpu: gpu)
        assert _backbones.lite2_runtime() == want
        with config_context(runtime="litert"):
            assert _backbones.lite2_runtime() == "litert"
        with config_context(runtime="keras"):
            assert _backbones.lite2_runtime() == "keras"


def test_the_ports_difference_is_the_largest_relative_one_by_hand():
    """``lite2_difference_in_this_process`` against the same quantity worked
    out here: each layer of the port (LiteRT's API, by hand) and of the
    Keras graph on the probe images, the largest absolute difference over
    the layer's largest magnitude, the largest over layers."""
    from ai_edge_litert.interpreter import Interpreter

    from sklearn_emotion._backbones import LITE2_WEIGHTS, lite2_tflite
    from sklearn_emotion._convert import (LITE2_PORT_TOLERANCE,
                                          lite2_difference_in_this_process,
                                          lite2_probe_images)
    from sklearn_emotion._efficientnet import (LITE2_LAYERS, build_efficientnet_lite2,
                                                load_state)
    from sklearn_emotion._quiet import import_keras

    keras = import_keras()
    _weights()
    port, pth = lite2_tflite(), fetch(LITE2_WEIGHTS, download=False)
    probe = lite2_probe_images()
    assert len(probe) == 4 and all(p.shape == (260, 260, 3) for p in probe)
    model = build_efficientnet_lite2(load_state(pth))
    it = Interpreter(model_path=str(port), num_threads=2)
    runner = it.get_signature_runner()
    worst = 0.0
    got = [runner(**{next(iter(it.get_signature_list()["serving_default"]["inputs"])):
                     x[None]}) for x in probe]
    for k, name in enumerate(LITE2_LAYERS):
        tap = keras.Model(model.input, model.get_layer(name).output)
        want = np.concatenate([np.asarray(tap(x[None], training=False)) for x in probe])
        mine = np.concatenate([g[f"output_{k}"] for g in got])
        worst = max(worst, float(np.abs(mine - want).max() / np.abs(want).max()))
    diff = lite2_difference_in_this_process(port, pth)
    assert diff == pytest.approx(worst, rel=0.05, abs=1e-7)
    assert 0 < diff <= LITE2_PORT_TOLERANCE


@pytest.mark.parametrize("diff, ok", [(5e-5, True), (1e-4, True), (2e-4, False),
                                      (float("inf"), False)])
def test_the_port_check_accepts_up_to_its_tolerance(diff, ok, monkeypatch):
    from sklearn_emotion import _convert

    monkeypatch.setattr(_convert, "lite2_port_difference", lambda path, source: diff)
    got, how = _convert.check_lite2_port("port.tflite", "weights.pth")
    assert got is ok
    assert ("not a LiteRT model" in how) if diff == float("inf") else (f"{diff:.2g}" in how)

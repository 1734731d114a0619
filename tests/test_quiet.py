"""Python is as quiet as the command line: no native TensorFlow, absl or
LiteRT line reaches standard error unless asked for.

Each check runs in a fresh process (TensorFlow prints its start-up notices
once per process) and reads that process's file descriptor 2 whole.
"""

import os
import subprocess
import sys

import pytest

from sklearn_emotion._quiet import NOISE

SCRIPT = r"""
import sys
from skimage import data
import sklearn_emotion
from sklearn_emotion import load_pretrained, ObjectFeatures, SceneFeatures
print(load_pretrained().predict([data.astronaut()]).shape)
keras_obj = ObjectFeatures(backbone="mobilenet_v2",
                           weights="models/mobilenet_v2_1.0_224_imagenet.weights.h5")
print(keras_obj.fit_transform([data.coffee()]).shape)
print(SceneFeatures().fit_transform([data.chelsea()]).shape)
from sklearn_emotion.reproduce import run_reproduction
run_reproduction(sys.argv[1], subset=40, folds=2, tables=("4",), cnn=False, cache_dir=sys.argv[2],
                 ffnn_max_iter=1, ffnn_hidden=(8,), verbose=False, log=lambda *a: None)
print("python's own line", file=sys.stderr)
"""


def _run(tmp_path, **env):
    env = {**os.environ, **env}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the package's default, not the test session's
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "out"),
                           str(tmp_path / "cache")], capture_output=True, text=True,
                          timeout=900, env=env)


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory, data_home):
    return _run(tmp_path_factory.mktemp("quiet"))


def test_python_api_writes_no_native_log_line(quiet_run):
    assert quiet_run.returncode == 0, quiet_run.stderr
    assert quiet_run.stdout.splitlines()[:3] == ["(1, 2)", "(1, 1000)", "(1, 151)"]
    lines = quiet_run.stderr.splitlines()
    assert [ln for ln in lines if NOISE.match(ln)] == []
    for word in ("cuInit", "XNNPACK", "absl", "oneDNN", "cuda"):
        assert word not in quiet_run.stderr, quiet_run.stderr
    # Python's own writes to standard error still get through
    assert "python's own line" in lines


def test_verbose_environment_variable_lets_the_native_lines_through(data_home):
    env = {**os.environ, "SKLEARN_EMOTION_VERBOSE": "1"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    code = ("from skimage import data\nfrom sklearn_emotion import load_pretrained\n"
            "load_pretrained().predict([data.astronaut()])\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env=env)
    assert p.returncode == 0, p.stderr
    assert "XNNPACK" in p.stderr

"""Before and after: the shipped models give today, on seventeen test images,
what they gave at 29414ff, the commit before the affect model, the store and
the command line were restructured (issue 37).

``tests/data/outputs_before.*`` were written by ``benchmarks/record_outputs.py``
run at that commit (its docstring has the command): the old code's answers,
not today's.  The reproduction's quick look is checked the same way in
``tests/test_reproduce.py``.
"""

import json
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data"
RECORD = json.loads((DATA / "outputs_before.json").read_text(encoding="utf-8"))
BEFORE = dict(np.load(DATA / "outputs_before.npz"))


@pytest.fixture(scope="module")
def now(data_home):
    """Today's outputs with the networks of 29414ff: EfficientNet-Lite2
    through Keras (LiteRT's port is checked below, within tolerance)."""
    from benchmarks.record_outputs import model_outputs
    from sklearn_emotion import config_context

    with config_context(runtime="keras"):
        arrays, names = model_outputs()
    return arrays, names


@pytest.fixture(scope="module")
def through_litert(data_home):
    from benchmarks.record_outputs import model_outputs
    from sklearn_emotion import config_context

    with config_context(runtime="litert"):
        arrays, _ = model_outputs()
    return arrays


def test_the_record_is_of_the_old_commit_and_these_images():
    assert RECORD["commit"] == "29414ff"
    assert len(RECORD["images"]) == 12 and len(BEFORE["v2_predict"]) == 17


def test_the_same_images_are_scored(now):
    _, names = now
    assert names == RECORD["images"]


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_every_output_is_what_the_old_code_gave(now, name):
    arrays, _ = now
    assert set(arrays) == set(BEFORE)
    got, want = arrays[name], BEFORE[name]
    assert got.shape == want.shape
    if want.dtype == bool:
        np.testing.assert_array_equal(got, want)  # the unusual flags, exactly
    elif name.startswith("v2_"):
        # the arithmetic did not change, but TensorFlow's CPU kernels for the
        # Keras graph differ by CPU in the last bits of float32: bit for bit
        # on the recording machine's CPU, within 4.4e-6 on another (measured)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    else:
        # v1 (the uint8 TFLite network, then numpy): equal up to the last
        # bits of float64 on any CPU
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", sorted(k for k in BEFORE if k.startswith("v2_")))
def test_v2_through_litert_stays_within_0_01_of_the_keras_graph(through_litert, name):
    """v2's second backbone through its LiteRT port (issue 39): every
    prediction, interval, emotion and score within 0.01 of the old code's,
    every flag the same.  Measured: at most 3.3e-5 (the OOD score)."""
    got, want = through_litert[name], BEFORE[name]
    if want.dtype == bool:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=0.01)
        assert np.abs(got - want).max() > 0  # LiteRT ran, not the Keras graph again

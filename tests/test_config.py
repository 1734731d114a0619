"""Package settings as scoped state: config_context, and its travel to workers."""

import threading
import time

import joblib
import numpy as np
import pytest

from sklearn_emotion import (ColorFeatures, ImageBatchError, PooledLayerFeatures, config_context,
                             get_config, get_image_limits, set_config, set_image_limits)
from sklearn_emotion.datasets import load_emotion6


@pytest.fixture(scope="module")
def photos():
    return [str(p) for p in load_emotion6().filenames[5:11]]


def test_context_sets_and_restores_even_on_error():
    before = get_config()
    with config_context(max_pixels=5000, claim_timeout=2):
        assert get_config() == {**before, "max_pixels": 5000, "claim_timeout": 2.0}
        assert get_image_limits()["max_pixels"] == 5000
        with config_context(working_pixels=700):
            assert get_config()["working_pixels"] == 700 and get_config()["max_pixels"] == 5000
        assert get_config()["working_pixels"] == before["working_pixels"]
    assert get_config() == before
    with pytest.raises(RuntimeError), config_context(max_pixels=10):
        raise RuntimeError
    assert get_config() == before
    get_config()["max_pixels"] = 1  # a copy
    assert get_config() == before


@pytest.mark.parametrize("kwargs, match", [
    ({"max_pixels": 0}, "max_pixels must be a positive integer"),
    ({"working_pixels": 2.5}, "working_pixels must be a positive integer"),
    ({"max_pixels": True}, "max_pixels must be a positive integer"),
    ({"claim_timeout": -1}, "claim_timeout must be a positive number of seconds"),
    ({"claim_timeout": float("inf")}, "claim_timeout must be a positive number of seconds"),
])
def test_bad_settings_are_refused_and_change_nothing(kwargs, match):
    before = get_config()
    with pytest.raises(ValueError, match=match):
        set_config(**kwargs)
    with pytest.raises(ValueError, match=match), config_context(**kwargs):
        pass
    assert get_config() == before


def test_settings_are_per_thread():
    seen = {}

    def other():
        seen["other"] = get_config()["max_pixels"]

    with config_context(max_pixels=1234):
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen["other"] == get_config()["max_pixels"] != 1234


def test_set_image_limits_is_set_config():
    before = get_image_limits()
    previous = set_image_limits(max_pixels=4321)
    try:
        assert previous == before and get_config()["max_pixels"] == 4321
    finally:
        set_image_limits(**previous)
    assert get_image_limits() == before


@pytest.mark.parametrize("backend", ["threading", "loky"])
def test_limits_reach_joblib_workers(photos, backend):
    """A limit set in the caller refuses the images inside the workers too
    (each Emotion6 photo has more than 1,000 pixels): every row fails with
    the limit named; outside the block the same call succeeds."""
    est = ColorFeatures(n_jobs=2, batch_size=1).fit(photos)
    with joblib.parallel_config(backend=backend):
        with config_context(max_pixels=1000), pytest.raises(ImageBatchError) as info:
            est.transform(photos)
        assert len(info.value.errors) == len(photos)
        assert all("exceeds the limit of 1,000 pixels" in str(e) for e in info.value.errors.values())
        F = est.transform(photos)
    assert np.isfinite(F).all()


def test_limits_reach_the_decoding_threads_of_a_network(photos):
    """A network's family decodes the next chunks in threads while it runs."""
    est = PooledLayerFeatures(n_jobs=2, batch_size=2).fit(photos)
    with config_context(max_pixels=1000), pytest.raises(ImageBatchError) as info:
        est.transform(photos)
    assert len(info.value.errors) == len(photos)


def test_claim_timeout_bounds_a_wait(tmp_path):
    """A live foreign claim is waited for at most ``claim_timeout`` seconds."""
    from sklearn_emotion._feature_cache import FeatureCache

    holder = FeatureCache(tmp_path, "ns", owner="holder")
    waiter = FeatureCache(tmp_path, "ns", owner="waiter")
    assert holder.claim("ab12")
    with config_context(claim_timeout=0.5):
        assert not waiter.claim("ab12")
        t0 = time.monotonic()
        assert waiter.wait("ab12") is None
    assert 0.4 < time.monotonic() - t0 < 5


def test_edge_values_of_the_settings():
    before = get_config()
    with pytest.raises(ValueError, match="claim_timeout must be a positive number"):
        set_config(claim_timeout=0)
    with config_context(max_pixels=1, working_pixels=1, claim_timeout=0.001):
        assert get_config() == {"max_pixels": 1, "working_pixels": 1, "claim_timeout": 0.001,
                                "runtime": get_config()["runtime"]}
    assert get_config() == before


def test_raising_max_pixels_raises_pillows_own_guard_and_only_then():
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    try:
        with config_context(working_pixels=123):  # no max_pixels: Pillow untouched
            assert Image.MAX_IMAGE_PIXELS == saved
        with config_context(max_pixels=4 * saved):
            assert Image.MAX_IMAGE_PIXELS == 4 * saved
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def test_a_wrapped_task_runs_with_its_settings_and_restores_the_callers():
    """``with_config`` applies the captured settings for the call only: the
    calling thread's own settings are back afterwards, and a thread that had
    none is left with none (it starts from the defaults again)."""
    from sklearn_emotion._config import with_config

    default = get_config()["max_pixels"]
    task = with_config(lambda: get_config()["max_pixels"])
    with config_context(max_pixels=777):
        assert task() == default
        assert get_config()["max_pixels"] == 777
        seen = {}

        def fresh_thread():
            seen["during"] = with_config(lambda: get_config()["max_pixels"])()
            seen["after"] = get_config()["max_pixels"]

        t = threading.Thread(target=fresh_thread)
        t.start()
        t.join()
    assert seen == {"during": default, "after": default}
    assert task.__name__ == "<lambda>"

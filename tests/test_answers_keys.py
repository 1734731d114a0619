"""Every parameter that can change an image transformer's features changes its cache key.

A property of every image transformer the package defines, discovered: for
each constructor parameter, a second value (listed here, so that a new
parameter fails until someone says what it does) must change the feature
cache's namespace, unless the parameter is declared as one that never
changes the numbers; that declaration is checked here too, by computing
features with two values of each declared parameter.
"""

import numpy as np
import pytest

from sklearn_emotion.features._base import ImageTransformer

from ._instances import all_estimators

#: Parameters that decide where or how the work runs, never the numbers.
NOT_IN_KEY = {"cache_dir", "memory", "batch_size", "n_jobs", "verbose", "on_error",
              "num_threads", "data_home"}

#: A second value of every parameter that may change the features.
OTHER_VALUE = {
    "hsv_bins": (4, 3, 3),
    "names_mode": "hard",
    "max_side": 320,
    "min_neighbor_number": 3,
    "min_size": 32,
    "scale_factor": 1.3,
    "skin_threshold": 0.5,
    "image_size": 128,
    "n_blocks": 2,
    "orientations_per_scale": (4, 4, 4, 4),
    "prefilter_fc": 3,
    "P": 16,
    "R": 2,
    "backbone": "mobilenet_v2",
    "weights": None,
    "lexicon": "warriner",
    "labels": ["a", "b"],
    "output": "logits",
    "flip": False,
    "layers": ("block_1_expand",),
    "stats": ("mean",),
    "include_others": False,
    "mode": "soft",
    "model": "models/another_scene_model.tflite",
}

IMAGE_TRANSFORMERS = [c for c in all_estimators() if issubclass(c, ImageTransformer)]


def _namespace(est, tmp_path):
    return est.set_params(cache_dir=str(tmp_path))._get_cache().dir.name


@pytest.mark.parametrize("cls", IMAGE_TRANSFORMERS, ids=lambda c: c.__name__)
def test_every_parameter_that_changes_features_changes_the_key(cls, tmp_path):
    base = cls()
    key = _namespace(base, tmp_path)
    assert key == _namespace(cls(), tmp_path)  # deterministic
    for name, value in cls().get_params(deep=False).items():
        if name in NOT_IN_KEY:
            continue
        assert name in OTHER_VALUE, f"{cls.__name__}.{name}: say what a second value is"
        other = OTHER_VALUE[name]
        if repr(other) == repr(value):
            other = "something else"
        changed = _namespace(cls(**{name: other}), tmp_path)
        assert changed != key, f"{cls.__name__}(…, {name}={other!r}) reads {name}={value!r}'s cache"
    # what the family declares as never changing the numbers is what this file allows
    assert set(cls._not_cache_params) <= NOT_IN_KEY, cls._not_cache_params
    for name in NOT_IN_KEY & set(cls().get_params(deep=False)):
        assert name in cls._not_cache_params, f"{cls.__name__}.{name} is keyed but changes nothing"


def test_the_working_resolution_enters_the_key(tmp_path):
    from sklearn_emotion import ColorFeatures, config_context

    key = _namespace(ColorFeatures(), tmp_path)
    with config_context(working_pixels=100_000):
        assert _namespace(ColorFeatures(), tmp_path) != key
    assert _namespace(ColorFeatures(), tmp_path) == key


@pytest.mark.parametrize("cls_name", ["ColorFeatures", "LBPFeatures", "GISTFeatures"])
def test_declared_parameters_do_not_change_the_features(cls_name, tmp_path):
    """The declaration checked on the families that run without a network:
    batch size, processes, cache folder and error policy leave every value
    as it is."""
    from skimage import data

    import sklearn_emotion

    cls = getattr(sklearn_emotion, cls_name)
    extra = {"image_size": 64, "n_blocks": 2} if cls_name == "GISTFeatures" else {}
    images = [data.astronaut(), data.coffee(), data.chelsea()]
    ref = cls(**extra).fit_transform(images)
    for params in ({"batch_size": 1}, {"n_jobs": 2}, {"cache_dir": str(tmp_path)},
                   {"on_error": "nan"}, {"verbose": True}):
        np.testing.assert_array_equal(cls(**extra, **params).fit_transform(images), ref,
                                      err_msg=str(params))

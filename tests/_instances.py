"""Small, fast, seeded settings per estimator, in one place (as imbalanced-learn).

Every public estimator of the package is discovered by :func:`all_estimators`;
an estimator without an entry here is checked with its defaults.
"""

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge

import sklearn_emotion
from sklearn_emotion.features._base import ImageTransformer

# fast settings for the slow defaults
INSTANCE_PARAMS = {
    "GISTFeatures": dict(image_size=32, orientations_per_scale=(4, 4), n_blocks=2),
    "FFNNRegressor": dict(hidden_layer_sizes=(16,), batch_size=32, max_iter=20,
                          learning_rate_init=1e-2, solver="adam", random_state=0,
                          early_stopping=False),
    "ObjectFeatures": dict(backbone="models/mobilenet_v2_1.0_224_quant.tflite", batch_size=2),
    "CNNRegressor": dict(backbone="mobilenet_v2", max_iter=1, batch_size=4,
                         weights="models/mobilenet_v2_1.0_224_imagenet_notop.weights.h5"),
    "SceneFeatures": dict(batch_size=2),
    "ObjectEmotionFeatures": dict(backbone="models/mobilenet_v2_1.0_224_quant.tflite"),
    "PooledLayerFeatures": dict(batch_size=2),
    "AffectModel": dict(cv=2),
    "AffectHead": dict(cv=2, adapt_components=4),
    "SkipNaNRows": dict(regressor=Ridge()),
}

# checks that cannot apply, with the reason; applied by test_common
EXPECTED_FAILED_CHECKS = {
    # scikit-learn lists the same expected failure for SVR itself: libsvm's
    # per-sample C scaling is not equivalent to repeating samples
    "PerTargetSVR": {
        f"check_sample_weight_equivalence_on_{kind}_data":
        "libsvm's sample weights are not repetition weights (as for sklearn's SVR)"
        for kind in ("dense", "sparse")},
}


def all_estimators():
    """Every public, concrete estimator class defined in sklearn_emotion."""
    found = {}
    for mod in pkgutil.walk_packages(sklearn_emotion.__path__, "sklearn_emotion."):
        if mod.name.endswith(("__main__", ".cli")):
            continue
        module = importlib.import_module(mod.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseEstimator)
                and obj.__module__.startswith("sklearn_emotion")
                and not name.startswith("_")
                and obj is not ImageTransformer
                and not inspect.isabstract(obj)
            ):
                found[name] = obj
    return [found[k] for k in sorted(found)]


def make_instance(cls):
    return cls(**INSTANCE_PARAMS.get(cls.__name__, {}))


def is_image_estimator(cls):
    return issubclass(cls, ImageTransformer) or getattr(cls, "_takes_images", False)


#: Estimators whose y is exactly (n, 2) valence and arousal: scikit-learn's
#: data checks feed 1-D or (n, 1) targets, so they run the data-free checks
#: here and their data contract in their own tests (test_affect_head.py).
TWO_TARGET = {"AffectHead"}

"""sklearn-emotion: predict the valence and arousal an image evokes.

A scikit-learn compatible reproduction of Kim et al., "Building Emotional
Machines: Recognizing Image Emotions through Deep Neural Networks"
(IEEE TMM 2018).
"""

from typing import TYPE_CHECKING

# Names are imported on first use (PEP 562), as scikit-image and SciPy do:
# ``import sklearn_emotion`` and the command line's parser and ``--version``
# need neither scikit-learn nor TensorFlow, so they start in a fraction of a
# second; ``from sklearn_emotion import ColorFeatures`` works as before.
_LAZY = {
    "datasets": None,
    "ImageLoadError": "._image", "load_image": "._image", "set_image_limits": "._image",
    "get_image_limits": "._image",
    "config_context": "._config", "get_config": "._config", "set_config": "._config",
    "ColorFeatures": ".features", "FaceExpressionFeatures": ".features",
    "ObjectEmotionFeatures": ".features", "GISTFeatures": ".features",
    "ImageBatchError": ".features", "LBPFeatures": ".features", "ObjectFeatures": ".features",
    "PooledLayerFeatures": ".features", "SceneFeatures": ".features",
    "CNNRegressor": ".models", "FFNNRegressor": ".models",
    "ImagePredictions": "._predict", "predict_images": "._predict",
    "make_paper_pipeline": ".pipeline",
    "AffectHead": ".pretrained", "AffectModel": ".pretrained", "load_pretrained": ".pretrained",
    "ResourceError": ".resources", "get_data_home": ".resources",
}


def __getattr__(name):
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _LAZY[name] is None:  # a subpackage
        value = importlib.import_module(f".{name}", __name__)
    else:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from . import datasets
    from ._config import config_context, get_config, set_config
    from ._image import ImageLoadError, get_image_limits, load_image, set_image_limits
    from ._predict import ImagePredictions, predict_images
    from .features import (
        ColorFeatures,
        FaceExpressionFeatures,
        GISTFeatures,
        ImageBatchError,
        LBPFeatures,
        ObjectEmotionFeatures,
        ObjectFeatures,
        PooledLayerFeatures,
        SceneFeatures,
    )
    from .models import CNNRegressor, FFNNRegressor
    from .pipeline import make_paper_pipeline
    from .pretrained import AffectHead, AffectModel, load_pretrained
    from .resources import ResourceError, get_data_home

__version__ = "0.1.0"

# A relative $SKLEARN_EMOTION_DATA names a folder relative to where the
# program started: resolve it now, once, so that a later os.chdir (or a
# worker process started from elsewhere) keeps the same data home.
from .resources import resolve_env_data_home as _resolve_env_data_home  # noqa: E402

_resolve_env_data_home()

__all__ = [
    "AffectHead",
    "AffectModel",
    "CNNRegressor",
    "ColorFeatures",
    "FaceExpressionFeatures",
    "ObjectEmotionFeatures",
    "FFNNRegressor",
    "GISTFeatures",
    "ImageBatchError",
    "ImageLoadError",
    "ImagePredictions",
    "LBPFeatures",
    "ObjectFeatures",
    "PooledLayerFeatures",
    "SceneFeatures",
    "ResourceError",
    "__version__",
    "config_context",
    "datasets",
    "get_config",
    "get_data_home",
    "get_image_limits",
    "make_paper_pipeline",
    "predict_images",
    "set_config",
    "set_image_limits",
    "load_image",
    "load_pretrained",
]

"""sklearn-emotion: predict the valence and arousal an image evokes.

A scikit-learn compatible reproduction of Kim et al., "Building Emotional
Machines: Recognizing Image Emotions through Deep Neural Networks"
(IEEE TMM 2018).
"""

from . import datasets
from ._image import ImageLoadError, load_image, set_image_limits
from .features import (
    ColorFeatures,
    FaceExpressionFeatures,
    ObjectEmotionFeatures,
    GISTFeatures,
    ImageBatchError,
    LBPFeatures,
    ObjectFeatures,
    PooledLayerFeatures,
    SceneFeatures,
)
from .models import CNNRegressor, FFNNRegressor
from ._predict import ImagePredictions, predict_images
from .pipeline import make_paper_pipeline
from .pretrained import AffectModel, load_pretrained
from .resources import ResourceError, get_data_home

__version__ = "0.1.0"

__all__ = [
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
    "datasets",
    "get_data_home",
    "make_paper_pipeline",
    "predict_images",
    "set_image_limits",
    "load_image",
    "load_pretrained",
]

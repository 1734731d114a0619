"""Image feature transformers and their pure-function cores."""

from ._base import ImageBatchError, ImageTransformer
from .faces import FaceExpressionFeatures
from .layers import PooledLayerFeatures, pool_feature_maps
from .object_emotion import ObjectEmotionFeatures
from .objects import ObjectFeatures
from .scene import SceneFeatures
from .color import ColorFeatures, color_features, color_names
from .texture import GISTFeatures, LBPFeatures, gist, lbp_histogram

__all__ = [
    "ColorFeatures",
    "FaceExpressionFeatures",
    "ObjectEmotionFeatures",
    "GISTFeatures",
    "ImageBatchError",
    "ImageTransformer",
    "LBPFeatures",
    "ObjectFeatures",
    "PooledLayerFeatures",
    "SceneFeatures",
    "color_features",
    "color_names",
    "gist",
    "lbp_histogram",
    "pool_feature_maps",
]

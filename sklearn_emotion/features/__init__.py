"""Image feature transformers and their pure-function cores."""

from ._base import ImageBatchError, ImageTransformer
from .faces import FaceExpressionFeatures
from .lexicon import ObjectEmotionFeatures
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
    "SceneFeatures",
    "color_features",
    "color_names",
    "gist",
    "lbp_histogram",
]

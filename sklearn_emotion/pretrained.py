"""The pretrained affect model: valence, arousal, intervals and emotions out of the box.

:class:`AffectModel` is a scikit-learn regressor over images: pooled
activations of pretrained CNNs (:class:`~sklearn_emotion.PooledLayerFeatures`),
standardised and clipped, then one ridge regression per target whose penalty
is chosen on the training data alone.  Around it: CV+ intervals (and wider
ones for another picture set's raters), an emotion-distribution head, an
out-of-distribution score, and :meth:`AffectModel.adapt` to a user's raters.

A fitted model is a JSON description plus numeric arrays
(:meth:`AffectModel.save`), loaded by :func:`load_pretrained` without
unpickling anything.  The package ships two, fitted on all of Emotion6 and
OASIS by ``sklearn-emotion train --recipe v2`` (the default: pooled
MobileNetV2 and EfficientNet-Lite2 layers) and ``--recipe v1`` (MobileNetV2
only); see ``docs/model_card.md``.

This module gathers the public names of four internal ones: the head on
feature matrices (``_affect_head``), the image front (``_affect_model``),
the file format, saving and loading with every check (``_affect_io``), and
the recipes and shipped models (``_recipes``).
"""

from ._affect_head import ADAPT_STRATEGIES, TARGET_NAMES, AffectHead  # noqa: F401
from ._affect_io import (  # noqa: F401
    ADAPTED_FORMAT_VERSION,
    FORMAT,
    MAX_ARRAY_BYTES,
    UntrustedPickleError,
    load_model,
    load_pretrained,
    save_model,
)
from ._affect_model import AffectModel  # noqa: F401
from ._recipes import (  # noqa: F401
    CHECK_IMAGES,
    DEFAULT_MODEL,
    PRETRAINED_DIR,
    RECIPES,
    SHIPPED_MODELS,
    check_images,
    fit_recipe,
    recipe_features,
)

__all__ = ["ADAPT_STRATEGIES", "AffectHead", "AffectModel", "CHECK_IMAGES", "DEFAULT_MODEL", "FORMAT",
           "PRETRAINED_DIR", "SHIPPED_MODELS", "UntrustedPickleError", "check_images", "fit_recipe",
           "load_model", "load_pretrained", "recipe_features", "save_model"]

# ADAPTED_FORMAT_VERSION, MAX_ARRAY_BYTES, RECIPES and TARGET_NAMES are
# importable from here too, but not in __all__ (not on the API pages)

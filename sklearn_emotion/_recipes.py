"""The recipes of the shipped affect models, and the models by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["CHECK_IMAGES", "DEFAULT_MODEL", "PRETRAINED_DIR", "RECIPES", "SHIPPED_MODELS",
           "check_images", "fit_recipe", "recipe_features"]

#: The models shipped inside the package, by name (see ``docs/model_card.md``).
SHIPPED_MODELS = {
    # pooled MobileNetV2 TFLite layers + ridge
    "v1": Path(__file__).parent / "pretrained_models" / "v1",
    # pooled MobileNetV2 TFLite and EfficientNet-Lite2 layers + ridge, with
    # intervals for new raters; needs the [efficientnet] extra
    "v2": Path(__file__).parent / "pretrained_models" / "v2",
}

#: The model :func:`load_pretrained` loads by default.
DEFAULT_MODEL = "v2"

#: Folder of the default shipped model.
PRETRAINED_DIR = SHIPPED_MODELS[DEFAULT_MODEL]

#: Fixed images whose predictions are recorded in the shipped model's
#: metadata and checked by the tests (scikit-image's bundled samples).
CHECK_IMAGES = ("astronaut", "chelsea", "coffee")


def check_images():
    """The :data:`CHECK_IMAGES` as RGB arrays (from ``skimage.data``)."""
    from skimage import data

    return [getattr(data, name)() for name in CHECK_IMAGES]


#: The recipes :func:`fit_recipe` knows: one per shipped model, and
#: ``"default"`` for :data:`DEFAULT_MODEL`'s.
RECIPES = ("v1", "v2", "default")

_TFLITE_MOBILENET = "models/mobilenet_v2_1.0_224_quant.tflite"


def recipe_features(recipe="default", **params):
    """The feature transformer of a recipe (``params`` set on it)."""
    from .features import PooledLayerFeatures

    recipe = DEFAULT_MODEL if recipe == "default" else recipe
    if recipe not in SHIPPED_MODELS:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {RECIPES}")
    if recipe == "v1":
        return PooledLayerFeatures(**params)
    return PooledLayerFeatures(backbone=(_TFLITE_MOBILENET, "efficientnet_lite2"), **params)


def fit_recipe(recipe="default", *, data_home=None, cache_dir=None, n_jobs=None, verbose=False,
               memory="deprecated"):
    """Fit a named recipe: the shipped model ``"v2"`` is ``fit_recipe("v2")``.

    Both recipes are :class:`AffectModel` with its default settings, fitted
    on all 1,980 Emotion6 and all 900 OASIS images (targets on 1-9), with
    Emotion6's rated emotion distributions for the emotion head (OASIS has
    none; those rows are left out of that head).  They differ in features:

    - ``"v1"``: pooled layers of MobileNetV2 (TFLite);
    - ``"v2"``: pooled layers of MobileNetV2 (TFLite) and EfficientNet-Lite2
      (Keras, the ``[efficientnet]`` extra), chosen for transfer between
      picture sets (``benchmarks/results/pretrained_v2/selection.md``); its
      intervals for new raters are calibrated on leave-one-set-out residuals
      (``groups`` = the picture set).
    - ``"default"``: the recipe of :data:`DEFAULT_MODEL`.

    Parameters
    ----------
    recipe : {"v1", "v2", "default"}
    data_home : str or path-like, optional
        Where the data sets and the network are found.
    cache_dir : str, path-like or None
        Folder of the per-image feature cache for the training images.
    n_jobs : int, optional
        Decoding threads.
    verbose : bool
        Progress bars.
    memory : deprecated
        The old name of ``cache_dir`` (deprecated in 0.2, removed in 0.4).

    Returns
    -------
    model : AffectModel
        Fitted, with its coefficient arrays rounded as :meth:`AffectModel.save`
        stores them, so it predicts what its saved copy predicts.
    metadata : dict
        Training data, recipe and the check predictions, for ``save``.
    """
    from .datasets import combine_datasets, load_emotion6, load_oasis
    from .datasets._emotion6 import EMOTION_NAMES
    from ._affect_model import AffectModel
    from ._store import renamed_cache_dir

    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {RECIPES}")
    name = DEFAULT_MODEL if recipe == "default" else recipe
    e6 = load_emotion6(data_home)
    oasis = load_oasis(data_home)
    both = combine_datasets(("emotion6", e6), ("oasis", oasis))
    dist = np.vstack([e6.distributions, np.full((len(oasis.filenames), len(EMOTION_NAMES)), np.nan)])
    feats = recipe_features(name, data_home=data_home,
                            cache_dir=renamed_cache_dir(cache_dir, memory), n_jobs=n_jobs,
                            verbose=verbose)
    groups = None
    if name != "v1":
        groups = np.array(["emotion6"] * len(e6.filenames) + ["oasis"] * len(oasis.filenames))
    model = AffectModel(features=feats).fit(list(both.filenames), both.target, distributions=dist,
                                            groups=groups)
    model.head_.as_saved()
    model.features_.set_params(cache_dir=None, verbose=False, n_jobs=None)
    checks = model.predict(check_images())
    metadata = {
        "recipe": name,
        "command": f"sklearn-emotion train --recipe {name} --output DIR",
        "training_data": {"emotion6": len(e6.filenames), "oasis": len(oasis.filenames)},
        "check_images": {f"skimage.data.{n}": [float(v) for v in row]
                         for n, row in zip(CHECK_IMAGES, checks)},
    }
    return model, metadata

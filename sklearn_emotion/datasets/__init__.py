"""Datasets: Emotion6, OASIS, any rated image set, and their combination."""

from ._combine import combine_datasets
from ._emotion6 import load_emotion6
from ._non_photos import NON_PHOTO_KINDS, make_non_photos
from ._oasis import load_oasis
from ._overlap import training_overlap
from ._ratings import load_ratings

__all__ = ["NON_PHOTO_KINDS", "combine_datasets", "load_emotion6", "load_oasis", "load_ratings",
           "make_non_photos", "training_overlap"]

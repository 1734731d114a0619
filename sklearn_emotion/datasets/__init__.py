"""Datasets: Emotion6, OASIS, any rated image set, and their combination."""

from ._combine import combine_datasets
from ._emotion6 import load_emotion6
from ._oasis import load_oasis
from ._ratings import load_ratings

__all__ = ["combine_datasets", "load_emotion6", "load_oasis", "load_ratings"]

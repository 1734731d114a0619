"""Datasets: Emotion6 and any rated image set."""

from ._emotion6 import load_emotion6
from ._ratings import load_ratings

__all__ = ["load_emotion6", "load_ratings"]

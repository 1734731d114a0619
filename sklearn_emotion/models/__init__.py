"""Regressors: the paper's FFNN and the fine-tuned CNN baseline."""

from .cnn import CNNRegressor
from ._nan_rows import SkipNaNRows
from ._per_target import PerTargetSVR
from .ffnn import FFNNRegressor

__all__ = ["CNNRegressor", "FFNNRegressor", "PerTargetSVR", "SkipNaNRows"]

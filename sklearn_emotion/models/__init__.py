"""Regressors: the paper's FFNN and the fine-tuned CNN baseline."""

from .cnn import CNNRegressor
from .ffnn import FFNNRegressor

__all__ = ["CNNRegressor", "FFNNRegressor"]

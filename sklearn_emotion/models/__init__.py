"""Regressors: the paper's FFNN and the fine-tuned CNN baseline."""

from .ffnn import FFNNRegressor

__all__ = ["FFNNRegressor"]

"""PerTargetSVR: the paper's SVR, one model per target, on 1-D or 2-D ``y``."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.svm import SVR
from sklearn.utils.validation import check_is_fitted

__all__ = ["PerTargetSVR"]


class PerTargetSVR(SVR):
    """Epsilon-SVR that fits one model per target column.

    The paper fits an SVR for valence and another for arousal.  This is
    ``sklearn.svm.SVR`` with exactly its parameters (so a grid over
    ``regressor__C`` works as on an SVR) that also takes the ``(n, 2)``
    targets :func:`~sklearn_emotion.datasets.load_emotion6` returns: it then
    fits one SVR per column, each with the same parameters, and predicts
    ``(n, 2)``.  With a 1-D ``y`` it *is* an SVR.

    Parameters
    ----------
    kernel, degree, gamma, coef0, tol, C, epsilon, shrinking, cache_size, verbose, max_iter
        As in :class:`sklearn.svm.SVR`.

    Attributes
    ----------
    estimators_ : list of SVR
        One fitted SVR per target, when ``fit`` got a 2-D ``y`` (empty for
        a 1-D ``y``, whose fitted state is this object's own, as an SVR's).
    n_outputs_ : int
        Number of targets seen in ``fit`` (1 for a 1-D ``y``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_emotion.models import PerTargetSVR
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> y = np.c_[X.sum(axis=1), X[:, 0] - X[:, 1]]
    >>> PerTargetSVR(C=10).fit(X, y).predict(X[:2]).shape
    (2, 2)
    """

    def fit(self, X, y, sample_weight=None):
        """Fit one SVR per column of ``y`` (or this SVR, for a 1-D ``y``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        y_arr = np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] != 1:
            base = SVR(**self.get_params())
            self.estimators_ = [clone(base).fit(X, y_arr[:, j], sample_weight=sample_weight)
                                for j in range(y_arr.shape[1])]
            self.n_outputs_ = y_arr.shape[1]
            first = self.estimators_[0]
            self.n_features_in_ = first.n_features_in_
            if hasattr(first, "feature_names_in_"):
                self.feature_names_in_ = first.feature_names_in_
            return self
        self.estimators_ = []
        self.n_outputs_ = 1
        return super().fit(X, y_arr.ravel() if y_arr.ndim == 2 else y, sample_weight=sample_weight)

    def predict(self, X):
        """Predict each target.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The shape of the ``y`` seen in ``fit``.
        """
        check_is_fitted(self, "n_outputs_")
        if self.estimators_:
            return np.column_stack([e.predict(X) for e in self.estimators_])
        return super().predict(X)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "n_outputs_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

"""SkipNaNRows: a regressor that leaves out the rows of images that could not be read."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from .._warn import warn_user

__all__ = ["SkipNaNRows"]


class SkipNaNRows(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Fit and predict a regressor on the rows without NaN; NaN rows predict NaN.

    The feature families return a NaN row for an image they cannot read
    when ``on_error="nan"``; most regressors refuse NaN.  Wrapped in this,
    the last step of a pipeline fits on the good rows (with a warning giving
    how many were left out) and predicts NaN for the rows of bad images,
    so a batch with one unreadable file still gives every other prediction.
    ``make_paper_pipeline(on_error="nan")`` builds exactly that.

    Parameters
    ----------
    regressor : estimator
        Any scikit-learn regressor; it is cloned in ``fit``.

    Attributes
    ----------
    regressor_ : estimator
        The fitted clone, trained on the rows without NaN.
    n_skipped_ : int
        How many training rows had NaN and were left out.
    n_features_in_ : int
    n_outputs_ : int

    See Also
    --------
    sklearn_emotion.predict_images : the same for any fitted model, with the
        reason of each failed image.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn_emotion.models import SkipNaNRows
    >>> X = np.array([[0.0], [1.0], [np.nan], [3.0]])
    >>> y = np.array([1.0, 3.0, 100.0, 7.0])
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     model = SkipNaNRows(LinearRegression()).fit(X, y)
    >>> model.n_skipped_
    1
    >>> model.predict([[2.0], [np.nan]]).round(3)
    array([ 5., nan])
    """

    _parameter_constraints: dict = {"regressor": [HasMethods(["fit", "predict"])]}

    def __init__(self, regressor):
        self.regressor = regressor

    def fit(self, X, y, sample_weight=None):
        """Fit the regressor on the rows of ``X`` without NaN.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            May hold NaN (rows left out); infinite values are refused.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Passed to the regressor for the kept rows.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             ensure_all_finite="allow-nan")
        bad = np.isnan(X).any(axis=1)
        if bad.all():
            raise ValueError(f"every one of the {len(X)} rows of X holds NaN: nothing to fit on")
        if bad.any():
            warn_user(f"SkipNaNRows: {int(bad.sum())} of {len(X)} training rows hold NaN "
                          "(images that could not be read) and were left out", UserWarning)
        kw = {}
        if sample_weight is not None:
            kw["sample_weight"] = _check_sample_weight(sample_weight, X)[~bad]
        self.regressor_ = clone(self.regressor).fit(X[~bad], y[~bad], **kw)
        self.n_skipped_ = int(bad.sum())
        self._y_1d = y.ndim == 1
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        return self

    def predict(self, X):
        """Predict the rows without NaN; NaN for the others.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self, "regressor_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        bad = np.isnan(X).any(axis=1)
        shape = (len(X),) if self._y_1d else (len(X), self.n_outputs_)
        out = np.full(shape, np.nan)
        if (~bad).any():
            out[~bad] = np.asarray(self.regressor_.predict(X[~bad]), dtype=np.float64).reshape(
                (-1,) + shape[1:])
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        inner = get_tags(self.regressor)
        tags.target_tags.multi_output = inner.target_tags.multi_output
        tags.target_tags.single_output = inner.target_tags.single_output
        tags.input_tags.sparse = False
        return tags

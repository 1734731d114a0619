"""The affect model's head on feature matrices: valence, arousal, intervals,
emotions, the out-of-distribution flag and adaptation.

:class:`AffectHead` is a scikit-learn regressor whose ``X`` is a matrix of
image features (any encoder's: the shipped models use pooled CNN layers)
and whose ``y`` is ``(n, 2)`` valence and arousal on 1-9.  The features are
standardised and clipped, then one ridge regression per target whose
penalty is chosen on the training rows alone (efficient leave-one-out,
:class:`~sklearn.linear_model.RidgeCV`).  Around it:

- **intervals** by CV+ (Barber, Candès, Ramdas & Tibshirani 2021): the head
  is refitted on ``cv`` folds; each training row's out-of-fold residual,
  added to the prediction of the fold model that did not see it, gives the
  interval's end points.  Under exchangeability the coverage is at least
  ``1 - 2 * (1 - coverage)`` in theory and close to ``coverage`` in practice;
- **emotion distributions** over Emotion6's seven categories, by a
  multinomial logistic regression on the same standardised features fitted
  to the rated distributions (soft labels);
- an **out-of-distribution** score (a classifier of the training rows
  against rows of non-photos) and **adaptation** to a user's raters.

Everything fitted is a set of numeric arrays: :mod:`sklearn_emotion._affect_io`
saves and loads it without unpickling.  :class:`~sklearn_emotion.AffectModel`
is the image front: its feature transformer plus a fitted ``head_``.

Why this module is over 600 lines: it is one estimator with seven public
methods, and their numpydoc docstrings are 283 of its lines; its arithmetic
lives in :mod:`sklearn_emotion._head_core` (the heads, the folds, the checks
of ratings) and :mod:`sklearn_emotion._adapt` (intervals, the flag,
adaptation), as pure functions.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options
from sklearn.utils.validation import check_is_fitted

from ._adapt import (
    MIN_ADAPT_IMAGES,
    STRATEGIES,
    context,
    cv_plus,
    cv_select,
    gram_summary,
    ood_fit,
    ood_score,
    predict_strategy,
    rating_range,
    reference_threshold,
    unusual_weight,
    widen_intervals,
)
from ._head_core import (
    LinearHead,
    checked_penalties,
    checked_ratings,
    fit_emotion_head,
    fit_folds,
    scaled_about_centre,
)
from .datasets._emotion6 import EMOTION_NAMES

from ._warn import warn_user

__all__ = ["ADAPT_STRATEGIES", "AffectHead", "DEFAULT_ALPHAS", "LinearHead", "MAX_ADAPT_IMAGES",
           "TARGET_NAMES"]

#: The strategies :meth:`AffectHead.adapt` chooses among, in tie order.
ADAPT_STRATEGIES = STRATEGIES
#: :meth:`AffectHead.adapt` uses at most this many distinct rated rows.
MAX_ADAPT_IMAGES = 500

TARGET_NAMES = ("valence", "arousal")
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-1, 5, 25))


class AffectHead(RegressorMixin, BaseEstimator):
    """Valence and arousal from image features, with intervals, emotions,
    an out-of-distribution flag and adaptation to a user's raters.

    The head of :class:`~sklearn_emotion.AffectModel`, usable on its own
    with any feature matrix (your own encoder's): ``fit(F, y)`` with ``F``
    of shape ``(n, n_features)`` and ``y`` of shape ``(n, 2)`` on 1-9.

    Parameters
    ----------
    alphas : sequence of float, default=25 values from 0.1 to 1e5
        Ridge penalties to choose from, per target, by efficient
        leave-one-out on the training data.
    clip : float or None, default=5.0
        Standardised features are clipped to ``[-clip, clip]`` so that one
        unusual image cannot push a prediction far outside the training
        range.
    coverage : float, default=0.8
        Nominal coverage of :meth:`predict_interval`.
    cv : int, default=5
        Folds used to calibrate the intervals (CV+); 0 disables intervals.
    emotion_alpha : float or sequence of float, default=(1e-3, 1e-2, 1e-1, 1.0)
        L2 penalty of the emotion-distribution head (per sample); with
        several, the one with the lowest 3-fold cross-validated KL
        divergence on the training images is used (``emotion_alpha_``).
    emotion_components : int, default=128
        The emotion head works on this many whitened principal components of
        the standardised features.
    adapt_components : int, default=256
        For :meth:`adapt`'s ``"refit"`` strategy, the model keeps this many
        leading eigenvectors of its training images' Gram matrix (the
        training images themselves are not kept); 0 keeps none and leaves
        ``"refit"`` out.
    ood_C : float, default=0.1
        Inverse L2 penalty of that classifier.
    ood_pass : float, default=0.95
        The flag's threshold (``ood_threshold_``) lets through this share
        of held-out images like the training images: the quantile of the
        out-of-fold scores of the ``cv`` calibration folds.
    widen_unusual : bool, default=True
        Widen the intervals of images past the flag's threshold, the more
        the further past it: from the CV+ interval at the threshold to its
        union with ``rating_range_`` (the central ``coverage`` range of the
        training ratings: what a model that ignores the image would give)
        where the out-of-distribution classifier finds the image as likely a
        non-photo as a photo (:func:`~sklearn_emotion._adapt.unusual_weight`).
        This is a rule, not a calibration: no rated set of drawings, plots
        or other non-photos exists to calibrate a widening on; it says that
        for such an image the model knows about as little as the ratings'
        spread.  Images below the threshold keep their CV+ interval.
        Needs the out-of-distribution score (``X_other`` in :meth:`fit`).
    random_state : int, RandomState instance or None, default=0
        Shuffles the calibration folds.

    Attributes
    ----------
    alpha_ : ndarray of shape (2,)
        Ridge penalty chosen for valence and for arousal.
    n_features_in_ : int
        Number of image features the heads use.
    fold_alpha_ : ndarray of shape (cv, 2)
        Penalties chosen inside each calibration fold.
    calibration_residuals_ : ndarray of shape (n_samples, 2)
        Absolute out-of-fold residuals of the training images.
    emotion_names_ : list of str or None
        The emotion categories when ``fit`` got ``distributions``.
    n_train_ : int
        Number of training images.
    gram_basis_, gram_eigvals_, gram_rest_ : ndarray, ndarray, float
        The training summary :meth:`adapt` refits from (None with
        ``adapt_components=0``).
    ood_coef_, ood_intercept_ : ndarray, float
        The out-of-distribution classifier (None without it).
    ood_threshold_ : float
        Scores above it are flagged as unlike the training images.
    rating_range_ : ndarray of shape (2, 2)
        The central ``coverage`` range of the training ratings, per target
        (low, high): the interval the intervals of unusual images widen
        toward (``widen_unusual``).
    adaptation_ : dict
        Only on a model returned by :meth:`adapt`: per target the chosen
        strategy, every candidate's cross-validated MSE and the
        recalibration.

    See Also
    --------
    sklearn_emotion.AffectModel : this head behind an image feature transformer.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_emotion import AffectHead
    >>> rng = np.random.default_rng(0)
    >>> F = rng.normal(size=(200, 6))
    >>> y = np.c_[5 + F[:, 0], 4 + 0.5 * F[:, 1]] + 0.3 * rng.normal(size=(200, 2))
    >>> head = AffectHead(adapt_components=8).fit(F, y)
    >>> head.predict_interval(F[:1]).shape
    (1, 2, 2)
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, clip=5.0, coverage=0.8, cv=5,
                 emotion_alpha=(1e-3, 1e-2, 1e-1, 1.0), emotion_components=128,
                 adapt_components=256, ood_C=0.1, ood_pass=0.95, widen_unusual=True,
                 random_state=0):
        self.widen_unusual = widen_unusual
        self.adapt_components = adapt_components
        self.ood_C = ood_C
        self.ood_pass = ood_pass
        self.alphas = alphas
        self.clip = clip
        self.coverage = coverage
        self.cv = cv
        self.emotion_alpha = emotion_alpha
        self.emotion_components = emotion_components
        self.random_state = random_state

    # ------------------------------------------------------------ checks
    _parameter_constraints: dict = {
        "alphas": ["array-like"],
        "clip": [None, Interval(Real, 0, None, closed="neither")],
        "coverage": [Interval(Real, 0, 1, closed="neither")],
        "cv": [Options(Integral, {0}), Interval(Integral, 2, None, closed="left")],
        "emotion_alpha": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "emotion_components": [Interval(Integral, 1, None, closed="left")],
        "adapt_components": [Interval(Integral, 0, None, closed="left")],
        "ood_C": [Interval(Real, 0, None, closed="neither")],
        "ood_pass": [Interval(Real, 0, 1, closed="neither")],
        "widen_unusual": ["boolean"],
        "random_state": ["random_state"],
    }

    def _validate(self):
        self._validate_params()
        return checked_penalties(self.alphas, self.emotion_alpha)

    # --------------------------------------------------------------- fit

    # --------------------------------------------------------------- fit
    def fit(self, X, y, distributions=None, groups=None, X_other=None):
        """Fit every head on the feature rows ``X`` of the training images.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of the training images (finite).
        y : array-like of shape (n_samples, 2)
            Valence and arousal on 1-9.
        distributions : array-like of shape (n_samples, 7), optional
            Rated emotion distributions (Emotion6's order: anger, disgust,
            fear, joy, sadness, surprise, neutral).  Rows of NaN (images of
            a set without distributions) are left out of that head only.
        groups : array-like of shape (n_samples,), optional
            The picture set (and so the raters) of each image: with two or
            more sets, the intervals for new raters are calibrated on
            leave-one-set-out residuals (``shift_scale_``).
        X_other : array-like of shape (m, n_features), optional
            Features of images that are not photos like the training images
            (e.g. :func:`~sklearn_emotion.datasets.make_non_photos`): the
            out-of-distribution classifier is fitted on them; without them
            the head has no out-of-distribution score.

        Returns
        -------
        self
        """
        alphas = self._validate()
        F, F_other = X, X_other
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != 2:
            raise ValueError(f"y must be (n_samples, 2) valence/arousal, got shape {y.shape}")
        F = np.asarray(F, dtype=np.float64)
        if F.ndim != 2:
            raise ValueError(f"X must be a 2-D array of features (n_samples, n_features), got "
                             f"shape {F.shape}")
        if len(F) != len(y):
            raise ValueError(f"X has {len(F)} images but y has {len(y)} rows")
        bad = ~np.isfinite(F).all(axis=1)
        if bad.any():
            raise ValueError(f"{int(bad.sum())} training image(s) have no features (unreadable)")
        clip = None if self.clip is None else float(self.clip)
        self.n_features_in_ = F.shape[1]
        self.n_train_ = len(F)
        self.rating_range_ = rating_range(y, self.coverage)
        self.main_, self.alpha_ = LinearHead.fit(F, y, alphas, clip)
        Z = self.main_.standardise(F)  # the training images as every head sees them
        self.ood_coef_ = self.ood_intercept_ = self.ood_threshold_ = None
        if F_other is not None:
            F_other = np.asarray(F_other, dtype=np.float64)
            F_other = F_other[np.isfinite(F_other).all(axis=1)]
            self.ood_coef_, self.ood_intercept_ = ood_fit(Z, self.main_.standardise(F_other),
                                                          float(self.ood_C))
        self.gram_basis_ = self.gram_eigvals_ = self.gram_rest_ = None
        if self.adapt_components:
            self.gram_basis_, self.gram_eigvals_, self.gram_rest_ = gram_summary(
                Z, int(self.adapt_components))
        self.folds_ = []
        if self.cv:
            (self.folds_, self.fold_of_, self.calibration_residuals_, self.fold_alpha_,
             ood_oof) = fit_folds(F, y, alphas, clip, int(self.cv), self.random_state,
                                  F_other, float(self.ood_C))
            if F_other is not None:
                self.ood_threshold_ = float(np.quantile(ood_oof, float(self.ood_pass)))
        self.emotion_names_ = None
        if distributions is not None:
            P = np.asarray(distributions, dtype=np.float64)
            if P.shape != (len(F), len(EMOTION_NAMES)):
                raise ValueError(f"distributions must be (n_samples, {len(EMOTION_NAMES)}), got {P.shape}")
            rows = np.isfinite(P).all(axis=1)
            if rows.sum() < 10:
                raise ValueError("distributions has fewer than 10 complete rows")
            P = P[rows] / P[rows].sum(axis=1, keepdims=True)
            self.emotion_coef_, self.emotion_intercept_, self.emotion_alpha_ = fit_emotion_head(
                Z[rows], P, self.emotion_alpha, self.emotion_components, self.random_state)
            self.emotion_names_ = list(EMOTION_NAMES)
        self.shift_scale_ = None
        if groups is not None:
            self.shift_scale_ = self._fit_shift_scale(F, y, groups)
        return self

    def _fit_shift_scale(self, F, y, groups):
        """Leave-one-set-out calibration of the intervals for new raters."""
        groups = np.asarray(groups)
        if groups.shape != (len(F),):
            raise ValueError(f"groups must have one entry per image ({len(F)}), "
                             f"got shape {groups.shape}")
        sets = np.unique(groups)
        if len(sets) < 2 or not self.cv:
            raise ValueError("groups needs at least two picture sets (and cv >= 2) to calibrate "
                             "the intervals for new raters")
        ratios = []
        for g in sets:
            held = groups == g
            sub = clone(self).set_params(adapt_components=0)
            sub.fit(F[~held], y[~held])
            iv = sub.predict_interval(F[held])
            half = np.maximum((iv[..., 1] - iv[..., 0]) / 2, 1e-9)
            ratios.append(np.abs(y[held] - iv.mean(axis=-1)) / half)
        R = np.vstack(ratios)
        q = np.quantile(R, float(self.coverage), axis=0, method="higher")
        return np.maximum(q, 1.0)

    # ----------------------------------------------------------- predict
    @staticmethod
    def _rows(F):
        ok = np.isfinite(F).all(axis=1)
        return ok, F[ok]

    def _check_X(self, X):
        """``X`` as float64 rows of this head's width (any NaN rows kept)."""
        check_is_fitted(self, "main_")
        F = np.asarray(X, dtype=np.float64)
        if F.ndim != 2:
            raise ValueError(f"X must be a 2-D array of features (n_samples, n_features), got "
                             f"shape {F.shape}")
        if F.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {F.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input")
        return F

    def check_new_raters(self):
        """Raise ``ValueError`` (before any work) unless this head has
        intervals for new raters (``new_raters=True``)."""
        self._shift_scale(True)

    def predict(self, X):
        """Predict valence and arousal (1-9) from feature rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows that are not finite (images that could not be read) get
            NaN predictions.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, 2)
            Valence and arousal, clipped to [1, 9].
        """
        F = self._check_X(X)
        out = np.full((len(F), 2), np.nan)
        ok, G = self._rows(F)
        if len(G):
            if getattr(self, "adaptation_", None) is not None:
                ctx = self._adapt_context(G)
                pred = np.column_stack([predict_strategy(t["strategy"], t["params"], ctx, j)
                                        for j, t in enumerate(self.adaptation_["targets"])])
            else:
                pred = self.main_.predict(G)
            out[ok] = np.clip(pred, 1.0, 9.0)
        return out

    def ood_score(self, X):
        """How unlike the training photos each row is (out of distribution).

        The log-odds, from a classifier fitted on the training rows against
        ``X_other`` of :meth:`fit`, that the image is not a photo like them.
        Above ``ood_threshold_`` (which lets through ``ood_pass`` of held-out
        training-like rows, calibrated out of fold) the image is flagged
        ``unusual`` in :meth:`predict_frame`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        score : ndarray of shape (n_samples,)
            NaN for rows that are not finite.
        """
        F = self._check_X(X)
        if getattr(self, "ood_coef_", None) is None:
            raise ValueError("this model has no out-of-distribution score (fitted with "
                             "no non-photo rows: X_other in fit, or ood_examples=0 in AffectModel)")
        out = np.full(len(F), np.nan)
        ok, G = self._rows(F)
        if len(G):
            Z = self.main_.standardise(G)
            out[ok] = ood_score(Z, self.ood_coef_, self.ood_intercept_)
        return out

    # --------------------------------------------------------- adaptation

    # --------------------------------------------------------- adaptation
    def _adapt_context(self, G):
        """What the adaptation strategies read of finite feature rows ``G``:
        standardised features, the unadapted predictions and emotions."""
        Z = self.main_.standardise(G)
        emotions = None
        if self.emotion_names_ is not None:
            emotions = softmax(Z @ self.emotion_coef_ + self.emotion_intercept_, axis=1)
        return context(Z, Z @ self.main_.coef + self.main_.intercept, emotions)

    def _adapt_prior(self):
        if getattr(self, "gram_basis_", None) is None:
            return None
        return {"basis": self.gram_basis_, "eigvals": self.gram_eigvals_, "rest": self.gram_rest_,
                "alpha": self.alpha_, "n_train": self.n_train_}

    def adapt(self, X, y, *, strategies=STRATEGIES, cv=5, weight=0.25, random_state=0,
              max_images=MAX_ADAPT_IMAGES, collection=None, names=None):
        """A copy of this head adapted to your raters, from a few rated rows.

        See :meth:`sklearn_emotion.AffectModel.adapt`, which calls this on
        the images' features: the strategies, their cross-validated choice
        per target, the recalibrated intervals, the warnings, and the
        reference of your images for the out-of-distribution flag.

        Parameters
        ----------
        X : array-like of shape (k, n_features)
            Features of your rated images (rows that are not finite are left
            out with a warning).
        y : array-like of shape (k, 2)
            Their valence and arousal on 1-9.
        strategies, cv, weight, random_state, max_images
            As in :meth:`sklearn_emotion.AffectModel.adapt`.
        collection : array-like of shape (m, n_features), optional
            Features of more, unrated images of your collection (for the
            out-of-distribution reference).
        names : sequence, optional
            What to call each row of ``X`` in warnings (e.g. its path).

        Returns
        -------
        head : AffectHead
            A new head that shares no array with this one; ``adaptation_``
            records the choice.
        """
        import copy

        if getattr(self, "adaptation_", None) is not None:
            raise ValueError("this model is already adapted: adapt the model it came from")
        F = self._check_X(X)
        F_collection = None if collection is None else self._check_X(collection)
        F, y = checked_ratings(F, y, names=names, max_images=max_images,
                               random_state=random_state, strategies=strategies, weight=weight)
        ctx = self._adapt_context(F)
        targets = cv_select(ctx, y, strategies=tuple(strategies), cv=cv,
                            random_state=random_state, prior=self._adapt_prior(),
                            weight=float(weight))
        reference = self._collection_reference(F, F_collection, max_images, random_state)
        new = copy.deepcopy(self)
        new.adaptation_ = {"targets": targets, "n_images": int(len(y)), "weight": float(weight),
                           "cv": int(cv), "random_state": random_state,
                           # your raters' spread: what unusual images widen toward
                           "rating_range": rating_range(y, self.coverage).tolist(),
                           **reference}
        return new

    def _collection_reference(self, F, F_collection, max_images, random_state):
        """The user's images as a reference for the out-of-distribution flag:
        the adapted threshold is the larger of the training one and the
        score that ``ood_pass`` of the user's images (rated, and unrated of
        ``F_collection``) stay below (:func:`reference_threshold`)."""
        if getattr(self, "ood_coef_", None) is None or self.ood_threshold_ is None:
            return {}
        if F_collection is not None:
            good = np.isfinite(F_collection).all(axis=1)
            if not good.all():
                warn_user(f"{int((~good).sum())} collection image(s) have no features "
                          "(unreadable) and are left out", UserWarning)
            extra = F_collection[good]
            if len(extra) > max_images:
                warn_user(f"{len(extra)} collection images: the reference uses a random "
                          f"{max_images} of them (max_images)", UserWarning)
                extra = extra[np.sort(check_random_state(random_state).choice(
                    len(extra), max_images, replace=False))]
            F = np.vstack([F, extra])
        scores = ood_score(self.main_.standardise(F), self.ood_coef_, self.ood_intercept_)
        mine = reference_threshold(scores, self.ood_pass)
        return {"ood_threshold": max(float(self.ood_threshold_), mine),
                "reference_images": int(len(F))}

    # --------------------------------------------------------- intervals
    def predict_interval(self, X, *, new_raters=False):
        """Prediction intervals at the nominal ``coverage`` (CV+).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        new_raters : bool, default=False
            False: intervals for images rated like the training images (the
            CV+ guarantee holds under exchangeability).  True: intervals for
            a picture set rated by other raters, widened by
            ``shift_scale_`` (calibrated on leave-one-set-out residuals; see
            :meth:`fit`'s ``groups``).  No zero-shot interval can promise its
            coverage under any shift of raters; adapting the model to a few
            of your rated images (:meth:`adapt`) calibrates on your raters
            instead.

        Images past the out-of-distribution threshold (``unusual`` in
        :meth:`predict_frame`) get wider intervals, the more unusual the
        wider, up to the training ratings' own spread (``widen_unusual``).

        Returns
        -------
        intervals : ndarray of shape (n_samples, 2, 2)
            ``[:, j, 0]`` and ``[:, j, 1]`` are the low and high ends for
            target ``j`` (0 valence, 1 arousal), within [1, 9].
        """
        return self._interval_features(self._check_X(X), new_raters=new_raters)

    def _shift_scale(self, new_raters):
        if not new_raters:
            return None
        if getattr(self, "adaptation_", None) is not None:
            raise ValueError("an adapted model's intervals are calibrated on your own raters; "
                             "new_raters does not apply")
        if getattr(self, "shift_scale_", None) is None:
            raise ValueError("this model has no intervals for new raters: fit it with groups "
                             "(two or more picture sets)")
        return self.shift_scale_

    def _interval_features(self, F, new_raters=False, ood=None):
        """Intervals of feature rows ``F``; ``ood``: their out-of-distribution
        scores when already computed (:meth:`ood_score`)."""
        check_is_fitted(self, "main_")
        if not self.folds_:
            raise ValueError("intervals need cv >= 2 at fit time")
        scale = self._shift_scale(new_raters)
        out = np.full((len(F), 2, 2), np.nan)
        ok, G = self._rows(F)
        if not len(G):
            return out
        score = None if ood is None else np.asarray(ood)[ok]
        adaptation = getattr(self, "adaptation_", None)
        if adaptation is not None:
            ctx = self._adapt_context(G)
            res = np.empty((len(G), 2, 2))
            for j, t in enumerate(adaptation["targets"]):
                fold_preds = np.stack([predict_strategy(t["strategy"], p, ctx, j)
                                       for p in t["fold_params"]])
                res[:, j, 0], res[:, j, 1] = cv_plus(fold_preds, t["fold_of"], t["residuals"],
                                                     self.coverage)
            if adaptation["n_images"] < MIN_ADAPT_IMAGES:
                # too few residuals to calibrate on: hold the unadapted intervals too
                base = self._unadapted_intervals(G, getattr(self, "shift_scale_", None))
                res[..., 0] = np.minimum(res[..., 0], base[..., 0])
                res[..., 1] = np.maximum(res[..., 1], base[..., 1])
            out[ok] = np.clip(self._widen_unusual(G, res, None, score), 1.0, 9.0)
            return out
        res = self._unadapted_intervals(G, scale)
        out[ok] = np.clip(self._widen_unusual(G, res, scale, score), 1.0, 9.0)
        return out

    def _unadapted_intervals(self, G, scale):
        """CV+ intervals of the fitted folds for finite rows ``G`` (scaled for
        new raters by ``scale``), before any widening."""
        fold_pred = np.stack([f.predict(G) for f in self.folds_])  # (K, m, 2)
        res = np.empty((len(G), 2, 2))
        for j in range(2):
            res[:, j, 0], res[:, j, 1] = cv_plus(fold_pred[:, :, j], self.fold_of_,
                                                 self.calibration_residuals_[:, j], self.coverage)
        if scale is not None:
            res = scaled_about_centre(res, scale)
        return res

    def _widen_unusual(self, G, res, scale, score=None):
        """``res`` (intervals of finite feature rows ``G``) widened for the
        images past the out-of-distribution threshold (``widen_unusual``);
        ``score``: the rows' out-of-distribution scores, if computed."""
        adaptation = getattr(self, "adaptation_", None)
        ends = (adaptation or {}).get("rating_range", getattr(self, "rating_range_", None))
        if (not self.widen_unusual or ends is None or getattr(self, "ood_coef_", None) is None
                or getattr(self, "ood_threshold_", None) is None):
            return res
        ends = np.asarray(ends, dtype=np.float64)
        if scale is not None:  # other raters spread their ratings differently too
            ends = scaled_about_centre(ends, scale)
        if score is None:
            score = ood_score(self.main_.standardise(G), self.ood_coef_, self.ood_intercept_)
        return widen_intervals(res, unusual_weight(score, self._flag_threshold()), ends)

    def _flag_threshold(self):
        """The score above which an image is unusual: the training one, or an
        adapted head's, which its user's images raised (see :meth:`adapt`)."""
        adaptation = getattr(self, "adaptation_", None) or {}
        return adaptation.get("ood_threshold", self.ood_threshold_)


    # ---------------------------------------------------------- emotions
    def predict_emotions(self, X):
        """Predicted distribution over Emotion6's seven emotions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, 7)
            Probabilities in the order of ``emotion_names_``; rows sum to 1
            (NaN for rows that are not finite).
        """
        F = self._check_X(X)
        if self.emotion_names_ is None:
            raise ValueError("this model was fitted without emotion distributions")
        out = np.full((len(F), len(self.emotion_names_)), np.nan)
        ok, G = self._rows(F)
        if len(G):
            Z = self.main_.standardise(G)
            out[ok] = softmax(Z @ self.emotion_coef_ + self.emotion_intercept_, axis=1)
        return out

    def predict_frame(self, X, *, new_raters=False, index=None):
        """Everything at once, as a pandas DataFrame (one row per row of ``X``).

        The columns are those of :meth:`sklearn_emotion.AffectModel.predict_frame`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        new_raters : bool, default=False
            The intervals for another set's raters (see
            :meth:`predict_interval`).
        index : sequence, optional
            The frame's index (e.g. the images' paths); default 0..n-1.

        Returns
        -------
        frame : pandas.DataFrame
        """
        import pandas as pd

        F = self._check_X(X)
        self._shift_scale(new_raters)
        cols = {}
        pred = self.predict(F)
        cols["valence"], cols["arousal"] = pred[:, 0], pred[:, 1]
        # the out-of-distribution score once: a column, and the widening of intervals
        score = self.ood_score(F) if getattr(self, "ood_coef_", None) is not None else None
        if self.folds_:
            iv = self._interval_features(F, new_raters=new_raters, ood=score)
            pct = f"{100 * float(self.coverage):g}" + ("_new_raters" if new_raters else "")
            for j, t in enumerate(TARGET_NAMES):
                cols[f"{t}_low_{pct}"], cols[f"{t}_high_{pct}"] = iv[:, j, 0], iv[:, j, 1]
        if score is not None:
            cols["ood_score"] = score
            if self.ood_threshold_ is not None:
                ok = np.isfinite(score)
                flag = np.array([None] * len(F), dtype=object)
                flag[ok] = score[ok] > self._flag_threshold()
                cols["unusual"] = flag
        if self.emotion_names_ is not None:
            P = self.predict_emotions(F)
            for k, e in enumerate(self.emotion_names_):
                cols[f"p_{e}"] = P[:, k]
            top = np.array([None] * len(P), dtype=object)
            ok = np.isfinite(P).all(axis=1)
            top[ok] = np.asarray(self.emotion_names_, dtype=object)[P[ok].argmax(axis=1)]
            cols["emotion"] = top
        return pd.DataFrame(cols, index=None if index is None else pd.Index(index))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a NaN row (an unreadable image) predicts NaN
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def as_saved(self):
        """Round the multi-dimensional arrays to float32, as a saved model
        stores them, so a freshly fitted head predicts exactly what its saved
        copy will; returns ``self``."""
        for lin in [self.main_, *self.folds_]:
            lin.coef = lin.coef.astype(np.float32).astype(np.float64)
        if self.emotion_names_ is not None:
            self.emotion_coef_ = self.emotion_coef_.astype(np.float32).astype(np.float64)
        if getattr(self, "gram_basis_", None) is not None:
            self.gram_basis_ = self.gram_basis_.astype(np.float32).astype(np.float64)
        return self



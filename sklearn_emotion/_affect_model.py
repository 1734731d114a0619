"""The affect model estimator: valence, arousal, intervals, emotions, adaptation.

:class:`AffectModel` is a scikit-learn regressor over images: pooled
activations of a pretrained CNN (:class:`~sklearn_emotion.PooledLayerFeatures`
by default), standardised and clipped, then one ridge regression per target
whose penalty is chosen on the training data alone (efficient leave-one-out,
:class:`~sklearn.linear_model.RidgeCV`).  Around it:

- **intervals** by CV+ (Barber, Candès, Ramdas & Tibshirani 2021): the model
  is refitted on ``cv`` folds of the training data; each training image's
  out-of-fold residual, added to the prediction of the fold model that did
  not see it, gives the interval's end points.  Under exchangeability the
  coverage is at least ``1 - 2 * (1 - coverage)`` in theory and close to
  ``coverage`` in practice;
- **emotion distributions** over Emotion6's seven categories, by a
  multinomial logistic regression on the same standardised features fitted
  to the rated distributions (soft labels).

Everything fitted is a set of numeric arrays, so a fitted model is saved as
a JSON description plus a ``.npz`` of arrays (:meth:`AffectModel.save`,
``_affect_io``) and loaded without unpickling anything.  The public face of
this module, the persistence and the recipes is :mod:`sklearn_emotion.pretrained`.
"""

from __future__ import annotations

import json
import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.utils._param_validation import HasMethods, Interval, Options
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._adapt import (
    MIN_ADAPT_IMAGES,
    STRATEGIES,
    collection_weight,
    context,
    cv_plus,
    cv_select,
    gram_summary,
    ood_fit,
    ood_score,
    rating_range,
    reference_distance,
    reference_threshold,
    unusual_weight,
    widen_intervals,
    predict_strategy,
)
from ._image import ImageBatchError, as_image_list, path_index
from .datasets._emotion6 import EMOTION_NAMES
from ._warn import warn_user

__all__ = ["ADAPTED_FORMAT_VERSION", "ADAPT_STRATEGIES", "AffectModel", "DEFAULT_ALPHAS", "FORMAT",
           "LinearHead", "TARGET_NAMES"]

#: The strategies :meth:`AffectModel.adapt` chooses among, in tie order.
ADAPT_STRATEGIES = STRATEGIES

#: Name and version of the on-disk format.
FORMAT = ("sklearn-emotion/affect-model", 1)

#: The format version written for an adapted model (version 1 readers
#: would ignore its adaptation and predict as the unadapted model).
ADAPTED_FORMAT_VERSION = 2
#: :meth:`AffectModel.adapt` uses at most this many distinct rated images.
MAX_ADAPT_IMAGES = 500

TARGET_NAMES = ("valence", "arousal")
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-1, 5, 25))


def _default_features():
    from .features import PooledLayerFeatures

    return PooledLayerFeatures()


class LinearHead:
    """Standardise, clip, then an affine map: one fitted ridge head."""

    def __init__(self, mean, scale, coef, intercept, clip):
        self.mean, self.scale, self.coef, self.intercept, self.clip = mean, scale, coef, intercept, clip

    @classmethod
    def fit(cls, F, Y, alphas, clip):
        mean = F.mean(axis=0)
        scale = F.std(axis=0)
        scale[scale < 1e-12] = 1.0
        Z = _standardise(F, mean, scale, clip)
        ridge = RidgeCV(alphas=alphas, alpha_per_target=True).fit(Z, Y)
        return cls(mean, scale, np.asarray(ridge.coef_).T.copy(), np.asarray(ridge.intercept_),
                   clip), np.atleast_1d(ridge.alpha_)

    def standardise(self, F):
        """``F`` as this head sees it: standardised, then clipped."""
        return _standardise(F, self.mean, self.scale, self.clip)

    def predict(self, F):
        return self.standardise(F) @ self.coef + self.intercept


def _scaled_about_centre(intervals, scale):
    """Intervals (``[..., target, (low, high)]``) widened by ``scale`` per
    target about their centres."""
    mid = intervals.mean(axis=-1)
    half = (intervals[..., 1] - intervals[..., 0]) / 2 * scale
    return np.stack([mid - half, mid + half], axis=-1)


def _standardise(F, mean, scale, clip):
    Z = (F - mean) / scale
    if clip is not None:
        np.clip(Z, -clip, clip, out=Z)
    return Z


def _fit_soft_multinomial(Z, P, alpha, max_iter=500):
    """Multinomial logistic regression on soft labels (rows of ``P`` sum to 1).

    Minimises mean KL(P || softmax(Z W + b)) + alpha/2 ||W||^2 with L-BFGS.
    Returns W (d, k) and b (k,).
    """
    from scipy.optimize import minimize

    n, d = Z.shape
    k = P.shape[1]
    b0 = np.log(np.clip(P.mean(axis=0), 1e-12, None))

    def loss(theta):
        W = theta[: d * k].reshape(d, k)
        b = theta[d * k:]
        logq = log_softmax(Z @ W + b, axis=1)
        f = -(P * logq).sum() / n + 0.5 * alpha * (W * W).sum()
        G = (np.exp(logq) - P) / n
        gW = Z.T @ G + alpha * W
        return f, np.concatenate([gW.ravel(), G.sum(axis=0)])

    theta0 = np.concatenate([np.zeros(d * k), b0])
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return res.x[: d * k].reshape(d, k), res.x[d * k:]


def _fit_emotion_head(Z, P, alphas, n_components, random_state):
    """Soft-label multinomial regression on the leading principal components.

    The penalty is chosen from ``alphas`` by 3-fold cross-validated KL
    divergence on these training rows only.  The projection is folded into
    the returned coefficients, so the head is one affine map of ``Z``.
    """
    from sklearn.decomposition import PCA

    alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
    k = int(min(n_components, Z.shape[0] - 1, Z.shape[1]))
    pca = PCA(k, svd_solver="randomized", random_state=0).fit(Z)
    V = pca.components_.T / np.sqrt(pca.explained_variance_)  # whitened projection
    mu = pca.mean_
    T = (Z - mu) @ V
    if len(alphas) > 1:
        loss = np.zeros(len(alphas))
        for tr, te in KFold(3, shuffle=True, random_state=random_state).split(T):
            for i, a in enumerate(alphas):
                W, b = _fit_soft_multinomial(T[tr], P[tr], a)
                logq = log_softmax(T[te] @ W + b, axis=1)
                loss[i] += -(P[te] * logq).sum()
        alpha = float(alphas[int(np.argmin(loss))])
    else:
        alpha = float(alphas[0])
    W, b = _fit_soft_multinomial(T, P, alpha)
    return V @ W, b - mu @ V @ W, alpha


class AffectModel(RegressorMixin, BaseEstimator):
    """Valence and arousal of images, with intervals and emotion distributions.

    A regressor whose ``X`` is a sequence of images (paths, arrays or PIL
    images) and whose ``y`` is ``(n, 2)`` valence and arousal on 1-9.
    :func:`load_pretrained` returns one fitted on Emotion6 and OASIS.

    Parameters
    ----------
    features : image transformer, default=None
        Computes the image features; None uses
        :class:`~sklearn_emotion.PooledLayerFeatures` with its defaults
        (MobileNetV2 TFLite, seven layers, mean and std, mirror averaging).
        It is cloned in ``fit``; set its ``cache_dir``, ``n_jobs`` or
        ``on_error`` through it (``features__cache_dir=...``).
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
    ood_examples : int, default=40
        ``fit`` generates this many non-photographs of each kind of
        :func:`~sklearn_emotion.datasets.make_non_photos` from the training
        images (line drawings, silhouettes, text, plots, flat colours,
        noise, heavy blur) and fits a photo-versus-non-photo classifier on
        the features, the out-of-distribution score of :meth:`ood_score`;
        0 disables it.
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
        Needs the out-of-distribution score (``ood_examples > 0``).
    random_state : int, RandomState instance or None, default=0
        Shuffles the calibration folds.

    Attributes
    ----------
    features_ : image transformer
        The fitted feature transformer.
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
    load_pretrained : the model shipped with the package.
    sklearn_emotion.make_paper_pipeline : the paper's pipelines.

    References
    ----------
    R. F. Barber, E. J. Candès, A. Ramdas, R. J. Tibshirani, "Predictive
    inference with the jackknife+", Annals of Statistics 49(1), 2021.

    Examples
    --------
    >>> from skimage import data
    >>> from sklearn_emotion import load_pretrained
    >>> model = load_pretrained()
    >>> model.predict([data.astronaut()]).round(1)
    array([[6. , 5.3]])
    >>> model.predict_interval([data.astronaut()]).round(1)
    array([[[4.4, 7.5],
            [4.2, 6.4]]])
    >>> model.predict_interval([data.astronaut()], new_raters=True).round(1)
    array([[[4. , 7.9],
            [3.7, 6.9]]])
    """

    _takes_images = True

    def __init__(self, features=None, alphas=DEFAULT_ALPHAS, clip=5.0, coverage=0.8, cv=5,
                 emotion_alpha=(1e-3, 1e-2, 1e-1, 1.0), emotion_components=128,
                 adapt_components=256, ood_examples=40, ood_C=0.1, ood_pass=0.95,
                 widen_unusual=True, random_state=0):
        self.features = features
        self.widen_unusual = widen_unusual
        self.adapt_components = adapt_components
        self.ood_examples = ood_examples
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
        "features": [None, HasMethods(["fit", "transform"])],
        "alphas": ["array-like"],
        "clip": [None, Interval(Real, 0, None, closed="neither")],
        "coverage": [Interval(Real, 0, 1, closed="neither")],
        "cv": [Options(Integral, {0}), Interval(Integral, 2, None, closed="left")],
        "emotion_alpha": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "emotion_components": [Interval(Integral, 1, None, closed="left")],
        "adapt_components": [Interval(Integral, 0, None, closed="left")],
        "ood_examples": [Interval(Integral, 0, None, closed="left")],
        "ood_C": [Interval(Real, 0, None, closed="neither")],
        "ood_pass": [Interval(Real, 0, 1, closed="neither")],
        "widen_unusual": ["boolean"],
        "random_state": ["random_state"],
    }

    def _validate(self):
        self._validate_params()
        alphas = np.asarray(self.alphas, dtype=float).ravel()
        if alphas.size == 0 or (alphas <= 0).any():
            raise ValueError("alphas must be a non-empty sequence of positive numbers")
        ea = np.atleast_1d(np.asarray(self.emotion_alpha, dtype=float))
        if ea.size == 0 or (ea <= 0).any():
            raise ValueError("emotion_alpha must be positive (or a non-empty sequence of them)")
        return alphas

    # --------------------------------------------------------------- fit
    def fit(self, X, y, distributions=None, groups=None):
        """Compute the features of ``X`` and fit every head.

        Parameters
        ----------
        X : sequence of images
            Paths, arrays or PIL images.
        y : array-like of shape (n_samples, 2)
            Valence and arousal on 1-9.
        distributions : array-like of shape (n_samples, 7), optional
            Rated emotion distributions (Emotion6's order: anger, disgust,
            fear, joy, sadness, surprise, neutral).  Rows of NaN (images of
            a set without distributions) are left out of that head only.
        groups : array-like of shape (n_samples,), optional
            The picture set (and so the raters) of each image.  With two or
            more sets, the intervals for new raters (``new_raters=True`` in
            :meth:`predict_interval`) are calibrated on leave-one-set-out
            residuals: ``shift_scale_``, per target, is the ``coverage``
            quantile of each held-out set's residuals over the half-width of
            the CV+ interval that the model fitted without that set gives
            (at least 1).

        Returns
        -------
        self
        """
        features = _default_features() if self.features is None else clone(self.features)
        F = features.fit_transform(X)
        F_other = None
        if self.ood_examples:
            from .datasets import make_non_photos

            rng = check_random_state(self.random_state)
            items = list(X) if not isinstance(X, (str, os.PathLike)) else [X]
            pick = rng.choice(len(items), min(len(items), 3 * int(self.ood_examples)),
                              replace=False)
            others, _ = make_non_photos([items[i] for i in pick], int(self.ood_examples),
                                        random_state=rng.randint(2 ** 31 - 1))
            F_other = clone(features).set_params(cache_dir=None, verbose=False).fit_transform(others)
        return self._fit_features(features, F, y, distributions, F_other=F_other, groups=groups)

    def _fit_features(self, features, F, y, distributions=None, F_other=None, groups=None):
        """Fit the heads on precomputed features ``F`` of the training images
        (and ``F_other`` of generated non-photos, for the out-of-distribution
        score; without them the model has none)."""
        alphas = self._validate()
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != 2:
            raise ValueError(f"y must be (n_samples, 2) valence/arousal, got shape {y.shape}")
        F = np.asarray(F, dtype=np.float64)
        if len(F) != len(y):
            raise ValueError(f"X has {len(F)} images but y has {len(y)} rows")
        bad = ~np.isfinite(F).all(axis=1)
        if bad.any():
            raise ValueError(f"{int(bad.sum())} training image(s) have no features (unreadable)")
        clip = None if self.clip is None else float(self.clip)
        self.features_ = features
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
            fold_of = np.empty(len(F), dtype=np.int64)
            resid = np.empty_like(y)
            alphas_k = []
            kf = KFold(int(self.cv), shuffle=True, random_state=self.random_state)
            ood_oof = np.empty(len(F))
            for k, (tr, te) in enumerate(kf.split(F)):
                lin, a = LinearHead.fit(F[tr], y[tr], alphas, clip)
                self.folds_.append(lin)
                alphas_k.append(a)
                fold_of[te] = k
                resid[te] = np.abs(y[te] - lin.predict(F[te]))
                if F_other is not None:
                    c, b = ood_fit(lin.standardise(F[tr]), lin.standardise(F_other),
                                   float(self.ood_C))
                    ood_oof[te] = ood_score(lin.standardise(F[te]), c, b)
            self.fold_of_ = fold_of
            self.calibration_residuals_ = resid
            self.fold_alpha_ = np.asarray(alphas_k)
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
            self.emotion_coef_, self.emotion_intercept_, self.emotion_alpha_ = _fit_emotion_head(
                Z[rows], P, self.emotion_alpha, self.emotion_components, self.random_state)
            self.emotion_names_ = list(EMOTION_NAMES)
        self.shift_scale_ = None
        if groups is not None:
            self.shift_scale_ = self._fit_shift_scale(features, F, y, groups)
        return self

    def _fit_shift_scale(self, features, F, y, groups):
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
            sub = clone(self).set_params(ood_examples=0, adapt_components=0)
            sub._fit_features(features, F[~held], y[~held])
            iv = sub._interval_features(F[held])
            half = np.maximum((iv[..., 1] - iv[..., 0]) / 2, 1e-9)
            ratios.append(np.abs(y[held] - iv.mean(axis=-1)) / half)
        R = np.vstack(ratios)
        q = np.quantile(R, float(self.coverage), axis=0, method="higher")
        return np.maximum(q, 1.0)

    # ----------------------------------------------------------- predict
    def _features(self, X):
        check_is_fitted(self, "main_")
        F = np.asarray(self.features_.transform(X), dtype=np.float64)
        if F.shape[1] != self.n_features_in_:
            raise ValueError(f"features have {F.shape[1]} columns, the model expects {self.n_features_in_}")
        return F

    def _on_features(self, X, method):
        """``method`` on the features of ``X``.  When the feature transformer
        raises :class:`ImageBatchError` (its ``on_error="raise"``), the error
        is re-raised with ``partial`` holding ``method``'s result on the good
        images, NaN rows for the bad ones: nothing computed is lost."""
        try:
            F = self._features(X)
        except ImageBatchError as err:
            if err.features is None:
                raise
            raise err.with_partial(method(np.asarray(err.features, dtype=np.float64))) from None
        return method(F)

    @staticmethod
    def _rows(F):
        ok = np.isfinite(F).all(axis=1)
        return ok, F[ok]

    def predict(self, X):
        """Predict valence and arousal (1-9).

        Parameters
        ----------
        X : sequence of images

        Returns
        -------
        y_pred : ndarray of shape (n_images, 2)
            Valence and arousal, clipped to [1, 9].  Images that could not
            be read (with ``features__on_error="nan"``) get NaN rows.
        """
        return self._on_features(X, self._predict_features)

    def _predict_features(self, F):
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
        """How unlike the training photos each image is (out of distribution).

        The log-odds, from a classifier of the image features fitted on the
        training photos against generated non-photographs (``fit``'s
        ``ood_examples``), that the image is not a photo like them.  Above
        ``ood_threshold_`` (which lets through ``ood_pass`` of held-out
        photos like the training photos, calibrated out of fold) the image
        is flagged ``unusual`` in :meth:`predict_frame`: its prediction and
        interval are extrapolations.

        Parameters
        ----------
        X : sequence of images

        Returns
        -------
        score : ndarray of shape (n_images,)
            NaN for images that could not be read.
        """
        return self._on_features(X, self._ood_features)

    def _ood_features(self, F):
        check_is_fitted(self, "main_")
        if getattr(self, "ood_coef_", None) is None:
            raise ValueError("this model has no out-of-distribution score (fitted with "
                             "ood_examples=0, or from features without non-photo examples)")
        out = np.full(len(F), np.nan)
        ok, G = self._rows(F)
        if len(G):
            Z = self.main_.standardise(G)
            out[ok] = ood_score(Z, self.ood_coef_, self.ood_intercept_)
        return out

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
              max_images=MAX_ADAPT_IMAGES, collection=None):
        """A copy of this model adapted to your raters, from a few rated images.

        Raters of different picture sets mean different things by valence
        and arousal, so a model fitted on public sets transfers imperfectly
        to yours.  Give it ``k`` of your images (a few dozen help; 50-100
        help more) with your raters' valence and arousal, and each strategy
        of :mod:`sklearn_emotion._adapt` is scored per target by
        ``cv``-fold cross-validation on those images alone: ``"keep"`` (this
        model unchanged), ``"outputs"`` (re-weight its own outputs),
        ``"shrunk"`` (a ridge correction shrunk toward its coefficients) and
        ``"refit"`` (its head refitted on its training images plus yours,
        weighted up; needs a model that stores its training summary, as
        :func:`load_pretrained`'s does).  The best is fitted on all ``k``
        images.  Since the unadapted model competes, with labels that carry
        nothing the adapted model falls back to it.

        The intervals are recalibrated on your images: CV+ with the chosen
        strategy refitted inside each fold, so they hold their nominal
        coverage on more images like yours, rated by the same raters.
        Below 20 rated images (``MIN_ADAPT_IMAGES``) adaptation measured no
        reliable gain and so few residuals cannot calibrate an interval:
        a warning says so, and the intervals also hold the unadapted
        model's (for new raters, when it has those).

        Your images also become a reference for the out-of-distribution
        flag: an image is ``unusual`` for the adapted model only when it is
        unlike the training photos *and* unlike your images (further from
        the nearest of them than 95 % of your images are from their nearest
        neighbour, see :func:`~sklearn_emotion._adapt.reference_threshold`).
        So once adapted on your own kind of pictures (drawings, say), more
        pictures of that kind are no longer flagged, and their intervals are
        not widened.  ``collection`` adds unrated images of the same
        collection to that reference.

        Warnings name rated images the model was trained on (its
        cross-validation on them is optimistic), images rated more than
        once (merged), and images whose features could not be computed
        (left out; with the feature transformer's ``on_error="raise"``
        they raise instead).

        Parameters
        ----------
        X : sequence of images
            Your rated images (paths, arrays or PIL images).
        y : array-like of shape (k, 2)
            Their valence and arousal, on 1-9 (map another scale first,
            e.g. ``1 + (x - 1) * 8 / 6`` for 1-7).
        strategies : sequence of str, default=all four
            Candidates.
        cv : int, default=5
            Folds of the selection and of the recalibration (at most ``k``).
        weight : float, default=0.25
            ``"refit"``: your images' total weight relative to the training
            set's.
        random_state : int, default=0
            Shuffles the folds (and picks the subsample, see ``max_images``).
        max_images : int, default=500
            Adaptation's work grows with the square of the number of rated
            images (``"refit"`` solves a k × k system per fold) while its
            gains level off after about a hundred (``benchmarks/results/
            pretrained_v2/adapt.md``): above this many distinct images, a
            seeded random subsample of this many is used, with a warning.
            Images rated more than once (identical features) are merged
            first, their ratings averaged, with a warning.
        collection : sequence of images, optional
            More images of your collection, without ratings: they describe
            it for the out-of-distribution flag (with the rated images; at
            most ``max_images`` of them, a seeded subsample above that).

        Returns
        -------
        model : AffectModel
            A fitted copy; ``adaptation_`` records the chosen strategy and
            every candidate's cross-validated MSE, per target.  This model
            is unchanged.  It saves and loads like any other.
        """

        check_is_fitted(self, "main_")
        if getattr(self, "adaptation_", None) is not None:
            raise ValueError("this model is already adapted: adapt the model it came from")
        items = as_image_list(X)
        paths = [os.fspath(i) for i in items if isinstance(i, (str, os.PathLike))]
        if paths:
            from .collection import training_overlap

            seen = training_overlap(self, paths)
            if seen:
                warn_user(
                    f"{len(seen)} of the {len(items)} rated images are in this model's training "
                    f"set (e.g. {seen[0]}): the model has seen their ratings, so the "
                    "cross-validation that chooses the strategy is optimistic on them; adapt "
                    "on images it was not trained on", UserWarning)
        F = self._features(items)
        F_coll = None if collection is None else self._features(as_image_list(collection))
        return self._adapt_features(F, y, strategies=strategies, cv=cv, weight=weight,
                                    random_state=random_state, max_images=max_images,
                                    F_collection=F_coll, names=items)

    def _adapt_features(self, F, y, *, strategies=STRATEGIES, cv=5, weight=0.25, random_state=0,
                        max_images=MAX_ADAPT_IMAGES, F_collection=None, names=None):
        import copy

        from ._image import describe_item

        if getattr(self, "adaptation_", None) is not None:
            raise ValueError("this model is already adapted: adapt the model it came from")
        y = np.asarray(y, dtype=np.float64)
        F = np.asarray(F, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != 2 or len(y) != len(F):
            raise ValueError(f"y must be ({len(F)}, 2) valence/arousal, got shape {y.shape}")
        if not np.isfinite(y).all():
            bad = np.flatnonzero(~np.isfinite(y).all(axis=1))
            raise ValueError(f"{len(bad)} rating(s) are missing or not finite (first at row "
                             f"{int(bad[0])}); leave those images out")
        ok = np.isfinite(F).all(axis=1)
        if not ok.all():
            bad = np.flatnonzero(~ok)
            shown = ", ".join(describe_item(names[i], int(i)) if names is not None else
                              f"row {int(i)}" for i in bad[:5])
            warn_user(f"{len(bad)} rated image(s) have no features (unreadable) and are left "
                          f"out: {shown}" + (" ..." if len(bad) > 5 else ""), UserWarning)
            F, y = F[ok], y[ok]
            if len(F) < 2:
                raise ValueError("fewer than 2 rated images have features: nothing to adapt on")
        if ((y < 1) | (y > 9)).any():
            bad = np.flatnonzero(((y < 1) | (y > 9)).any(axis=1))
            raise ValueError(f"{len(bad)} rating(s) outside the 1-9 scale (first at row "
                             f"{int(bad[0])}: {y[bad[0]].tolist()}); map another scale first, "
                             "e.g. 1 + (x - 1) * 8 / 6 for 1-7")
        F, y = _merged_duplicates(F, y)
        if not (isinstance(max_images, Integral) and max_images >= 2):
            raise ValueError(f"max_images must be an integer >= 2, got {max_images!r}")
        if len(F) > max_images:

            warn_user(f"{len(F)} rated images: adaptation uses a random {max_images} of them "
                          f"(max_images; its work grows with the square of the number, its "
                          "gains level off after about a hundred)", UserWarning)
            keep = np.sort(check_random_state(random_state).choice(len(F), max_images,
                                                                   replace=False))
            F, y = F[keep], y[keep]
        unknown = [s for s in strategies if s not in STRATEGIES]
        if unknown or not strategies:
            raise ValueError(f"strategies must be a non-empty subset of {STRATEGIES}, got "
                             f"{list(strategies)}")
        if not 0 < float(weight):
            raise ValueError(f"weight must be > 0, got {weight!r}")
        if len(F) < MIN_ADAPT_IMAGES:
            warn_user(
                f"{len(F)} rated images: below {MIN_ADAPT_IMAGES}, adaptation measured no reliable "
                "gain (benchmarks/results/pretrained_v2/adapt.md: at k = 10 the adapted r equals "
                "the unadapted r within 0.04; gains start at k = 20) and so few residuals cannot "
                "calibrate an interval (arousal coverage 0.72 for a nominal 0.80 at k = 10): the "
                "adapted intervals also hold the unadapted model's. Rate 20 or more images, "
                "50-100 for clear gains", UserWarning)
        ctx = self._adapt_context(F)
        targets = cv_select(ctx, y, strategies=tuple(strategies), cv=cv,
                            random_state=random_state, prior=self._adapt_prior(),
                            weight=float(weight))
        reference = self._collection_reference(F, F_collection, max_images, random_state)
        new = copy.copy(self)
        new.adaptation_ = {"targets": targets, "n_images": int(len(y)), "weight": float(weight),
                           "cv": int(cv), "random_state": random_state,
                           # your raters' spread: what unusual images widen toward
                           "rating_range": rating_range(y, self.coverage).tolist(),
                           **reference}
        return new

    def _collection_reference(self, F, F_collection, max_images, random_state):
        """The user's images as a reference for the out-of-distribution flag:
        their standardised features (float32, as saved; no two equal) and
        the distance threshold of :func:`reference_threshold`."""

        if F_collection is not None:
            F_collection = np.asarray(F_collection, dtype=np.float64)
            if F_collection.ndim != 2 or F_collection.shape[1] != F.shape[1]:
                raise ValueError(f"collection features must have {F.shape[1]} columns, got shape "
                                 f"{F_collection.shape}")
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
        Z = self.main_.standardise(F).astype(np.float32)
        Z = np.unique(Z, axis=0)  # an image both rated and in the collection counts once
        if len(Z) < 2:
            return {}
        Z = Z.astype(np.float64)
        return {"reference": Z, "reference_threshold": reference_threshold(Z, self.ood_pass)}

    def predict_interval(self, X, *, new_raters=False):
        """Prediction intervals at the nominal ``coverage`` (CV+).

        Parameters
        ----------
        X : sequence of images
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
        intervals : ndarray of shape (n_images, 2, 2)
            ``[:, j, 0]`` and ``[:, j, 1]`` are the low and high ends for
            target ``j`` (0 valence, 1 arousal), within [1, 9].
        """
        return self._on_features(X, lambda F: self._interval_features(F, new_raters=new_raters))

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
        scores when already computed (:meth:`_ood_features`)."""
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
            res = _scaled_about_centre(res, scale)
        return res

    def _collection_distance(self, G):
        """Finite rows' distance to the nearest of the images an adapted model
        was adapted on, over the reference threshold (at most 1: one of
        them), or None for a model without that reference."""
        adaptation = getattr(self, "adaptation_", None)
        if not adaptation or adaptation.get("reference") is None:
            return None
        d = reference_distance(self.main_.standardise(G), adaptation["reference"])
        thr = float(adaptation["reference_threshold"])
        return d / thr if thr > 0 else np.where(d > 0, np.inf, 0.0)

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
            ends = _scaled_about_centre(ends, scale)
        if score is None:
            score = ood_score(self.main_.standardise(G), self.ood_coef_, self.ood_intercept_)
        weight = unusual_weight(score, self.ood_threshold_)
        near = self._collection_distance(G)
        if near is not None:  # unusual only if unlike the user's images too
            weight = np.minimum(weight, collection_weight(near, 1.0))
        return widen_intervals(res, weight, ends)

    def predict_emotions(self, X):
        """Predicted distribution over Emotion6's seven emotions.

        Parameters
        ----------
        X : sequence of images

        Returns
        -------
        proba : ndarray of shape (n_images, 7)
            Probabilities in the order of ``emotion_names_``; rows sum to 1.
        """
        return self._on_features(X, self._emotions_features)

    def _emotions_features(self, F):
        check_is_fitted(self, "main_")
        if self.emotion_names_ is None:
            raise ValueError("this model was fitted without emotion distributions")
        out = np.full((len(F), len(self.emotion_names_)), np.nan)
        ok, G = self._rows(F)
        if len(G):
            Z = self.main_.standardise(G)
            out[ok] = softmax(Z @ self.emotion_coef_ + self.emotion_intercept_, axis=1)
        return out

    def predict_frame(self, X, *, new_raters=False):
        """Everything at once, as a pandas DataFrame (one row per image).

        Columns: ``valence``, ``arousal``; ``valence_low_80``,
        ``valence_high_80``, ``arousal_low_80``, ``arousal_high_80`` (the
        interval ends, named by their coverage, when intervals were
        calibrated; with ``new_raters=True`` the intervals for another
        set's raters, see :meth:`predict_interval`, named
        ``valence_low_80_new_raters`` and so on); ``ood_score`` and ``unusual`` (see :meth:`ood_score`;
        ``unusual`` is True above ``ood_threshold_``; for a model adapted
        on your images, only when the image is also unlike those, and
        ``collection_distance`` is its distance to the nearest of them
        over the reference threshold: at most 1 for an image like them,
        see :meth:`adapt`); ``p_<emotion>`` for
        each emotion and ``emotion`` (the most likely one) when the model
        has an emotion head.  The features are computed once.

        The index is the images' paths (named ``"path"``) when every image
        was given as a path, otherwise 0..n-1.
        """
        self._shift_scale(new_raters)  # refuse before computing features
        index = path_index(as_image_list(X))

        def frame(F):
            out = self._frame_from_features(F, new_raters=new_raters)
            return out if index is None else out.set_axis(index, axis=0)

        return self._on_features(X, frame)

    def _frame_from_features(self, F, new_raters=False):
        import pandas as pd

        cols = {}
        pred = self._predict_features(F)
        cols["valence"], cols["arousal"] = pred[:, 0], pred[:, 1]
        # the out-of-distribution score once: a column, and the widening of intervals
        score = self._ood_features(F) if getattr(self, "ood_coef_", None) is not None else None
        if self.folds_:
            iv = self._interval_features(F, new_raters=new_raters, ood=score)
            pct = f"{100 * float(self.coverage):g}" + ("_new_raters" if new_raters else "")
            for j, t in enumerate(TARGET_NAMES):
                cols[f"{t}_low_{pct}"], cols[f"{t}_high_{pct}"] = iv[:, j, 0], iv[:, j, 1]
        if score is not None:
            cols["ood_score"] = score
            ok = np.isfinite(score)
            near = None
            if ok.any():
                near = self._collection_distance(np.asarray(F, dtype=np.float64)[ok])
            if near is not None:
                col = np.full(len(F), np.nan)
                col[ok] = near
                cols["collection_distance"] = col
            if self.ood_threshold_ is not None:
                flag = np.array([None] * len(F), dtype=object)
                flag[ok] = score[ok] > self.ood_threshold_
                if near is not None:
                    flag[ok] = flag[ok].astype(bool) & (near > 1.0)
                cols["unusual"] = flag
        if self.emotion_names_ is not None:
            P = self._emotions_features(F)
            for k, e in enumerate(self.emotion_names_):
                cols[f"p_{e}"] = P[:, k]
            top = np.array([None] * len(P), dtype=object)
            ok = np.isfinite(P).all(axis=1)
            top[ok] = np.asarray(self.emotion_names_, dtype=object)[P[ok].argmax(axis=1)]
            cols["emotion"] = top
        return pd.DataFrame(cols)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    # ------------------------------------------------------- persistence
    def save(self, path, metadata=None):
        """Save as ``model.json`` + ``arrays.npz`` in the folder ``path``.

        Nothing is pickled: the JSON names the feature transformer's class
        (one of this package's) and its parameters; the arrays are plain
        numeric arrays.  :func:`load_pretrained` reads it back.

        Parameters
        ----------
        path : str or path-like
            Folder to create or overwrite.
        metadata : dict, optional
            JSON-serialisable notes stored under ``"metadata"`` (training
            data, recipe, checks).
        """
        check_is_fitted(self, "main_")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        fparams = {k: v for k, v in self.features_.get_params(deep=False).items()
                   if k not in ("cache_dir", "memory", "n_jobs", "verbose")}
        desc = {
            "format": FORMAT[0],
            "format_version": FORMAT[1],
            "features": {"class": type(self.features_).__name__, "params": _jsonable(fparams),
                         "names": [str(n) for n in self.features_.get_feature_names_out()]},
            "params": _jsonable({k: v for k, v in self.get_params(deep=False).items()
                                 if k != "features"}),
            "targets": list(TARGET_NAMES),
            "n_train": int(self.n_train_),
            "alpha": [float(a) for a in self.alpha_],
            "emotion_names": self.emotion_names_,
            "emotion_alpha": getattr(self, "emotion_alpha_", None),
            "metadata": metadata or {},
        }
        arrays = {f"main_{k}": getattr(self.main_, k) for k in ("mean", "scale", "coef", "intercept")}
        for i, f in enumerate(self.folds_):
            for k in ("mean", "scale", "coef", "intercept"):
                arrays[f"fold{i}_{k}"] = getattr(f, k)
        if self.folds_:
            arrays["fold_of"] = self.fold_of_
            arrays["calibration_residuals"] = self.calibration_residuals_
            arrays["fold_alpha"] = self.fold_alpha_
        if self.emotion_names_ is not None:
            arrays["emotion_coef"] = self.emotion_coef_
            arrays["emotion_intercept"] = self.emotion_intercept_
        if getattr(self, "ood_coef_", None) is not None:
            arrays["ood_coef"] = self.ood_coef_
            desc["ood_intercept"] = float(self.ood_intercept_)
            desc["ood_threshold"] = self.ood_threshold_
        if getattr(self, "shift_scale_", None) is not None:
            desc["shift_scale"] = [float(v) for v in self.shift_scale_]
        if getattr(self, "rating_range_", None) is not None:
            desc["rating_range"] = np.asarray(self.rating_range_, dtype=float).tolist()
        if getattr(self, "gram_basis_", None) is not None:
            arrays["gram_basis"] = self.gram_basis_
            arrays["gram_eigvals"] = self.gram_eigvals_
            desc["gram_rest"] = float(self.gram_rest_)
        adaptation = getattr(self, "adaptation_", None)
        if adaptation is not None:
            desc["format_version"] = ADAPTED_FORMAT_VERSION
            targets = []
            for j, t in enumerate(adaptation["targets"]):
                targets.append({"strategy": t["strategy"], "cv_mse": t["cv_mse"],
                                "cv_r": t.get("cv_r"),
                                "n_folds": len(t["fold_params"]),
                                "params": sorted(t["params"]),
                                "fold_param_names": sorted(t["fold_params"][0])})
                arrays[f"adapt{j}_fold_of"] = t["fold_of"]
                arrays[f"adapt{j}_residuals"] = t["residuals"]
                for k, v in t["params"].items():
                    arrays[f"adapt{j}_main_{k}"] = np.asarray(v)
                for i, fp in enumerate(t["fold_params"]):
                    for k, v in fp.items():
                        arrays[f"adapt{j}_fold{i}_{k}"] = np.asarray(v)
            desc["adaptation"] = {k: v for k, v in adaptation.items()
                                  if k not in ("targets", "reference")}
            desc["adaptation"]["targets"] = targets
            if adaptation.get("reference") is not None:
                arrays["adapt_reference"] = np.asarray(adaptation["reference"])
        # float32 halves the size; every number the model uses is stored once
        stored = {k: (v.astype(np.float32) if v.dtype.kind == "f" and v.ndim > 1 else v)
                  for k, v in arrays.items()}
        np.savez_compressed(path / "arrays.npz", **stored)
        with open(path / "model.json", "w", encoding="utf-8") as f:
            json.dump(desc, f, indent=1, sort_keys=True)
            f.write("\n")
        return path

    def _cast_like_saved(self):
        """Round the multi-dimensional arrays to float32, as :meth:`save` stores them,
        so a freshly fitted model predicts exactly what its saved copy will."""
        for lin in [self.main_, *self.folds_]:
            lin.coef = lin.coef.astype(np.float32).astype(np.float64)
        if self.emotion_names_ is not None:
            self.emotion_coef_ = self.emotion_coef_.astype(np.float32).astype(np.float64)
        if getattr(self, "gram_basis_", None) is not None:
            self.gram_basis_ = self.gram_basis_.astype(np.float32).astype(np.float64)
        return self


def _merged_duplicates(F, y):
    """Rows of ``F`` that occur more than once (an image rated twice) merged
    into one, their ratings averaged, with a warning; order of first
    occurrence kept.  Rows are grouped by a hash of their bytes (sorting
    10,000 rows of 8,224 features took 20 s and 2 GB), then compared."""
    import hashlib

    groups: dict = {}
    for i, row in enumerate(np.ascontiguousarray(F)):
        h = hashlib.blake2b(row.tobytes(), digest_size=16).digest()
        members = groups.setdefault(h, [])
        # the same hash and different bytes would be a collision: keep them apart
        for g in members:
            if np.array_equal(F[g[0]], row):
                g.append(i)
                break
        else:
            members.append([i])
    rows = sorted((g for members in groups.values() for g in members), key=lambda g: g[0])
    if len(rows) == len(F):
        return F, y

    repeated = sum(len(g) > 1 for g in rows)
    warn_user(f"{repeated} image(s) rated more than once ({len(F)} rows for {len(rows)} "
                  "images): their ratings are averaged", UserWarning)
    return F[[g[0] for g in rows]], np.array([y[g].mean(axis=0) for g in rows])


def _jsonable(d):
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.integer,)):
            v = int(v)
        elif isinstance(v, (np.floating,)):
            v = float(v)
        elif isinstance(v, (tuple, list, np.ndarray)):
            v = [x.item() if hasattr(x, "item") else x for x in v]
        elif isinstance(v, os.PathLike):
            v = os.fspath(v)
        if not isinstance(v, (str, int, float, bool, list, type(None))):
            raise TypeError(f"parameter {k}={v!r} cannot be saved as JSON")
        out[k] = v
    return out

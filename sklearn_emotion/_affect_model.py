"""The affect model: valence, arousal, intervals and emotions of images.

:class:`AffectModel` is a scikit-learn regressor over images: a feature
transformer (pooled activations of pretrained CNNs,
:class:`~sklearn_emotion.PooledLayerFeatures`, by default) in front of an
:class:`~sklearn_emotion.AffectHead`, which does everything else on the
feature matrix (ridge heads, CV+ intervals, emotions, the
out-of-distribution flag, adaptation).  Each method computes the features
and hands them to the head.  A fitted model is saved as a JSON description
plus a ``.npz`` of arrays and loaded without unpickling
(:mod:`sklearn_emotion._affect_io`); the public face of this module, the
persistence and the recipes is :mod:`sklearn_emotion.pretrained`.
"""

from __future__ import annotations

import copy
import os
from functools import partial
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ._affect_head import (
    ADAPT_STRATEGIES,
    DEFAULT_ALPHAS,
    MAX_ADAPT_IMAGES,
    TARGET_NAMES,
    AffectHead,
    LinearHead,
)
from ._adapt import STRATEGIES
from ._image import ImageBatchError, as_image_list, path_index
from ._warn import warn_user

__all__ = ["ADAPT_STRATEGIES", "AffectModel", "DEFAULT_ALPHAS", "LinearHead", "MAX_ADAPT_IMAGES",
           "TARGET_NAMES"]

#: The parameters of the head (every one of AffectModel's but ``features``
#: and ``ood_examples``, which are about images).
HEAD_PARAMS = ("alphas", "clip", "coverage", "cv", "emotion_alpha", "emotion_components",
               "adapt_components", "ood_C", "ood_pass", "widen_unusual", "random_state")


#: The parameters the head reads when it predicts, not only when it fits.
PREDICT_PARAMS = ("coverage", "widen_unusual")


def _default_features():
    from .features import PooledLayerFeatures

    return PooledLayerFeatures()


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
    head_ : AffectHead
        The fitted head on the features: every attribute below is its
        (read through the model, e.g. ``model.alpha_``), and
        ``model.head_`` predicts from feature matrices directly.
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
        "ood_examples": [Interval(Integral, 0, None, closed="left")],
        **AffectHead._parameter_constraints,
    }

    def _validate(self):
        self._validate_params()
        self._new_head()._validate()

    def set_params(self, **params):
        """Set parameters; on a fitted model, those the head reads when it
        predicts (``coverage``, ``widen_unusual``) reach its head too,
        without refitting.  The others take effect at the next ``fit``."""
        super().set_params(**params)
        head = self.__dict__.get("head_")
        now = {k: v for k, v in params.items() if k in PREDICT_PARAMS}
        if head is not None and now:
            head.set_params(**now)
        return self

    def _new_head(self):
        return AffectHead(**{k: getattr(self, k) for k in HEAD_PARAMS})

    def __getattr__(self, name):
        # the head's fitted attributes read through the model (model.alpha_)
        if name.endswith("_") and not name.startswith("__") and name != "head_":
            head = self.__dict__.get("head_")
            if head is not None:
                return getattr(head, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        """Fit the head on precomputed features ``F`` of the training images
        (and ``F_other`` of generated non-photos, for the out-of-distribution
        score; without them the model has none)."""
        self._validate_params()
        head = self._new_head().fit(F, y, distributions=distributions, groups=groups,
                                     X_other=F_other)
        self.features_ = features
        self.head_ = head
        self.n_features_in_ = head.n_features_in_
        return self

    # ----------------------------------------------------------- predict
    def _features(self, X):
        check_is_fitted(self, "head_")
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
        check_is_fitted(self, "head_")
        return self._on_features(X, self.head_.predict)

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
        check_is_fitted(self, "head_")
        return self._on_features(X, self.head_.ood_score)

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
        if new_raters:
            self.head_.check_new_raters()  # refuse before computing features
        return self._on_features(X, partial(self.head_.predict_interval, new_raters=new_raters))

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
        check_is_fitted(self, "head_")
        return self._on_features(X, self.head_.predict_emotions)

    def predict_frame(self, X, *, new_raters=False):
        """Everything at once, as a pandas DataFrame (one row per image).

        Columns: ``valence``, ``arousal``; ``valence_low_80``,
        ``valence_high_80``, ``arousal_low_80``, ``arousal_high_80`` (the
        interval ends, named by their coverage, when intervals were
        calibrated; with ``new_raters=True`` the intervals for another
        set's raters, see :meth:`predict_interval`, named
        ``valence_low_80_new_raters`` and so on); ``ood_score`` and ``unusual`` (see :meth:`ood_score`;
        ``unusual`` is True above ``ood_threshold_``, or for a model adapted
        on your images above the threshold your images raised, see
        :meth:`adapt`); ``p_<emotion>`` for
        each emotion and ``emotion`` (the most likely one) when the model
        has an emotion head.  The features are computed once.

        The index is the images' paths (named ``"path"``) when every image
        was given as a path, otherwise 0..n-1.
        """
        check_is_fitted(self, "head_")
        if new_raters:
            self.head_.check_new_raters()  # refuse before computing features
        return self._on_features(X, partial(self.head_.predict_frame, new_raters=new_raters,
                                            index=path_index(as_image_list(X))))


    # --------------------------------------------------------- adaptation
    def _warn_training_overlap(self, items):
        """Warn when rated images are in this model's training set."""
        from .datasets import training_overlap

        paths = [os.fspath(i) for i in items if isinstance(i, (str, os.PathLike))]
        seen = training_overlap(self, paths) if paths else []
        if seen:
            warn_user(
                f"{len(seen)} of the {len(items)} rated images are in this model's training "
                f"set (e.g. {seen[0]}): the model has seen their ratings, so the "
                "cross-validation that chooses the strategy is optimistic on them; adapt "
                "on images it was not trained on", UserWarning)

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
        flag: the adapted model flags an image ``unusual`` only when its
        score is above both the training threshold and the score that 95 %
        (``ood_pass``) of your images stay below (a split-conformal order
        statistic of their scores, see
        :func:`~sklearn_emotion._adapt.reference_threshold`;
        ``adaptation_["ood_threshold"]``).  So once adapted on your own kind
        of pictures (drawings, say), more pictures of that kind are no
        longer flagged and their intervals no longer widened, while images
        even less like photos than yours still are.  ``collection`` adds
        unrated images of the same collection to that reference.

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
            A fitted copy that shares nothing mutable with this one (its
            own feature transformer and head); ``adaptation_`` records the
            chosen strategy and every candidate's cross-validated MSE, per
            target.  This model is unchanged.  It saves and loads like any
            other.
        """

        check_is_fitted(self, "main_")
        if getattr(self, "adaptation_", None) is not None:
            raise ValueError("this model is already adapted: adapt the model it came from")
        items = as_image_list(X)
        self._warn_training_overlap(items)
        F = self._features(items)
        F_coll = None if collection is None else self._features(as_image_list(collection))
        return self._adapt_features(F, y, strategies=strategies, cv=cv, weight=weight,
                                    random_state=random_state, max_images=max_images,
                                    collection=F_coll, names=items)

    def _adapt_features(self, F, y, *, collection=None, names=None, **params):
        """:meth:`adapt` on precomputed features: a copy of this model with
        its own copy of the feature transformer and the adapted head."""
        check_is_fitted(self, "head_")
        head = self.head_.adapt(F, y, collection=collection, names=names, **params)
        new = copy.copy(self)
        new.__dict__ = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                         if k != "head_"}
        new.head_ = head
        return new

    # ------------------------------------------------- on feature matrices
    # (kept for the package's tests and older callers: the head's own
    # public methods are the API on feature matrices)
    def _predict_features(self, F):
        return self.head_.predict(F)

    def _interval_features(self, F, new_raters=False, ood=None):
        return self.head_.predict_interval(F, new_raters=new_raters)

    def _emotions_features(self, F):
        return self.head_.predict_emotions(F)

    def _ood_features(self, F):
        return self.head_.ood_score(F)

    def _frame_from_features(self, F, new_raters=False):
        return self.head_.predict_frame(F, new_raters=new_raters)

    def _cast_like_saved(self):
        self.head_.as_saved()
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    # ------------------------------------------------------- persistence
    # ------------------------------------------------------- persistence
    def save(self, path, metadata=None):
        """Save as ``model.json`` + ``arrays.npz`` (+ ``manifest.json``) in the folder ``path``.

        Nothing is pickled: the JSON names the feature transformer's class
        (one of this package's) and its parameters; the arrays are plain
        numeric arrays.  The folder is written beside its destination and
        moved into place only when complete, with a manifest that seals
        every file (see :func:`sklearn_emotion._affect_io.save_model`).
        :func:`load_pretrained` reads it back.

        Parameters
        ----------
        path : str or path-like
            Folder to create or replace.
        metadata : dict, optional
            JSON-serialisable notes stored under ``"metadata"`` (training
            data, recipe, checks).

        Returns
        -------
        path : pathlib.Path
        """
        from ._affect_io import save_model

        return save_model(self, path, metadata)

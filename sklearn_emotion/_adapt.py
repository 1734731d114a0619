"""Few-shot adaptation of a fitted affect model to a user's raters: pure functions.

Different rater pools mean different things by the same words, arousal above
all: a model fitted on one picture set transfers poorly to another set's
ratings even when both are predictable within themselves.  A few dozen images
rated by the user's own raters recover much of it.  No single recipe wins on
every set, so each *strategy* below is scored by K-fold cross-validation on
the user's ``k`` images alone, per target, and the best is kept (``"keep"``,
the unadapted model, competes too).

Every strategy maps the same per-image context (:func:`context`) to one
target's prediction:

``keep``
    the model's own prediction, unchanged.
``shift``
    the model's prediction moved by its mean residual on the ``k`` images
    (another set's raters may rate everything higher or lower).
``scale``
    ``a + b * prediction`` by least squares on the ``k`` images, ``b >= 0``:
    the model's ranking of the images, on the new raters' scale (its Pearson
    r is the unadapted model's).
``outputs``
    a ridge regression, on the ``k`` images, of the ratings on the model's
    own outputs (valence, arousal and, when it has them, the seven emotion
    probabilities), standardised; its penalty by leave-one-out.  It can
    re-scale, shift and mix the outputs (another set's "arousal" may be
    partly this model's valence).
``shrunk``
    a ridge correction ``delta + z @ d`` of the model's prediction on the
    standardised image features ``z``: the pretrained coefficients plus
    ``d``, shrunk toward them (toward ``d = 0``) with a penalty chosen by
    leave-one-out on the ``k`` images.
``refit``
    the head refitted on its training images plus the ``k`` new images, the
    new ones together weighted at ``weight`` times the training set's total
    weight.  For a ridge head this is exact in closed form without the
    training images: refitting moves the coefficients by ``d`` minimising
    ``d' H d + n * delta**2 + c * ||r - delta - Z_k d||**2``, with ``H`` the
    training images' (centred) Gram matrix plus the ridge penalty, ``r`` the
    model's residuals on the ``k`` images and ``c`` their weight.  The model
    stores ``H`` by its leading eigenvectors (:func:`gram_summary`); the
    remaining spectrum is replaced by its mean eigenvalue.

References: the CV+ intervals of :class:`~sklearn_emotion.AffectModel` are
recalibrated on the ``k`` images with the adaptation refitted inside each
fold (Barber, Candès, Ramdas & Tibshirani, "Predictive inference with the
jackknife+", Annals of Statistics 2021).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

__all__ = ["MIN_ADAPT_IMAGES", "STRATEGIES", "context", "cv_plus",
           "cv_select", "fit_strategy", "gram_summary", "reference_threshold",
           "ood_fit", "ood_score", "predict_strategy", "rating_range", "unusual_weight",
           "widen_intervals"]

#: Every strategy, in the order they win ties ("keep" first).
STRATEGIES = ("keep", "shift", "scale", "outputs", "shrunk", "refit")

_OUTPUT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 4, 15))
_SHRINK_ALPHAS = tuple(float(a) for a in np.logspace(0, 7, 15))


def gram_summary(Z, n_components=256):
    """The leading eigenpairs of the centred Gram matrix ``Zc' Zc``.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
        Standardised training features.
    n_components : int, default=256
        How many eigenpairs to keep.

    Returns
    -------
    basis : ndarray of shape (n_features, m)
        Orthonormal eigenvectors, largest eigenvalue first.
    eigvals : ndarray of shape (m,)
        Their eigenvalues.
    rest : float
        Mean of the eigenvalues left out, over the remaining dimensions
        (``(trace - eigvals.sum()) / (n_features - m)``).
    """
    Zc = Z - Z.mean(axis=0)
    _, s, Vt = np.linalg.svd(Zc, full_matrices=False)
    m = int(min(n_components, len(s)))
    eig = s ** 2
    rest = float((eig.sum() - eig[:m].sum()) / max(Z.shape[1] - m, 1))
    return Vt[:m].T.copy(), eig[:m].copy(), rest


def context(Z, base, emotions=None):
    """What every strategy reads of a batch of images.

    Parameters
    ----------
    Z : ndarray of shape (n, p)
        Standardised (clipped) features, as the model's head sees them.
    base : ndarray of shape (n, 2)
        The unadapted model's valence and arousal (before clipping to 1-9).
    emotions : ndarray of shape (n, 7) or None
        The model's emotion probabilities, when it has an emotion head.

    Returns
    -------
    ctx : dict
    """
    outputs = base if emotions is None else np.hstack([base, emotions])
    return {"Z": Z, "base": base, "outputs": outputs}


def _take(ctx, idx):
    return {k: v[idx] for k, v in ctx.items()}


def fit_strategy(name, ctx, y, j, prior=None, weight=0.25):
    """Fit strategy ``name`` for target ``j`` on the images of ``ctx``.

    Parameters
    ----------
    name : str
        One of :data:`STRATEGIES`.
    ctx : dict
        :func:`context` of the adaptation images.
    y : ndarray of shape (k,)
        Their ratings of target ``j`` (1-9).
    j : int
        0 valence, 1 arousal.
    prior : dict or None
        For ``"refit"``: ``basis``, ``eigvals``, ``rest`` (from
        :func:`gram_summary`), ``alpha`` (the head's ridge penalty for each
        target) and ``n_train``.
    weight : float, default=0.25
        For ``"refit"``: the new images' total weight relative to the
        training set's.

    Returns
    -------
    params : dict of ndarray
    """
    y = np.asarray(y, dtype=np.float64)
    if name == "keep":
        return {}
    if name == "outputs":
        O = ctx["outputs"]
        mean, scale = O.mean(axis=0), O.std(axis=0)
        scale[scale < 1e-12] = 1.0
        r = RidgeCV(alphas=_OUTPUT_ALPHAS).fit((O - mean) / scale, y)
        return {"mean": mean, "scale": scale, "coef": np.asarray(r.coef_, dtype=np.float64),
                "intercept": np.asarray(float(r.intercept_))}
    resid = y - ctx["base"][:, j]
    Z = ctx["Z"]
    if name == "shift":
        return {"intercept": np.asarray(float(resid.mean()))}
    if name == "scale":
        b = ctx["base"][:, j]
        bc = b - b.mean()
        slope = max(float(bc @ (y - y.mean()) / max(float(bc @ bc), 1e-12)), 0.0)
        return {"slope": np.asarray(slope), "intercept": np.asarray(float(y.mean() - slope * b.mean()))}
    if name == "shrunk":
        r = RidgeCV(alphas=_SHRINK_ALPHAS).fit(Z, resid)
        return {"coef": np.asarray(r.coef_, dtype=np.float64),
                "intercept": np.asarray(float(r.intercept_))}
    if name == "refit":
        if prior is None:
            raise ValueError("the 'refit' strategy needs the model's training summary")
        k = len(y)
        n = float(prior["n_train"])
        c = weight * n / k  # each new image's weight
        alpha = float(np.atleast_1d(prior["alpha"])[j])
        V, lam, rest = prior["basis"], prior["eigvals"], float(prior["rest"])
        # H^-1 x = V diag(1/(lam+alpha)) V'x + (x - V V'x) / (rest + alpha)
        ZT = Z.T
        VtZT = V.T @ ZT
        HinvZT = V @ (VtZT / (lam + alpha)[:, None]) + (ZT - V @ VtZT) / (rest + alpha)
        # theta = P^-1 A' (A P^-1 A' + I/c)^-1 r, A = [1 | Z], P = diag(n, H)
        G = np.ones((k, k)) / n + Z @ HinvZT + np.eye(k) / c
        u = solve(G, resid, assume_a="pos")
        return {"coef": HinvZT @ u, "intercept": np.asarray(float(u.sum() / n))}
    raise ValueError(f"unknown adaptation strategy {name!r}; choose from {STRATEGIES}")


def predict_strategy(name, params, ctx, j):
    """Target ``j``'s prediction of a fitted strategy on the images of ``ctx``."""
    base = ctx["base"][:, j]
    if name == "keep":
        return base.copy()
    if name == "outputs":
        return ((ctx["outputs"] - params["mean"]) / params["scale"]) @ params["coef"] \
            + float(params["intercept"])
    if name == "shift":
        return base + float(params["intercept"])
    if name == "scale":
        return float(params["slope"]) * base + float(params["intercept"])
    if name in ("shrunk", "refit"):
        return base + ctx["Z"] @ params["coef"] + float(params["intercept"])
    raise ValueError(f"unknown adaptation strategy {name!r}")


def _r(a, b):
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a @ a) * (b @ b)))
    return float(a @ b / den) if den > 0 else 0.0


def _p_positive(r, n):
    """One-sided p-value of a Pearson correlation ``r`` over ``n`` pairs."""
    from scipy.stats import t as student

    if n < 3:
        return 1.0
    r = min(max(float(r), -0.999999), 0.999999)
    return float(student.sf(r * np.sqrt((n - 2) / (1 - r * r)), n - 2))


def cv_select(ctx, Y, strategies=STRATEGIES, cv=5, random_state=0, prior=None, weight=0.25,
              n_repeats=3, alpha=0.05):
    """Choose a strategy per target by K-fold cross-validation on the k images.

    Parameters
    ----------
    ctx : dict
        :func:`context` of the ``k`` rated images.
    Y : ndarray of shape (k, 2)
        Their valence and arousal ratings.
    strategies : sequence of str
        Candidates (``"refit"`` is left out when ``prior`` is None).
    cv : int, default=5
        Folds (at most ``k``).
    random_state : int
        Shuffles the folds.
    n_repeats : int, default=3
        The choice averages the out-of-fold MSE over this many different
        shufflings of the folds (a few dozen images make one K-fold split
        noisy); the recalibration uses the first.
    alpha : float, default=0.05
        A strategy other than ``"keep"`` is eligible only when its
        out-of-fold predictions correlate positively with the ratings at
        this one-sided significance level; among the eligible ones (and
        ``"keep"``) the lowest out-of-fold MSE wins.  Ratings that carry no
        signal about the images (or that this model cannot follow) leave
        the model unchanged.  Without ``"keep"`` among ``strategies``
        there is nothing to fall back to, and every candidate is eligible.

    Returns
    -------
    result : list of dict, one per target
        ``strategy`` (the chosen one), ``cv_mse`` and ``cv_r`` (every
        candidate's out-of-fold mean squared error and Pearson r), ``fold_of`` (each image's fold),
        ``residuals`` (the chosen strategy's absolute out-of-fold residuals),
        ``fold_params`` (its model of each fold) and ``params`` (fitted on
        all ``k`` images).
    """
    Y = np.asarray(Y, dtype=np.float64)
    k = len(Y)
    cands = [s for s in strategies if s != "refit" or prior is not None]
    n_splits = int(min(cv, k))
    if n_splits < 2:
        raise ValueError(f"adaptation needs at least 2 rated images, got {k}")
    rng = np.random.RandomState(random_state)
    splits = [list(KFold(n_splits, shuffle=True, random_state=rng.randint(2 ** 31 - 1)).split(Y))
              for _ in range(max(1, int(n_repeats)))]
    folds = splits[0]
    fold_of = np.empty(k, dtype=np.int64)
    for f, (_, te) in enumerate(folds):
        fold_of[te] = f
    out = []
    for j in range(Y.shape[1]):
        mse, cv_r = {s: 0.0 for s in cands}, {s: 0.0 for s in cands}
        oof0, fold_params = {}, {s: [] for s in cands}
        for rep, split in enumerate(splits):
            oof = {s: np.empty(k) for s in cands}
            for tr, te in split:
                ctr, cte = _take(ctx, tr), _take(ctx, te)
                for s in cands:
                    p = fit_strategy(s, ctr, Y[tr, j], j, prior, weight)
                    if rep == 0:
                        fold_params[s].append(p)
                    oof[s][te] = predict_strategy(s, p, cte, j)
            for s in cands:
                mse[s] += float(np.mean((np.clip(oof[s], 1, 9) - Y[:, j]) ** 2)) / len(splits)
                cv_r[s] += _r(oof[s], Y[:, j]) / len(splits)
            if rep == 0:
                oof0 = oof
        # a change is made only where the out-of-fold predictions carry
        # signal about these ratings (one-sided test of Pearson r at
        # ``alpha``): labels unrelated to the images keep the model as it is
        eligible = [s for s in cands if s == "keep" or _p_positive(cv_r[s], k) < alpha]
        if "keep" not in cands:  # nothing to fall back to: the test does not apply
            eligible = cands
        best = min(eligible, key=lambda s: (mse[s], cands.index(s)))
        out.append({
            "strategy": best,
            "cv_mse": mse,
            "cv_r": cv_r,
            "fold_of": fold_of,
            "residuals": np.abs(Y[:, j] - oof0[best]),
            "fold_params": fold_params[best],
            "params": fit_strategy(best, ctx, Y[:, j], j, prior, weight),
        })
    return out


def cv_plus(fold_preds, fold_of, residuals, coverage):
    """CV+ interval ends from each fold model's predictions.

    Parameters
    ----------
    fold_preds : ndarray of shape (K, m)
        Each fold's model on ``m`` new images.
    fold_of : ndarray of shape (n,)
        The fold each calibration image was held out in.
    residuals : ndarray of shape (n,)
        Their absolute out-of-fold residuals.
    coverage : float
        Nominal coverage.

    Returns
    -------
    lo, hi : ndarray of shape (m,)
    """
    n = len(fold_of)
    a = 1.0 - float(coverage)
    k_lo = min(max(int(np.floor(a * (n + 1))), 1), n)
    k_hi = min(max(int(np.ceil((1 - a) * (n + 1))), 1), n)
    mu = fold_preds[fold_of]  # (n, m)
    R = residuals[:, None]
    lo = np.partition(mu - R, k_lo - 1, axis=0)[k_lo - 1]
    hi = np.partition(mu + R, k_hi - 1, axis=0)[k_hi - 1]
    return lo, hi



def ood_fit(Z_photos, Z_others, C=0.1, random_state=0):
    """A photo-versus-non-photo classifier on standardised features.

    Outlier exposure (Hendrycks, Mazeika & Dietterich, ICLR 2019): a
    logistic regression separates the training photos from generated
    non-photos (:func:`sklearn_emotion.datasets.make_non_photos`), the two
    classes weighted equally.

    Parameters
    ----------
    Z_photos, Z_others : ndarray of shape (n, p), (m, p)
    C : float, default=0.1
        Inverse L2 penalty.

    Returns
    -------
    coef : ndarray of shape (p,)
    intercept : float
    """
    from sklearn.linear_model import LogisticRegression

    X = np.vstack([Z_photos, Z_others])
    lab = np.r_[np.zeros(len(Z_photos)), np.ones(len(Z_others))]
    w = np.r_[np.ones(len(Z_photos)), np.full(len(Z_others), len(Z_photos) / len(Z_others))]
    clf = LogisticRegression(C=C, max_iter=5000, random_state=random_state)
    clf.fit(X, lab, sample_weight=w)
    return clf.coef_.ravel().copy(), float(clf.intercept_[0])


def ood_score(Z, coef, intercept):
    """The classifier's log-odds that each image is not a photo like the training photos."""
    return Z @ coef + intercept


def rating_range(y, coverage):
    """The central ``coverage`` range of the ratings, per target.

    The interval a model that ignores the image would give: the split-
    conformal order statistics, so that it covers at least ``coverage`` of
    new images rated like ``y`` (exchangeable with them).  With too few
    ratings for an end, that end is the scale's own (1 or 9).

    Parameters
    ----------
    y : ndarray of shape (n, 2)
        Valence and arousal ratings.
    coverage : float
        Nominal coverage, in (0, 1).

    Returns
    -------
    ends : ndarray of shape (2, 2)
        ``[j, 0]`` and ``[j, 1]`` are the low and high end for target ``j``.
    """
    y = np.sort(np.asarray(y, dtype=np.float64), axis=0)
    n, q = len(y), (1 - float(coverage)) / 2
    # (the small tolerance: 0.8 as a float makes (1 - 0.8) / 2 just below 0.1)
    lo_k, hi_k = int(np.floor((n + 1) * q + 1e-9)), int(np.ceil((n + 1) * (1 - q) - 1e-9))
    lo = y[lo_k - 1] if lo_k >= 1 else np.full(y.shape[1], 1.0)
    hi = y[hi_k - 1] if hi_k <= n else np.full(y.shape[1], 9.0)
    return np.stack([lo, hi], axis=-1)


def unusual_weight(score, threshold):
    """How far each image is past the out-of-distribution threshold, in [0, 1].

    0 at or below ``threshold`` (the images the flag lets through), rising
    linearly in the classifier's log-odds to 1 at log-odds 0, where the
    classifier finds the image as likely a non-photo as a photo (its two
    classes weighted equally).  A threshold at or above 0 gives a step.

    Parameters
    ----------
    score : ndarray of shape (m,)
        Out-of-distribution log-odds (:func:`ood_score`).
    threshold : float
        The flag's threshold.

    Returns
    -------
    weight : ndarray of shape (m,)
    """
    score = np.asarray(score, dtype=np.float64)
    threshold = float(threshold)
    if threshold >= 0:
        return (score > threshold).astype(np.float64)
    return np.clip((score - threshold) / -threshold, 0.0, 1.0)


def widen_intervals(intervals, weight, ends):
    """Move each interval's ends toward the union with ``ends`` by ``weight``.

    With weight 0 the interval is unchanged; with weight 1 it is the smallest
    interval holding both itself and ``ends``; in between its ends move
    linearly.  It never narrows, and it grows with the weight.

    Parameters
    ----------
    intervals : ndarray of shape (m, 2, 2)
        ``[i, j, 0]``, ``[i, j, 1]``: image ``i``'s low and high end for target ``j``.
    weight : ndarray of shape (m,)
        In [0, 1] (:func:`unusual_weight`).
    ends : ndarray of shape (2, 2)
        Per target, the interval to widen toward (:func:`rating_range`).

    Returns
    -------
    widened : ndarray of shape (m, 2, 2)
    """
    iv = np.asarray(intervals, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)[:, None]
    out = iv.copy()
    out[..., 0] += w * (np.minimum(iv[..., 0], ends[None, :, 0]) - iv[..., 0])
    out[..., 1] += w * (np.maximum(iv[..., 1], ends[None, :, 1]) - iv[..., 1])
    return out


#: Below this many rated images adaptation measured no reliable gain
#: (``benchmarks/results/pretrained_v2/adapt.md``: at k = 10 the adapted
#: model's r equals the unadapted one's within 0.04, from k = 20 on it
#: gains) and CV+ on so few residuals under-covers (arousal 0.72 for a
#: nominal 0.80 at k = 10): :meth:`AffectModel.adapt` warns, and the adapted
#: intervals also hold the unadapted model's.
MIN_ADAPT_IMAGES = 20


def reference_threshold(scores, pass_rate=0.95):
    """The out-of-distribution score below which a new image counts as one
    of a collection: the split-conformal order statistic of the collection's
    own scores (the ``ceil(pass_rate * (m + 1))``-th smallest of the ``m``,
    the largest when there are too few), so that at least ``pass_rate`` of
    new images exchangeable with the collection score below it.

    Parameters
    ----------
    scores : array-like of shape (m,)
        :func:`ood_score` of the collection's images, m >= 1.
    pass_rate : float, default=0.95

    Returns
    -------
    threshold : float
    """
    scores = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    m = len(scores)
    if m < 1:
        raise ValueError("a reference collection needs at least one image")
    k = min(int(np.ceil(float(pass_rate) * (m + 1) - 1e-9)), m)
    return float(scores[k - 1])

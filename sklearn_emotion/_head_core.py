"""The affect head's functional core: pure functions on arrays.

The ridge head (:class:`LinearHead`: standardise, clip, an affine map), the
soft-label emotion head, interval scaling, and the checks of what an
adaptation learns from.  :class:`~sklearn_emotion.AffectHead` is the
estimator around them; these functions know nothing of it.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy.special import log_softmax
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state

from ._adapt import MIN_ADAPT_IMAGES, STRATEGIES
from ._warn import warn_user

__all__ = ["LinearHead", "checked_penalties", "checked_ratings", "fit_emotion_head", "fit_folds",
           "fit_soft_multinomial", "merged_duplicates", "scaled_about_centre", "standardise"]


class LinearHead:
    """Standardise, clip, then an affine map: one fitted ridge head."""

    def __init__(self, mean, scale, coef, intercept, clip):
        self.mean, self.scale, self.coef, self.intercept, self.clip = mean, scale, coef, intercept, clip

    @classmethod
    def fit(cls, F, Y, alphas, clip):
        mean = F.mean(axis=0)
        scale = F.std(axis=0)
        scale[scale < 1e-12] = 1.0
        Z = standardise(F, mean, scale, clip)
        ridge = RidgeCV(alphas=alphas, alpha_per_target=True).fit(Z, Y)
        return cls(mean, scale, np.asarray(ridge.coef_).T.copy(), np.asarray(ridge.intercept_),
                   clip), np.atleast_1d(ridge.alpha_)

    def standardise(self, F):
        """``F`` as this head sees it: standardised, then clipped."""
        return standardise(F, self.mean, self.scale, self.clip)

    def predict(self, F):
        return self.standardise(F) @ self.coef + self.intercept


def fit_folds(F, y, alphas, clip, cv, random_state, F_other=None, ood_C=1.0):
    """The CV+ fold heads: one :class:`LinearHead` per fold of ``F``.

    Parameters
    ----------
    F : ndarray of shape (n, d)
    y : ndarray of shape (n, 2)
    alphas : ndarray
        The ridge penalties to choose from (on each fold's training rows).
    clip : float or None
    cv : int
        Folds (:class:`~sklearn.model_selection.KFold`, shuffled with
        ``random_state``).
    F_other : ndarray of shape (m, d), optional
        Non-photos: each fold also fits the out-of-distribution classifier
        on its training rows and scores its held-out rows.
    ood_C : float

    Returns
    -------
    folds : list of LinearHead
    fold_of : ndarray of shape (n,)
        The fold that held each row out.
    residuals : ndarray of shape (n, 2)
        ``|y - prediction|`` of the fold head that did not see the row.
    fold_alpha : ndarray of shape (cv, 2)
        The penalty each fold chose.
    ood_oof : ndarray of shape (n,) or None
        Out-of-fold out-of-distribution scores (None without ``F_other``).
    """
    from ._adapt import ood_fit, ood_score

    folds, alphas_k = [], []
    fold_of = np.empty(len(F), dtype=np.int64)
    resid = np.empty_like(y)
    ood_oof = None if F_other is None else np.empty(len(F))
    kf = KFold(cv, shuffle=True, random_state=random_state)
    for k, (tr, te) in enumerate(kf.split(F)):
        lin, a = LinearHead.fit(F[tr], y[tr], alphas, clip)
        folds.append(lin)
        alphas_k.append(a)
        fold_of[te] = k
        resid[te] = np.abs(y[te] - lin.predict(F[te]))
        if F_other is not None:
            c, b = ood_fit(lin.standardise(F[tr]), lin.standardise(F_other), ood_C)
            ood_oof[te] = ood_score(lin.standardise(F[te]), c, b)
    return folds, fold_of, resid, np.asarray(alphas_k), ood_oof


def scaled_about_centre(intervals, scale):
    """Intervals (``[..., target, (low, high)]``) widened by ``scale`` per
    target about their centres."""
    mid = intervals.mean(axis=-1)
    half = (intervals[..., 1] - intervals[..., 0]) / 2 * scale
    return np.stack([mid - half, mid + half], axis=-1)


def standardise(F, mean, scale, clip):
    Z = (F - mean) / scale
    if clip is not None:
        np.clip(Z, -clip, clip, out=Z)
    return Z


def fit_soft_multinomial(Z, P, alpha, max_iter=500):
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


def fit_emotion_head(Z, P, alphas, n_components, random_state):
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
                W, b = fit_soft_multinomial(T[tr], P[tr], a)
                logq = log_softmax(T[te] @ W + b, axis=1)
                loss[i] += -(P[te] * logq).sum()
        alpha = float(alphas[int(np.argmin(loss))])
    else:
        alpha = float(alphas[0])
    W, b = fit_soft_multinomial(T, P, alpha)
    return V @ W, b - mu @ V @ W, alpha


def checked_penalties(alphas, emotion_alpha):
    """The ridge penalties as a flat float array, after checking that they
    and the emotion head's are positive (what ``_parameter_constraints``
    cannot say of a sequence).

    Raises
    ------
    ValueError
    """
    alphas = np.asarray(alphas, dtype=float).ravel()
    if alphas.size == 0 or (alphas <= 0).any():
        raise ValueError("alphas must be a non-empty sequence of positive numbers")
    ea = np.atleast_1d(np.asarray(emotion_alpha, dtype=float))
    if ea.size == 0 or (ea <= 0).any():
        raise ValueError("emotion_alpha must be positive (or a non-empty sequence of them)")
    return alphas


def merged_duplicates(F, y):
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


def checked_ratings(F, y, *, names=None, max_images, random_state, strategies, weight):
    """The rated rows an adaptation learns from, after every check.

    Refuses ratings that are missing, not finite or off the 1-9 scale, and
    parameters out of range; leaves out rows without features, merges an
    image rated twice and samples ``max_images`` rows, each with a warning;
    warns below :data:`~sklearn_emotion._adapt.MIN_ADAPT_IMAGES`.

    Parameters
    ----------
    F : ndarray of shape (k, n_features)
    y : array-like of shape (k, 2)
    names : sequence, optional
        What to call each row of ``F`` in warnings (e.g. its path).
    max_images, random_state, strategies, weight
        As in :meth:`sklearn_emotion.AffectModel.adapt`.

    Returns
    -------
    F, y : ndarray
        The rows to adapt on.

    Raises
    ------
    ValueError
    """
    from ._image import describe_item

    y = np.asarray(y, dtype=np.float64)
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
    F, y = merged_duplicates(F, y)
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
    return F, y

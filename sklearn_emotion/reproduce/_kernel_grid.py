"""The nested search's SVR grid with each RBF kernel computed once.

``GridSearchCV(make_pipeline(make_scaler(clip), SVR()), grid, cv=3)`` fits
one SVR per (C, epsilon) and inner fold, and libsvm computes the RBF kernel
inside every fit, entry by entry.  The kernel depends only on the inner
fold's scaled features and on ``gamma`` (``"scale"``: one over the number of
features times the scaled training features' variance), not on C or
epsilon.  :func:`svr_grid_search` computes it once per inner fold with BLAS
(``kernel="precomputed"``) and shares it between the grid's settings: the
same search, the same choice and the same predictions up to floating-point
rounding (``tests/test_reproduce.py`` checks it against ``GridSearchCV``).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import KFold, ParameterGrid
from sklearn.svm import SVR

from ..pipeline import make_scaler

__all__ = ["KernelSVR", "svr_grid_search"]


def _scale_gamma(Xs):
    """SVR's ``gamma="scale"`` for the (scaled) training features ``Xs``."""
    var = Xs.var()
    return 1.0 / (Xs.shape[1] * var) if var != 0 else 1.0


class KernelSVR:
    """A clipped scaler and an RBF SVR fitted on a precomputed kernel.

    Predicts what ``make_pipeline(make_scaler(clip), SVR(C=C,
    epsilon=epsilon))`` fitted on the same data predicts.
    """

    def __init__(self, scaler, X_train, gamma, svr):
        self.scaler, self.X_train, self.gamma, self.svr = scaler, X_train, gamma, svr

    @classmethod
    def fit(cls, X, y, *, C, epsilon, clip):
        scaler = make_scaler(clip).fit(X)
        Xs = scaler.transform(X)
        gamma = _scale_gamma(Xs)
        svr = SVR(kernel="precomputed", C=C, epsilon=epsilon).fit(rbf_kernel(Xs, Xs, gamma=gamma), y)
        return cls(scaler, Xs, gamma, svr)

    def predict(self, X):
        return self.svr.predict(rbf_kernel(self.scaler.transform(X), self.X_train, gamma=self.gamma))


def svr_grid_search(X, y, grid, *, cv=3, clip=5.0, n_jobs=None):
    """Grid search of a clipped-scaler + RBF SVR over ``svr__C`` and
    ``svr__epsilon``, scored by inner-CV mean squared error.

    Parameters
    ----------
    X : ndarray of shape (n, p)
    y : ndarray of shape (n,)
    grid : dict
        ``{"svr__C": [...], "svr__epsilon": [...]}`` (``GridSearchCV``'s names).
    cv : int, default=3
        Unshuffled K-fold, as ``GridSearchCV(cv=3)`` splits a regression.
    clip : float or None, default=5.0
        The scaler's clip (:func:`sklearn_emotion.pipeline.make_scaler`).
    n_jobs : int, optional
        Threads fitting the grid's settings of one inner fold at once
        (libsvm releases the GIL).  The result does not depend on it.

    Returns
    -------
    best_score : float
        The best mean negative MSE (``GridSearchCV.best_score_``).
    best_params : dict
        Its settings, in ``grid``'s names; the first of equal scores in
        ``ParameterGrid`` order wins, as in ``GridSearchCV``.
    model : KernelSVR
        Refitted on all of ``X`` and ``y`` with ``best_params``.
    """
    import joblib

    if set(grid) != {"svr__C", "svr__epsilon"}:
        raise ValueError(f"grid must have exactly 'svr__C' and 'svr__epsilon', got {sorted(grid)}")
    settings = list(ParameterGrid(grid))
    scores = np.zeros((cv, len(settings)))
    for k, (tr, te) in enumerate(KFold(cv).split(X)):
        scaler = make_scaler(clip).fit(X[tr])
        Xtr, Xte = scaler.transform(X[tr]), scaler.transform(X[te])
        gamma = _scale_gamma(Xtr)
        K_tr, K_te = rbf_kernel(Xtr, Xtr, gamma=gamma), rbf_kernel(Xte, Xtr, gamma=gamma)

        def one(s, K_tr=K_tr, K_te=K_te, tr=tr, te=te):
            svr = SVR(kernel="precomputed", C=s["svr__C"], epsilon=s["svr__epsilon"])
            pred = svr.fit(K_tr, y[tr]).predict(K_te)
            return -float(np.mean((y[te] - pred) ** 2))

        scores[k] = joblib.Parallel(n_jobs=n_jobs, prefer="threads")(
            joblib.delayed(one)(s) for s in settings)
    mean = scores.mean(axis=0)
    best = int(np.flatnonzero(mean == mean.max())[0])
    params = dict(settings[best])
    model = KernelSVR.fit(X, y, C=params["svr__C"], epsilon=params["svr__epsilon"], clip=clip)
    return float(mean[best]), params, model

"""The epoch loop shared by the Keras-backed regressors: minibatches in a
seeded order, the monitored loss, early stopping and the best weights."""

from __future__ import annotations

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from .._warn import warn_user


def train_epochs(est, model, step, n_train, rng, validate=None, hint="", monitor="loss"):
    """Run epochs of ``step`` over shuffled minibatches until early stopping.

    Parameters
    ----------
    est : estimator
        Supplies ``batch_size``, ``max_iter``, ``tol``, ``n_iter_no_change``
        and ``verbose``.
    model : keras.Model
        Whose weights are kept at the best epoch (restored at the end when
        ``validate`` is given).
    step : callable
        ``step(indices) -> float``: one minibatch update, returns its loss.
    n_train : int
        Number of training samples.
    rng : numpy.random.RandomState
        Shuffles the minibatches.
    validate : callable, optional
        ``validate() -> (loss, score)``: the validation loss and a
        higher-is-better score (R²); without it the training loss is
        monitored.
    hint : str
        Appended to the divergence error.
    monitor : {"loss", "score"}
        With ``validate``: stop on the validation loss (must fall by
        ``tol``) or on the score (must rise by ``tol``, as MLPRegressor's
        early stopping does on R²).

    Returns
    -------
    history : dict
        ``loss_curve``, ``validation_loss_curve``, ``extra`` (lists),
        ``n_iter``, ``best_loss``, ``best_epoch``.
    """
    bs = min(int(est.batch_size), n_train)
    hist = {"loss_curve": [], "validation_loss_curve": [], "extra": []}
    best, best_weights, best_epoch, stall = np.inf, None, 0, 0
    for epoch in range(int(est.max_iter)):
        order = rng.permutation(n_train)
        losses, sizes = [], []
        for s in range(0, n_train, bs):
            idx = order[s:s + bs]
            losses.append(float(step(idx)))
            sizes.append(len(idx))
        loss = float(np.average(losses, weights=sizes))
        if not np.isfinite(loss):
            raise FloatingPointError(f"training diverged at epoch {epoch + 1} (loss {loss}); {hint}")
        hist["loss_curve"].append(loss)
        monitored = loss
        if validate is not None:
            vloss, extra = validate()
            hist["validation_loss_curve"].append(vloss)
            hist["extra"].append(extra)
            monitored = -extra if monitor == "score" else vloss
        if est.verbose:
            v = f", validation MSE = {vloss:.5f}" if validate is not None else ""
            print(f"Iteration {epoch + 1}, loss = {loss:.5f}{v}")
        # MLPRegressor's rule: the patience counter restarts only on an
        # improvement of at least tol; the best value (and weights) follow
        # any improvement
        stall = 0 if monitored < best - est.tol else stall + 1
        if monitored < best:
            best, best_epoch = monitored, epoch
            if validate is not None:
                best_weights = [w.copy() for w in model.get_weights()]
        if stall >= est.n_iter_no_change:
            break
    else:
        warn_user(
            f"{type(est).__name__}: max_iter={est.max_iter} epochs reached before the "
            f"{'training loss' if validate is None else 'validation R²' if monitor == 'score' else 'validation loss'}"
            " stopped improving "
            f"for n_iter_no_change={est.n_iter_no_change} epochs",
            ConvergenceWarning
        )
    if best_weights is not None:
        model.set_weights(best_weights)
    best = -best if (validate is not None and monitor == "score") else best
    hist.update(n_iter=epoch + 1, best_loss=float(best), best_epoch=best_epoch)
    return hist

"""Evaluation: cross-validated scores of a model on a feature matrix.

Features are stateless (``fit`` learns nothing), so each family is computed
once per image and models are cross-validated on the stacked matrices:
exactly what ``cross_validate(make_paper_pipeline(...), paths, y, cv=...)``
computes (``tests/test_reproduce.py`` checks the two agree).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import joblib
import numpy as np
from scipy.stats import pearsonr
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVR

from ..pipeline import make_scaler
from .._config import with_config
from ._checkpoint import FoldStore
from ._kernel_grid import svr_grid_search
from ._protocol import BEST_CANDIDATES, CLIP, FEATURE_SETS

__all__ = ["Result", "evaluate", "in_worker", "nested_best", "scores", "shutdown_workers",
           "stop_joblib_workers", "stopping_workers", "subset_indices", "trim_heap"]


@dataclass
class Result:
    """Per-fold scores of one model on one feature set."""

    table: str
    model: str
    features: str
    folds: list = field(default_factory=list)  # dicts per fold
    oof: np.ndarray | None = None  # out-of-fold predictions (n, 2)

    def summary(self):
        out = {"table": self.table, "model": self.model, "features": self.features}
        keys = self.folds[0].keys()
        for k in keys:
            vals = np.array([f[k] for f in self.folds], dtype=float)
            out[k + "_mean"] = float(vals.mean())
            out[k + "_std"] = float(vals.std())
        return out


def scores(y_true, y_pred, prefix):
    out = {}
    for j, t in enumerate(("V", "A")):
        e = y_true[:, j] - y_pred[:, j]
        mse = float(np.mean(e**2))
        var = float(np.var(y_true[:, j]))
        out[f"{prefix}_mse_{t}"] = mse
        out[f"{prefix}_r2_{t}"] = 1 - mse / var if var > 0 else float("nan")
        # undefined (NaN, "n/a" in the tables) for a constant prediction
        out[f"{prefix}_r_{t}"] = (
            float(pearsonr(y_true[:, j], y_pred[:, j])[0])
            if np.ptp(y_pred[:, j]) > 1e-9 * max(1.0, abs(float(y_pred[0, j]))) else float("nan")
        )
    return out


def subset_indices(n, subset, random_state=0):
    """The sorted indices of the ``--subset`` images (fixed by the seed)."""
    return np.sort(np.random.default_rng(random_state).choice(n, subset, replace=False))


def _fit_predict_here(model, joint, Xtr, ytr, Xs):
    """Fit ``model`` for V and A (jointly, or one clone per target) in this
    process: predictions on each of ``Xs`` and the fitted regressor's
    ``n_iter_`` (None if it has none)."""
    if joint:
        fitted = [clone(model).fit(Xtr, ytr)]
        preds = [fitted[0].predict(X).reshape(len(X), 2) for X in Xs]
    else:
        preds = [np.empty((len(X), 2)) for X in Xs]
        fitted = []
        for j in range(2):
            m = clone(model).fit(Xtr, ytr[:, j])
            fitted.append(m)
            for p, X in zip(preds, Xs):
                p[:, j] = m.predict(X)
    reg = fitted[0].steps[-1][1] if hasattr(fitted[0], "steps") else fitted[0]
    return preds, (float(reg.n_iter_) if hasattr(reg, "n_iter_") else None)


def _uses_tensorflow(model):
    from ..models import CNNRegressor, FFNNRegressor

    parts = [model, *(model.get_params(deep=True).values() if hasattr(model, "get_params") else ())]
    return any(isinstance(o, (CNNRegressor, FFNNRegressor)) for o in parts)


_EXECUTOR: list = []
#: loky's warning when it starts a new worker with jobs pending.
_WORKER_REPLACED = "A worker stopped while some jobs were given to the executor"


def in_worker(fn, *args):
    """``fn(*args)`` in the run's worker process: for work that runs
    TensorFlow (fitting Keras networks, the CNN feature families).

    TensorFlow does not give back what it allocated: about 110 MB of every
    Adam-trained network of the paper's size stays after the network is
    deleted (``clear_session`` does not free it; tensorflow/tensorflow#61791,
    keras-team/keras#20552), and a process that has run the feature networks
    keeps about 1 GB after they are gone (measured: ``gc``, ``clear_session``
    and ``malloc_trim`` return 5 %).  A reproduction's 100-odd fits in one
    process would hold several GB.  The worker is joblib's loky executor,
    which replaces a worker whose memory has grown by 300 MB since its first
    task (it measures with psutil): the memory of the run stays flat, the
    numbers are the same, and the main process never imports TensorFlow.
    Call :func:`shutdown_workers` when done, or to drop the worker's memory
    before a stage that does not need it.
    """
    if not _EXECUTOR:
        # a private executor, not loky's process-wide reusable one: joblib's
        # own loky backend (the feature families' image-level parallelism)
        # takes that one over and fails on an executor it did not create
        from joblib.externals.loky import ProcessPoolExecutor

        _EXECUTOR.append(ProcessPoolExecutor(max_workers=1, timeout=600))
    return _EXECUTOR[0].submit(with_config(fn), *args).result()


def _fit_predict(model, joint, Xtr, ytr, Xs):
    """:func:`_fit_predict_here`; for a model that trains Keras networks, in
    the worker process (:func:`in_worker`)."""
    if not _uses_tensorflow(model):
        return _fit_predict_here(model, joint, Xtr, ytr, Xs)
    return in_worker(_fit_predict_here, model, joint, Xtr, ytr, Xs)


def stopping_workers(run):
    """Decorate a run (reproduction, cross-set) so that the worker of
    :func:`in_worker` stops when it ends, however it ends."""
    import functools

    @functools.wraps(run)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            # loky's notice when it replaces the worker whose memory grew by
            # 300 MB (see _fit_predict): deliberate here, not a fault
            warnings.filterwarnings("ignore", message=_WORKER_REPLACED, category=UserWarning)
            try:
                return run(*args, **kwargs)
            finally:
                shutdown_workers()

    return wrapper


def shutdown_workers():
    """Stop the worker process of :func:`in_worker`, if one was started:
    before the caller's stderr filter closes (the worker writes to it), and so
    that its peak memory is counted in ``RUSAGE_CHILDREN``."""
    while _EXECUTOR:
        _EXECUTOR.pop().shutdown(wait=True)


def stop_joblib_workers():
    """Stop joblib's reusable loky workers now rather than after their 300 s
    idle timeout (joblib keeps them for the next ``Parallel`` call).

    The feature families' image-level parallelism leaves two of them, about
    180-250 MiB each, which would otherwise sit beside the CNN rows' fit
    worker.  A later ``Parallel`` call starts new ones.
    """
    from joblib.externals.loky import get_reusable_executor

    # starts no worker when none is running: loky spawns them on submit
    get_reusable_executor().shutdown(wait=True)


def trim_heap():
    """Give the C heap's free memory back to the system (glibc's
    ``malloc_trim``; nothing elsewhere).

    glibc gives each thread that allocates its own arena and keeps what is
    freed in it for reuse: after the SVR folds and the nested grid search
    ran on joblib threads, the main process of a full run held 746 MiB, 516
    of them in such arenas (measured when the CNN rows came after them).
    The reproduction now fits the CNN rows first and calls this before them,
    after the features; how much it returns there was not measured.
    Returns whether the call was made.
    """
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library this process runs on
    except (OSError, AttributeError, TypeError):
        return False
    trim(0)
    return True


def _timed_fold(model, joint, Xtr, ytr, Xte):
    t0 = time.perf_counter()
    (ptr, pte), n_iter = _fit_predict(model, joint, Xtr, ytr, [Xtr, Xte])
    return ptr, pte, n_iter, time.perf_counter() - t0


def evaluate(model, X, y, cv, *, joint, table="", name="", features="", log=None, bar=None,
             store=None, n_jobs=None):
    """Cross-validate ``model`` on a feature matrix; train and test scores per fold.

    ``store`` (a :class:`~._checkpoint.FoldStore`) reads folds an interrupted
    run finished and writes each fold this one finishes.  ``n_jobs``: folds
    fitted at once (joblib threads), for models that do not train Keras
    networks (SVR and linear regression use one core each; a network already
    uses every core and is fitted in the fit worker, one fold at a time).
    The numbers do not depend on it; ``fit_seconds`` is then each fold's wall
    time beside the others.
    """
    res = Result(table, name, features, oof=np.full(y.shape, np.nan))
    store = store if store is not None else FoldStore(None)
    splits = list(cv.split(X))
    keys = [store.key(model, joint, X, y, tr, te) for tr, te in splits]
    hits = [store.load(key) for key in keys]
    todo = [k for k, hit in enumerate(hits) if hit is None]
    parallel = (len(todo) > 1 and not _uses_tensorflow(model)
                and joblib.effective_n_jobs(n_jobs) > 1)
    if parallel:
        # threads: libsvm's fit and LAPACK release the GIL, the fold's data is
        # shared rather than copied, and the fit worker's executor is untouched
        task = with_config(_timed_fold)  # captured here, not in joblib's dispatching thread
        fitted = iter(joblib.Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
            joblib.delayed(task)(model, joint, X[splits[k][0]], y[splits[k][0]],
                                        X[splits[k][1]]) for k in todo))
    for k, (tr, te) in enumerate(splits):
        hit = hits[k]
        if hit is not None:
            rec, pte, _ = hit
        else:
            ptr, pte, n_iter, seconds = (next(fitted) if parallel else
                                         _timed_fold(model, joint, X[tr], y[tr], X[te]))
            rec = {**scores(y[tr], ptr, "train"), **scores(y[te], pte, "test"),
                   "fit_seconds": seconds}
            if n_iter is not None:
                rec["epochs"] = n_iter
            store.save(keys[k], rec, pte)
        res.folds.append(rec)
        res.oof[te] = pte
        if log:
            log(f"  [{table}] {name} on {features}, fold {k + 1}: test MSE V {rec['test_mse_V']:.3f}"
                f" A {rec['test_mse_A']:.3f} ({rec['fit_seconds']:.1f} s"
                f"{', from checkpoint' if hit is not None else ''})")
        if bar is not None:
            bar.update(1)
    return res


def nested_best(feats, y, cv, random_state, n_jobs, log, bar=None, store=None):
    """Choose feature set and SVR settings inside each training fold (3-fold
    inner CV), per target; report the outer test folds."""
    candidates = list(BEST_CANDIDATES)
    grid = {"svr__C": [1.0, 3.0, 10.0], "svr__epsilon": [0.1, 0.3]}
    X_sets = {c: np.hstack([feats[f] for f in FEATURE_SETS[c]]) for c in candidates}
    res = Result("best", "nested CV: best of feature sets × SVR grid", " / ".join(candidates),
                 oof=np.full(y.shape, np.nan))
    choices = []
    store = store if store is not None else FoldStore(None)
    spec = ("nested_best", candidates, grid, make_pipeline(make_scaler(CLIP), SVR()))
    for k, (tr, te) in enumerate(cv.split(y)):
        key = store.key(spec, False, [X_sets[c] for c in candidates], y, tr, te)
        hit = store.load(key)
        if hit is not None:
            rec, pte, choice = hit
            res.folds.append(rec)
            res.oof[te] = pte
            choices.append(choice)
            log(f"  [best] fold {k + 1}: {choice}; test MSE V {rec['test_mse_V']:.3f} "
                f"A {rec['test_mse_A']:.3f} (from checkpoint)")
            if bar is not None:
                bar.update(1)
            continue
        t0 = time.perf_counter()
        ptr, pte = np.empty((len(tr), 2)), np.empty((len(te), 2))
        choice = {}
        for j, t in enumerate(("V", "A")):
            best = None
            for c in candidates:
                # GridSearchCV(make_pipeline(make_scaler(CLIP), SVR()), grid,
                # cv=3) with each inner fold's RBF kernel computed once for
                # the whole grid (threads: libsvm releases the GIL)
                found = svr_grid_search(X_sets[c][tr], y[tr, j], grid, cv=3, clip=CLIP,
                                        n_jobs=n_jobs)
                if best is None or found[0] > best[0]:
                    best = (*found, c)
            _, params, fitted, c = best
            choice[t] = f"{c}, C={params['svr__C']}, epsilon={params['svr__epsilon']}"
            ptr[:, j] = fitted.predict(X_sets[c][tr])
            pte[:, j] = fitted.predict(X_sets[c][te])
        rec = {**scores(y[tr], ptr, "train"), **scores(y[te], pte, "test"),
               "fit_seconds": time.perf_counter() - t0}
        res.folds.append(rec)
        res.oof[te] = pte
        choices.append(choice)
        store.save(key, rec, pte, choice)
        log(f"  [best] fold {k + 1}: {choice}; test MSE V {rec['test_mse_V']:.3f} A {rec['test_mse_A']:.3f}")
        if bar is not None:
            bar.update(1)
    return {"candidates": candidates, "grid": grid, "choices": choices}, res


def transfer(model, joint, X_train, y_train, X_test, y_test):
    """Fit on all of one set, score on all of another: test scores and predictions."""
    (pred,), _ = _fit_predict(model, joint, X_train, y_train, [X_test])
    return scores(y_test, pred, "test"), pred

"""Evaluation: cross-validated scores of a model on a feature matrix.

Features are stateless (``fit`` learns nothing), so each family is computed
once per image and models are cross-validated on the stacked matrices:
exactly what ``cross_validate(make_paper_pipeline(...), paths, y, cv=...)``
computes (``tests/test_reproduce.py`` checks the two agree).

Each fold is a task (:func:`plan_folds`); where the tasks run is the
engine's business (:mod:`._engine`), not this module's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import pearsonr
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVR

from ..pipeline import make_scaler
from ._checkpoints import FoldCheckpoints
from ._engine import Engine, Task
from ._kernel_grid import svr_grid_search
from ._protocol import BEST_CANDIDATES, CLIP, FEATURE_SETS
from .._warn import DEPRECATED, renamed

__all__ = ["NESTED_GRID", "Result", "RowFolds", "evaluate", "fit_fold", "fold_log", "nested_best",
           "nested_info", "plan_folds", "plan_nested", "scores", "subset_indices", "transfer",
           "uses_tensorflow"]


@dataclass
class Result:
    """Per-fold scores of one model on one feature set."""

    table: str
    model: str
    features: str
    folds: list = field(default_factory=list)  # dicts per fold
    oof: np.ndarray | None = None  # out-of-fold predictions (n, 2)
    fold_of: np.ndarray | None = None  # the fold (0-based) that held each image out

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
    # None where the regressor has none (Ridge's closed-form solvers set it to None)
    n_iter = getattr(reg, "n_iter_", None)
    return preds, (None if n_iter is None else float(np.max(n_iter)))


class Columns:
    """A feature matrix given by its column blocks (the families' matrices),
    stacked only when rows are taken: ``Columns(parts)[rows]`` equals
    ``np.hstack(parts)[rows]`` to the bit.

    The reproduction plans every fold of every row before fitting any; its
    twenty-odd feature sets stacked up front held about 600 MiB in the main
    process for the whole run.  Blocks are shared between sets, and a task
    stacks its fold's rows where it runs.
    """

    def __init__(self, parts):
        self.parts = tuple(parts)
        self.shape = (len(self.parts[0]), sum(p.shape[1] for p in self.parts))

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        return np.hstack([p[rows] for p in self.parts])


def uses_tensorflow(model):
    """Whether fitting ``model`` trains a Keras network."""
    from ..models import CNNRegressor, FFNNRegressor

    parts = [model, *(model.get_params(deep=True).values() if hasattr(model, "get_params") else ())]
    return any(isinstance(o, (CNNRegressor, FFNNRegressor)) for o in parts)


def fit_fold(model, joint, X, y, train, test):
    """One fold: ``(record, test predictions, None)``; the record holds the
    train and test scores, ``fit_seconds`` and, for a network, ``epochs``."""
    t0 = time.perf_counter()
    (ptr, pte), n_iter = _fit_predict_here(model, joint, X[train], y[train], [X[train], X[test]])
    rec = {**scores(y[train], ptr, "train"), **scores(y[test], pte, "test"),
           "fit_seconds": time.perf_counter() - t0}
    if n_iter is not None:
        rec["epochs"] = n_iter
    return rec, pte, None


class RowFolds:
    """The folds of one row (a model on a feature set) as they arrive, from
    checkpoints or from the engine; its :class:`Result` once all are in."""

    def __init__(self, table, name, features, splits, n_samples):
        self.table, self.name, self.features, self.splits = table, name, features, splits
        self.folds = [None] * len(splits)
        self.extras = [None] * len(splits)
        self.oof = np.full((n_samples, 2), np.nan)

    def add(self, k, rec, pte, extra=None):
        """Fold ``k``'s record and predictions; True once every fold is in."""
        self.folds[k], self.extras[k] = rec, extra
        self.oof[self.splits[k][1]] = pte
        return all(f is not None for f in self.folds)

    def fold_of(self):
        """The fold (0-based) that held out each image; -1 for none."""
        out = np.full(len(self.oof), -1, dtype=np.int64)
        for k, (_, te) in enumerate(self.splits):
            out[te] = k
        return out

    def result(self):
        return Result(self.table, self.name, self.features, list(self.folds), self.oof,
                      self.fold_of())


def plan_folds(position, fn, args_of, store, key_of, splits, *, network, info):
    """Checkpointed folds of one row and tasks for the others.

    ``args_of(train, test)`` gives ``fn``'s arguments for a fold and
    ``key_of(train, test)`` its checkpoint key.  Returns ``(hits, tasks)``:
    ``{fold: (record, predictions, extra)}`` read from ``store``, and a
    :class:`~._engine.Task` named ``(position, fold)`` for each other fold.
    """
    hits, tasks = {}, []
    for k, (tr, te) in enumerate(splits):
        key = key_of(tr, te)
        hit = store.load(key, n=len(te))
        if hit is not None:
            hits[k] = hit
            continue
        tasks.append(Task((position, k), fn, args_of(tr, te), uses_tensorflow=network,
                          info={**info, "fold": k + 1, "key": key}))
    return hits, tasks


def fold_log(log, table, name, features, k, rec, checkpoint=False, choice=None):
    if not log:
        return
    what = f"[{table}] {name} on {features}" if table != "best" else "[best]"
    log(f"  {what}, fold {k + 1}: " + (f"{choice}; " if choice else "")
        + f"test MSE V {rec['test_mse_V']:.3f} A {rec['test_mse_A']:.3f} "
        f"({rec['fit_seconds']:.1f} s{', from checkpoint' if checkpoint else ''})")


def evaluate(model, X, y, cv, *, joint, table="", name="", features="", log=None, bar=None,
             checkpoints=None, n_jobs=None, engine=None, store=DEPRECATED):
    """Cross-validate ``model`` on a feature matrix; train and test scores per fold.

    ``checkpoints`` (a :class:`~._checkpoints.FoldCheckpoints`; ``store`` is
    its deprecated old name) reads folds an interrupted
    run finished and writes each fold this one finishes.  Each other fold is
    a task of ``engine`` (:class:`~._engine.Engine`; by default this machine,
    where ``n_jobs`` folds of a model that trains no network are fitted at
    once on threads, and a network's folds one at a time in the fit worker).
    The numbers do not depend on where the folds run; ``fit_seconds`` is
    each fold's wall time beside the others.
    """
    store = renamed(checkpoints, store, "checkpoints", "store")
    store = store if store is not None else FoldCheckpoints(None)
    splits = list(cv.split(X))
    row = RowFolds(table, name, features, splits, len(y))
    hits, tasks = plan_folds(
        0, fit_fold, lambda tr, te: (model, joint, X, y, tr, te), store,
        lambda tr, te: store.key(model, joint, X, y, tr, te), splits,
        network=uses_tensorflow(model), info={"table": table, "model": name, "features": features})
    for k, (rec, pte, _) in sorted(hits.items()):
        row.add(k, rec, pte)
        fold_log(log, table, name, features, k, rec, checkpoint=True)
        if bar is not None:
            bar.update(1)
    with _engine_or(engine, n_jobs) as eng:
        for task, (rec, pte, _), _record in eng.run([tasks]):
            k = task.name[1]
            store.save(task.info["key"], rec, pte)
            row.add(k, rec, pte)
            fold_log(log, table, name, features, k, rec)
            if bar is not None:
                bar.update(1)
    return row.result()


def _engine_or(engine, n_jobs=None):
    """``engine`` as a context that leaves it running, or a new one of this
    machine that stops its workers at the end."""
    from contextlib import nullcontext

    return Engine(None, n_jobs) if engine is None else nullcontext(engine)


#: The nested search's SVR grid and its row's names.
NESTED_GRID = {"svr__C": [1.0, 3.0, 10.0], "svr__epsilon": [0.1, 0.3]}
NESTED_NAME = "nested CV: best of feature sets × SVR grid"


def _nested_fold(X_sets, y, train, test, n_jobs=None):
    """One outer fold of the nested search: per target, the feature set and
    SVR settings with the best 3-fold inner score on the training fold, then
    refitted on it.  ``(record, test predictions, choice)``."""
    t0 = time.perf_counter()
    ptr, pte = np.empty((len(train), 2)), np.empty((len(test), 2))
    choice = {}
    for j, t in enumerate(("V", "A")):
        best = None
        for c, X in X_sets.items():
            # GridSearchCV(make_pipeline(make_scaler(CLIP), SVR()), grid, cv=3)
            # with each inner fold's RBF kernel computed once for the grid
            found = svr_grid_search(X[train], y[train, j], NESTED_GRID, cv=3, clip=CLIP,
                                    n_jobs=n_jobs)
            if best is None or found[0] > best[0]:
                best = (*found, c)
        _, params, fitted, c = best
        choice[t] = f"{c}, C={params['svr__C']}, epsilon={params['svr__epsilon']}"
        ptr[:, j] = fitted.predict(X_sets[c][train])
        pte[:, j] = fitted.predict(X_sets[c][test])
    rec = {**scores(y[train], ptr, "train"), **scores(y[test], pte, "test"),
           "fit_seconds": time.perf_counter() - t0}
    return rec, pte, choice


def nested_features(candidates):
    """The nested search's feature column in words: the candidates it chooses
    among in each training fold (not one feature set)."""
    return "one per fold, from: " + "; ".join(candidates)


def plan_nested(position, feats, y, splits, store, n_jobs=None):
    """``(row, hits, tasks)`` of the nested search (see :func:`plan_folds`)."""
    candidates = list(BEST_CANDIDATES)
    X_sets = {c: Columns([feats[f] for f in FEATURE_SETS[c]]) for c in candidates}
    row = RowFolds("best", NESTED_NAME, nested_features(candidates), splits, len(y))
    spec = ("nested_best", candidates, NESTED_GRID, make_pipeline(make_scaler(CLIP), SVR()))
    hits, tasks = plan_folds(
        position, _nested_fold, lambda tr, te: (X_sets, y, tr, te, n_jobs), store,
        lambda tr, te: store.key(spec, False, [X_sets[c] for c in candidates], y, tr, te),
        splits, network=False, info={"table": "best", "model": NESTED_NAME,
                                     "features": row.features})
    return row, hits, tasks


def nested_best(feats, y, cv, random_state, n_jobs, log, bar=None, checkpoints=None, engine=None,
                store=DEPRECATED):
    """Choose feature set and SVR settings inside each training fold (3-fold
    inner CV), per target; report the outer test folds.  ``checkpoints`` (a
    :class:`~._checkpoints.FoldCheckpoints`; ``store`` is its deprecated old
    name) reads and writes finished folds."""
    store = renamed(checkpoints, store, "checkpoints", "store")
    store = store if store is not None else FoldCheckpoints(None)
    splits = list(cv.split(y))
    row, hits, tasks = plan_nested(0, feats, y, splits, store, n_jobs)
    for k, (rec, pte, choice) in sorted(hits.items()):
        row.add(k, rec, pte, choice)
        fold_log(log, "best", row.name, row.features, k, rec, checkpoint=True, choice=choice)
        if bar is not None:
            bar.update(1)
    with _engine_or(engine) as eng:  # outer folds one at a time here
        for task, (rec, pte, choice), _record in eng.run([tasks]):
            store.save(task.info["key"], rec, pte, choice)
            row.add(task.name[1], rec, pte, choice)
            fold_log(log, "best", row.name, row.features, task.name[1], rec, choice=choice)
            if bar is not None:
                bar.update(1)
    return nested_info(row), row.result()


def nested_info(row):
    """What the report says of the nested search: candidates, grid, choices."""
    return {"candidates": list(BEST_CANDIDATES), "grid": NESTED_GRID, "choices": list(row.extras)}


def transfer(model, joint, X_train, y_train, X_test, y_test, *, engine=None):
    """Fit on all of one set, score on all of another: test scores and predictions
    (a network is fitted in ``engine``'s network worker, see
    :meth:`~._engine.Engine.call`; by default a new engine of this machine)."""
    args = (model, joint, X_train, y_train, [X_test])
    if uses_tensorflow(model):
        with _engine_or(engine) as eng:
            (pred,), _ = eng.call(_fit_predict_here, *args)
    else:
        (pred,), _ = _fit_predict_here(*args)
    return scores(y_test, pred, "test"), pred

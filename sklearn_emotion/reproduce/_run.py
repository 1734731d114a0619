"""``run_reproduction``: dataset -> features -> the protocol's runs -> report."""

from __future__ import annotations

import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.model_selection import KFold
from tqdm.auto import tqdm

from ..pipeline import FEATURE_FAMILIES
from ._checkpoints import FoldCheckpoints
from ._engine import Engine
from ._evaluation import (Columns, Result, RowFolds, fit_fold, fold_log, nested_info, plan_folds,
                          plan_nested, subset_indices, uses_tensorflow)
from ._protocol import BEST_CANDIDATES, CNN_ROWS, FEATURE_SETS, cnn_row, make_plan
from ._report import Report, write_report
from .._warn import DEPRECATED, renamed

__all__ = ["compute_features", "load_dataset", "run_reproduction"]


def load_dataset(dataset="emotion6", data_home=None):
    """``(name, filenames, target)`` of a rated set.

    ``dataset`` is ``"emotion6"``, ``"oasis"`` or a Bunch with ``filenames``
    and ``target`` (e.g. from :func:`sklearn_emotion.datasets.load_ratings`;
    its ``name`` is used when present).
    """
    from ..datasets import load_emotion6, load_oasis

    if isinstance(dataset, str):
        loaders = {"emotion6": ("Emotion6", load_emotion6), "oasis": ("OASIS", load_oasis)}
        if dataset not in loaders:
            raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(loaders)} "
                             "or pass a loaded Bunch")
        name, loader = loaders[dataset]
        b = loader(data_home)
    else:
        b, name = dataset, getattr(dataset, "name", "rated set")
    return name, np.asarray(b.filenames, dtype=object), np.asarray(b.target, dtype=np.float64)


def compute_features(names, paths, *, families=None, cache_dir=None, n_jobs=None,
                     data_home=None, verbose=False, log=None, progress=DEPRECATED):
    """Each named family's features for every image, through the cache.

    The network families run in an :class:`~._engine.Engine`'s network
    worker, which stops when they are done: the memory TensorFlow keeps
    leaves with it, and this process never imports TensorFlow.  The
    image-level workers of the other families exit within seconds of
    going idle (:meth:`~._engine.Engine.processes`).

    Returns ``(features, log_info)``: dicts by family name of the matrices and
    of ``computed``/``cached``/``failed``/``seconds``/``n_features``.
    ``verbose`` shows progress bars (``progress`` is its deprecated old name).
    """
    verbose = renamed(verbose, progress, "verbose", "progress", default=False)
    with Engine(None, n_jobs) as engine, engine.processes():
        return _compute_features(engine, names, paths, families, cache_dir, n_jobs, data_home,
                                 verbose, log)


def _compute_features(engine, names, paths, families, cache_dir, n_jobs, data_home, verbose,
                      log):
    registry = {**FEATURE_FAMILIES, **(families or {})}
    feats, info = {}, {}
    for name in names:
        est = registry[name]()
        mech = dict(cache_dir=cache_dir, n_jobs=n_jobs, verbose=verbose)
        if data_home is not None:
            mech["data_home"] = data_home
        est.set_params(**{k: v for k, v in mech.items() if k in est.get_params()})
        t0 = time.perf_counter()
        if getattr(est, "_parallel", None) == "model":
            feats[name], stats = engine.call(_family_features, est, list(paths))
        else:
            feats[name], stats = _family_features(est, list(paths))
        stats = dict(stats, seconds=round(time.perf_counter() - t0, 2),
                     n_features=feats[name].shape[1])
        info[name] = stats
        if log:
            log(f"features {name}: {stats['computed']} computed, {stats['cached']} read from "
                f"cache ({stats['seconds']} s, {stats['n_features']} columns)")
    return feats, info


def _family_features(est, paths):
    """One family's features and its transform counts (in whichever process)."""
    X = est.fit_transform(paths)
    return X, est._transform_stats


def families_needed(tables, runs, sets, families):
    """The feature families the runs of ``make_plan`` (and, with ``"best"``
    in ``tables``, the nested search) read, in registry order."""
    need = {f for r in runs for f in sets[r.feature_set]}
    if "best" in tables:
        need |= {f for c in BEST_CANDIDATES for f in FEATURE_SETS[c]}
    return [n for n in (*FEATURE_FAMILIES, *families) if n in need]


def run_reproduction(output="emotion6-results", *, dataset="emotion6", folds=5, subset=None,
                     tables=("2", "3", "4", "best"), n_jobs=None, cache_dir=None,
                     random_state=0, ffnn_max_iter=300, ffnn_hidden=None, cnn=True,
                     cnn_max_iter=100, cnn_train_max_iter=2, backbones=(), data_home=None,
                     resume=True, log=print, verbose=True, scheduler=None,
                     progress=DEPRECATED):
    """Run the paper's protocol on a rated image set and write tables and plots.

    Parameters
    ----------
    output : path-like
        Output folder (created).
    dataset : {"emotion6", "oasis"} or Bunch, default="emotion6"
        The rated set (see :func:`load_dataset`).
    folds : int, default=5
        Outer K-fold splits (shuffled, seeded; the same folds for every model).
    subset : int, optional
        Use a fixed random subset of this many images (a quick run).
    tables : sequence of {"2", "3", "4", "best"}
        Which tables to compute.
    n_jobs : int, optional
        Image-level parallelism of the feature transformers, folds fitted at
        once for the scikit-learn models (SVR, linear regression), and SVR
        grid-search jobs.  The numbers do not depend on it.
    cache_dir : path-like, optional
        Per-image feature cache; a second run computes no feature.
    random_state : int, default=0
        Seeds the folds and every model.
    ffnn_max_iter : int, default=300
        Epoch budget of each FFNN fit.
    ffnn_hidden : tuple of int, optional
        Hidden layers of every FFNN (the paper's 3000-1000-500 by default).
    cnn : bool, default=True
        Include the fine-tuned CNN rows of Table IV.
    cnn_max_iter : int, default=100
        Epoch budget of the conv-frozen CNN (cheap: the head only).
    cnn_train_max_iter : int, default=2
        Epoch budget of the conv-train CNN (every layer: about 100 s an epoch
        on Emotion6 on 2 CPU cores).
    backbones : sequence of str, default=()
        Further keras.applications backbones for Table II (ImageNet weights
        from Keras' download).  Only what is asked is run.
    resume : bool, default=True
        Keep each finished fold in ``<output>/.checkpoints/`` and read back
        the folds an interrupted run on the same output finished, when the
        model, its features, the targets, the fold and the model-fitting
        code are all unchanged (see
        :class:`sklearn_emotion.reproduce._checkpoints.FoldCheckpoints`).  The
        folder is removed when the run completes.  ``False`` ignores and
        removes existing checkpoints.
    scheduler : str, optional
        Where the fits run (:class:`~._engine.Engine`).  None: this machine
        (networks one at a time in a worker process, other models on
        ``n_jobs`` threads).  ``"local:N"``: a Dask ``LocalCluster`` of N
        worker processes.  An address (``tcp://host:8786``): that Dask
        scheduler's workers, which need the package, the data home and the
        images at the same paths.  Every fold of every row is a task; the
        tables do not depend on where they ran.  Each task's start, end,
        worker and peak memory are in ``results.json`` (``tasks``) and
        ``tasks.png``.
    verbose : bool, default=True
        Progress bars (feature extraction, then fits).
    progress : deprecated
        The old name of ``verbose`` (deprecated in 0.2, removed in 0.4).

    Returns
    -------
    summary : dict
        Everything written to ``results.json``.
    """
    verbose = renamed(verbose, progress, "verbose", "progress", default=True)
    t_start = time.perf_counter()
    log = log or (lambda message: None)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    tables = tuple(str(t) for t in tables)
    name, paths, y = _subset(*load_dataset(dataset, data_home), subset, random_state)
    log(f"{name}: {len(paths)} images, {folds}-fold CV, tables {', '.join(tables)}")
    cv = KFold(n_splits=folds, shuffle=True, random_state=random_state)
    runs, sets, families = make_plan(tables, random_state=random_state,
                                     ffnn_max_iter=ffnn_max_iter, ffnn_hidden=ffnn_hidden,
                                     backbones=backbones)
    order = families_needed(tables, runs, sets, families)
    feats, feat_info = compute_features(order, paths, families=families, cache_dir=cache_dir,
                                        n_jobs=n_jobs, data_home=data_home, verbose=verbose,
                                        log=log)
    rep = Report(out, name, paths, y, folds, random_state, features=feat_info,
                 n_jobs=joblib.effective_n_jobs(n_jobs), scheduler=scheduler)
    if name != "Emotion6":
        rep.notes.append(_other_set_note(name))
    checkpoints = FoldCheckpoints(out / ".checkpoints")
    if not resume:
        checkpoints.clear()
    rows = _Rows(rep, checkpoints, list(cv.split(paths)), y, log, t_start)
    if "4" in tables and cnn:
        rows.plan_cnn(paths, {"conv-frozen": cnn_max_iter, "conv-train": cnn_train_max_iter},
                      random_state, data_home, cache_dir)
    rows.plan_runs(runs, sets, feats)
    if "best" in tables:
        rows.plan_nested(feats, n_jobs if scheduler is None else 1)
    rows.fit(scheduler, n_jobs, verbose)
    rep.complete, rep.wall = True, time.perf_counter() - t_start
    summary = write_report(rep, log=log)
    checkpoints.clear()
    return summary


def _subset(name, paths, y, subset, random_state):
    if subset is not None and subset < len(paths):
        keep = subset_indices(len(paths), subset, random_state)
        paths, y = paths[keep], y[keep]
    return name, paths, y


def _other_set_note(name):
    return (f"Every table applies to {name}: Tables II-IV and the best configuration use only "
            "the valence and arousal ratings. The paper's emotion-category results (Emotion6's "
            "seven-way distributions) are not part of this reproduction on any set."
            " Ratings on another scale (OASIS: 1-7) are mapped linearly to 1-9, so MSEs are "
            "in 1-9 units; R² and r do not depend on the scale.")


class _Rows:
    """The rows of one reproduction: their folds as tasks, their results as
    they arrive, and the report rewritten after every finished row.

    Positions order the rows as the plan writes them, whichever order their
    folds finish in: ``(0, i)`` the i-th run, ``(1, 0)`` the nested CV,
    ``(2, i)`` the i-th CNN row.  Tasks go in three stages (the CNN rows,
    the runs, the nested search): on this machine the network worker is
    stopped after each stage's networks (see ``Engine.run``), so a CNN's
    memory never sits under the FFNN fits.
    """

    def __init__(self, rep, checkpoints, splits, y, log, t_start):
        self.rep, self.checkpoints, self.splits = rep, checkpoints, splits
        self.y, self.log = y, log
        self.t_start = t_start
        self.rows: dict[tuple, RowFolds] = {}
        self.copies: dict[tuple, list] = {}
        self.hits: dict[tuple, dict] = {}
        self.placed: dict[tuple, Result] = {}
        self.stages = [[], [], []]
        self.bar = None

    def plan(self, position, stage, model, X, joint, table, name, features):
        """The folds of one row: read from checkpoints, or tasks of ``stage``."""
        checkpoints, y, splits = self.checkpoints, self.y, self.splits
        self.rows[position] = RowFolds(table, name, features, splits, len(y))
        self.hits[position], tasks = plan_folds(
            position, fit_fold, lambda tr, te: (model, joint, X, y, tr, te), checkpoints,
            lambda tr, te: checkpoints.key(model, joint, X, y, tr, te), splits,
            network=uses_tensorflow(model),
            info={"table": table, "model": name, "features": features})
        self.stages[stage] += tasks

    def plan_cnn(self, paths, budget, random_state, data_home, cache_dir):
        """Table IV's fine-tuned CNN rows, on the images themselves."""
        for i, (rng_name, lr) in enumerate(CNN_ROWS):
            row_name, model = cnn_row(rng_name, lr, budget[rng_name], random_state, data_home,
                                      cache_dir)
            self.plan((2, i), 0, model, paths.astype(object), True, "IV", row_name,
                      "image pixels")

    def plan_runs(self, runs, sets, feats):
        """The protocol's runs, each on its feature set; a (model, features)
        pair shared by tables runs once."""
        first: dict[tuple, tuple] = {}
        for i, r in enumerate(runs):
            key = (r.model_name, r.feature_set)
            if key in first:
                self.copies.setdefault(first[key], []).append((0, i, r.table))
                continue
            first[key] = (0, i)
            X = Columns([feats[f] for f in sets[r.feature_set]])  # stacked in the tasks
            self.plan((0, i), 1, r.model, X, r.joint, r.table, r.model_name, r.feature_set)

    def plan_nested(self, feats, n_jobs):
        """The nested search's row (the best configuration)."""
        self.rows[(1, 0)], self.hits[(1, 0)], tasks = plan_nested(
            (1, 0), feats, self.y, self.splits, self.checkpoints, n_jobs)
        self.stages[2] += tasks

    def _place(self, position):
        row = self.rows[position]
        res = row.result()
        self.placed[position] = res
        for p0, i, table in self.copies.get(position, ()):
            self.placed[(p0, i)] = Result(table, row.name, row.features, res.folds, res.oof,
                                          res.fold_of)
        if position == (1, 0):
            self.rep.best = nested_info(row)
        self.rep.results = [self.placed[k] for k in sorted(self.placed)]
        self.rep.wall = time.perf_counter() - self.t_start
        write_report(self.rep)  # partial tables are on disk after every row

    def _arrived(self, position, k, rec, pte, extra, checkpoint=False):
        row = self.rows[position]
        fold_log(self.log, row.table, row.name, row.features, k, rec, checkpoint=checkpoint,
                 choice=extra)
        self.bar.update(1)
        if row.add(k, rec, pte, extra):
            self._place(position)

    def fit(self, scheduler, n_jobs, verbose):
        """Every fold: the checkpointed ones first, then the tasks, on the engine."""
        rep, checkpoints = self.rep, self.checkpoints
        n_fits = len(self.rows) * len(self.splits)
        self.bar = tqdm(total=n_fits, desc="reproduce (fits)", disable=not verbose,
                        unit="fold")
        for position in sorted(self.hits, key=lambda p: (p[0] != 2, p)):
            for k, (rec, pte, extra) in sorted(self.hits[position].items()):
                row = self.rows[position]
                rep.tasks.append({"table": row.table, "model": row.name,
                                  "features": row.features, "fold": k + 1,
                                  "from_checkpoint": True})
                self._arrived(position, k, rec, pte, extra, checkpoint=True)
        with Engine(scheduler, n_jobs) as engine:
            if scheduler is not None:
                self.log(f"fits on the Dask cluster {scheduler} ({engine.workers} worker "
                         "threads)")
            for task, (rec, pte, extra), record in engine.run(self.stages):
                checkpoints.save(task.info["key"], rec, pte, extra)
                rep.tasks.append({k: v for k, v in record.items() if k != "key"})
                self._arrived(*task.name, rec, pte, extra)
        self.bar.close()
        if checkpoints.resumed:
            rep.notes.append(f"{checkpoints.resumed} of {n_fits} folds were read from the "
                             "checkpoints of an interrupted run on this output (same features, "
                             "targets, folds, model settings and model code); their "
                             "fit_seconds are that run's.")

"""The paper's protocol on Emotion6: folds, Tables II-IV, a nested-CV best model, plots.

Features are stateless (``fit`` learns nothing), so each family is computed
once for every image through its transformer (and the per-image cache), and
every model is then cross-validated on the stacked matrices: exactly what
``cross_validate(make_paper_pipeline(...), paths, y, cv=same_folds)`` computes,
without decoding each image once per fold and model (the end-to-end test
checks the two agree).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr
from sklearn.base import clone
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from tqdm.auto import tqdm

from ._backbones import keras_cached_backbones
from .datasets import load_emotion6
from .features import ColorFeatures, GISTFeatures, LBPFeatures, ObjectFeatures, SceneFeatures
from .models import FFNNRegressor
from .features import FaceExpressionFeatures, ObjectEmotionFeatures
from .pipeline import DEFAULT_OBJECT, make_scaler

__all__ = ["FEATURE_SETS", "evaluate", "run_reproduction"]

TFLITE_OBJECT = dict(backbone="models/mobilenet_v2_1.0_224_quant.tflite")

#: Paper-faithful FFNN (Sec. V) and the tuned one (Adam, smaller batches, L2).
PAPER_FFNN = dict(hidden_layer_sizes=(3000, 1000, 500), solver="sgd", learning_rate_init=1e-4,
                  momentum=0.9, batch_size=1000, early_stopping=True, n_iter_no_change=20)
TUNED_FFNN = dict(hidden_layer_sizes=(3000, 1000, 500), solver="adam", learning_rate_init=1e-4,
                  batch_size=64, alpha=1e-1, early_stopping=True, n_iter_no_change=8)
#: Standardised features are clipped to this many standard deviations.
CLIP = 5.0


def _families():
    return {
        "color": ColorFeatures(),
        "gist": GISTFeatures(),
        "lbp": LBPFeatures(),
        "object": ObjectFeatures(**DEFAULT_OBJECT),
        "object_tflite": ObjectFeatures(**TFLITE_OBJECT),
        "object_logits": ObjectFeatures(**DEFAULT_OBJECT, output="logits"),
        "scene": SceneFeatures(),
        "face": FaceExpressionFeatures(),
        "object_emotion": ObjectEmotionFeatures(**DEFAULT_OBJECT),
    }


#: Named feature sets: which families' columns they stack.
FEATURE_SETS = {
    "low-level": ("color", "gist", "lbp"),
    "object": ("object",),
    "semantic": ("scene",),
    "all": ("color", "gist", "lbp", "object", "scene"),
    "all (TFLite object)": ("color", "gist", "lbp", "object_tflite", "scene"),
    "all (object logits)": ("color", "gist", "lbp", "object_logits", "scene"),
    "object logits + scene": ("object_logits", "scene"),
    "all + face": ("color", "gist", "lbp", "object", "scene", "face"),
    "all + object emotion": ("color", "gist", "lbp", "object", "scene", "object_emotion"),
    "all + face + object emotion": ("color", "gist", "lbp", "object", "scene", "face",
                                    "object_emotion"),
    "all (object logits) + face + object emotion": ("color", "gist", "lbp", "object_logits",
                                                    "scene", "face", "object_emotion"),
}

#: Feature sets the nested search chooses from.
BEST_CANDIDATES = ("all (object logits)", "object logits + scene",
                   "all (object logits) + face + object emotion")


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


def _scores(y_true, y_pred, prefix):
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


def _fit_predict(model, joint, Xtr, ytr, Xs):
    """Fit ``model`` for V and A (jointly, or one clone per target)."""
    if joint:
        m = clone(model).fit(Xtr, ytr)
        return [m.predict(X).reshape(len(X), 2) for X in Xs], m
    preds = [np.empty((len(X), 2)) for X in Xs]
    fitted = []
    for j in range(2):
        m = clone(model).fit(Xtr, ytr[:, j])
        fitted.append(m)
        for p, X in zip(preds, Xs):
            p[:, j] = m.predict(X)
    return preds, fitted


def evaluate(model, X, y, cv, *, joint, table="", name="", features="", log=None, bar=None):
    """Cross-validate ``model`` on a feature matrix; train and test scores per fold."""
    res = Result(table, name, features, oof=np.full(y.shape, np.nan))
    for k, (tr, te) in enumerate(cv.split(X)):
        t0 = time.perf_counter()
        (ptr, pte), fitted = _fit_predict(model, joint, X[tr], y[tr], [X[tr], X[te]])
        rec = {**_scores(y[tr], ptr, "train"), **_scores(y[te], pte, "test"),
               "fit_seconds": time.perf_counter() - t0}
        last = fitted if not isinstance(fitted, list) else fitted[0]
        reg = last.steps[-1][1] if hasattr(last, "steps") else last
        if hasattr(reg, "n_iter_"):
            rec["epochs"] = float(reg.n_iter_)
        res.folds.append(rec)
        res.oof[te] = pte
        if log:
            log(f"  [{table}] {name} on {features}, fold {k + 1}: test MSE V {rec['test_mse_V']:.3f}"
                f" A {rec['test_mse_A']:.3f} ({rec['fit_seconds']:.1f} s)")
        if bar is not None:
            bar.update(1)
    return res


def _ffnn(params, random_state, max_iter, clip=5.0):
    scaler = make_scaler(clip)  # clip=None: the plain StandardScaler
    return make_pipeline(scaler, FFNNRegressor(**params, max_iter=max_iter,
                                               random_state=random_state))


def _fmt(s, k):
    if not np.isfinite(s[k + "_mean"]):
        return "n/a"
    return f"{s[k + '_mean']:.3f} ± {s[k + '_std']:.3f}"


def _markdown(rows, title):
    cols = ["model", "features", "test MSE V", "test MSE A", "test R² V", "test R² A",
            "test r V", "test r A", "train MSE V", "train MSE A"]
    keys = ["test_mse_V", "test_mse_A", "test_r2_V", "test_r2_A", "test_r_V", "test_r_A",
            "train_mse_V", "train_mse_A"]
    lines = [f"### {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for s in rows:
        lines.append("| " + " | ".join([s["model"], s["features"]] + [_fmt(s, k) for k in keys]) + " |")
    return "\n".join(lines) + "\n"


def _per_fold_markdown(results):
    lines = ["| table | model | features | fold | train MSE V | test MSE V | train MSE A | test MSE A |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for k, f in enumerate(r.folds):
            lines.append(f"| {r.table} | {r.model} | {r.features} | {k + 1} | {f['train_mse_V']:.3f} | "
                         f"{f['test_mse_V']:.3f} | {f['train_mse_A']:.3f} | {f['test_mse_A']:.3f} |")
    return "\n".join(lines) + "\n"


def _plots(out, y, oof, paths, title, n_thumbs=60, seed=0):
    import textwrap

    from matplotlib.figure import Figure

    from ._plotting import plot_va_thumbnails

    fig = Figure(figsize=(10, 4.6))
    axes = fig.subplots(1, 2)
    for j, (ax, t) in enumerate(zip(axes, ("Valence", "Arousal"))):
        ax.scatter(y[:, j], oof[:, j], s=6, alpha=0.4)
        ax.plot([1, 9], [1, 9], "k--", lw=1)
        r = pearsonr(y[:, j], oof[:, j])[0]
        ax.set(xlim=(1, 9), ylim=(1, 9), xlabel=f"true {t.lower()}", ylabel=f"predicted {t.lower()}",
               title=f"{t}: r = {r:.2f}, MSE = {np.mean((y[:, j] - oof[:, j]) ** 2):.2f}")
    fig.suptitle(textwrap.fill(title + " (out-of-fold predictions)", 100), fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "scatter_pred_vs_true.png", dpi=110)

    rng = np.random.default_rng(seed)
    idx = rng.choice(len(paths), size=min(n_thumbs, len(paths)), replace=False)
    plot_va_thumbnails([paths[i] for i in idx], oof[idx], out / "va_thumbnails.png",
                       title="Images at their predicted valence-arousal (cf. Fig. 10)",
                       limits=None)


def run_reproduction(output="emotion6-results", *, folds=5, subset=None, tables=("2", "3", "4", "best"),
                     n_jobs=None, cache_dir=None, random_state=0, ffnn_max_iter=300,
                     ffnn_hidden=None, cnn=True, cnn_max_iter=100, cnn_train_max_iter=2,
                     data_home=None, log=print, progress=True):
    """Run the paper's protocol on Emotion6 and write tables and plots.

    Parameters
    ----------
    output : path-like
        Output folder (created).
    folds : int, default=5
        Outer K-fold splits (shuffled, seeded; the same folds for every model).
    subset : int, optional
        Use a fixed random subset of this many images (a quick run).
    tables : sequence of {"2", "3", "4", "best"}
        Which tables to compute.
    n_jobs : int, optional
        Image-level parallelism of the feature transformers and of SVR grid search.
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

    Returns
    -------
    summary : dict
        Everything written to ``results.json``.
    """
    t_start = time.perf_counter()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    tables = tuple(str(t) for t in tables)
    data = load_emotion6(data_home)
    paths, y = np.asarray(data.filenames), data.target
    if subset is not None and subset < len(paths):
        keep = subset_indices(len(paths), subset, random_state)
        paths, y = paths[keep], y[keep]
    log(f"Emotion6: {len(paths)} images, {folds}-fold CV, tables {', '.join(tables)}")

    # ---- what to run
    cv = KFold(n_splits=folds, shuffle=True, random_state=random_state)
    hid = {} if ffnn_hidden is None else {"hidden_layer_sizes": tuple(ffnn_hidden)}
    ffnn_paper = _ffnn({**PAPER_FFNN, **hid}, random_state, ffnn_max_iter, CLIP)
    ffnn_tuned = _ffnn({**TUNED_FFNN, **hid}, random_state, ffnn_max_iter, CLIP)
    ffnn_plain = _ffnn({**PAPER_FFNN, **hid}, random_state, ffnn_max_iter, clip=None)
    svr = make_pipeline(make_scaler(CLIP), SVR())
    linear = make_pipeline(make_scaler(CLIP), LinearRegression())
    sets = dict(FEATURE_SETS)
    plan = []  # (table, model name, model, joint, feature set)
    if "2" in tables:
        extra = []
        for name in keras_cached_backbones():  # other backbones, when their weights are here
            fam = f"object_{name}"
            sets[f"all ({name} object)"] = ("color", "gist", "lbp", fam, "scene")
            extra.append(f"all ({name} object)")
        for fs in ("all", "all (TFLite object)", *extra):
            plan.append(("II", "FFNN (tuned)", ffnn_tuned, True, fs))
        plan.append(("II", "FFNN (paper settings)", ffnn_paper, True, "all"))
    if "3" in tables:
        for fs in ("low-level", "object", "semantic", "all"):
            plan.append(("III", "FFNN (tuned)", ffnn_tuned, True, fs))
        for fs in ("low-level", "object", "semantic", "all", "all + face", "all + object emotion",
                   "all + face + object emotion"):
            plan.append(("III", "SVR (RBF, C=1)", svr, False, fs))
        plan.append(("III", "FFNN (tuned)", ffnn_tuned, True, "all + face + object emotion"))
    if "4" in tables:
        plan.append(("IV", "mean of training targets", make_pipeline(DummyRegressor()), True, "all"))
        plan.append(("IV", "linear regression", linear, True, "all"))
        plan.append(("IV", "linear regression (plain StandardScaler, no clipping)",
                     make_pipeline(StandardScaler(), LinearRegression()), True, "all"))
        plan.append(("IV", "SVR (RBF, C=1)", svr, False, "all"))
        plan.append(("IV", "FFNN (paper settings)", ffnn_paper, True, "all"))
        plan.append(("IV", "FFNN (paper settings, plain StandardScaler, no clipping)", ffnn_plain,
                     True, "all"))
        plan.append(("IV", "FFNN (tuned)", ffnn_tuned, True, "all"))
    cnn_plan = []
    if "4" in tables and cnn:
        cnn_plan = [("conv-frozen", 1e-3, cnn_max_iter), ("conv-train", 1e-4, cnn_train_max_iter)]

    # ---- features: once per image, through the transformers and the cache
    need = {f for *_, fs in plan for f in sets[fs]}
    if "best" in tables:
        need |= {f for c in BEST_CANDIDATES for f in FEATURE_SETS[c]}
    fams = _families()
    for name in keras_cached_backbones():
        fams[f"object_{name}"] = ObjectFeatures(name, "imagenet")
    feats, feat_log = {}, {}
    for name in [n for n in fams if n in need]:
        est = fams[name].set_params(memory=cache_dir, n_jobs=n_jobs, verbose=progress)
        if data_home is not None and "data_home" in est.get_params():
            est.set_params(data_home=data_home)
        t0 = time.perf_counter()
        feats[name] = est.fit_transform(list(paths))
        stats = dict(est._transform_stats, seconds=round(time.perf_counter() - t0, 2),
                     n_features=feats[name].shape[1])
        feat_log[name] = stats
        log(f"features {name}: {stats['computed']} computed, {stats['cached']} read from cache "
            f"({stats['seconds']} s, {stats['n_features']} columns)")

    def X_of(set_name):
        return np.hstack([feats[f] for f in sets[set_name]])

    # identical (model, features) pairs are run once and reported in each table
    done: dict[tuple, Result] = {}
    results: list[Result] = []
    n_runs = (len({(m, fs) for _, m, _, _, fs in plan}) + len(cnn_plan)
              + (1 if "best" in tables else 0)) * folds
    bar = tqdm(total=n_runs, desc="reproduce (fits)", disable=not progress, unit="fold")
    best_info = None

    def flush():
        _write(out, results, feat_log, best_info, len(paths), folds, random_state, y, paths,
               time.perf_counter() - t_start, log=None)

    for table, mname, model, joint, fs in plan:
        key = (mname, fs)
        if key not in done:
            done[key] = evaluate(model, X_of(fs), y, cv, joint=joint, table=table, name=mname,
                                 features=fs, log=log, bar=bar)
        r = done[key]
        results.append(Result(table, mname, fs, r.folds, r.oof))
        flush()  # partial tables are on disk after every model

    if "best" in tables:
        best_info, r = _nested_best(feats, y, cv, random_state, n_jobs, log, bar)
        results.append(r)
        flush()

    if cnn_plan:
        from .models import CNNRegressor

        for rng_name, lr, epochs in cnn_plan:
            model = CNNRegressor(backbone="mobilenet_v2",
                                 weights="models/mobilenet_v2_1.0_224_imagenet_notop.weights.h5",
                                 train_range=rng_name, max_iter=epochs, learning_rate=lr,
                                 random_state=random_state, data_home=data_home)
            r = evaluate(model, paths.astype(object), y, cv, joint=True, table="IV",
                         name=f"CNN fine-tuned, MobileNetV2 ({rng_name}, max {epochs} epochs)",
                         features="image pixels", log=log, bar=bar)
            results.append(r)
            flush()
    bar.close()
    wall = time.perf_counter() - t_start
    return _write(out, results, feat_log, best_info, len(paths), folds, random_state, y, paths,
                  wall, log=log, plots=True)


def _write(out, results, feat_log, best_info, n_images, folds, random_state, y, paths, wall,
           log=None, plots=False):
    summaries = [r.summary() for r in results]
    md = ["# Emotion6 reproduction of Kim et al. (2018)\n",
          f"{n_images} images, {folds}-fold CV (KFold shuffle, random_state={random_state}); "
          "mean ± std over folds. Always predicting the training mean scores MSE ≈ the target "
          "variance (V 3.37, A 0.78 on all of Emotion6). Unless a row says otherwise, features "
          f"are standardised and clipped to ±{CLIP:g} (make_scaler).\n"]
    titles = {"II": "Table II: FFNN on all features, per object backbone",
              "III": "Table III: feature families",
              "IV": "Table IV: regressors on all features",
              "best": "Best configuration (nested CV)"}
    for t in ("II", "III", "IV", "best"):
        rows = [s for s in summaries if s["table"] == t]
        if rows:
            md.append(_markdown(rows, titles[t]))
    if best_info:
        md.append("Chosen per outer fold (inner 3-fold grid search on the training folds only):\n\n"
                  + "\n".join(f"- fold {k + 1}: V {c['V']}; A {c['A']}"
                              for k, c in enumerate(best_info["choices"])) + "\n")
    md.append("### Per-fold MSE\n\n" + _per_fold_markdown(results))
    md.append("### Features\n\n| family | columns | computed | from cache | seconds |\n|---|---|---|---|---|\n"
              + "\n".join(f"| {k} | {v['n_features']} | {v['computed']} | {v['cached']} | {v['seconds']} |"
                          for k, v in feat_log.items()) + "\n")
    md.append(f"Wall time: {wall:.0f} s{'' if plots else ' so far (run in progress)'}.\n")
    (out / "tables.md").write_text("\n".join(md), encoding="utf-8")
    import csv

    with open(out / "tables.csv", "w", newline="") as f:
        keys = list(dict.fromkeys(k for s in summaries for k in s)) or ["table"]
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for s in summaries:
            w.writerow(s)
    with open(out / "per_fold.csv", "w", newline="") as f:
        keys = sorted({k for r in results for fo in r.folds for k in fo})
        w = csv.writer(f)
        w.writerow(["table", "model", "features", "fold"] + keys)
        for r in results:
            for k, fo in enumerate(r.folds):
                w.writerow([r.table, r.model, r.features, k + 1] + [fo.get(c, "") for c in keys])
    if plots and results:
        plotted = next((r for r in results if r.table == "best"), None) or next(
            (r for r in results if r.model.startswith("FFNN") and r.features == "all"), results[-1])
        _plots(out, y, plotted.oof, paths, f"{plotted.model} on {plotted.features}")
    summary = {"n_images": n_images, "folds": folds, "random_state": random_state,
               "features": feat_log, "results": summaries, "best": best_info,
               "wall_seconds": wall, "complete": plots}
    (out / "results.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    if log:
        log(f"wrote {out}/tables.md, tables.csv, per_fold.csv, results.json and plots ({wall:.0f} s)")
    return summary


def _nested_best(feats, y, cv, random_state, n_jobs, log, bar):
    """Choose feature set and SVR settings inside each training fold (3-fold
    inner CV), per target; report the outer test folds."""
    candidates = list(BEST_CANDIDATES)
    grid = {"svr__C": [1.0, 3.0, 10.0], "svr__epsilon": [0.1, 0.3]}
    X_sets = {c: np.hstack([feats[f] for f in FEATURE_SETS[c]]) for c in candidates}
    res = Result("best", "nested CV: best of feature sets × SVR grid", " / ".join(candidates),
                 oof=np.full(y.shape, np.nan))
    choices = []
    for k, (tr, te) in enumerate(cv.split(y)):
        t0 = time.perf_counter()
        ptr, pte = np.empty((len(tr), 2)), np.empty((len(te), 2))
        choice = {}
        for j, t in enumerate(("V", "A")):
            best = None
            for c in candidates:
                gs = GridSearchCV(make_pipeline(make_scaler(CLIP), SVR()), grid, cv=3,
                                  scoring="neg_mean_squared_error", n_jobs=n_jobs)
                gs.fit(X_sets[c][tr], y[tr, j])
                if best is None or gs.best_score_ > best[0]:
                    best = (gs.best_score_, c, gs)
            _, c, gs = best
            choice[t] = f"{c}, C={gs.best_params_['svr__C']}, epsilon={gs.best_params_['svr__epsilon']}"
            ptr[:, j] = gs.predict(X_sets[c][tr])
            pte[:, j] = gs.predict(X_sets[c][te])
        rec = {**_scores(y[tr], ptr, "train"), **_scores(y[te], pte, "test"),
               "fit_seconds": time.perf_counter() - t0}
        res.folds.append(rec)
        res.oof[te] = pte
        choices.append(choice)
        log(f"  [best] fold {k + 1}: {choice}; test MSE V {rec['test_mse_V']:.3f} A {rec['test_mse_A']:.3f}")
        bar.update(1)
    return {"candidates": candidates, "grid": grid, "choices": choices}, res

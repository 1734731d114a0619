"""Command line: ``sklearn-emotion reproduce | train | predict``."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path

from ._cli_args import build_parser

__all__ = ["build_parser", "main"]



def _rated_set(args):
    """The --dataset of reproduce/train: a name, or a ratings CSV with --image-dir."""
    from .datasets import load_ratings

    if args.dataset in ("emotion6", "oasis"):
        return args.dataset
    if not args.image_dir:
        raise SystemExit("error: --image-dir is required with a ratings CSV")
    b = load_ratings(args.dataset, args.image_dir, filename_column=args.filename_column,
                     valence_column=args.valence_column, arousal_column=args.arousal_column,
                     scale=(args.scale_low, args.scale_high))
    b.name = Path(args.dataset).stem
    return b


def _cmd_reproduce(args):
    from .reproduce import run_reproduction

    run_reproduction(
        args.output, dataset=_rated_set(args), folds=args.folds, subset=args.subset,
        tables=[t.strip() for t in args.tables.split(",") if t.strip()],
        n_jobs=args.n_jobs, cache_dir=args.cache_dir, random_state=args.random_state,
        ffnn_max_iter=args.ffnn_max_iter, cnn=not args.no_cnn, cnn_max_iter=args.cnn_max_iter,
        cnn_train_max_iter=args.cnn_train_max_iter, ffnn_hidden=_hidden(args.ffnn_hidden),
        backbones=[b.strip() for b in args.backbones.split(",") if b.strip()],
        resume=not args.no_resume, verbose=not args.quiet, scheduler=args.scheduler,
    )
    return 0


def _cmd_cross_set(args):
    from .reproduce import run_cross_set

    run_cross_set(args.output, datasets=tuple(d.strip() for d in args.datasets.split(",")),
                  folds=args.folds, subset=args.subset, cache_dir=args.cache_dir,
                  n_jobs=args.n_jobs, random_state=args.random_state,
                  ffnn_max_iter=args.ffnn_max_iter, ffnn_hidden=_hidden(args.ffnn_hidden),
                  within=tuple(args.within.split(",")) if args.within else None,
                  verbose=not args.quiet)
    return 0


def _hidden(text):
    if text is None:
        return None
    return tuple(int(u) for u in text.split(",") if u.strip())


def _cmd_train(args):
    if args.recipe:
        return _train_recipe(args)
    if not args.output:
        print("error: --output is required", file=sys.stderr)
        return 2
    import joblib

    from ._store import atomic_write
    from .pipeline import fit_pipeline, make_paper_pipeline

    from .reproduce import load_dataset

    _, X, y = load_dataset(_rated_set(args))
    features = [f.strip() for f in args.features.split(",") if f.strip()]
    params = {}
    if args.regressor == "ffnn" and args.ffnn_hidden:
        params["regressor__hidden_layer_sizes"] = _hidden(args.ffnn_hidden)
    if args.regressor == "svr":
        from sklearn.multioutput import MultiOutputRegressor
        from sklearn.svm import SVR

        reg = MultiOutputRegressor(SVR(C=args.svr_c))
    else:
        reg = args.regressor
    pipe = make_paper_pipeline(features, reg, cache_dir=args.cache_dir, n_jobs=args.n_jobs,
                               verbose=not args.quiet, **params)
    print(f"training on {len(X)} images of {_set_name(args)} with features {features} "
          f"and {args.regressor}", file=sys.stderr)
    pipe, r = fit_pipeline(pipe, X, y, cv=args.cv)
    if r is not None:
        print(f"{args.cv}-fold cross-validated Pearson r on the training set: valence "
              f"{r[0]:.3f}, arousal {r[1]:.3f} (--cv 0 skips this)")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda f: joblib.dump(pipe, f))  # no half-written pickle
    print(f"trained on {len(X)} images with features {features} and {args.regressor}; saved {out}")
    return 0


def _set_name(args):
    return args.dataset if args.dataset in ("emotion6", "oasis") else Path(args.dataset).name


def _train_recipe(args):
    from .pretrained import fit_recipe

    out = Path(args.output or f"{args.recipe}-model")
    model, meta = fit_recipe(args.recipe, cache_dir=args.cache_dir, n_jobs=args.n_jobs,
                             verbose=not args.quiet)
    model.save(out, metadata=meta)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"recipe {args.recipe!r}: trained on {model.n_train_} images; saved {out} "
          f"({size / 1e6:.2f} MB; load it with sklearn_emotion.load_pretrained({str(out)!r}))")
    return 0


def _cmd_adapt(args):
    from .datasets import load_ratings
    from .pretrained import AffectModel, UntrustedPickleError, load_model

    data = load_ratings(args.ratings, args.image_dir, filename_column=args.filename_column,
                        valence_column=args.valence_column, arousal_column=args.arousal_column,
                        scale=(args.scale_low, args.scale_high),
                        missing="raise" if args.strict else "skip")
    try:  # never unpickles: a pickled pipeline cannot be adapted anyway
        model, kind = load_model(args.model)
    except UntrustedPickleError:
        model = None
    if not isinstance(model, AffectModel):
        print(f"error: --model {args.model} is not an affect model folder (a pipeline saved "
              "by 'train' cannot be adapted)", file=sys.stderr)
        return 2
    model.features_.set_params(cache_dir=args.cache_dir, verbose=not args.quiet,
                               on_error="raise" if args.strict else "nan")
    collection = None
    if args.collection:
        from .collection import find_images

        entries, _ = find_images(args.collection)
        collection = [e.path for e in entries if e.reason is None]
    adapted = model.adapt(list(data.filenames), data.target, cv=args.cv, collection=collection)
    out = Path(args.output)
    adapted.save(out, metadata={**getattr(model, "metadata_", {}),
                                "adapted_on": {"ratings": str(args.ratings),
                                               "images": len(data.filenames)}})
    print(f"adapted {'the shipped model' if args.model is None else args.model} to "
          f"{len(data.filenames)} rated images of {args.ratings}:")
    for name, t in zip(("valence", "arousal"), adapted.adaptation_["targets"]):
        ranked = sorted(t["cv_mse"].items(), key=lambda kv: kv[1])
        print(f"  {name}: {t['strategy']} (out-of-fold MSE: "
              + ", ".join(f"{s} {m:.3f}" for s, m in ranked) + ")")
    print(f"saved {out}; use it with: sklearn-emotion predict --model {out} IMAGES")
    return 0


def _human_size(n):
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000


def _cmd_data(args):
    from .resources import (
        OFFLINE_ADVICE,
        REGISTRY,
        ResourceError,
        fetch_all,
        get_data_home,
        status,
    )

    home = get_data_home()
    if args.action in ("list", "verify"):
        rows = status()
        print(f"data home: {home}")
        for r in rows:
            where = r["url"] or (f"built from {r['derive_from']}" if r["derive_from"] else None) \
                or "no download"
            print(f"{r['status']:<10}  {r['name']}  ({_human_size(r['size'])}; {r['licence']})")
            if args.action == "list":
                print(f"            source: {r['source']}")
                print(f"            from: {where}"
                      + (f"; built by {r['build']}" if r["build"] else ""))
                if r["how"]:
                    print(f"            how to get it: {r['how']}")
        bad = [r for r in rows if r["status"] == "wrong hash"]
        missing = [r for r in rows if r["status"] == "missing"]
        print(f"{len(rows) - len(bad) - len(missing)} present, {len(missing)} missing, "
              f"{len(bad)} with a wrong hash")
        from .resources import stale_scratch

        for d in stale_scratch(home):
            print(f"left over: {d} (an interrupted fetch's scratch folder; the next 'data "
                  "fetch' removes it)")
        if args.action == "verify":
            if args.strict:
                print("note: --strict is the default now (missing files fail verify); it will be "
                      "removed in 0.4", file=sys.stderr)
            if missing and not args.allow_missing:
                print(f"{len(missing)} registered file(s) missing: 'sklearn-emotion data fetch "
                      "--all' gets them (--allow-missing accepts a partial data home)",
                      file=sys.stderr)
            return 1 if bad or (missing and not args.allow_missing) else 0
        return 0
    names = None if args.all else args.names
    if not names and not args.all:
        print("error: name resources to fetch, or pass --all", file=sys.stderr)
        return 2
    unknown = [n for n in (names or []) if n not in REGISTRY]
    if unknown:
        print(f"error: unknown resource(s) {unknown}; 'sklearn-emotion data list' names them",
              file=sys.stderr)
        return 2
    results = fetch_all(names, mirror=args.mirror, verbose=not args.quiet)
    failed = {n: r for n, r in results.items() if isinstance(r, ResourceError)}
    for n in results:
        if n not in failed:
            print(f"ok      {n}")
    # failures with one cause (an unreachable host, say) are reported together
    groups = {}
    for n, r in failed.items():
        groups.setdefault(r.cause or str(r), []).append(n)
    for cause, group in groups.items():
        if len(group) == 1 and failed[group[0]].cause is None:
            print(f"failed  {group[0]}: {cause}")
            continue
        print(f"failed  {len(group)} file(s): {cause}:")
        for n in group:
            print(f"          {n}")
    if any(failed[g[0]].cause for g in groups.values()):
        print(OFFLINE_ADVICE.format(target=f"its path under {home}")
              .replace("the file", "each file").replace("serves it", "serves them")
              .replace("holds it", "holds them"))
    print(f"data home {home}: {len(results) - len(failed)} ready, {len(failed)} failed")
    return 1 if failed else 0


def _cmd_predict(args):
    from ._lexicons import nearest_emotion_word
    from .pretrained import UntrustedPickleError, load_model

    try:
        model, kind = load_model(args.model, args.trust_pickle)
    except UntrustedPickleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.new_raters:
        if kind == "pipeline":
            print("error: --new-raters needs an affect model (the shipped one, or one saved by "
                  "'train --recipe' or 'adapt')", file=sys.stderr)
            return 2
        try:
            model.head_.check_new_raters()
        except ValueError as exc:
            print(f"error: --new-raters: {exc}", file=sys.stderr)
            return 2
    from .collection import find_images, score_files, training_overlap

    entries, hidden = find_images(args.images)
    # --batch-size is also the networks' batch; neither it nor --n-jobs
    # changes a framework object, so the built networks stay
    from ._predict import image_transformers

    for t in image_transformers(getattr(model, "features_", model)):
        t.set_params(batch_size=max(1, int(args.batch_size)), n_jobs=args.n_jobs)
    out = Path(args.output)
    # a description of the predicted point, not a category prediction: the
    # word whose rated valence and arousal lie nearest it (README, "predict")
    words = {"va_word": lambda frame: [nearest_emotion_word(v, a) for v, a in
                                       zip(frame["valence"], frame["arousal"])]}
    try:
        done = score_files(model, entries, out,
                           method="predict_frame" if kind in ("pretrained", "affect")
                           else "predict",
                           params={"new_raters": True} if args.new_raters else None,
                           batch_size=args.batch_size, skip_failed=args.skip_failed,
                           resume=args.resume, verbose=not args.quiet, extra_columns=words)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    good, failed, skipped = done.scored, done.failed, done.skipped
    which = {"pretrained": "the pretrained model", "affect": f"model {args.model}",
             "pipeline": f"model {args.model}"}[kind]
    print(f"predicted {len(good)} image(s) with {which}; wrote {out}"
          + (f" (after the {done.resumed} row(s) it held)" if done.resumed else ""))
    if args.plot:
        from .collection import plot_predictions

        if plot_predictions(out, args.plot, title=f"Predicted valence-arousal ({which})"):
            print(f"wrote {args.plot}")
    if failed:
        print(f"failed ({len(failed)}): could not be read", file=sys.stderr)
        for p, why in failed:
            print(f"  {p}: {why}", file=sys.stderr)
    if skipped:
        print(f"skipped ({len(skipped)}): not taken as images", file=sys.stderr)
        for p, why in skipped:
            print(f"  {p}: {why}", file=sys.stderr)
    seen = training_overlap(model, good) if kind in ("pretrained", "affect") else []
    if seen:
        print(f"warning: {len(seen)} of the predicted images are in the model's training set "
              f"({', '.join(model.metadata_['training_data'])}), e.g. {seen[0]}: their "
              "predictions are in-sample and better than it would do on new photos",
              file=sys.stderr)
    summary = f"predicted {len(good)}, failed {len(failed)}, skipped {len(skipped) + len(hidden)}"
    if hidden:
        summary += f" (of which {len(hidden)} hidden, names starting with '.')"
    print(summary, file=sys.stderr)
    if not good:
        return 1
    if args.strict and (failed or skipped):
        return 1
    return 0


COMMANDS = {"reproduce": _cmd_reproduce, "cross-set": _cmd_cross_set, "train": _cmd_train,
            "adapt": _cmd_adapt, "data": _cmd_data, "predict": _cmd_predict}


@contextlib.contextmanager
def _warnings_as_lines(verbose):
    """Warnings printed as ``warning: <message>`` on stderr, each text once;
    with ``--verbose`` Python's own format (file and line) is kept."""
    if verbose:
        yield
        return
    seen = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if text in seen:
            return
        seen.add(text)
        print(f"warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


def main(argv=None):
    """Run the command line; returns the exit status."""
    from ._quiet import quiet_native_logs
    from .resources import ResourceError

    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    if verbose:  # the package's own filters stand aside too, in this process and its workers
        from ._quiet import VERBOSE_ENV

        os.environ[VERBOSE_ENV] = "1"
    with quiet_native_logs(enabled=not verbose), _warnings_as_lines(verbose):
        try:
            return COMMANDS[args.command](args)
        except ResourceError as exc:
            if verbose:
                raise
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except (ValueError, TypeError, OSError) as exc:
            # a refused input (a tampered model folder, a ratings file without
            # a column, a missing file): one paragraph naming it, no traceback
            if verbose or not hasattr(args, "verbose"):
                raise
            print(f"error: {exc} (--verbose shows where)", file=sys.stderr)
            return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

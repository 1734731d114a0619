"""The command line's argument parser (one function per command): what each
command accepts, with its help text.  :mod:`sklearn_emotion.cli` runs them."""

from __future__ import annotations

import argparse

__all__ = ["build_parser"]


def dataset_options(p):
    p.add_argument("--dataset", default="emotion6",
                   help="'emotion6', 'oasis' or a ratings CSV (with --image-dir) "
                        "(default: %(default)s)")
    p.add_argument("--image-dir", default=None, help="folder of the CSV's images")
    p.add_argument("--filename-column", default="filename", help="(default: %(default)s)")
    p.add_argument("--valence-column", default="valence", help="(default: %(default)s)")
    p.add_argument("--arousal-column", default="arousal", help="(default: %(default)s)")
    p.add_argument("--scale-low", type=float, default=1.0,
                   help="lowest value of the CSV's rating scale, mapped to 1 "
                        "(default: %(default)s)")
    p.add_argument("--scale-high", type=float, default=9.0,
                   help="highest value of the CSV's rating scale, mapped to 9 "
                        "(default: %(default)s)")


def add_reproduce(sub, common):
    """``sklearn-emotion reproduce``."""
    r = sub.add_parser("reproduce", parents=[common], help="run the paper's protocol on a rated image set")
    dataset_options(r)
    r.add_argument("--output", default="emotion6-results", help="output folder (default: %(default)s)")
    r.add_argument("--folds", type=int, default=5, help="outer CV folds (default: %(default)s)")
    r.add_argument("--subset", type=int, default=None, help="use N random images (quick run)")
    r.add_argument("--tables", default="2,3,4,best",
                   help="comma list of 2, 3, 4, best (default: %(default)s)")
    r.add_argument("--backbones", default="",
                   help="further keras.applications backbones for Table II, e.g. vgg16,resnet50 "
                        "(ImageNet weights from Keras' download; default: none)")
    r.add_argument("--n-jobs", type=int, default=None,
                   help="image-level parallelism, scikit-learn models' folds at once and SVR "
                        "grid-search jobs; the numbers do not depend on it (default: 1)")
    r.add_argument("--cache-dir", default=None, help="per-image feature cache folder")
    r.add_argument("--random-state", type=int, default=0,
                   help="seeds the folds and every model (default: %(default)s)")
    r.add_argument("--ffnn-max-iter", type=int, default=300,
                   help="epoch budget per FFNN fit (default: %(default)s)")
    r.add_argument("--ffnn-hidden", default=None, help="hidden sizes, e.g. 3000,1000,500")
    r.add_argument("--no-cnn", action="store_true", help="skip the fine-tuned CNN rows")
    r.add_argument("--cnn-max-iter", type=int, default=100,
                   help="epochs, conv-frozen CNN (default: %(default)s)")
    r.add_argument("--cnn-train-max-iter", type=int, default=2,
                   help="epochs, conv-train CNN (default: %(default)s)")
    r.add_argument("--no-resume", action="store_true",
                   help="refit every fold, ignoring the checkpoints an interrupted run on the "
                        "same --output left (default: resume from them)")
    r.add_argument("--scheduler", default=None, metavar="ADDRESS|local:N|ray:N",
                   help="fit the folds on a Dask cluster: a scheduler's address "
                        "(tcp://host:8786; its workers need the package, the data home and the "
                        "images at the same paths) or local:N for a LocalCluster of N worker "
                        "processes; or on Ray: ray://host:port, or ray:N for Ray on this "
                        "machine with N CPUs (the [ray] extra); the tables do not depend on it "
                        "(default: this machine)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    return r


def add_cross_set(sub, common):
    """``sklearn-emotion cross-set``."""
    c = sub.add_parser("cross-set", parents=[common], help="Tables III/IV fitted on one rated set, tested on another")
    c.add_argument("--datasets", default="emotion6,oasis", help="two sets (default: %(default)s)")
    c.add_argument("--output", default="cross-set-results", help="output folder (default: %(default)s)")
    c.add_argument("--folds", type=int, default=5,
                   help="folds of the within-set numbers beside (default: %(default)s)")
    c.add_argument("--subset", type=int, default=None, help="use N random images of each set")
    c.add_argument("--cache-dir", default=None, help="per-image feature cache folder")
    c.add_argument("--n-jobs", type=int, default=None, help="image-level parallelism")
    c.add_argument("--random-state", type=int, default=0, help="(default: %(default)s)")
    c.add_argument("--ffnn-max-iter", type=int, default=300,
                   help="epoch budget per FFNN fit (default: %(default)s)")
    c.add_argument("--ffnn-hidden", default=None, help="hidden sizes, e.g. 3000,1000,500")
    c.add_argument("--within", default=None,
                   help="two results.json of full reproductions (same folds and seed), "
                        "comma-separated: their numbers are reported as the within-set "
                        "columns instead of being computed again")
    c.add_argument("--quiet", action="store_true", help="no progress bars")
    return c


def add_train(sub, common):
    """``sklearn-emotion train``."""
    t = sub.add_parser("train", parents=[common], help="fit a pipeline on a rated image set and save it")
    dataset_options(t)
    t.add_argument("--features", default="color,gist,lbp,object,scene",
                   help="comma list of feature families (default: %(default)s, the paper's "
                        "five; 'scene' costs about 0.9 s an image on 2 CPU cores, the others "
                        "0.03-0.06 s)")
    t.add_argument("--regressor", default="ffnn", choices=["ffnn", "svr", "linear"],
                   help="(default: %(default)s)")
    t.add_argument("--svr-c", type=float, default=1.0, help="SVR's C (default: %(default)s)")
    t.add_argument("--ffnn-hidden", default=None, help="hidden sizes, e.g. 3000,1000,500")
    t.add_argument("--cache-dir", default=None, help="per-image feature cache folder")
    t.add_argument("--n-jobs", type=int, default=None, help="image-level parallelism (default: 1)")
    t.add_argument("--recipe", default=None, choices=["v1", "v2", "default"],
                   help="fit a named recipe instead of a pipeline: 'v1' and 'v2' rebuild the "
                        "shipped pretrained models from Emotion6 + OASIS, 'default' the "
                        "default one, v2 (the other training options are ignored)")
    t.add_argument("--output", default=None,
                   help="model file (.joblib), or with --recipe a model folder")
    t.add_argument("--cv", type=int, default=5,
                   help="folds of the quick cross-validated r printed after training; 0 skips "
                        "it (default: %(default)s)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    return t


def add_adapt(sub, common):
    """``sklearn-emotion adapt``."""
    a = sub.add_parser("adapt", parents=[common],
                       help="adapt a model to your raters from a few rated images")
    a.add_argument("ratings", help="CSV/TSV of your ratings: a file-name column and valence "
                                   "and arousal columns")
    a.add_argument("--image-dir", required=True, help="folder of the CSV's images")
    a.add_argument("--output", required=True, help="folder to save the adapted model in")
    a.add_argument("--model", default=None,
                   help="a model folder to adapt (default: the shipped pretrained model)")
    a.add_argument("--filename-column", default="filename", help="(default: %(default)s)")
    a.add_argument("--valence-column", default="valence", help="(default: %(default)s)")
    a.add_argument("--arousal-column", default="arousal", help="(default: %(default)s)")
    a.add_argument("--scale-low", type=float, default=1.0,
                   help="lowest value of your rating scale, mapped to 1 (default: %(default)s)")
    a.add_argument("--scale-high", type=float, default=9.0,
                   help="highest value of your rating scale, mapped to 9 (default: %(default)s)")
    a.add_argument("--cv", type=int, default=5,
                   help="folds that choose the strategy and recalibrate the intervals "
                        "(default: %(default)s)")
    a.add_argument("--collection", action="append", default=None, metavar="PATH",
                   help="more (unrated) images of your collection, a folder or a file; "
                        "repeatable: with the rated images they describe your pictures, so "
                        "that pictures like them are not flagged unusual")
    a.add_argument("--strict", action="store_true",
                   help="stop at a missing or unreadable image (default: leave it out with a "
                        "warning)")
    a.add_argument("--cache-dir", default=None, help="per-image feature cache folder")
    a.add_argument("--quiet", action="store_true", help="no progress bar")
    return a


def add_data(sub, common):
    """``sklearn-emotion data``."""
    d = sub.add_parser("data", parents=[common],
                       help="list, verify or fetch the data home's datasets and models")
    d.add_argument("action", choices=["list", "verify", "fetch"],
                   help="list: every registered file with its status, size, licence and "
                        "source; verify: exit 1 on a missing file or a wrong hash; fetch: download (and build) "
                        "the named files")
    d.add_argument("names", nargs="*", help="with fetch: registered names (see list)")
    d.add_argument("--all", action="store_true", help="with fetch: every registered file")
    d.add_argument("--mirror", default=None,
                   help="base URL of a mirror to download from instead of the upstream URLs "
                        "(default: $SKLEARN_EMOTION_MIRROR): upstream files under their own "
                        "names, the others under their data-home paths")
    d.add_argument("--allow-missing", action="store_true",
                   help="with verify: exit 0 when files are missing (only a wrong hash fails)")
    d.add_argument("--strict", action="store_true",
                   help="deprecated, the default now: with verify, missing files fail")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    return d


def add_predict(sub, common):
    """``sklearn-emotion predict``."""
    q = sub.add_parser("predict", parents=[common], help="predict valence and arousal for images")
    q.add_argument("--model", default=None,
                   help="a shipped model by name ('v1' or 'v2'), a model saved by 'train' "
                        "(.joblib file or --recipe folder) or by 'adapt' (a folder); "
                        "default: the default pretrained model shipped with the package (v2)")
    q.add_argument("--trust-pickle", action="store_true",
                   help="allow --model to be a .joblib pipeline: unpickling runs any code the "
                        "file names, so only pass it for files you made or trust")
    q.add_argument("--new-raters", action="store_true",
                   help="intervals for a picture set rated by raters other than the training "
                        "sets' (wider, calibrated on leave-one-set-out residuals; columns "
                        "*_80_new_raters); adapting the model to some of your rated images is "
                        "better ('adapt')")
    q.add_argument("images", nargs="+",
                   help="image files or folders (searched recursively; every file is "
                        "identified by its content; hidden names starting with '.' are "
                        "skipped and counted)")
    q.add_argument("--output", default="predictions.csv",
                   help="CSV of the predictions, one row per input file in input order, with "
                        "'path' and 'error' (the reason a file could not be scored; its "
                        "predictions are then empty); written as it goes "
                        "(default: %(default)s)")
    q.add_argument("--skip-failed", action="store_true",
                   help="leave the rows of files that could not be scored out of the CSV")
    q.add_argument("--resume", action="store_true",
                   help="keep the rows --output already holds and score only the files it "
                        "does not (after an interrupted run)")
    q.add_argument("--plot", default=None, help="PNG of the images placed in V-A space")
    q.add_argument("--batch-size", type=int, default=32,
                   help="images decoded and predicted at a time (default: %(default)s)")
    q.add_argument("--n-jobs", type=int, default=-1,
                   help="threads decoding images while the networks run (the networks use "
                        "every core themselves); -1: one per core (default: %(default)s)")
    q.add_argument("--strict", action="store_true",
                   help="exit with status 1 when any input could not be predicted (by default "
                        "only when none could)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    return q


def build_parser():
    """The ``sklearn-emotion`` parser: a subcommand per job (``args.command``)."""
    from . import __version__

    p = argparse.ArgumentParser(prog="sklearn-emotion",
                                description="Predict the valence and arousal an image evokes.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and LiteRT's own log lines, and full "
                             "tracebacks on errors")
    add_reproduce(sub, common)
    add_cross_set(sub, common)
    add_train(sub, common)
    add_adapt(sub, common)
    add_data(sub, common)
    add_predict(sub, common)
    return p

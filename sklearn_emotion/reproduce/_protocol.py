"""The protocol: which models run on which feature sets, for which table.

Nothing here computes anything: :func:`make_plan` returns the list of runs,
and the families come from the one registry in :mod:`sklearn_emotion.pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.base import BaseEstimator
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from ..models import FFNNRegressor
from ..pipeline import make_scaler

__all__ = ["BEST_CANDIDATES", "CLIP", "FEATURE_SETS", "PAPER_FFNN", "TUNED_FFNN", "Run",
           "make_plan"]

#: Paper-faithful FFNN (Sec. V) and the tuned one (Adam, smaller batches, L2).
PAPER_FFNN = dict(hidden_layer_sizes=(3000, 1000, 500), solver="sgd", learning_rate_init=1e-4,
                  momentum=0.9, batch_size=1000, early_stopping=True, n_iter_no_change=20)
#: Tuned on fold 1's inner hold-out (benchmarks/tune_ffnn.py) as Adam 1e-4,
#: batch 64 and an L2 weight of 0.1 on the *sum* of the MSE and the squared
#: weights; FFNNRegressor's ``alpha`` now means what it means in MLPRegressor
#: (0.5 * alpha * ||W||^2 / batch beside 0.5 * MSE), so the same penalty is
#: alpha = 0.1 * 64 = 6.4.  Fitted with the fused XLA update: on these rows
#: it moves test r and MSE by at most 0.002 over two seeds, against a
#: fold-to-fold spread of 0.02-0.15, and fits 1.27x faster
#: (benchmarks/results/fused_update.md).  The paper-settings rows keep
#: Keras' step (batch 1,000: no gain, ffnn_floor.md).
TUNED_FFNN = dict(hidden_layer_sizes=(3000, 1000, 500), solver="adam", learning_rate_init=1e-4,
                  batch_size=64, alpha=6.4, early_stopping=True, n_iter_no_change=8,
                  fused_update=True)
#: Standardised features are clipped to this many standard deviations.
CLIP = 5.0

#: Named feature sets: which registry families' columns they stack.
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

#: The tables Table III's and IV's models and feature sets come from.
TABLE3_SETS = ("low-level", "object", "semantic", "all")
TABLE3_SVR_SETS = TABLE3_SETS + ("all + face", "all + object emotion", "all + face + object emotion")


@dataclass(frozen=True)
class Run:
    """One model cross-validated on one feature set, reported in one table.

    ``joint``: one model for valence and arousal together; otherwise one
    clone per target.
    """

    table: str
    model_name: str
    model: BaseEstimator
    joint: bool
    feature_set: str


def ffnn(params, random_state, max_iter, clip=CLIP):
    """Scaler (clipped unless ``clip`` is None) then an FFNN."""
    return make_pipeline(make_scaler(clip), FFNNRegressor(**params, max_iter=max_iter,
                                                          random_state=random_state))


def models(random_state=0, ffnn_max_iter=300, ffnn_hidden=None):
    """The regressors of the reproduction, by row name."""
    hid = {} if ffnn_hidden is None else {"hidden_layer_sizes": tuple(ffnn_hidden)}
    return {
        "FFNN (paper settings)": (ffnn({**PAPER_FFNN, **hid}, random_state, ffnn_max_iter), True),
        "FFNN (tuned)": (ffnn({**TUNED_FFNN, **hid}, random_state, ffnn_max_iter), True),
        "FFNN (paper settings, plain StandardScaler, no clipping)": (
            ffnn({**PAPER_FFNN, **hid}, random_state, ffnn_max_iter, clip=None), True),
        "SVR (RBF, C=1)": (make_pipeline(make_scaler(CLIP), SVR()), False),
        "linear regression": (make_pipeline(make_scaler(CLIP), LinearRegression()), True),
        "linear regression (plain StandardScaler, no clipping)": (
            make_pipeline(StandardScaler(), LinearRegression()), True),
        "mean of training targets": (make_pipeline(DummyRegressor()), True),
    }


#: Table IV's fine-tuned CNN rows: (train_range, learning rate); the epoch
#: budgets are the reproduction's ``cnn_max_iter`` / ``cnn_train_max_iter``.
CNN_ROWS = (("conv-frozen", 1e-3), ("conv-train", 1e-4))


def cnn_row(train_range, learning_rate, max_iter, random_state=0, data_home=None,
            cache_dir=None):
    """The (name, model) of one fine-tuned CNN row of Table IV."""
    from ..models import CNNRegressor

    model = CNNRegressor(backbone="mobilenet_v2",
                         weights="models/mobilenet_v2_1.0_224_imagenet_notop.weights.h5",
                         train_range=train_range, max_iter=max_iter,
                         learning_rate=learning_rate, random_state=random_state,
                         data_home=data_home,
                         # conv-frozen: each image's backbone features once, not per fold
                         cache_dir=cache_dir if train_range == "conv-frozen" else None)
    return f"CNN fine-tuned, MobileNetV2 ({train_range}, max {max_iter} epochs)", model


def make_plan(tables, *, random_state=0, ffnn_max_iter=300, ffnn_hidden=None, backbones=()):
    """The runs of the chosen tables, and the feature sets they use.

    Parameters
    ----------
    tables : sequence of {"2", "3", "4"}
    random_state, ffnn_max_iter, ffnn_hidden
        Settings of the models.
    backbones : sequence of str
        Further ``keras.applications`` backbones for Table II (their ImageNet
        weights must be available: Keras downloads them online).  Nothing is
        added unless asked.

    Returns
    -------
    runs : list of Run
    sets : dict of str -> tuple of family names
        :data:`FEATURE_SETS` plus Table II's extra sets.
    families : dict of str -> transformer factory
        Extra families for Table II's backbones (beside the registry's).
    """
    tables = tuple(str(t) for t in tables)
    m = models(random_state, ffnn_max_iter, ffnn_hidden)
    sets = dict(FEATURE_SETS)
    families = {}
    runs = []

    def add(table, name, fs):
        model, joint = m[name]
        runs.append(Run(table, name, model, joint, fs))

    if "2" in tables:
        extra = []
        for name in backbones:
            from ..features import ObjectFeatures

            fam = f"object_{name}"
            families[fam] = lambda name=name: ObjectFeatures(name, "imagenet")
            sets[f"all ({name} object)"] = ("color", "gist", "lbp", fam, "scene")
            extra.append(f"all ({name} object)")
        for fs in ("all", "all (TFLite object)", *extra):
            add("II", "FFNN (tuned)", fs)
        add("II", "FFNN (paper settings)", "all")
    if "3" in tables:
        for fs in TABLE3_SETS:
            add("III", "FFNN (tuned)", fs)
        for fs in TABLE3_SVR_SETS:
            add("III", "SVR (RBF, C=1)", fs)
        add("III", "FFNN (tuned)", "all + face + object emotion")
    if "4" in tables:
        for name in ("mean of training targets", "linear regression",
                     "linear regression (plain StandardScaler, no clipping)", "SVR (RBF, C=1)",
                     "FFNN (paper settings)",
                     "FFNN (paper settings, plain StandardScaler, no clipping)", "FFNN (tuned)"):
            add("IV", name, "all")
    return runs, sets, families

"""CNNRegressor: the paper's transfer-learning baseline (Sec. VI-C, Table IV)."""

from __future__ import annotations

import os
import tempfile
import time
from numbers import Integral, Real

import numpy as np
from .._quiet import import_keras
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._backbones import BACKBONES, build_backbone, preprocess_fn
from .._keys import decode_token, image_key, store_key
from .._feature_cache import FeatureCache
from .._store import cache_location
from .._image import ImageBatchError, ImageLoadError, as_image_list
from .._runners import infer as _infer
from ..resources import content_token
from . import _cnn_steps
from ._cnn_steps import ResizedImages, accumulating_step, chunks
from ._training import train_epochs

__all__ = ["CNNRegressor"]


class CNNRegressor(RegressorMixin, BaseEstimator):
    """Fine-tuned CNN regressor straight from images (the paper's Table IV baseline).

    An ImageNet backbone from ``keras.applications`` loses its classifier; a
    linear regression head (one output per target) goes on its pooled
    features.  ``train_range="conv-frozen"`` trains the head only;
    ``"conv-train"`` trains every layer.

    Parameters
    ----------
    backbone : str, default="vgg19"
        A ``keras.applications`` name (see :class:`ObjectFeatures`).
    weights : str or None, default="imagenet"
        ``"imagenet"`` (Keras' download, online), a ``.weights.h5`` path or a
        registered resource, e.g.
        ``"models/mobilenet_v2_1.0_224_imagenet_notop.weights.h5"``.
    train_range : {"conv-frozen", "conv-train"}, default="conv-frozen"
        Train the head only, or the whole network.
    batch_size : int, default=50
        Minibatch size (the paper's): the images of one weight update.
    micro_batch_size : int or None, default=10
        How many images go through the network at once.  With
        ``train_range="conv-train"``, a minibatch's gradient is accumulated
        over slices of this size, weighted by their share of the minibatch,
        and then applied in one update.  The update is the minibatch's (the
        loss is a mean and batch normalisation is frozen), up to floating-point
        summation order, while the training activations held in memory are
        those of ``micro_batch_size`` images rather than ``batch_size``
        (MobileNetV2 at 224×224: about 90 MB an image).  Every inference
        pass (the validation pass, :meth:`predict`, and the frozen
        backbone's features with ``conv-frozen``) also runs on batches of
        this size: on one fold, a pass of 64 images at 224×224 left the
        process 715 MiB larger than one of 10, in the same time
        (``benchmarks/results/cnn_fold_memory.md``).  ``None`` passes each
        minibatch whole and infers ``batch_size`` images at a time.
    learning_rate : float, default=1e-4
        Adam learning rate.
    max_iter : int, default=30
        Maximum epochs.
    early_stopping : bool, default=True
        Hold out ``validation_fraction``; keep the best epoch; stop after
        ``n_iter_no_change`` epochs without a ``tol`` improvement.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=5
    tol : float, default=1e-4
    random_state : int, RandomState or None, default=None
        Seeds the head initialisation, the split and the minibatch order.
    data_home : str or path-like, optional
        Where registered weight files are found.
    cache_dir : None, str or path-like, default=None
        With ``train_range="conv-frozen"``, the folder where to cache the frozen
        backbone's pooled features per image (keyed by the backbone, the
        weights' content and the image's content, as the feature families'
        caches), so the folds of a cross-validation, a grid search over the
        head's parameters or a later ``predict`` compute each image's
        features once.  Unused by ``conv-train``, which changes the backbone.
    verbose : bool, default=False
    memory : deprecated
        The old name of ``cache_dir`` (deprecated in 0.2, removed in 0.4).

    Attributes
    ----------
    model_ : keras.Model
        Backbone plus head; takes preprocessed images.
    loss_curve_, validation_loss_curve_ : list of float
    n_iter_ : int
    n_outputs_ : int

    Notes
    -----
    Batch-normalisation layers stay frozen, in inference mode, in both modes
    (the folded MobileNetV2 weights of the data home require it, and it is the
    standard practice for small fine-tuning sets).  With ``conv-frozen`` the
    backbone's pooled features are computed once per fit and only the head is
    trained on them, which is the same computation, much faster.  Training
    runs through TensorFlow, on a GPU when present.

    See Also
    --------
    FFNNRegressor
        The paper's network on extracted features.
    ObjectFeatures
        The same backbones as fixed feature extractors.
    """

    _takes_images = True

    _parameter_constraints: dict = {
        "backbone": [StrOptions(set(BACKBONES))],
        "weights": [str, os.PathLike, None],
        "train_range": [StrOptions({"conv-frozen", "conv-train"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "micro_batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "data_home": [str, os.PathLike, None],
        "cache_dir": [None, str, os.PathLike, HasMethods(["cache"])],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "verbose": ["verbose"],
    }

    def __init__(self, backbone="vgg19", weights="imagenet", train_range="conv-frozen", *,
                 batch_size=50, micro_batch_size=10, learning_rate=1e-4, max_iter=30, early_stopping=True,
                 validation_fraction=0.1, n_iter_no_change=5, tol=1e-4, random_state=None,
                 data_home=None, cache_dir=None, verbose=False, memory="deprecated"):
        self.backbone = backbone
        self.weights = weights
        self.train_range = train_range
        self.batch_size = batch_size
        self.micro_batch_size = micro_batch_size
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.data_home = data_home
        self.cache_dir = cache_dir
        self.memory = memory
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.target_tags.multi_output = True
        tags.non_deterministic = True  # conv-train on a GPU is not bit-reproducible
        return tags

    def _side(self):
        return BACKBONES[self.backbone][2]

    def _forward_size(self):
        """Images per inference call on the network."""
        return self.micro_batch_size or self.batch_size

    def _prep(self, imgs):
        return preprocess_fn(self.backbone)(imgs.astype(np.float32))

    def _build(self, keras, bias, seed):
        """The backbone, the regression head (its bias at the mean target)
        and the model joining them; BatchNormalization layers stay frozen."""
        base = build_backbone(self.backbone, self.weights, include_top=False,
                              data_home=self.data_home, pooling="avg")
        base.trainable = self.train_range == "conv-train"
        if self.train_range == "conv-train":
            # base.trainable = True made every layer trainable again
            for layer in base.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
        side = self._side()
        inp = keras.Input((side, side, 3))
        feats = base(inp, training=False)  # BN in inference mode throughout
        head = keras.layers.Dense(
            self.n_outputs_, name="regression_head",
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            bias_initializer=keras.initializers.Constant(bias),
        )
        model = keras.Model(inp, head(feats), name=f"{self.backbone}_regressor")
        return base, model, head

    def fit(self, X, y):
        """Fine-tune on images.

        Parameters
        ----------
        X : sequence of images
            Paths, arrays or PIL images.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        keras = import_keras()

        self._validate_params()
        cache_location(self.cache_dir, self.memory)  # warns for the deprecated name
        t0 = time.perf_counter()
        y = np.asarray(y, dtype=np.float64)
        if y.ndim not in (1, 2) or not np.isfinite(y).all():
            raise ValueError("y must be a finite 1-D or 2-D array")
        self._y_1d = y.ndim == 1
        Y = y.reshape(len(y), -1).astype(np.float32)
        items = as_image_list(X)
        if len(items) != len(Y):
            raise ValueError(f"X has {len(items)} images but y has {len(Y)} rows")
        n = len(items)
        self.n_outputs_ = Y.shape[1]
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(0, 2**31 - 10))
        if self.early_stopping:
            n_val = max(2, int(np.ceil(self.validation_fraction * n)))
            tr, va = train_test_split(np.arange(n), test_size=n_val, random_state=rng)
        else:
            tr, va = np.arange(n), None

        base, model, head = self._build(keras, Y[tr].mean(axis=0), seed)
        side = self._side()

        resized = None
        if self.train_range == "conv-frozen":
            # the frozen backbone is a fixed function: its pooled features
            # are computed once per image (and cached with ``cache_dir``)
            E = self._embed(base, items)
            Etr, Eva = E[tr], (E[va] if va is not None else None)
            fin = keras.Input((E.shape[1],))
            trainer = keras.Model(fin, head(fin))

            def batch_x(idx, train=True):
                return (Etr if train else Eva)[idx]
        else:
            resized = ResizedImages(items, side)
            trainer = model

            def batch_x(idx, train=True):
                return self._prep(resized[(tr if train else va)[idx]])

        optimizer = keras.optimizers.Adam(self.learning_rate)
        micro = self.micro_batch_size if self.train_range == "conv-train" else None
        if micro is None or micro >= min(self.batch_size, len(tr)):
            trainer.compile(optimizer=optimizer, loss="mse")

            def step(idx):
                return trainer.train_on_batch(batch_x(idx), Y[tr][idx],
                                              return_dict=True)["loss"]
        else:
            step = accumulating_step(trainer, optimizer, batch_x, Y[tr], micro)

        def validate():
            size = 64 if resized is None else self._forward_size()
            pv = np.concatenate([_infer(trainer, batch_x(c, False))
                                 for c in chunks(len(va), size)])
            return float(np.mean((pv - Y[va]) ** 2)), None

        try:
            hist = train_epochs(self, model, step, len(tr), rng,
                                validate if va is not None else None, "lower learning_rate")
        finally:
            if resized is not None:
                resized.close()
        self.loss_curve_ = hist["loss_curve"]
        self.validation_loss_curve_ = hist["validation_loss_curve"]
        self.n_iter_ = hist["n_iter"]
        self.best_loss_ = hist["best_loss"]
        self.model_ = model
        self.fit_time_ = time.perf_counter() - t0
        return self

    def predict(self, X):
        """Predict valence/arousal for images.

        Parameters
        ----------
        X : sequence of images

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self, "model_")
        items = as_image_list(X)
        if self.train_range == "conv-frozen":
            base, head = self._parts()
            E = self._embed(base, items)
            rows = [np.asarray(head(E[c]), dtype=np.float64) for c in chunks(len(items))]
        else:
            rows, errors = [], {}
            for c in chunks(len(items), self._forward_size()):
                imgs, _, errs = _cnn_steps.decode_resized(items, c, self._side())
                errors.update(errs)
                if not errors:
                    rows.append(np.asarray(_infer(self.model_, self._prep(imgs)),
                                           dtype=np.float64))
            if errors:
                raise ImageBatchError(errors)
        out = np.concatenate(rows) if rows else np.empty((0, self.n_outputs_))
        return out[:, 0] if self._y_1d else out

    # ------------------------------------------------------ frozen backbone
    def _parts(self):
        """The fitted model's backbone and regression head."""
        keras = import_keras()

        base = next(layer for layer in self.model_.layers if isinstance(layer, keras.Model))
        return base, self.model_.get_layer("regression_head")

    def _embedding_cache(self, owner=""):
        loc = cache_location(self.cache_dir, self.memory, warn=False)
        if loc is None:
            return None
        token = store_key(self.backbone, content_token(self.weights), self._side(), "avg",
                          sorted(decode_token().items()), code=(__name__,))
        return FeatureCache(loc, f"CNNRegressor-pooled-{token}", owner=owner)

    def _embed(self, base, items):
        """The frozen backbone's pooled features of every item,
        ``micro_batch_size`` images a call, read from and written to the
        ``cache_dir`` cache when set (with the feature transformers' claims:
        two processes never embed the same image at once); every unreadable
        item is reported at the end in one ImageBatchError."""
        import uuid

        cache = self._embedding_cache(owner=uuid.uuid4().hex)
        d = int(base.output_shape[-1])
        out = np.empty((len(items), d), np.float32)
        errors = {}

        def embed(idx):
            imgs, ok, errs = _cnn_steps.decode_resized(items, idx, self._side())
            errors.update(errs)
            if ok:
                emb = np.asarray(_infer(base, self._prep(imgs)), dtype=np.float32)
                out[ok] = emb
                if cache is not None:
                    for i, vec in zip(ok, emb):
                        cache.put(keys[i], vec)

        keys = [None] * len(items)
        for c in chunks(len(items), self._forward_size()):
            if cache is None:
                embed(list(c))
                continue
            for i in c:
                try:
                    keys[i] = image_key(items[i], i)
                except ImageLoadError as exc:
                    errors[i] = exc
            ck = [keys[i] for i in c]
            res = cache.reserve(ck, d)
            try:
                for k, vec in res.hits.items():
                    out[c[k]] = vec
                embed([c[k] for k in res.mine])
            finally:
                cache.release_all(res)
            # the chunk's rows are a view: settle fills them in place
            rows = out[c[0]:c[-1] + 1]
            cache.settle(res, ck, rows, lambda ks: embed([c[k] for k in ks]),
                         lambda k: c[k] in errors)
        if errors:
            raise ImageBatchError(errors)
        return out

    # ----------------------------------------------------------- persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "model.keras")
                model.save(path)
                with open(path, "rb") as f:
                    state["_model_bytes"] = f.read()
        return state

    def __setstate__(self, state):
        state = dict(state)
        blob = state.pop("_model_bytes", None)
        self.__dict__.update(state)
        if blob is not None:
            keras = import_keras()

            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "model.keras")
                with open(path, "wb") as f:
                    f.write(blob)
                self.model_ = keras.saving.load_model(path, compile=False)

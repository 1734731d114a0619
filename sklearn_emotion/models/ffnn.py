"""FFNNRegressor: the paper's feed-forward network, a scikit-learn regressor on Keras 3."""

from __future__ import annotations

import copy
import time
from numbers import Integral, Real

import numpy as np
from .._quiet import import_keras, import_tensorflow
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._training import train_epochs

__all__ = ["FFNNRegressor"]


#: MLPRegressor's activation names -> Keras'.
_KERAS_ACTIVATION = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "linear"}


def _glorot(fan_in, fan_out, activation, seed):
    """MLPRegressor's initialisation: weights and biases uniform on
    +-sqrt(f / (fan_in + fan_out)), f = 2 for logistic, 6 otherwise."""
    keras = import_keras()

    bound = float(np.sqrt((2.0 if activation == "logistic" else 6.0) / (fan_in + fan_out)))
    return (keras.initializers.RandomUniform(-bound, bound, seed=seed),
            keras.initializers.RandomUniform(-bound, bound, seed=seed + 10_000))


def _build(n_in, n_out, hidden, activation, l2, seed, y_mean):
    keras = import_keras()

    reg = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.Input((n_in,), dtype="float32")]
    sizes = [n_in, *[int(u) for u in hidden]]
    for k, units in enumerate(hidden):
        kernel, bias = _glorot(sizes[k], int(units), activation, seed + k)
        layers.append(keras.layers.Dense(
            int(units), activation=_KERAS_ACTIVATION[activation], kernel_regularizer=reg,
            kernel_initializer=kernel, bias_initializer=bias, name=f"hidden_{k}",
        ))
    kernel, _ = _glorot(sizes[-1], n_out, activation, seed + len(hidden))
    layers.append(keras.layers.Dense(
        n_out, kernel_regularizer=reg, kernel_initializer=kernel,
        bias_initializer=keras.initializers.Constant(y_mean), name="output",
    ))
    return keras.Sequential(layers, name="ffnn")


def _train_step(model, l2):
    """``fused_update``'s minibatch update of a compiled ``_build`` network:
    ``step(x, y) -> loss``.

    What Keras' ``train_on_batch`` does, with its element-wise tail fused:
    the forward and backward passes run TensorFlow's own kernels, then the
    L2 penalty's gradient (``2 * l2 * W``, as TensorFlow differentiates
    ``l2 * sum(W ** 2)``) and the optimizer's update run as one function
    compiled by XLA.  Keras' step makes a separate pass over the 8.7 M
    weights of the paper's network for every element-wise operation, which
    at batch 64 cost twice the matrix products
    (``benchmarks/results/ffnn_floor.md``).  XLA rounds that arithmetic
    differently, so the weights are not bit-identical to Keras' step:
    ``tests/test_ffnn.py`` bounds the difference.  The returned loss
    includes the penalty, as Keras' does.
    """
    tf = import_tensorflow()

    opt = model.optimizer
    weights = model.trainable_variables
    penalised = {id(layer.kernel) for layer in model.layers
                 if getattr(layer, "kernel_regularizer", None) is not None}
    is_kernel = [id(w) in penalised for w in weights]
    opt.build(weights)

    @tf.function(jit_compile=True)
    def update(grads):
        if not l2:
            opt.apply(grads, weights)
            return tf.constant(0.0)
        penalty = l2 * tf.add_n([tf.reduce_sum(tf.square(w))
                                 for w, k in zip(weights, is_kernel) if k])
        opt.apply([g + l2 * (w * 2.0) if k else g
                   for g, w, k in zip(grads, weights, is_kernel)], weights)
        return penalty

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = _half_mse(y, model(x, training=True))
        return loss + update(tape.gradient(loss, weights))

    return step


def _half_mse(y_true, y_pred):
    """MLPRegressor's squared loss: half the mean squared error.

    Traced inside TensorFlow functions: it imports ``keras.ops`` (loaded by
    then) rather than calling :func:`import_keras`, whose environment set-up
    AutoGraph cannot convert (it warned once per trace)."""
    from keras import ops

    return 0.5 * ops.mean(ops.square(y_true - y_pred))


class FFNNRegressor(RegressorMixin, BaseEstimator):
    """Feed-forward network regressor of Kim et al. (2018), on Keras 3.

    Parameter and attribute names follow :class:`sklearn.neural_network.MLPRegressor`;
    defaults are the paper's: hidden layers 3000-1000-500 with ReLU, MSE
    loss, SGD with learning rate 1e-4 and momentum 0.9, batch 1,000, trained
    until the validation error stops falling.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(3000, 1000, 500)
        Units of each hidden layer.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Hidden-layer activation.
    solver : {"sgd", "adam"}, default="sgd"
        Optimizer.
    alpha : float, default=0.0
        L2 penalty, as in MLPRegressor: the loss minimised on a minibatch of
        ``b`` samples is ``0.5 * MSE + 0.5 * alpha * ||W||² / b`` (the paper
        uses none).
    batch_size : int, default=1000
        Minibatch size (clipped to the number of training samples).
    learning_rate_init : float, default=1e-4
        Learning rate.
    momentum : float, default=0.9
        SGD momentum (ignored by adam).
    max_iter : int, default=500
        Maximum number of epochs.
    early_stopping : bool, default=True
        As in MLPRegressor: hold out ``validation_fraction`` of the training
        data and stop when its R² has not risen by ``tol`` for
        ``n_iter_no_change`` epochs; the weights of the best epoch are kept.
        Without it, training stops when the training loss has not fallen by
        ``tol`` for ``n_iter_no_change`` epochs, and the last weights are
        kept.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience, in epochs.
    tol : float, default=1e-4
        Minimum decrease of the monitored loss that counts as progress.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the validation split and the
        minibatch order.  With an int, two fits on the same data give
        bit-identical predictions on a CPU.  No global seed (Python, NumPy or
        TensorFlow) is touched.
    fused_update : bool, default=False
        Compile each minibatch's L2-penalty gradient and optimizer update
        into one XLA function instead of Keras' own step, which makes a pass
        over the weights per element-wise operation.  With Adam, the L2
        penalty and batch 64 on the paper's network, about 1.4× faster epochs
        on 2 CPU cores (``benchmarks/results/ffnn_floor.md``); little change
        at batch 1,000.  XLA rounds that arithmetic differently, so the
        weights are close to, not bit-identical with, the default's, and the
        results of a long training drift apart as any two float orders do;
        still bit-identical from fit to fit with an int ``random_state``.
        Not in MLPRegressor.  The reproduction keeps the default.
    verbose : bool, default=False
        Print the loss at each epoch.

    Attributes
    ----------
    model_ : keras.Sequential
        The trained network.
    loss_curve_ : list of float
        Training MSE at each epoch (mean over its minibatches).
    validation_loss_curve_ : list of float
        Validation MSE at each epoch (with ``early_stopping``); not in
        MLPRegressor.
    validation_scores_ : list of float
        Validation R² at each epoch (with ``early_stopping``), as in MLPRegressor.
    best_validation_score_ : float
        R² of the kept epoch (with ``early_stopping``).
    best_loss_ : float
        Lowest training loss (without ``early_stopping``), as in
        MLPRegressor; None with ``early_stopping``.
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` has string column names.
    n_outputs_ : int
    fit_time_ : float
        Seconds spent in ``fit``.

    Notes
    -----
    Differences from MLPRegressor that remain: the output bias starts at
    the training targets' mean (MLPRegressor draws it at random), so early
    epochs are not spent learning the offset of the 1-9 scale; there are no
    ``learning_rate`` schedules, ``nesterovs_momentum``, ``beta_*``,
    ``epsilon``, ``shuffle`` or ``warm_start`` parameters (minibatches are
    always shuffled; Adam uses Keras' defaults, the same values as
    MLPRegressor's); ``batch_size`` defaults to the paper's 1,000, not
    ``min(200, n)``.  ``tests/test_ffnn.py`` checks that both reach the
    same test R² on a synthetic task.

    Scale the inputs before this estimator (``StandardScaler`` in a
    pipeline): the features of different families live on very different
    scales, a network trained by plain SGD is sensitive to that, and a
    pipeline learns the scaling on training folds only.  The output bias
    starts at the training targets' mean, so early epochs are not spent
    learning the offset of the 1-9 scale; nothing else is changed from the
    paper's model.  ``y`` may be 1-D (one target) or ``(n, 2)`` (valence and
    arousal, one network with two outputs); ``predict`` returns the same
    shape.  Training runs through TensorFlow, on a GPU when present;
    pickled models hold plain weights and load on any device.

    See Also
    --------
    sklearn.neural_network.MLPRegressor
        The same parameters, same meaning.
    CNNRegressor
        The fine-tuned CNN baseline, straight from images.
    SkipNaNRows
        Leaves out the rows of unreadable images.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_emotion import FFNNRegressor
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> y = X @ [1, 2, 0, 0, 1] + 5
    >>> reg = FFNNRegressor((32,), solver="adam", learning_rate_init=1e-2,
    ...                     batch_size=50, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"relu", "tanh", "logistic", "identity"})],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "fused_update": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(self, hidden_layer_sizes=(3000, 1000, 500), activation="relu", *,
                 solver="sgd", alpha=0.0, batch_size=1000, learning_rate_init=1e-4,
                 momentum=0.9, max_iter=500, early_stopping=True, validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-4, random_state=None, fused_update=False,
                 verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.fused_update = fused_update
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.non_deterministic = False
        return tags

    def _hidden(self):
        h = self.hidden_layer_sizes
        h = [h] if isinstance(h, Integral) else list(h)
        if any(not isinstance(u, Integral) or u < 1 for u in h):
            raise ValueError(f"hidden_layer_sizes must be positive ints, got {self.hidden_layer_sizes!r}")
        return h

    def _optimizer(self):
        keras = import_keras()

        if self.solver == "sgd":
            return keras.optimizers.SGD(learning_rate=self.learning_rate_init, momentum=self.momentum)
        return keras.optimizers.Adam(learning_rate=self.learning_rate_init)

    def fit(self, X, y):
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        self._validate_params()
        hidden = self._hidden()
        t0 = time.perf_counter()
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        self._y_1d = y.ndim == 1
        Y = y.reshape(len(y), -1).astype(np.float32)
        self.n_outputs_ = Y.shape[1]
        X = X.astype(np.float32)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(0, 2**31 - 1000))
        if self.early_stopping:
            n_val = int(np.ceil(self.validation_fraction * len(X)))
            if n_val < 2 or len(X) - n_val < 1:
                raise ValueError(
                    f"early_stopping needs at least 2 validation samples; got {len(X)} samples "
                    f"and validation_fraction={self.validation_fraction}"
                )
            Xt, Xv, Yt, Yv = train_test_split(X, Y, test_size=n_val, random_state=rng)
        else:
            Xt, Yt, Xv, Yv = X, Y, None, None
        bs = min(int(self.batch_size), len(Xt))
        model = _build(X.shape[1], self.n_outputs_, hidden, self.activation,
                       0.5 * float(self.alpha) / bs, seed, Yt.mean(axis=0))
        model.compile(optimizer=self._optimizer(), loss=_half_mse)
        var_v = None if Yv is None else Yv.var(axis=0)
        batch_step = (_train_step(model, 0.5 * float(self.alpha) / bs) if self.fused_update
                      else lambda x, y: model.train_on_batch(x, y, return_dict=True)["loss"])

        def step(idx):
            return batch_step(Xt[idx], Yt[idx])

        def validate():
            pv = np.asarray(model(Xv, training=False))
            se = ((pv - Yv) ** 2).mean(axis=0)
            return float(se.mean()), float(np.mean(1 - se / np.maximum(var_v, 1e-12)))

        hist = train_epochs(self, model, step, len(Xt), rng, validate if Xv is not None else None,
                            "lower learning_rate_init or scale the inputs (StandardScaler)",
                            monitor="score")
        self.loss_curve_ = hist["loss_curve"]
        self.validation_loss_curve_ = hist["validation_loss_curve"]
        self.validation_scores_ = hist["extra"]
        self.n_iter_ = hist["n_iter"]
        self.best_loss_ = hist["best_loss"] if Xv is None else None
        if Xv is not None:
            self.best_validation_score_ = self.validation_scores_[hist["best_epoch"]]
        self.model_ = model
        self.fit_time_ = time.perf_counter() - t0
        return self

    def predict(self, X):
        """Predict with the trained network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The shape ``y`` had in ``fit``.
        """
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        # the forward pass in numpy from the trained weights: exact, the same
        # for any batch split, on any device
        out = X
        # in float64: the result does not depend on how rows are batched
        weights = [np.asarray(a, dtype=np.float64) for a in self.model_.get_weights()]
        act = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
               "logistic": lambda z: 1 / (1 + np.exp(-z)), "identity": lambda z: z}[self.activation]
        for k in range(0, len(weights) - 2, 2):
            out = act(out @ weights[k] + weights[k + 1])
        out = out @ weights[-2] + weights[-1]
        return out[:, 0] if self._y_1d else out

    # ----------------------------------------------------------- persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:
            state["_model_state"] = {"config": model.get_config(), "weights": model.get_weights()}
        return state

    def __setstate__(self, state):
        state = dict(state)
        saved = state.pop("_model_state", None)
        self.__dict__.update(state)
        if saved is not None:
            keras = import_keras()

            model = keras.Sequential.from_config(copy.deepcopy(saved["config"]))
            model.set_weights(saved["weights"])
            self.model_ = model

"""The one base class every image feature transformer derives from.

A family supplies only:

- ``_compute_batch(self, images) -> ndarray (n, d)`` over RGB uint8 arrays;
- ``_feature_names(self) -> list[str]``;
- optionally ``_validate_params_extra(self)``, ``_cache_token(self)`` and
  ``_parallel`` (``"images"``: joblib processes over chunks of images, for
  pure-numpy families; ``"model"``: one model batch at a time in this process,
  images decoded by ``n_jobs`` threads, for the CNN families whose network
  already uses every core or the GPU).

Everything else (image input, batching, the per-image cache, parallelism,
progress, bad-input handling, feature names and ``set_output``) lives here.
"""

from __future__ import annotations

import os
import threading
import uuid
from numbers import Integral

import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._keys import decode_token, image_key, store_key, weights_hash
from .._feature_cache import FeatureCache
from .._store import cache_location
from .._config import with_config
from ..resources import content_token
from .._image import ImageBatchError, ImageLoadError, as_image_list, load_image
from .._warn import warn_user

__all__ = ["ImageBatchError", "ImageTransformer"]

def label_slug(name: str) -> str:
    """A class name as a feature-name part: its first synonym (before ``;``
    or ``,``), lowercased, runs of other characters as ``_``."""
    import re

    first = re.split(r"[;,]", name, maxsplit=1)[0].strip().lower()
    return re.sub(r"[^0-9a-z]+", "_", first).strip("_")


def unique_names(names):
    """Repeated names get ``_2``, ``_3``, ... suffixes."""
    seen, out = {}, []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}_{k + 1}")
    return out


def _load_many(items, indices, size=None, prepare=None):
    images, good, errors = [], [], {}
    for item, i in zip(items, indices):
        try:
            im = load_image(item, i, size=size)
            images.append(im if prepare is None else prepare(im))
            good.append(i)
        except ImageLoadError as exc:
            errors[i] = exc
    return images, good, errors


# ------------------------------------------------------------ worker side
#: Framework objects (model runners, tables, filter banks) built in this
#: process, per thread and per feature configuration: a worker of a Dask or
#: Ray cluster builds each network once and reuses it for every task it runs.
#: They are never pickled (``ImageTransformer.__getstate__`` drops them).
_WORKER_OBJECTS: dict = {}
_WORKER_LOCK = threading.Lock()
_WORKER_MAX = 16


def cache_token(est):
    """The hashable description of every parameter of the image transformer
    ``est`` that changes its numbers (what its cache entries are keyed on)."""
    return est._cache_token()


def attach_worker_objects(est):
    """Give ``est`` (an estimator unpickled in a worker) this process's shared
    framework objects for its configuration; they are built on first use."""
    token = joblib.hash((est._cache_token(), repr(getattr(est, "data_home", None)),
                         getattr(est, "num_threads", None)))
    key = (threading.get_ident(), type(est).__name__, token)
    with _WORKER_LOCK:
        lazy = _WORKER_OBJECTS.get(key)
        if lazy is None:
            if len(_WORKER_OBJECTS) >= _WORKER_MAX:  # forget the oldest configuration
                _WORKER_OBJECTS.pop(next(iter(_WORKER_OBJECTS)))
            lazy = _WORKER_OBJECTS[key] = dict(est.__dict__.get("_lazy", {}))
    est._share_lazy(lazy)


def _prepare_chunk(est, items, indices, use_cache):
    """Keys, cache reads, claims and decoding of one chunk (in whichever
    process runs it).

    With a cache, the chunk's entries are read and the missing ones claimed
    (:meth:`FeatureCache.reserve`) before anything is decoded: entries
    another worker is computing are left to :func:`_finish_chunk`, which
    collects them after computing its own, and an image repeated within the
    chunk is computed once.  ``use_cache`` is False or the calling
    ``transform``'s claim token.
    """
    d = est.n_features_out_
    out = np.full((len(items), d), np.nan, dtype=np.float64)
    errors, keys = {}, [None] * len(items)
    cache = est._get_cache(owner=use_cache) if use_cache else None
    res = None
    if cache is None:
        todo = list(range(len(items)))
    else:
        for k, (item, i) in enumerate(zip(items, indices)):
            try:
                keys[k] = image_key(item, i)
            except ImageLoadError as exc:
                errors[i] = exc
        res = cache.reserve(keys, d)
        for k, vec in res.hits.items():
            out[k] = vec
        todo = res.mine
    try:
        images, good, errs = _load_many([items[k] for k in todo], [indices[k] for k in todo],
                                        est._decode_size(), est._prepare_image)
    except BaseException:
        if res is not None:
            cache.release_all(res)
        raise
    errors.update(errs)
    pos = {i: k for k, i in enumerate(indices)}
    return dict(indices=list(indices), items=items, out=out, errors=errors, keys=keys,
                cache=cache, images=images, good=good, pos=pos, res=res,
                cached=0 if res is None else len(res.hits))


def _finish_chunk(est, prep):
    """Features of the decoded images of a prepared chunk, written to the
    cache; then the entries other workers were computing, and repeats."""
    images, good, out, pos = prep.pop("images"), prep["good"], prep["out"], prep["pos"]
    cache, keys, indices, errors = prep["cache"], prep["keys"], prep["indices"], prep["errors"]
    res = prep["res"]

    computed = 0

    def store(images, ok):
        """Features of decoded images (at input positions ``ok``), into ``out`` and the cache."""
        nonlocal computed
        if images:
            feats = est._compute_checked(images)
            for r, i in zip(feats, ok):
                out[pos[i]] = r
                if cache is not None:
                    cache.put(keys[pos[i]], r)
        computed += len(ok)

    def compute(ks):
        images, ok, errs = _load_many([prep["items"][k] for k in ks], [indices[k] for k in ks],
                                      est._decode_size(), est._prepare_image)
        errors.update(errs)
        store(images, ok)

    try:
        store(images, good)
    finally:
        if res is not None:
            cache.release_all(res)
    if res is not None:
        # another worker claimed these: collect its entries; compute what it
        # left (or what a dead worker held), and an image repeated in the chunk
        prep["cached"] += cache.settle(res, keys, out, compute, lambda k: indices[k] in errors)
    return indices, out, errors, {"cached": prep["cached"], "computed": computed}


def _chunk_task(est, items, indices, use_cache, in_worker=True):
    """One chunk, start to end: keys, cache reads, decoding, features, cache writes.

    The unit of work given to joblib: under a Dask or Ray backend it runs on
    a worker, which reads the image files and the cache itself.
    """
    if in_worker:
        attach_worker_objects(est)
    return _finish_chunk(est, _prepare_chunk(est, items, indices, use_cache))


#: joblib backends that run on this machine; under any other (Dask, Ray, ...)
#: the CNN families are dispatched to the workers too.
_LOCAL_BACKENDS = {"LokyBackend", "MultiprocessingBackend", "ThreadingBackend",
                   "SequentialBackend"}


class ImageTransformer(TransformerMixin, BaseEstimator):
    """Base class of the image feature transformers (not for direct use).

    Subclass parameters shared by every family:

    cache_dir : None, str or path-like
        Folder of the per-image feature cache (see :mod:`sklearn_emotion._store`);
        a ``joblib.Memory`` stands for its location.
    batch_size : int
        Images per batch (per model call for the CNN families, per joblib
        task for the others).
    n_jobs : int or None
        joblib workers; None means 1 unless in a ``joblib.parallel_config``.
    verbose : bool or int
        Show a tqdm progress bar.
    on_error : {"raise", "nan"}
        What ``transform`` does with images that cannot be loaded:
        ``"raise"`` an :class:`ImageBatchError` after processing the others,
        or ``"nan"``: warn and return NaN rows for them.
    memory : deprecated
        The old name of ``cache_dir`` (deprecated in 0.2, removed in 0.4):
        scikit-learn's ``Pipeline(memory=...)`` caches fitted transformers,
        this caches features per image.
    """

    _parallel = "images"

    #: Parameter constraints (scikit-learn's ``_parameter_constraints``),
    #: checked by ``fit``; families extend this dict with their own.  What a
    #: constraint cannot say (the elements of a tuple, relations between two
    #: parameters) is checked in ``_validate_params_extra``.
    _parameter_constraints: dict = {
        "cache_dir": [None, str, os.PathLike, HasMethods(["cache"])],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "on_error": [StrOptions({"raise", "nan"})],
        "data_home": [None, str, os.PathLike],
        "num_threads": [None, Interval(Integral, 1, None, closed="left")],
    }

    # ---------------------------------------------------------------- hooks
    def _compute_batch(self, images):  # pragma: no cover - abstract
        raise NotImplementedError

    def _feature_names(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate_params_extra(self):
        """Check family-specific parameters; raise ValueError/TypeError."""

    def _decode_size(self):
        """``(height, width)`` the images are decoded and resized to before
        ``_compute_batch`` (see :func:`load_image`'s ``size``), or None for
        the full image.  A family with a fixed input size that sets it gets
        the reduced JPEG decode, and the resize done in the thread that
        decodes, while the model runs on the previous chunk."""
        return None

    #: None, or a function of one decoded image run in the thread that
    #: decodes it (beside the network working on the previous chunk), whose
    #: result ``_compute_batch`` receives instead: e.g. the resizes to each
    #: network's input.  It must not build framework objects (see
    #: ``_build_before_threads``).
    _prepare_image = None

    def _build_before_threads(self):
        """Build, in the calling thread, what ``_prepare_image`` or the
        network needs, before decoding threads start."""

    #: Parameters that never change the numbers: they are left out of the cache key.
    _not_cache_params = ("cache_dir", "memory", "batch_size", "n_jobs", "verbose", "on_error",
                         "num_threads", "data_home")

    def _cache_token(self):
        """Hashable description of every parameter that changes the numbers.

        File-valued parameters are described by their content: a registered
        resource by its registry sha256 (the only content :func:`fetch`
        accepts, whatever the data home), any other existing file by the
        sha256 of its bytes (memoised per path, size and mtime), so an
        overwritten weights file never serves stale features.  A
        ``keras.Model`` parameter is described by a hash of its weights.
        Computed once per fit.
        """
        return self._lazy_get("cache_token", self._make_cache_token)

    def _make_cache_token(self):
        params = {}
        for k, v in self.get_params(deep=False).items():
            if k in self._not_cache_params:
                continue
            if hasattr(v, "get_weights") and hasattr(v, "layers"):
                v = ("keras", v.name, weights_hash(v))
            else:
                v = content_token(v)
            params[k] = v
        # the decoding settings (the working resolution), by the keys' one rule
        params.update({f"__{k}": v for k, v in decode_token().items()})
        return (type(self).__name__, sorted(params.items()))

    # ------------------------------------------------------------ internals
    def _validate_common(self):
        self._validate_params()  # _parameter_constraints, as scikit-learn's estimators
        cache_location(self.cache_dir, self.memory)  # warns for the deprecated name
        self._validate_params_extra()

    def _compute_checked(self, images):
        feats = np.asarray(self._compute_batch(images), dtype=np.float64)
        if feats.shape != (len(images), self.n_features_out_):
            raise RuntimeError(
                f"{type(self).__name__}._compute_batch returned shape {feats.shape}, "
                f"expected {(len(images), self.n_features_out_)}"
            )
        return feats

    def _get_cache(self, owner=""):
        loc = cache_location(self.cache_dir, self.memory, warn=False)
        if loc is None:
            return None
        token = store_key(self._cache_token(), code=(type(self).__module__,))
        return FeatureCache(loc, f"{type(self).__name__}-{token}", owner=owner)

    #: Parameters that no framework object is built from (how many images a
    #: batch holds, what a bad image gets, progress, processes, the cache
    #: folder): setting them keeps the built model runners, tables and
    #: filter banks.
    _runtime_params = frozenset({"on_error", "batch_size", "verbose", "n_jobs", "cache_dir",
                                 "memory"})

    def set_params(self, **params):
        """Set parameters; framework objects built from the old ones are dropped.

        As in skorch, a changed parameter invalidates the model runner,
        table or filter bank built from it; the next ``fit`` (or, for a
        fitted estimator, the next use) rebuilds them.  Parameters no such
        object is built from (``on_error``, ``batch_size``, ``verbose``,
        ``n_jobs``, ``cache_dir``) keep them.
        """
        super().set_params(**params)
        if any(k not in self._runtime_params for k in params):
            self.__dict__.pop("_lazy", None)
        return self

    def decode_size(self):
        """``(height, width)`` the images are decoded and resized to before
        the features are computed, or None for the full image (for
        measurements: the decoding a benchmark times apart)."""
        return self._decode_size()

    def _share_lazy(self, lazy):
        """Use ``lazy`` (a worker's shared framework objects) as this
        estimator's own (see :func:`attach_worker_objects`)."""
        self.__dict__["_lazy"] = lazy

    def __getstate__(self):
        state = self.__dict__.copy()
        # lazily built model runners / filter banks are rebuilt after loading
        state.pop("_lazy", None)
        return state

    def _lazy_get(self, name, factory):
        lazy = self.__dict__.setdefault("_lazy", {})
        if name not in lazy:
            lazy[name] = factory()
        return lazy[name]

    # ------------------------------------------------------------ public API
    def fit(self, X, y=None):
        """Validate the parameters and the input container; learn nothing.

        Parameters
        ----------
        X : sequence of images
            Paths, arrays or PIL images (see :func:`sklearn_emotion.load_image`).
            Only the container is checked here; images are read in ``transform``.
        y : ignored

        Returns
        -------
        self
        """
        # framework objects (model runners, tables, filter banks) and the
        # cache token are rebuilt from the current parameters on every fit
        self.__dict__["_lazy"] = {}
        self._validate_common()
        as_image_list(X)
        self.feature_names_out_ = np.asarray(self._feature_names(), dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    def transform(self, X):
        """Compute the features of each image.

        Parameters
        ----------
        X : sequence of images
            Paths, arrays or PIL images, possibly mixed.

        Returns
        -------
        features : ndarray of shape (n_images, n_features)
            ``n_features`` is ``n_features_out_``; NaN rows for failed images
            with ``on_error="nan"``.

        Raises
        ------
        ImageBatchError
            With ``on_error="raise"``, when any image cannot be loaded; the
            error lists every failed item and carries the other rows.
        """
        check_is_fitted(self, "n_features_out_")
        items = as_image_list(X)
        n, d = len(items), self.n_features_out_
        out = np.full((n, d), np.nan, dtype=np.float64)
        errors: dict[int, ImageLoadError] = {}
        # with a cache: a token naming this call in cache claims (see _prepare_chunk)
        use_cache = (uuid.uuid4().hex if cache_location(self.cache_dir, self.memory, warn=False)
                     is not None else False)
        bs = int(self.batch_size)
        chunks = [list(range(s, min(s + bs, n))) for s in range(0, n, bs)]
        bar = tqdm(total=n, disable=not self.verbose, desc=type(self).__name__, unit="img")
        stats = {"cached": 0, "computed": 0}
        try:
            for idx, rows, errs, st in self._run_chunks(items, chunks, use_cache):
                out[idx] = rows
                errors.update(errs)
                for k in stats:
                    stats[k] += st[k]
                bar.update(len(idx))
        finally:
            bar.close()
        # what the last transform computed versus read from the cache (logs only)
        self._transform_stats = {"images": n, **stats, "failed": len(errors)}
        if errors:
            if self.on_error == "raise":
                raise ImageBatchError(errors, out)
            shown = sorted(errors.items())[:20]
            more = f"; ... and {len(errors) - 20} more" if len(errors) > 20 else ""
            warn_user(
                f"{type(self).__name__}: {len(errors)} image(s) could not be loaded (of {n}) "
                f"and got NaN rows: " + "; ".join(str(e) for _, e in shown) + more,
                UserWarning)
        return out

    def _dispatch(self):
        """'joblib' (tasks through the active joblib backend) or 'here'."""
        backend, _ = joblib.parallel.get_active_backend()
        remote = type(backend).__name__ not in _LOCAL_BACKENDS
        if self._parallel == "model":
            # the network already uses every local core: it leaves this
            # process only for a cluster backend (Dask, Ray)
            return "joblib" if remote else "here"
        return "joblib" if joblib.effective_n_jobs(self.n_jobs) != 1 else "here"

    def _run_chunks(self, items, chunks, use_cache):
        if not chunks:
            return
        if self._dispatch() == "joblib" and len(chunks) > 1:
            backend, _ = joblib.parallel.get_active_backend()
            # a generator where the backend offers one (progress as chunks
            # finish); a list otherwise (Ray's backend has no generator)
            mode = "generator" if getattr(backend, "supports_return_generator", False) else "list"
            # with the caller's settings (image limits, claim timeout), captured
            # here: joblib may draw the tasks below from another thread
            task = with_config(_chunk_task)
            yield from joblib.Parallel(n_jobs=self.n_jobs, return_as=mode)(
                joblib.delayed(task)(self, [items[i] for i in c], c, use_cache)
                for c in chunks
            )
            return
        if self._parallel == "model":
            # decode the next chunks in threads while the network runs on
            # this one (PIL, TensorFlow and LiteRT release the GIL); up to
            # n_jobs chunks are prepared ahead (-1: one per core)
            from collections import deque
            from concurrent.futures import ThreadPoolExecutor

            depth = max(1, joblib.effective_n_jobs(self.n_jobs))
            self._build_before_threads()
            prepare = with_config(_prepare_chunk)
            with ThreadPoolExecutor(max_workers=depth) as pool:
                pending = deque()
                it = iter(chunks)

                def submit(c):
                    pending.append(pool.submit(prepare, self, [items[i] for i in c], c,
                                               use_cache))

                for c in it:
                    submit(c)
                    if len(pending) >= depth:
                        break
                while pending:
                    prep = pending.popleft().result()
                    nxt = next(it, None)
                    if nxt is not None:
                        submit(nxt)
                    yield _finish_chunk(self, prep)
            return
        for c in chunks:
            yield _chunk_task(self, [items[i] for i in c], c, use_cache, in_worker=False)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : ignored
            Images have no input feature names.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "n_features_out_")
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.requires_fit = True
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = []
        return tags


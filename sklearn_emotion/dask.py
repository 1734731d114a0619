"""Features and predictions for large image collections on a Dask cluster.

Optional: ``pip install "sklearn-emotion[dask]"``; the rest of the package
never imports Dask.  Two ways to use a cluster:

- **joblib's backend**: inside ``joblib.parallel_config(backend="dask")``
  every feature family (the CNN ones included) sends its chunks of images to
  the workers; each worker builds each network once and reuses it.  Good for
  ``fit``, ``cross_validate`` and grid searches over lists of paths.
- **Dask collections** (this module): :func:`transform` and :func:`predict`
  take a dask bag, a dask dataframe column or a list of images and return a
  lazy dask array, one partition of images per task, with the failed images
  as NaN rows and a report naming each one.

Workers need the data home (``SKLEARN_EMOTION_DATA``) and the image paths as
the client sees them (a shared filesystem, or URLs mounted on every worker).
"""

from __future__ import annotations

import operator
import pickle
from pathlib import Path
from dataclasses import dataclass

import numpy as np

from ._config import with_config
from ._keys import items_token, store_key
from ._store import read_checked, write_record
from ._warn import DEPRECATED, renamed
from ._predict import image_transformers, one_row, model_stages, predict_images

__all__ = ["DaskResult", "predict", "transform"]


@dataclass
class DaskResult:
    """What :func:`transform` and :func:`predict` return (both lazy).

    Attributes
    ----------
    array : dask.array.Array
        One row per image in input order; NaN rows for failed images.  Its
        width is known; its row chunks are the partitions (of unknown length
        for a bag or dataframe input).
    errors : dask.delayed.Delayed
        Computes to a list of dicts, one per failed image: ``partition``,
        ``position`` (within the partition), ``index`` (in the input, when
        the partition lengths are known beforehand), ``item`` (the file's
        path or ``X[i]``) and ``reason``.

    Compute both in one call so each partition runs once:
    ``features, errors = dask.compute(result.array, result.errors)``.
    """

    array: object
    errors: object

    def compute(self, **kwargs):
        """``dask.compute(self.array, self.errors)``: (ndarray, list of dicts)."""
        import dask

        return dask.compute(self.array, self.errors, **kwargs)


# ---------------------------------------------------------------- shards
# (one sealed record per partition; the store's records, this module's policy)
def shard_path(folder, model_token, method, dtype, items) -> Path:
    """Where the shard of one partition of a Dask run lives: under
    ``<folder>/sklearn_emotion-shards/``, keyed (:func:`store_key`) on the
    model, the method, the dtype, the partition's items and the code that
    predicts."""
    key = store_key(model_token, method, np.dtype(dtype).str, items_token(items),
                    code=(__name__,))
    return Path(folder) / "sklearn_emotion-shards" / key[:2] / f"{key}.npzc"


def write_shard(path, rows, errors) -> None:
    """A shard: the partition's ``rows`` and its JSON ``errors``, as a record."""
    write_record(path, {"rows": rows}, errors)


def read_shard(path, n, width=None, dtype=None):
    """``(rows, errors)`` of a partition's shard, or None (absent, or failing a
    check: then with a warning naming it, and the partition is computed again).

    A shard is checked before it is trusted: its sha256, written with it;
    ``rows`` is ``(n, width)`` of ``dtype``; ``errors`` is a JSON list of
    ``{"position", "item", "reason"}`` with distinct positions in ``[0, n)``;
    the error rows are NaN and every other row is finite."""
    got = read_checked(path, ["rows"],
                       lambda arrays, errors: _shard_problem(arrays["rows"], errors, n, width,
                                                             dtype),
                       "Dask shard", "computing its partition again")
    return None if got is None else (got[0]["rows"], got[1])


def _shard_problem(rows, errors, n, width, dtype):
    if rows.ndim != 2 or rows.shape[0] != n or (width is not None and rows.shape[1] != width):
        return f"of shape {rows.shape}, expected ({n}, {width})"
    if dtype is not None and rows.dtype != np.dtype(dtype):
        return f"of dtype {rows.dtype}, expected {np.dtype(dtype)}"
    if not isinstance(errors, list) or not all(
            isinstance(e, dict) and isinstance(e.get("position"), int)
            and isinstance(e.get("item"), str) and isinstance(e.get("reason"), str)
            for e in errors):
        return "holding an errors list that is not a list of {position, item, reason}"
    bad = [e["position"] for e in errors]
    if len(set(bad)) != len(bad) or any(not 0 <= b < n for b in bad):
        return "holding error positions outside its rows"
    mask = np.zeros(n, dtype=bool)
    mask[bad] = True
    if rows.dtype.kind == "f":
        if not np.isfinite(rows[~mask]).all():
            return "holding non-finite values in rows of readable images"
        if not np.isnan(rows[mask]).all():
            return "holding values in the rows of unreadable images"
    return None


def _run_partition(estimator_bytes, items, method, dtype, batch_size, partition, offset,
                   cache_dir=None, model_token=None, width=None):
    """One partition, on a worker: a private copy of the model, sharing this
    worker's networks across tasks; read from / written to its shard when a
    ``cache_dir`` is given."""
    from .features._base import attach_worker_objects

    items = list(items.tolist() if hasattr(items, "tolist") else items)
    shard = None
    if cache_dir is not None:
        shard = shard_path(cache_dir, model_token, method, dtype, items)
        got = read_shard(shard, len(items), width, dtype)
        if got is not None:
            arr, errors = got
            return arr, _stamp(errors, partition, offset)
    est = pickle.loads(estimator_bytes)  # private: safe with several threads per worker
    for t in image_transformers(est.features_ if hasattr(est, "features_") else est):
        attach_worker_objects(t)
    res = predict_images(est, items, method=method, batch_size=batch_size)
    arr = np.asarray(res.predictions, dtype=dtype)
    arr = arr.reshape(len(items), -1)
    errors = [{"position": i, "item": e.item, "reason": e.reason}
              for i, e in sorted(res.errors.items())]
    if shard is not None:
        write_shard(shard, arr, errors)
    return arr, _stamp(errors, partition, offset)


def _stamp(errors, partition, offset):
    return [{"partition": partition, "position": e["position"],
             "index": None if offset is None else offset + e["position"],
             "item": e["item"], "reason": e["reason"]} for e in errors]


def _merge(lists):
    return [e for part in lists for e in part]


def _partitions(images, partition_size):
    """[(partition, length or None, offset or None)] from a bag, a dask series or a list."""
    import dask
    import dask.bag as db

    if isinstance(images, db.Bag):
        return [(p, None, None) for p in images.to_delayed()]
    if hasattr(images, "to_delayed") and hasattr(images, "npartitions"):  # dask Series/Array
        if getattr(images, "ndim", 1) != 1:
            raise ValueError("a dask collection of images must be one-dimensional "
                             "(a bag, a dataframe column or a 1-D array of paths)")
        return [(p, None, None) for p in np.ravel(np.asarray(images.to_delayed(), dtype=object))]
    from ._image import as_image_list

    items = as_image_list(images)
    out = []
    for s in range(0, len(items), partition_size):
        part = items[s:s + partition_size]
        out.append((dask.delayed(part, traverse=False) if part else part, len(part), s))
    return out


def transform(estimator, images, *, method="transform", dtype="float64", partition_size=256,
              batch_size=64, cache_dir=None, store=DEPRECATED):
    """Lazily compute features (or predictions) of many images on a Dask cluster.

    Parameters
    ----------
    estimator : fitted estimator
        An image transformer (or a FeatureUnion of them) for
        ``method="transform"``; a fitted pipeline or
        :class:`~sklearn_emotion.AffectModel` for ``"predict"`` (see
        :func:`predict`).  It is sent to the workers once; each task works on
        a private copy, and each worker builds each network once.
    images : dask.bag.Bag, dask dataframe column, list or array
        Paths (or in-memory images for a list).  A bag or column keeps its
        partitions; a list is cut into ``partition_size`` images per task.
    method : str, default="transform"
        As in :func:`~sklearn_emotion.predict_images`, except
        ``"predict_frame"`` (a dask array holds numbers only).
    dtype : str or numpy dtype, default="float64"
        Of the result (``"float32"`` halves its size).
    partition_size : int, default=256
        Images per task, for a list input.
    batch_size : int, default=64
        Images decoded at a time inside a task (bounds a worker's memory).
    cache_dir : path-like, optional
        A folder (shared by the workers) for **one shard per partition**:
        ``<cache_dir>/sklearn_emotion-shards/<key>.npz`` holds the partition's
        rows and failed images, written atomically by the worker that
        computed it.  A partition whose shard exists is read instead of
        computed; the key covers the model (its pickled bytes and every
        family's content-keyed parameters), ``method``, ``dtype`` and the
        partition's items (each path with its size and modification time,
        each in-memory image by content).  With the families' own
        ``cache_dir=None``, an archive of N images then takes N /
        ``partition_size`` files instead of one per image per family; the
        shards only serve the same partitioning again (the per-image cache
        serves any subset).  It may be the families' own ``cache_dir``:
        shards and per-image entries live in separate subfolders.  URLs are
        refused.
    store : deprecated
        The old name of ``cache_dir`` (deprecated in 0.2, removed in 0.4).

    Returns
    -------
    result : DaskResult
        ``result.array`` (lazy, one row per image, in order) and
        ``result.errors`` (lazy list naming each failed image and its reason).
    """
    import dask
    import dask.array as da

    cache_dir = renamed(cache_dir, store, "cache_dir", "store")
    if int(partition_size) < 1:
        raise ValueError(f"partition_size must be >= 1, got {partition_size!r}")
    dtype = np.dtype(dtype)
    if method == "predict_frame":
        raise ValueError("method='predict_frame' gives a DataFrame; use 'predict', "
                         "'predict_interval' or 'predict_emotions' with Dask")
    image_step, head, _ = model_stages(estimator, method)
    width = int(np.asarray(one_row(image_step, head)).reshape(1, -1).shape[1])
    blob = pickle.dumps(estimator)
    payload = dask.delayed(blob, pure=True, traverse=False)
    model_token = None
    if cache_dir is not None:
        import joblib

        from ._store import cache_location
        from .features._base import cache_token

        cache_dir = str(cache_location(cache_dir))
        model_token = joblib.hash((blob, [cache_token(t) for t in image_transformers(
            image_step if image_step is not None else estimator)]))
    arrays, errors = [], []
    for k, (part, n, offset) in enumerate(_partitions(images, int(partition_size))):
        if n == 0:
            continue
        r = dask.delayed(with_config(_run_partition), pure=True)(payload, part, method, dtype,
                                                    int(batch_size), k, offset, cache_dir,
                                                    model_token, width)
        arrays.append(da.from_delayed(dask.delayed(operator.getitem)(r, 0),
                                      shape=(np.nan if n is None else n, width), dtype=dtype))
        errors.append(dask.delayed(operator.getitem)(r, 1))
    array = (da.concatenate(arrays, axis=0, allow_unknown_chunksizes=True) if arrays
             else da.zeros((0, width), dtype=dtype))
    return DaskResult(array, dask.delayed(_merge)(errors))


def predict(estimator, images, *, method="predict", **kwargs):
    """:func:`transform` with ``method="predict"``: predictions of a fitted model.

    ``estimator`` is a pipeline whose first step takes images (e.g.
    :func:`~sklearn_emotion.make_paper_pipeline`) or an
    :class:`~sklearn_emotion.AffectModel` (``load_pretrained()``, where
    ``method="predict_interval"`` or ``"predict_emotions"`` also work).
    """
    return transform(estimator, images, method=method, **kwargs)

"""Combine rated image sets for joint training and cross-set evaluation."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

_LOADERS = {}


def _loader(name):
    if not _LOADERS:
        from ._emotion6 import load_emotion6
        from ._oasis import load_oasis

        _LOADERS.update(emotion6=load_emotion6, oasis=load_oasis)
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; choose from {sorted(_LOADERS)} or pass a Bunch")
    return _LOADERS[name]


def combine_datasets(*datasets, data_home=None):
    """Stack rated image sets, keeping track of where each image came from.

    Parameters
    ----------
    *datasets : str or Bunch or (str, Bunch)
        ``"emotion6"``, ``"oasis"``, a Bunch with ``filenames`` and ``target``
        (as returned by :func:`load_ratings`; named ``"set<k>"``), or a
        ``(name, bunch)`` pair.  Targets must already share one scale (all
        loaders of this package return 1-9).
    data_home : str or path-like, default=None
        Passed to the named loaders.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames`` (object array), ``target`` (n × 2), ``groups`` (the
        source set's name for each image, object array), ``group_names``
        (in the order given) and ``target_names``.

    Examples
    --------
    Cross-dataset evaluation is then one ``LeaveOneGroupOut``:

    >>> from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
    >>> from sklearn_emotion.datasets import combine_datasets
    >>> both = combine_datasets("emotion6", "oasis")          # doctest: +SKIP
    >>> pred = cross_val_predict(model, list(both.filenames), both.target,
    ...                          groups=both.groups, cv=LeaveOneGroupOut())  # doctest: +SKIP
    """
    if not datasets:
        raise ValueError("combine_datasets needs at least one dataset")
    names, files, targets = [], [], []
    for k, d in enumerate(datasets):
        if isinstance(d, tuple) and len(d) == 2:
            name, d = d
        elif isinstance(d, str):
            name, d = d, _loader(d)(data_home=data_home)
        else:
            name = f"set{k}"
        if name in names:
            raise ValueError(f"dataset name {name!r} given twice")
        f = np.asarray(d.filenames, dtype=object)
        t = np.asarray(d.target, dtype=np.float64)
        if t.ndim != 2 or t.shape != (len(f), 2):
            raise ValueError(f"{name}: target must be (n, 2) valence/arousal, got {t.shape}")
        names.append(name)
        files.append(f)
        targets.append(t)
    groups = np.concatenate([np.full(len(f), n, dtype=object) for n, f in zip(names, files)])
    return Bunch(
        filenames=np.concatenate(files),
        target=np.vstack(targets),
        groups=groups,
        group_names=names,
        target_names=["valence", "arousal"],
    )

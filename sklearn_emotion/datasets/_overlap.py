"""Which of a user's files are images a model was trained on."""

from __future__ import annotations

import os

__all__ = ["training_overlap"]


def training_overlap(model, paths):
    """The paths among ``paths`` that are images ``model`` was trained on.

    Known for models whose metadata names their training sets (the shipped
    models: Emotion6 and OASIS, looked up in the data home).  Files are
    compared by size, then by sha256 of their bytes, so a copy under another
    name is found too.  Predictions, and adaptation's cross-validation, on
    such images are optimistic: the model has seen their ratings.

    Parameters
    ----------
    model : AffectModel
        With ``metadata_["training_data"]`` naming its sets (others: none found).
    paths : sequence of path-like

    Returns
    -------
    found : list of str
        In the order of ``paths``.
    """
    from .._keys import file_sha256

    sets = getattr(model, "metadata_", {}).get("training_data", {})
    try:
        from . import load_emotion6, load_oasis

        loaders = {"emotion6": load_emotion6, "oasis": load_oasis}
        train = [str(f) for name in sets if name in loaders for f in loaders[name]().filenames]
    except Exception:  # the sets are not in this data home: nothing to compare with
        return []
    by_size = {}
    for f in train:
        try:
            by_size.setdefault(os.stat(f).st_size, []).append(f)
        except OSError:
            continue
    found = []
    for p in paths:
        p = os.fspath(p)
        try:
            candidates = by_size.get(os.stat(p).st_size)
            if candidates and any(file_sha256(p) == file_sha256(c) for c in candidates):
                found.append(p)
        except OSError:
            continue
    return found

"""Emotion6 (Peng et al., CVPR 2015): 1,980 Flickr images rated for V and A."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ..resources import fetch

EMOTION_NAMES = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
TARGET_NAMES = ("valence", "arousal")

DESCR = """\
Emotion6 image dataset
----------------------

1,980 Flickr images, 330 for each of six search keywords (anger, disgust,
fear, joy, sadness, surprise).  Each image has a mean valence and arousal
rating on the 1-9 Self-Assessment-Manikin scale (the same scale as Kim et
al. 2018) and a 7-way emotion distribution (Ekman's six plus neutral) from a
user study.  Over all images valence has variance 3.37 and arousal 0.78:
always predicting the mean scores those MSEs, so report R^2 and Pearson r
beside MSE.

Reference: K.-C. Peng, A. Sadovnik, A. Gallagher, T. Chen, "A Mixed Bag of
Emotions: Model, Predict, and Transfer Emotion Distributions", CVPR 2015.
Academic research only; image copyright remains with the owners.
"""


def load_emotion6(data_home=None, return_X_y=False, as_frame=False):
    """Load the Emotion6 dataset (1,980 images, valence and arousal on 1-9).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data home; see :func:`sklearn_emotion.get_data_home`.
    return_X_y : bool, default=False
        If True, return ``(filenames, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame with a ``filename`` column,
        ``target`` a DataFrame with ``valence`` and ``arousal``, and ``frame``
        holds everything, keywords and distributions included.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames`` (ndarray of absolute paths, object), ``target``
        (n × 2: valence, arousal), ``target_names``, ``distributions``
        (n × 7 emotion probabilities), ``distribution_names``, ``keywords``
        (the search-keyword folder of each image), ``DESCR``; and ``frame``
        when ``as_frame``.
    (filenames, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    sklearn_emotion.resources.ResourceError
        The labels file is missing or corrupted.
    FileNotFoundError
        An image listed in the labels file is missing (all are named).
    """
    gt = fetch("data/emotion6/ground_truth.txt", data_home)
    root = gt.parent / "images"
    names, target, dists = [], [], []
    with open(gt, encoding="utf-8") as f:
        header = f.readline()
        if not header.startswith("[image_filename]"):
            raise ValueError(f"{gt}: unexpected header {header.strip()!r}")
        for lineno, line in enumerate(f, start=2):
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != 10:
                raise ValueError(f"{gt}:{lineno}: expected 10 tab-separated fields, got {len(parts)}")
            names.append(parts[0].strip())
            target.append([float(parts[1]), float(parts[2])])
            dists.append([float(v) for v in parts[3:]])
    filenames = np.array([str(root / n) for n in names], dtype=object)
    missing = [p for p in filenames if not (root / p).is_file()]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise FileNotFoundError(f"Emotion6: {len(missing)} image(s) listed in {gt} are missing: {shown}")
    target = np.asarray(target, dtype=np.float64)
    dists = np.asarray(dists, dtype=np.float64)
    keywords = np.array([n.split("/")[0] for n in names], dtype=object)
    if return_X_y:
        return filenames, target
    bunch = Bunch(
        filenames=filenames,
        target=target,
        target_names=list(TARGET_NAMES),
        distributions=dists,
        distribution_names=list(EMOTION_NAMES),
        keywords=keywords,
        DESCR=DESCR,
    )
    if as_frame:
        import pandas as pd

        frame = pd.DataFrame({"filename": filenames, "keyword": keywords})
        for i, t in enumerate(TARGET_NAMES):
            frame[t] = target[:, i]
        for i, e in enumerate(EMOTION_NAMES):
            frame[f"p_{e}"] = dists[:, i]
        bunch.frame = frame
        bunch.data = frame[["filename"]]
        bunch.target = frame[list(TARGET_NAMES)]
    return bunch

"""OASIS (Kurdi, Lozano & Banaji 2017): 900 photos rated for valence and arousal."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ..resources import fetch
from ._ratings import read_table

TARGET_NAMES = ("valence", "arousal")
CATEGORIES = ("Animal", "Object", "Person", "Scenery")

DESCR = """\
OASIS: Open Affective Standardized Image Set
--------------------------------------------

900 colour photos (animals, objects, people, scenes) rated by about 100
people each for valence and arousal on a 1-7 scale.  Here the ratings are
mapped linearly to the 1-9 SAM scale (1 + (x - 1) * 8 / 6) so they share
Emotion6's units.  On 1-9, valence has variance 2.68 and arousal 1.25:
arousal spreads far more than in Emotion6.

Reference: B. Kurdi, S. Lozano, M. R. Banaji, "Introducing the Open
Affective Standardized Image Set (OASIS)", Behavior Research Methods 49,
457-470 (2017).  The images come from sources without copyright
restrictions; the authors release the set for research use.
"""


def _to_1_9(x):
    return 1.0 + (np.asarray(x, dtype=np.float64) - 1.0) * 8.0 / 6.0


#: The columns of OASIS.csv the loader reads, in this order.
_COLUMNS = ("Theme", "Category", "Source", "Valence_mean", "Valence_SD", "Valence_N",
            "Arousal_mean", "Arousal_SD", "Arousal_N")


def _read_oasis_csv(csv_path, root):
    """OASIS.csv's columns, row by row, every rated photo present in ``root``
    (a missing photo, column or number is an error naming it)."""
    header, rows = read_table(csv_path, ",")
    need = _COLUMNS
    missing_cols = [c for c in need if c not in header]
    if missing_cols:
        raise ValueError(f"{csv_path}: columns {missing_cols} not found; header has {header}")
    col = {c: header.index(c) for c in need}
    themes, cats, sources, vals, missing = [], [], [], [], []
    for lineno, row in enumerate(rows, start=2):
        try:
            theme = row[col["Theme"]].strip()
            nums = [float(row[col[c]]) for c in need[3:]]
        except (IndexError, ValueError) as exc:
            raise ValueError(f"{csv_path}:{lineno}: cannot read row {row!r}: {exc}") from None
        if not (root / f"{theme}.jpg").is_file():
            missing.append(f"{theme}.jpg")
        themes.append(theme)
        cats.append(row[col["Category"]].strip())
        sources.append(row[col["Source"]].strip())
        vals.append(nums)
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise FileNotFoundError(
            f"OASIS: {len(missing)} photo(s) rated in {csv_path} are missing from {root}: {shown}"
        )
    return need, themes, cats, sources, vals


def load_oasis(data_home=None, return_X_y=False, as_frame=False):
    """Load the OASIS image set (900 photos, valence and arousal mapped to 1-9).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Data home; see :func:`sklearn_emotion.get_data_home`.  The ratings
        are ``data/oasis/OASIS.csv`` (verified by sha256) and the photos
        ``data/oasis/images/<Theme>.jpg``.
    return_X_y : bool, default=False
        If True, return ``(filenames, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, also return ``frame`` (a pandas DataFrame with the file
        name, theme, category, source, the 1-9 targets and the original 1-7
        means, SDs and rater counts); ``data`` is then its ``filename``
        column and ``target`` a DataFrame.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames`` (absolute paths, object array), ``target`` (n × 2:
        valence, arousal on 1-9), ``target_names``, ``target_sd`` (n × 2,
        rater standard deviations on 1-9), ``n_raters`` (n × 2),
        ``themes``, ``categories``, ``sources``, ``DESCR``; and ``frame``
        when ``as_frame``.
    (filenames, target) : tuple
        When ``return_X_y`` is True.

    Raises
    ------
    sklearn_emotion.resources.ResourceError
        The ratings file is missing or corrupted.
    FileNotFoundError
        A rated photo is missing (every missing one is named).

    Notes
    -----
    The published CSV has CR line endings and some ``Theme`` values carry
    trailing spaces; both are handled.  Standard deviations are scaled by
    8/6 like the means.

    Examples
    --------
    >>> from sklearn_emotion.datasets import load_oasis
    >>> oasis = load_oasis()
    >>> oasis.target.shape
    (900, 2)
    >>> oasis.categories[:3].tolist()
    ['Object', 'Object', 'Object']
    """
    csv_path = fetch("data/oasis/OASIS.csv", data_home)
    root = csv_path.parent / "images"
    need, themes, cats, sources, vals = _read_oasis_csv(csv_path, root)
    vals = np.asarray(vals, dtype=np.float64).reshape(-1, 6)
    target = _to_1_9(vals[:, [0, 3]])
    sd = vals[:, [1, 4]] * 8.0 / 6.0
    n_raters = vals[:, [2, 5]].astype(np.int64)
    filenames = np.array([str(root / f"{t}.jpg") for t in themes], dtype=object)
    if return_X_y:
        return filenames, target
    bunch = Bunch(
        filenames=filenames,
        target=target,
        target_names=list(TARGET_NAMES),
        target_sd=sd,
        n_raters=n_raters,
        themes=np.array(themes, dtype=object),
        categories=np.array(cats, dtype=object),
        sources=np.array(sources, dtype=object),
        DESCR=DESCR,
    )
    if as_frame:
        import pandas as pd

        frame = pd.DataFrame({"filename": filenames, "theme": themes, "category": cats,
                              "source": sources})
        for i, t in enumerate(TARGET_NAMES):
            frame[t] = target[:, i]
        for i, c in enumerate(need[3:]):
            frame[c] = vals[:, i]
        bunch.frame = frame
        bunch.data = frame[["filename"]]
        bunch.target = frame[list(TARGET_NAMES)]
    return bunch

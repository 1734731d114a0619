"""Load any rated image set from a CSV/TSV file of ratings."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .._image import IMAGE_EXTENSIONS as _IMAGE_EXTS


def read_table(csv_path: Path, sep):
    raw = csv_path.read_bytes()
    text = raw.decode("utf-8-sig")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if sep is None:
        first = text.split("\n", 1)[0]
        sep = "\t" if first.count("\t") >= first.count(",") and "\t" in first else ","
        if "\t" not in first and "," not in first and ";" in first:
            sep = ";"
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=sep) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{csv_path}: empty ratings file")
    header = [h.strip() for h in rows[0]]
    return header, rows[1:]


def load_ratings(
    csv_path,
    image_dir,
    *,
    filename_column="filename",
    valence_column="valence",
    arousal_column="arousal",
    scale=(1.0, 9.0),
    sep=None,
):
    """Load a rated image set: image files plus a table of V/A ratings.

    Parameters
    ----------
    csv_path : str or path-like
        Ratings table with a header row, columns in any order.  CR, LF and
        CRLF line endings and a UTF-8 BOM are accepted.
    image_dir : str or path-like
        Folder the file names are relative to.
    filename_column, valence_column, arousal_column : str
        Header names of the columns to use.
    scale : (float, float), default=(1, 9)
        The ratings' own scale; ratings are mapped linearly from it to 1-9.
    sep : str, default=None
        Field separator; None detects tab, comma or semicolon from the header.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames`` (absolute paths), ``target`` (n × 2 on 1-9),
        ``target_names``, ``DESCR``.

    Raises
    ------
    ValueError
        A column is missing, a rating is not a number or lies outside
        ``scale``, or a name matches several image files.
    FileNotFoundError
        Images are missing: every missing name is listed.

    Notes
    -----
    Names have surrounding spaces stripped.  A name without an extension is
    matched to the one image file in its folder with that stem.
    """
    csv_path = Path(csv_path)
    image_dir = Path(image_dir)
    lo, hi = map(float, scale)
    if not hi > lo:
        raise ValueError(f"scale must be (low, high) with high > low, got {scale}")
    header, rows = read_table(csv_path, sep)
    cols = {}
    for key in (filename_column, valence_column, arousal_column):
        if key not in header:
            raise ValueError(f"{csv_path}: column {key!r} not found; header has {header}")
        cols[key] = header.index(key)
    filenames, target, missing = [], [], []
    for lineno, row in enumerate(rows, start=2):
        try:
            name = row[cols[filename_column]].strip()
            v = float(row[cols[valence_column]])
            a = float(row[cols[arousal_column]])
        except (IndexError, ValueError) as exc:
            raise ValueError(f"{csv_path}:{lineno}: cannot read row {row!r}: {exc}") from None
        for what, val in (("valence", v), ("arousal", a)):
            if not (lo <= val <= hi) or not np.isfinite(val):
                raise ValueError(f"{csv_path}:{lineno}: {what} {val} outside scale {scale}")
        path = image_dir / name
        if not path.suffix or path.suffix.lower() not in _IMAGE_EXTS:
            if not path.is_file():
                parent = path.parent
                stem = path.name
                cands = (
                    [p for p in parent.iterdir() if p.stem == stem and p.suffix.lower() in _IMAGE_EXTS]
                    if parent.is_dir()
                    else []
                )
                if len(cands) > 1:
                    raise ValueError(
                        f"{csv_path}:{lineno}: name {name!r} matches several images: "
                        + ", ".join(sorted(p.name for p in cands))
                    )
                if cands:
                    path = cands[0]
        if not path.is_file():
            missing.append(name)
            continue
        filenames.append(os.fspath(path.resolve()))
        target.append([v, a])
    if missing:
        shown = ", ".join(missing[:20]) + (f" ... ({len(missing)} in all)" if len(missing) > 20 else "")
        raise FileNotFoundError(f"{csv_path}: {len(missing)} image(s) not found in {image_dir}: {shown}")
    target = np.asarray(target, dtype=np.float64).reshape(-1, 2)
    target = 1.0 + (target - lo) * 8.0 / (hi - lo)
    return Bunch(
        filenames=np.array(filenames, dtype=object),
        target=target,
        target_names=["valence", "arousal"],
        DESCR=f"Ratings from {csv_path} (scale {scale} mapped to 1-9), images in {image_dir}.",
    )

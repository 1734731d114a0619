"""Load any rated image set from a CSV/TSV file of ratings."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .._image import IMAGE_EXTENSIONS as _IMAGE_EXTS
from .._warn import warn_user


def decode_text(raw, path):
    """The text of a table file: UTF-8 (with or without a BOM), or UTF-16
    with its BOM (what spreadsheet programs write as "Unicode text").

    Raises
    ------
    ValueError
        Naming ``path``, when the bytes are not text in one of those
        encodings (a binary file, or another encoding such as Latin-1).
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: starts like UTF-16 text but is not ({exc.reason} at "
                             f"byte {exc.start}); save it as a UTF-8 CSV") from None
    if b"\0" in raw[:4096]:
        raise ValueError(f"{path}: is a binary file, not a ratings table (save it as a UTF-8 "
                         "CSV with a header row)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                         f"offset {exc.start}); save it as a UTF-8 CSV (in a spreadsheet: "
                         "'CSV UTF-8')") from None


def read_table(csv_path: Path, sep):
    raw = csv_path.read_bytes()
    text = decode_text(raw, csv_path)
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


def _image_file(path, where, name):
    """``path``, or for a name without an image extension the one image file
    of its folder with that stem (several are an error naming them)."""
    if (path.suffix and path.suffix.lower() in _IMAGE_EXTS) or path.is_file():
        return path
    cands = ([p for p in path.parent.iterdir()
              if p.stem == path.name and p.suffix.lower() in _IMAGE_EXTS]
             if path.parent.is_dir() else [])
    if len(cands) > 1:
        raise ValueError(f"{where}: name {name!r} matches several images: "
                         + ", ".join(sorted(p.name for p in cands)))
    return cands[0] if cands else path


def _missing(names, any_found, csv_path, image_dir, missing):
    """Raise, or warn that the rows of the images ``names`` are left out."""
    shown = ", ".join(names[:20]) + (f" ... ({len(names)} in all)" if len(names) > 20 else "")
    msg = f"{csv_path}: {len(names)} image(s) not found in {image_dir}: {shown}"
    if missing == "raise":
        raise FileNotFoundError(msg)
    warn_user(f"{msg}; their rows are left out", UserWarning)
    if not any_found:
        raise FileNotFoundError(f"{csv_path}: none of its {len(names)} image(s) was "
                                f"found in {image_dir} (is --image-dir the right folder?)")


def load_ratings(
    csv_path,
    image_dir,
    *,
    filename_column="filename",
    valence_column="valence",
    arousal_column="arousal",
    scale=(1.0, 9.0),
    sep=None,
    missing="raise",
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
    missing : {"raise", "skip"}, default="raise"
        What to do with rows whose image file is not found: raise
        :class:`FileNotFoundError` listing them, or leave them out with a
        warning listing them (``missing`` of the result names them too).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames`` (absolute paths), ``target`` (n × 2 on 1-9),
        ``target_names``, ``missing`` (the names of the rows left out
        because their image was not found), ``DESCR``.

    Raises
    ------
    ValueError
        A column is missing, a rating is not a number or lies outside
        ``scale``, or a name matches several image files.
    FileNotFoundError
        Images are missing (with ``missing="raise"``): every missing name is
        listed.

    Notes
    -----
    Names have surrounding spaces stripped.  A name without an extension is
    matched to the one image file in its folder with that stem.
    """
    csv_path = Path(csv_path)
    image_dir = Path(image_dir)
    if missing not in ("raise", "skip"):
        raise ValueError(f"missing must be 'raise' or 'skip', got {missing!r}")
    lo, hi = map(float, scale)
    if not hi > lo:
        raise ValueError(f"scale must be (low, high) with high > low, got {scale}")
    header, rows = read_table(csv_path, sep)
    cols = {}
    for key in (filename_column, valence_column, arousal_column):
        if key not in header:
            raise ValueError(f"{csv_path}: column {key!r} not found; header has {header}")
        cols[key] = header.index(key)
    filenames, target, missing_names = [], [], []
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
        path = _image_file(image_dir / name, f"{csv_path}:{lineno}", name)
        if not path.is_file():
            missing_names.append(name)
            continue
        filenames.append(os.fspath(path.resolve()))
        target.append([v, a])
    if missing_names:
        _missing(missing_names, bool(filenames), csv_path, image_dir, missing)
    target = np.asarray(target, dtype=np.float64).reshape(-1, 2)
    target = 1.0 + (target - lo) * 8.0 / (hi - lo)
    return Bunch(
        filenames=np.array(filenames, dtype=object),
        target=target,
        target_names=["valence", "arousal"],
        missing=list(missing_names),
        DESCR=f"Ratings from {csv_path} (scale {scale} mapped to 1-9), images in {image_dir}.",
    )

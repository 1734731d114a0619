"""Scoring a collection of image files: every file a row, in input order, streamed.

The command line's ``predict`` is a thin shell around these functions:

- :func:`find_images` turns the files and folders a user names into one
  entry per file, in order: the files to score, and the others with the
  reason they are not taken as images (a PDF, an empty file, an empty
  folder); hidden entries (names starting with ``.``) are listed apart;
- :func:`score_files` scores the entries a chunk at a time and appends each
  chunk's rows to a CSV as soon as they are computed, so a killed run loses
  at most one chunk, and the same call with ``resume=True`` scores only the
  files the CSV does not hold yet.  Every entry is a row: a file that could
  not be scored has NaN predictions and an ``error`` naming the reason.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._image import IMAGE_EXTENSIONS
from ._warn import DEPRECATED, renamed
from .datasets import training_overlap

__all__ = ["Entry", "ScoreSummary", "find_images", "plot_predictions", "score_files", "sniff",
           "training_overlap"]


@dataclass(frozen=True)
class Entry:
    """One file of a collection: its path, and why it is not scored (None: it is)."""

    path: str
    reason: str | None = None


@dataclass
class ScoreSummary:
    """What :func:`score_files` did."""

    output: Path
    scored: list = field(default_factory=list)  # paths with predictions
    failed: list = field(default_factory=list)  # (path, reason): attempted, unreadable
    skipped: list = field(default_factory=list)  # (path, reason): not taken as images
    resumed: int = 0  # rows the CSV already held


def sniff(path):
    """Why a file found in a folder is not taken as an image, or None if it is one.

    A name with an image extension is always attempted (the loader then
    names any problem).  Any other entry is decided by its content: it must
    be a non-empty regular file that Pillow identifies (only the header is
    read); a few common non-image formats are named.

    Parameters
    ----------
    path : str

    Returns
    -------
    reason : str or None
    """
    from PIL import Image, UnidentifiedImageError

    from ._image import ImageLoadError, check_image_file

    if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS:
        return None
    try:
        check_image_file(path)
    except ImageLoadError as exc:
        return exc.reason
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as exc:
        return f"cannot read file: {exc.strerror}"
    if head.startswith(b"%PDF"):
        return "a PDF document, not an image"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim",
                                               b"heis", b"hevc", b"avif"):
        return ("a HEIC/HEIF/AVIF image, which Pillow cannot decode without a plugin "
                "(convert it to JPEG or PNG)")
    if b"<svg" in head or (head.lstrip().startswith(b"<?xml") and path.lower().endswith(".svg")):
        return "an SVG (vector) drawing; rasterise it to PNG first"
    try:
        with Image.open(path):
            return None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return "not an image file (unknown format)"


def _scan_folder(folder, entries, hidden):
    try:
        listed = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        entries.append(Entry(str(folder), f"cannot list folder: {exc.strerror}"))
        return
    for e in listed:
        path = os.path.join(folder, e.name)
        if e.name.startswith("."):
            hidden.append(path)
            continue
        try:
            is_dir = e.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            n = len(entries) + len(hidden)
            _scan_folder(path, entries, hidden)
            if len(entries) + len(hidden) == n:
                entries.append(Entry(path, "empty folder"))
            continue
        entries.append(Entry(path, sniff(path)))


def find_images(items):
    """One entry per file of the named files and folders, in order.

    Parameters
    ----------
    items : sequence of path-like
        Files (always attempted: the loader names what is wrong) and folders
        (walked recursively in name order; each entry is sniffed, see
        :func:`sniff`).

    Returns
    -------
    entries : list of Entry
        Every file, with ``reason`` None for those to score.
    hidden : list of str
        Entries whose names start with ``.``, left out.
    """
    entries, hidden = [], []
    for item in items:
        item = os.fspath(item)
        if os.path.isdir(item):
            n_entries, n_hidden = len(entries), len(hidden)
            _scan_folder(item, entries, hidden)
            if len(entries) == n_entries:
                entries.append(Entry(item, "folder holds no files" + (
                    " (only hidden ones)" if len(hidden) > n_hidden else "")))
        else:
            entries.append(Entry(item))
    return entries, hidden


def _done_paths(output):
    """``(header, paths)`` an existing CSV holds.  A last line cut short (a run
    killed while writing it) is removed first: its file is scored again."""
    raw = output.read_bytes()
    if raw and not raw.endswith(b"\n"):
        raw = raw[:raw.rfind(b"\n") + 1]
        with open(output, "r+b") as f:
            f.truncate(len(raw))
    rows = list(csv.reader(raw.decode("utf-8").splitlines()))
    if not rows:
        return None, set()
    header = rows[0]
    return header, {r[0] for r in rows[1:] if len(r) == len(header)}


def score_files(model, entries, output, *, method="predict_frame", params=None, batch_size=32,
                skip_failed=False, resume=False, verbose=False, extra_columns=None,
                progress=DEPRECATED):
    """Score ``entries`` with ``model`` and stream one CSV row per entry.

    Parameters
    ----------
    model : fitted estimator
        An :class:`~sklearn_emotion.AffectModel` (``method="predict_frame"``)
        or an estimator taking images (``method="predict"``: its first two
        outputs are valence and arousal).
    entries : sequence of Entry or str
        From :func:`find_images` (a plain path is an entry to score).
    output : path-like
        The CSV: ``path``, ``error`` (empty for a scored file), the
        prediction columns, and ``extra_columns``' names.  Rows are in the
        order of ``entries`` and are appended one chunk at a time (each
        chunk is written and flushed before the next is computed).
    method : {"predict_frame", "predict"}
    params : dict, optional
        Keyword arguments of ``method`` (``new_raters=True``).
    batch_size : int, default=32
        Files per chunk.
    skip_failed : bool, default=False
        Leave out the rows of files that could not be scored (and of
        entries that are not images).
    resume : bool, default=False
        When ``output`` exists: keep its rows and score only the entries
        whose path it does not hold (its columns must be this model's).
        Otherwise an existing ``output`` is replaced.
    verbose : bool, default=False
        A progress bar with rate and time left.
    progress : deprecated
        The old name of ``verbose`` (deprecated in 0.2, removed in 0.4).
    extra_columns : dict of str to callable, optional
        More columns computed from each chunk's frame of predictions
        (e.g. the nearest emotion word), ``{name: f(frame) -> sequence}``.

    Returns
    -------
    ScoreSummary
    """
    verbose = renamed(verbose, progress, "verbose", "progress", default=False)
    from tqdm.auto import tqdm

    params = dict(params or {})
    extra_columns = dict(extra_columns or {})
    entries = [e if isinstance(e, Entry) else Entry(os.fspath(e)) for e in entries]
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    summary = ScoreSummary(output)
    columns = None
    fresh = True
    todo = entries
    if resume and output.exists():
        header, done = _done_paths(output)
        if header:
            columns, fresh = header, False
            summary.resumed = len(done)
            todo = [e for e in entries if e.path not in done]
    f = open(output, "w" if fresh else "a", newline="", encoding="utf-8")
    pending = []  # rows of chunks without a single scored file, until the columns are known
    try:
        writer = csv.writer(f)

        def write_rows(rows):
            for path, err, row in rows:
                if err and skip_failed:
                    continue
                writer.writerow([path, err] + [_cell(row.get(c)) for c in columns[2:]])

        with tqdm(total=len(entries), initial=len(entries) - len(todo), desc="predicting",
                  disable=not verbose, unit="img") as bar:
            step = max(1, int(batch_size))
            for s in range(0, len(todo), step):
                chunk = todo[s:s + step]
                names, rows = _score_chunk(model, chunk, method, params, extra_columns)
                for e, (path, err, _) in zip(chunk, rows):
                    if not err:
                        summary.scored.append(path)
                    else:
                        (summary.skipped if e.reason else summary.failed).append((path, err))
                if names is not None and columns is not None and not fresh and columns[2:] != names:
                    raise ValueError(f"{output}: its columns {columns} are not this model's "
                                     f"{['path', 'error', *names]}; write to another file, or "
                                     "remove it to start again")
                if columns is None and names is not None:
                    columns = ["path", "error", *names]
                    writer.writerow(columns)
                if columns is None:
                    pending += rows
                    continue
                write_rows(pending + rows)
                pending = []
                f.flush()
                bar.update(len(chunk))
        if columns is None and fresh:  # nothing could be scored: the reasons alone
            columns = ["path", "error", "valence", "arousal"]
            writer.writerow(columns)
        if pending:
            write_rows(pending)
    finally:
        f.close()
    return summary


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, (float, np.floating)):
        return "" if np.isnan(v) else f"{float(v):.6g}"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    return v


def _score_chunk(model, chunk, method, params, extra_columns):
    """One chunk: ``(column names or None, [(path, error, {column: value})])``,
    a row per entry in order (no values for the entries not scored)."""
    import pandas as pd

    from ._predict import predict_images

    todo = [i for i, e in enumerate(chunk) if e.reason is None]
    errors = {i: e.reason for i, e in enumerate(chunk) if e.reason is not None}
    values = {}
    names = None
    if todo:
        res = predict_images(model, [chunk[i].path for i in todo], method=method,
                             batch_size=max(1, len(todo)), **params)
        if method == "predict_frame":
            got = res.predictions.drop(columns="error").reset_index(drop=True)
        else:
            pred = np.asarray(res.predictions, dtype=np.float64).reshape(len(todo), -1)
            got = pd.DataFrame({"valence": pred[:, 0], "arousal": pred[:, 1]})
        for name, fn in extra_columns.items():
            got[name] = list(fn(got))
        names = list(got.columns)
        for k, err in res.errors.items():
            errors[todo[k]] = err.reason
        records = got.to_dict("records")
        for k, i in enumerate(todo):
            if i not in errors:
                values[i] = records[k]
    return names, [(e.path, errors.get(i, ""), values.get(i, {})) for i, e in enumerate(chunk)]


def plot_predictions(csv_path, dest, *, title="Predicted valence-arousal"):
    """Draw the scored images of a predictions CSV (:func:`score_files`) in
    the valence-arousal plane: thumbnails, their 80 % intervals when the CSV
    has them, unusual images framed (:func:`~sklearn_emotion._plotting.plot_va_thumbnails`).

    Parameters
    ----------
    csv_path : path-like
        Written by :func:`score_files` (or ``sklearn-emotion predict``).
    dest : path-like
        The PNG.
    title : str

    Returns
    -------
    int
        Images placed; 0 (and no file) when the CSV holds no scored image.
    """
    import pandas as pd

    from ._plotting import plot_va_thumbnails

    table = pd.read_csv(csv_path, keep_default_na=True)
    table = table[table["error"].isna() & table["valence"].notna()]
    if not len(table):
        return 0
    low = [c for c in table.columns if c.startswith(("valence_low_", "arousal_low_"))]
    high = [c for c in table.columns if c.startswith(("valence_high_", "arousal_high_"))]
    intervals = None
    if len(low) == 2 and len(high) == 2:
        intervals = np.stack([table[low].to_numpy(np.float64),
                              table[high].to_numpy(np.float64)], axis=-1)
    paths = list(table["path"])
    unusual = ((table["unusual"].astype(str) == "True").to_numpy()
               if "unusual" in table.columns else None)
    plot_va_thumbnails(paths, table[["valence", "arousal"]].to_numpy(np.float64), dest,
                       limits=None, labels=[Path(p).name for p in paths], intervals=intervals,
                       unusual=unusual, title=title)
    return len(table)

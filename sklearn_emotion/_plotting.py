"""Figures of images in the valence-arousal plane (CLI ``--plot`` and reproduction).

Figures are built with :class:`matplotlib.figure.Figure` directly, never
through ``pyplot``: library code must not choose or change the user's
matplotlib backend.
"""

from __future__ import annotations

import numpy as np

from ._image import ImageLoadError, load_image

__all__ = ["plot_va_thumbnails", "spread_sample", "thumbnail"]

#: Above this many images the plot shows a density and a sample of thumbnails.
MAX_THUMBNAILS = 300


def thumbnail(item, size=56):
    """The image as the features see it (EXIF-rotated, RGB, alpha on white), shrunk to ``size``."""
    from PIL import Image

    im = Image.fromarray(load_image(item))
    im.thumbnail((size, size))
    return np.asarray(im)


def spread_sample(va, k, seed=0):
    """Indices of at most ``k`` points spread over the plane: one per cell of a
    grid just fine enough to hold ``k`` occupied cells, the point nearest each
    cell's centre (thumbnails then overlap little), chosen at random among
    the cells when there are more.

    Parameters
    ----------
    va : ndarray of shape (n, 2)
    k : int
    seed : int

    Returns
    -------
    idx : ndarray of int, sorted
    """
    va = np.asarray(va, dtype=np.float64)
    lo, hi = va.min(axis=0), va.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    best = None
    for g in range(2, 200):
        cell = np.minimum(((va - lo) / span * g).astype(int), g - 1)
        occupied = len(np.unique(cell[:, 0] * g + cell[:, 1]))
        if occupied >= k or g == 199:
            best = (g, cell)
            break
    g, cell = best
    centre = lo + (cell + 0.5) / g * span
    d = ((va - centre) / span) ** 2
    d = d.sum(axis=1)
    key = cell[:, 0] * g + cell[:, 1]
    order = np.lexsort((d, key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    if len(first) > k:
        first = np.random.default_rng(seed).choice(first, k, replace=False)
    return np.sort(first)


def plot_va_thumbnails(items, va, dest, *, title="Predicted valence-arousal", limits=(1, 9),
                       max_thumbnails=MAX_THUMBNAILS, seed=0, dpi=100, labels=None,
                       intervals=None):
    """Draw each image at its valence-arousal position and save a PNG.

    Parameters
    ----------
    items : sequence of images
        Paths, arrays or PIL images, decoded as the feature transformers do.
    va : array-like of shape (n, 2)
        Valence and arousal of each image.
    dest : str or path-like
        Output PNG.
    title : str
    limits : (float, float) or None
        Axis limits for both axes; None fits them to the points.
    max_thumbnails : int
        With more images, a hexbin density of all of them is drawn and at
        most this many thumbnails on top, spread over it
        (:func:`spread_sample`).
    seed : int
        Chooses the sample.
    labels : sequence of str, optional
        A caption under each thumbnail shown (e.g. the file name).
    intervals : array-like of shape (n, 2, 2), optional
        Interval ends (``[:, j, 0]`` low, ``[:, j, 1]`` high, ``j`` 0
        valence, 1 arousal), drawn as error bars behind each thumbnail.

    Returns
    -------
    shown : int
        Thumbnails drawn (unreadable images are skipped).
    """
    from matplotlib.figure import Figure
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    va = np.asarray(va, dtype=np.float64).reshape(-1, 2)
    fig = Figure(figsize=(8, 8))
    ax = fig.add_subplot()
    idx = np.arange(len(va))
    if len(va) > max_thumbnails:
        ax.hexbin(va[:, 0], va[:, 1], gridsize=40, cmap="Greys", mincnt=1,
                  extent=None if limits is None else (*limits, *limits))
        idx = spread_sample(va, max_thumbnails, seed=seed)
        title = (f"{title}\n(all {len(va)} images as a grey density; {len(idx)} of them, "
                 "spread over it, as thumbnails)")
    shown = 0
    size = 56 if len(idx) <= 100 else 36
    if intervals is not None:
        iv = np.asarray(intervals, dtype=np.float64).reshape(-1, 2, 2)[idx]
        ax.errorbar(va[idx, 0], va[idx, 1],
                    xerr=[va[idx, 0] - iv[:, 0, 0], iv[:, 0, 1] - va[idx, 0]],
                    yerr=[va[idx, 1] - iv[:, 1, 0], iv[:, 1, 1] - va[idx, 1]],
                    fmt="none", ecolor="tab:blue", alpha=0.35, lw=1, capsize=3, zorder=1)
    for i in idx:
        try:
            thumb = thumbnail(items[i], size)
        except ImageLoadError:
            continue
        ax.add_artist(AnnotationBbox(OffsetImage(thumb), (va[i, 0], va[i, 1]), frameon=False,
                                     zorder=2))
        if labels is not None:
            ax.annotate(str(labels[i]), (va[i, 0], va[i, 1]), xytext=(0, -size / 2 - 8),
                        textcoords="offset points", ha="center", va="top", fontsize=7,
                        zorder=3)
        shown += 1
    if limits is None:
        pts = va[idx] if intervals is None else np.vstack([va[idx], iv[:, :, 0], iv[:, :, 1]])
        lo, hi = pts.min(0), pts.max(0)
        pad = np.maximum((hi - lo) * 0.12, 0.4)
        lo, hi = np.maximum(lo - pad, 1.0), np.minimum(hi + pad, 9.0)
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]))
    else:
        ax.set(xlim=limits, ylim=limits)
        mid = (limits[0] + limits[1]) / 2
        ax.axhline(mid, color="grey", lw=0.5)
        ax.axvline(mid, color="grey", lw=0.5)
    ax.set(xlabel="valence", ylabel="arousal", title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(dest, dpi=dpi)
    return shown

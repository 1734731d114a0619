"""Figures of images in the valence-arousal plane (CLI ``--plot`` and reproduction).

Figures are built with :class:`matplotlib.figure.Figure` directly, never
through ``pyplot``: library code must not choose or change the user's
matplotlib backend.
"""

from __future__ import annotations

import numpy as np

from ._image import ImageLoadError, load_image

__all__ = ["cell_layout", "plot_va_thumbnails", "thumbnail"]

#: Above this many images the plot shows a density and a sample of thumbnails.
MAX_THUMBNAILS = 300


def thumbnail(item, size=56):
    """The image as the features see it (EXIF-rotated, RGB, alpha on white), shrunk to ``size``."""
    from PIL import Image

    im = Image.fromarray(load_image(item))
    im.thumbnail((size, size))
    return np.asarray(im)


def cell_layout(va, xlim, ylim, nx, ny, k, seed=0):
    """Thumbnails on a grid that cannot overlap: the plane within ``xlim`` x
    ``ylim`` is cut into ``nx`` x ``ny`` cells.  With at most ``k`` images and
    at most half as many as cells, every image gets a cell: its own, or
    the free cell nearest its position (the image nearest a cell's centre
    keeps it).  Otherwise each occupied cell shows one image, the one
    nearest its centre; with more than ``k`` occupied cells a seeded random
    ``k`` of them.

    Parameters
    ----------
    va : ndarray of shape (n, 2)
    xlim, ylim : (float, float)
    nx, ny : int
    k : int
    seed : int

    Returns
    -------
    idx : ndarray of int
        The images shown, in increasing order.
    centres : ndarray of shape (len(idx), 2)
        The centre of each one's cell, in data coordinates.
    """
    va = np.asarray(va, dtype=np.float64)
    lo = np.array([xlim[0], ylim[0]], dtype=np.float64)
    size = np.array([(xlim[1] - xlim[0]) / nx, (ylim[1] - ylim[0]) / ny])
    cell = np.clip(np.floor((va - lo) / size).astype(int), 0, [nx - 1, ny - 1])
    centre = lo + (cell + 0.5) * size
    if len(va) <= min(k, nx * ny // 2):
        # few images: every one shown, in its own cell or the free cell
        # nearest its position (a crowded cell's images move outward)
        gx, gy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
        cells = np.c_[gx.ravel(), gy.ravel()]
        cc = lo + (cells + 0.5) * size
        free = np.ones(len(cells), bool)
        # images in crowded cells last: the one nearest each centre keeps it
        d_own = (((va - centre) / size) ** 2).sum(axis=1)
        out_idx, out_c = [], []
        for i in np.lexsort((np.arange(len(va)), d_own)):
            d = (((cc - va[i]) / size) ** 2).sum(axis=1)
            d[~free] = np.inf
            c = int(np.argmin(d))
            free[c] = False
            out_idx.append(i)
            out_c.append(cc[c])
        order = np.argsort(out_idx)
        return np.asarray(out_idx)[order], np.asarray(out_c).reshape(-1, 2)[order]
    d = (((va - centre) / size) ** 2).sum(axis=1)
    key = cell[:, 0] * ny + cell[:, 1]
    order = np.lexsort((np.arange(len(va)), d, key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]] if len(va) else order
    if len(first) > k:
        first = np.sort(np.random.default_rng(seed).choice(first, k, replace=False))
    return np.sort(first), centre[np.sort(first)]


def _short(name, n):
    name = str(name)
    return name if len(name) <= n else name[:(n - 1) // 2] + "…" + name[-(n - 1 - (n - 1) // 2):]


def plot_va_thumbnails(items, va, dest, *, title="Predicted valence-arousal", limits=(1, 9),
                       max_thumbnails=MAX_THUMBNAILS, seed=0, dpi=100, labels=None,
                       intervals=None, unusual=None, max_intervals=30):
    """Draw the images in the valence-arousal plane and save a PNG.

    The plane is cut into cells the size of a thumbnail; each occupied cell
    shows one image (the one nearest the cell's centre) with a dot and a
    thin line to its exact position, so thumbnails and their captions never
    overlap.  A small map beside it shows every image (a density when there
    are many), with a legend: the dots, the intervals, the unusual images.

    Parameters
    ----------
    items : sequence of images
        Paths, arrays or PIL images, decoded as the feature transformers do.
    va : array-like of shape (n, 2)
        Valence and arousal of each image.
    dest : str or path-like
        Output PNG.
    title : str
        Wrapped to the figure's width.
    limits : (float, float) or None
        Axis limits for both axes; None fits them to the points.
    max_thumbnails : int
        At most this many thumbnails (the cells of the plane bound them too).
    seed : int
        Chooses the cells shown when there are more than ``max_thumbnails``.
    labels : sequence of str, optional
        A caption under each thumbnail (e.g. the file name), shortened in
        the middle to fit its cell.
    intervals : array-like of shape (n, 2, 2), optional
        Interval ends (``[:, j, 0]`` low, ``[:, j, 1]`` high, ``j`` 0
        valence, 1 arousal), drawn as bars through the exact positions of the
        images shown, when at most ``max_intervals`` are shown.
    unusual : array-like of bool, optional
        Images flagged unusual: a red frame and a red cross.
    max_intervals : int, default=30

    Returns
    -------
    shown : int
        Thumbnails drawn (unreadable images are skipped).
    """
    import textwrap

    from matplotlib.figure import Figure

    va = np.asarray(va, dtype=np.float64).reshape(-1, 2)
    n = len(va)
    flags = np.zeros(n, bool) if unusual is None else np.asarray(unusual, dtype=bool).reshape(n)
    iv = None if intervals is None else np.asarray(intervals, dtype=np.float64).reshape(-1, 2, 2)
    fig = Figure(figsize=(12, 8.6))
    grid = fig.add_gridspec(2, 2, width_ratios=(8, 3.2), height_ratios=(3.2, 4.6),
                            left=0.06, right=0.98, bottom=0.07, top=0.9, wspace=0.12,
                            hspace=0.25)
    ax = fig.add_subplot(grid[:, 0])
    side = fig.add_subplot(grid[0, 1])
    key = fig.add_subplot(grid[1, 1])
    key.axis("off")
    xlim, ylim = _zoom_limits(va, limits)
    # cells of about 0.85 inch: the plane is about 7.2 inches wide and high
    nx = ny = 8 if n <= 100 else 9
    idx, centres = cell_layout(va, xlim, ylim, nx, ny, max_thumbnails, seed=seed)
    chh = (ylim[1] - ylim[0]) / ny
    px = int(0.85 * 0.78 * dpi)  # a thumbnail fills about 78 % of its cell, in pixels
    ok = np.isfinite(va).all(axis=1)
    bars = iv is not None and ok.sum() <= max_intervals
    if bars:  # on the small map, on the whole scale: the plane stays uncluttered
        sub, at = iv[ok], va[ok]
        side.errorbar(at[:, 0], at[:, 1], xerr=[at[:, 0] - sub[:, 0, 0], sub[:, 0, 1] - at[:, 0]],
                      yerr=[at[:, 1] - sub[:, 1, 0], sub[:, 1, 1] - at[:, 1]],
                      fmt="none", ecolor="tab:blue", alpha=0.35, lw=0.8, capsize=1.5, zorder=1)
    shown = _draw_thumbnails(ax, items, va, idx, centres, flags, labels, px, chh, dpi)
    ax.scatter(va[idx, 0], va[idx, 1], s=10, c=np.where(flags[idx], "red", "black"),
               marker="o", zorder=5, linewidths=0)
    ax.set(xlim=xlim, ylim=ylim, xlabel="valence", ylabel="arousal",
           title="zoomed to the images (the small map shows the whole scale)")
    ax.title.set_fontsize(9)
    ax.set_xticks(np.linspace(*xlim, nx + 1), minor=True)
    ax.set_yticks(np.linspace(*ylim, ny + 1), minor=True)
    ax.grid(which="minor", alpha=0.25)
    if limits is not None:
        mid = (limits[0] + limits[1]) / 2
        ax.axhline(mid, color="grey", lw=0.5, zorder=0)
        ax.axvline(mid, color="grey", lw=0.5, zorder=0)
    _draw_side_map(fig, side, va, ok, flags, xlim, ylim)
    _draw_key(key, n, shown, flags, bars, iv is not None, max_intervals)
    fig.suptitle(textwrap.fill(" ".join(str(title).split()), 110), fontsize=11)
    fig.savefig(dest, dpi=dpi)
    return shown


def _zoom_limits(va, limits):
    """The large plane's extent: ``limits`` on both axes, or (None) the
    finite points with room for the thumbnails at the edges (intervals may
    reach beyond: they are cut at the frame)."""
    if limits is not None:
        return tuple(limits), tuple(limits)
    fin = va[np.isfinite(va).all(axis=1)]
    lo, hi = fin.min(0), fin.max(0)
    pad = np.maximum((hi - lo) * 0.12, 0.35)
    lo, hi = np.maximum(lo - pad, 1.0), np.minimum(hi + pad, 9.0)
    return (lo[0], hi[0]), (lo[1], hi[1])


def _draw_thumbnails(ax, items, va, idx, centres, flags, labels, px, chh, dpi):
    """Each chosen image as a thumbnail in its cell, a line to its exact
    position, its caption; unusual ones framed in red.  Returns how many
    were drawn (unreadable images are skipped)."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    shown = 0
    for i, c in zip(idx, centres):
        try:
            thumb = thumbnail(items[i], px)
        except ImageLoadError:
            continue
        at = (c[0], c[1] + 0.06 * chh) if labels is not None else (c[0], c[1])
        box = AnnotationBbox(OffsetImage(thumb, zoom=72 / dpi), at, frameon=bool(flags[i]),
                             pad=0.15, bboxprops={"edgecolor": "red", "lw": 2}, zorder=2)
        ax.add_artist(box)
        ax.plot([c[0], va[i, 0]], [c[1], va[i, 1]], color="0.35", lw=0.6, zorder=3)
        if labels is not None:
            ax.annotate(_short(labels[i], 16), (c[0], c[1] - 0.5 * chh), xytext=(0, 1.5),
                        textcoords="offset points", ha="center", va="bottom", fontsize=6.5,
                        zorder=4, clip_on=True)
        shown += 1
    return shown


def _draw_side_map(fig, side, va, ok, flags, xlim, ylim):
    """The small map: every image on the whole 1-9 scale (a density beyond
    400 images), and the large plane's extent."""
    full, n = (1, 9), len(va)
    if n > 400:
        hb = side.hexbin(va[ok, 0], va[ok, 1], gridsize=32, cmap="viridis", mincnt=1,
                         extent=(*full, *full), linewidths=0.2, edgecolors="face", zorder=2)
        bar = fig.colorbar(hb, ax=side, shrink=0.9, pad=0.03)
        bar.set_label("images per hexagon", fontsize=8)
        bar.ax.tick_params(labelsize=7)
        what = f"all {n} images on the 1-9 scale (density)"
    else:
        side.scatter(va[ok, 0], va[ok, 1], s=10, c=np.where(flags[ok], "red", "black"),
                     alpha=0.8, linewidths=0, zorder=2)
        what = f"all {n} images on the 1-9 scale"
    from matplotlib.patches import Rectangle

    side.add_patch(Rectangle((xlim[0], ylim[0]), xlim[1] - xlim[0], ylim[1] - ylim[0],
                             fill=False, ls="--", lw=0.8, color="0.3", zorder=3))
    side.set(xlim=full, ylim=full, title=what, xlabel="valence", ylabel="arousal")
    side.xaxis.label.set_fontsize(8)
    side.yaxis.label.set_fontsize(8)
    side.title.set_fontsize(9)
    side.tick_params(labelsize=7)
    side.grid(alpha=0.3)


def _draw_key(key, n, shown, flags, bars, has_intervals, max_intervals):
    """The legend and the notes under it."""
    import textwrap

    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", color="black", ls="none", markersize=4,
                      label="exact position (the thumbnail sits in its cell)")]
    if bars:
        handles.append(Line2D([], [], color="tab:blue", alpha=0.6, marker="|", markersize=8,
                              label="80 % intervals (small map)"))
    handles.append(Line2D([], [], color="0.3", ls="--", lw=0.8,
                          label="the large plane's extent (small map)"))
    if flags.any():
        handles.append(Line2D([], [], marker="s", color="red", ls="none", markerfacecolor="none",
                              markersize=8, label=f"unusual: unlike the training photos "
                                                  f"({int(flags.sum())})"))
    key.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    notes = [f"{shown} of {n} images shown as thumbnails, each in a cell of the grid, near its "
             "exact position (the dot)."]
    if has_intervals and not bars:
        notes.append(f"Intervals are in the CSV (drawn for at most {max_intervals} images).")
    key.text(0.0, 0.45, "\n".join(textwrap.fill(t, 42) for t in notes), fontsize=8,
             va="top", transform=key.transAxes)

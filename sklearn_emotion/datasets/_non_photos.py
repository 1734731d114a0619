"""Generated non-photographs, for checking an out-of-distribution flag."""

from __future__ import annotations

import numpy as np

__all__ = ["NON_PHOTO_KINDS", "make_non_photos"]

#: The kinds :func:`make_non_photos` generates.
NON_PHOTO_KINDS = ("line_drawing", "silhouette", "text", "plot", "flat_colour", "noise",
                   "heavy_blur")

_WORDS = ("quarterly", "report", "valence", "arousal", "meeting", "agenda", "the", "and",
          "results", "table", "total", "revenue", "figure", "method", "summary", "data",
          "invoice", "notes", "chapter", "page", "index", "section", "review", "draft")


def _grey(rgb):
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _line_drawing(photo, rng):
    from skimage.feature import canny

    edges = canny(_grey(photo) / 255.0, sigma=2.0)
    out = np.full(photo.shape, 255, np.uint8)
    out[edges] = 0
    return out


def _silhouette(photo, rng):
    from skimage.filters import threshold_otsu

    g = _grey(photo)
    dark = g < threshold_otsu(g)
    out = np.full(photo.shape, 255, np.uint8)
    out[dark] = 0
    return out


def _text(shape, rng):
    from PIL import Image, ImageDraw, ImageFont

    h, w = shape[:2]
    im = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(im)
    size = int(rng.integers(14, 28))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    y = int(rng.integers(5, 20))
    while y < h - size:
        line = " ".join(rng.choice(_WORDS, int(rng.integers(3, 9))))
        draw.text((int(rng.integers(5, 30)), y), line, fill="black", font=font)
        y += int(size * 1.5)
    return np.asarray(im)


def _plot(shape, rng):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h, w = shape[:2]
    fig = Figure(figsize=(w / 100, h / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.arange(20)
    if rng.random() < 0.5:
        for _ in range(int(rng.integers(1, 4))):
            ax.plot(x, np.cumsum(rng.normal(size=20)), marker="o", ms=3)
    else:
        ax.bar(x[:8], rng.uniform(1, 10, 8))
    ax.set(xlabel="time", ylabel="value", title="figure")
    ax.grid(alpha=0.3)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()


def _flat(shape, rng):
    return np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), shape).copy()


def _noise(shape, rng):
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _blur(photo, rng):
    from skimage.filters import gaussian

    sigma = float(rng.uniform(20, 30))
    out = gaussian(photo, sigma=sigma, channel_axis=-1, preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def make_non_photos(photos, n_per_kind=20, kinds=NON_PHOTO_KINDS, random_state=0):
    """Images that are not photographs, of several kinds, made from photos.

    Line drawings (Canny edges of a photo), black silhouettes (a photo's
    darker half, Otsu's threshold), rendered text, plot screenshots,
    flat colours, uniform noise and photos blurred beyond recognition
    (Gaussian, sigma 20-30).

    Parameters
    ----------
    photos : sequence of images
        Paths or arrays (see :func:`sklearn_emotion.load_image`); the
        photo-based kinds cycle through them, the others take their size.
    n_per_kind : int, default=20
    kinds : sequence of str, default=NON_PHOTO_KINDS
    random_state : int, default=0

    Returns
    -------
    images : list of ndarray
        RGB uint8 arrays, ``n_per_kind`` of each kind in the order of ``kinds``.
    kinds : ndarray of str
        The kind of each image.
    """
    from .._image import load_image

    unknown = set(kinds) - set(NON_PHOTO_KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; choose from {NON_PHOTO_KINDS}")
    rng = np.random.default_rng(random_state)
    photos = list(photos)
    if not photos:
        raise ValueError("make_non_photos needs at least one photo")
    images, labels, k = [], [], 0
    makers = {"line_drawing": _line_drawing, "silhouette": _silhouette, "heavy_blur": _blur}
    shaped = {"text": _text, "plot": _plot, "flat_colour": _flat, "noise": _noise}
    for kind in kinds:
        for _ in range(int(n_per_kind)):
            photo = load_image(photos[k % len(photos)])
            k += 1
            img = makers[kind](photo, rng) if kind in makers else shaped[kind](photo.shape, rng)
            images.append(np.ascontiguousarray(img, dtype=np.uint8))
            labels.append(kind)
    return images, np.asarray(labels)

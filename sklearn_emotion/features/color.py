"""Colour features (Kim et al. 2018, §IV-A)."""

from __future__ import annotations

import numpy as np
from sklearn.utils._param_validation import StrOptions

from ..resources import fetch
from ._base import ImageTransformer

__all__ = ["ColorFeatures", "color_features", "color_names", "load_color_name_table",
           "COLOR_NAMES", "color_feature_names", "hue_saturation", "names_from_counts",
           "weighted_sums"]

#: The 11 basic colour terms of van de Weijer et al. (2009), in table order.
COLOR_NAMES = (
    "black", "blue", "brown", "grey", "green", "orange",
    "pink", "purple", "red", "white", "yellow",
)


def load_color_name_table(data_home=None) -> np.ndarray:
    """Load the van de Weijer et al. colour-naming table.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`sklearn_emotion.get_data_home`.

    Returns
    -------
    table : ndarray of shape (32768, 11), float32
        Row ``r//8 + 32*(g//8) + 1024*(b//8)`` holds the probabilities of the
        11 names (:data:`COLOR_NAMES`) for 8-bit colour (r, g, b).
    """
    table = np.load(fetch("color/w2c.npy", data_home), allow_pickle=False)
    if table.shape != (32768, 11):
        raise ValueError(f"colour-naming table has shape {table.shape}, expected (32768, 11)")
    return table


def color_names(image, table, mode="soft") -> np.ndarray:
    """Fraction of an image's pixels given to each of the 11 basic colour names.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8
        RGB image.
    table : ndarray of shape (32768, 11)
        From :func:`load_color_name_table`.
    mode : {"soft", "hard"}, default="soft"
        ``"soft"`` averages each pixel's name probabilities; ``"hard"`` gives
        each pixel to its most probable name and counts.

    Returns
    -------
    fractions : ndarray of shape (11,)
        Sums to 1.

    References
    ----------
    .. [1] J. van de Weijer, C. Schmid, J. Verbeek, D. Larlus, "Learning Color
       Names for Real-World Applications", IEEE TIP 18(7), 2009.
    """
    img = np.asarray(image).reshape(-1, 3)
    return names_from_counts(img, np.ones(len(img), dtype=np.int64), table, mode)


def weighted_sums(weights, rows):
    """``rows @ weights``, summed in an order that does not depend on the
    machine's BLAS threads.

    A BLAS product's summation order follows its thread count (joblib's
    workers run BLAS on one thread, the main process on every core), which
    moved values by ~1e-14 between ``n_jobs=1`` and ``n_jobs=2``; NumPy's
    own ``einsum`` loop (``optimize=False`` never calls BLAS) does not.

    Parameters
    ----------
    weights : array-like of shape (n,)
    rows : array-like of shape (k, n)

    Returns
    -------
    ndarray of shape (k,)
    """
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    return np.einsum("ji,i->j", rows, np.asarray(weights, dtype=np.float64))


def names_from_counts(rgb8, counts, table, mode):
    """Colour-name fractions of colours seen a number of times each.

    Parameters
    ----------
    rgb8 : ndarray of shape (n, 3), uint8
        Distinct colours.
    counts : array-like of shape (n,)
        How many pixels have each colour.
    table : ndarray of shape (32768, 11)
        The colour-naming table (:func:`load_color_name_table`).
    mode : {"soft", "hard"}
        Probability mass of every name, or all of it to the likeliest.

    Returns
    -------
    ndarray of shape (11,)
        The fractions of :data:`COLOR_NAMES`, summing to 1.
    """
    idx = (
        (rgb8[:, 0] >> 3).astype(np.int64)
        + 32 * (rgb8[:, 1] >> 3).astype(np.int64)
        + 1024 * (rgb8[:, 2] >> 3).astype(np.int64)
    )
    counts = np.bincount(idx, weights=counts, minlength=32768).astype(np.float64)
    used = np.nonzero(counts)[0]
    if mode == "soft":
        mass = weighted_sums(counts[used], table[used].T)
    elif mode == "hard":
        mass = np.bincount(np.argmax(table[used], axis=1), weights=counts[used], minlength=11)
    else:
        raise ValueError(f"mode must be 'soft' or 'hard', got {mode!r}")
    return mass / mass.sum()


def _hsv_uint8(rgb8):
    """Hue, saturation, value of uint8 colours ``rgb8`` (n, 3), each in [0, 1].

    The same floating-point operations, in the same order, as
    :func:`skimage.color.rgb2hsv` (bit-identical on all 2^24 colours; the
    tests check a random million and the ties), without its per-call
    overhead: half the time on a photo's distinct colours.
    """
    # skimage's img_as_float, channel by channel; the maximum and minimum
    # elementwise (a reduction over an axis of length 3 is several times slower)
    r, g, b = (np.multiply(rgb8[:, k], 1.0 / 255, dtype=np.float64) for k in range(3))
    v = np.maximum(np.maximum(r, g), b)
    delta = v - np.minimum(np.minimum(r, g), b)
    return hue_saturation(r, g, b, v, delta) + (v,)


def hue_saturation(r, g, b, v, delta):
    """skimage's hue and saturation from channels on [0, 1].

    Parameters
    ----------
    r, g, b : ndarray
        The channels, on [0, 1].
    v, delta : ndarray
        Their maximum and range (maximum minus minimum).

    Returns
    -------
    h, s : ndarray
        Hue and saturation on [0, 1]; 0 for greys, as in
        :func:`skimage.color.rgb2hsv`, whose formulas (and tie rule) these are.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        s = delta / v
        # where two channels tie for the maximum, the later formula wins, as in skimage
        h = np.where(b == v, 4.0 + (r - g) / delta,
                     np.where(g == v, 2.0 + (b - r) / delta, (g - b) / delta))
    h = (h / 6.0) % 1.0
    grey = delta == 0.0
    s[grey] = 0.0
    h[grey] = 0.0
    return h, s


def _distinct_colours(flat):
    """Distinct colours of uint8 pixels ``flat`` (n, 3) as sorted 24-bit codes
    ``r << 16 | g << 8 | b``, and how many pixels have each."""
    n = len(flat)
    # the code is the pixel's bytes, reversed and padded to 4, read as one
    # little-endian uint32 (a third of the time of shifting three columns)
    buf = np.zeros((n, 4), np.uint8)
    buf[:, 0], buf[:, 1], buf[:, 2] = flat[:, 2], flat[:, 1], flat[:, 0]
    code = np.sort(buf.view("<u4").ravel())
    first = np.empty(n, dtype=bool)
    first[:1] = True
    np.not_equal(code[1:], code[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return code[starts], np.diff(starts, append=n)


def color_features(image, table, hsv_bins=(8, 3, 3), names_mode="soft") -> np.ndarray:
    """The paper's colour descriptor of one image (22 values).

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8
        RGB image.
    table : ndarray of shape (32768, 11)
        Colour-naming table, from :func:`load_color_name_table`.
    hsv_bins : (int, int, int), default=(8, 3, 3)
        Bins of the joint HSV histogram along hue, saturation and value
        (hue bins start at red, 0°).
    names_mode : {"soft", "hard"}, default="soft"
        See :func:`color_names`.

    Returns
    -------
    features : ndarray of shape (22,)
        In order (names from :func:`color_feature_names`):

        - ``mean_r, mean_g, mean_b``: mean R, G, B scaled to [0, 1];
        - ``mean_h``: circular mean of hue in [0, 1) (the angle of the mean
          unit hue vector; 0 = red; 0 for a grey image, whose hue is undefined),
          ``mean_s, mean_v``: mean saturation and value in [0, 1];
        - ``hsv_peak_bin``: index of the joint HSV histogram's largest bin,
          ``(h * n_s + s) * n_v + v``; ``hsv_peak_fraction``: its share of
          the pixels;
        - ``name_<colour>``: the 11 colour-name fractions (sum to 1);
        - ``pleasure, arousal, dominance``: Valdez & Mehrabian (1994)
          ``P = .69 B + .22 S``, ``A = -.31 B + .60 S``,
          ``D = -.76 B + .32 S`` with brightness B = mean value and
          saturation S = mean saturation, both on [0, 1] (the paper does not
          give its scaling; on [0, 1] the three stay within [-1, 1]).

    References
    ----------
    .. [1] H.-R. Kim, Y.-S. Kim, S. J. Kim, I.-K. Lee, "Building Emotional
       Machines: Recognizing Image Emotions through Deep Neural Networks",
       IEEE TMM 20(11), 2018.
    .. [2] P. Valdez, A. Mehrabian, "Effects of Color on Emotions", J. Exp.
       Psychol. Gen. 123(4), 1994.

    Examples
    --------
    >>> import numpy as np
    >>> red = np.zeros((4, 4, 3), np.uint8); red[..., 0] = 255
    >>> table = np.eye(11, dtype=np.float32)[np.full(32768, 8)]  # all "red"
    >>> color_features(red, table)[:3]
    array([1., 0., 0.])
    """
    img = np.asarray(image)
    n = img.shape[0] * img.shape[1]
    # every per-pixel quantity depends on the colour alone: compute each on
    # the distinct colours (a photo has about 7x fewer than pixels) and weight
    # by their counts; the per-colour values are skimage's own, so histogram
    # bins are exactly those of a per-pixel computation
    colours, counts = _distinct_colours(img.reshape(-1, 3))
    rgb8 = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
    h, s, v = _hsv_uint8(rgb8.astype(np.uint8))
    ang = 2 * np.pi * h
    means = weighted_sums(
        counts, np.stack([*(rgb8.T / 255.0), np.cos(ang), np.sin(ang), v, s])
    ) / n
    mean_rgb, (cx, cy, B, S) = means[:3], means[3:]
    mean_h = 0.0 if np.hypot(cx, cy) < 1e-12 else (np.arctan2(cy, cx) / (2 * np.pi)) % 1.0
    nh, ns, nv = (int(b) for b in hsv_bins)
    hb = np.minimum((h * nh).astype(np.int64), nh - 1)
    sb = np.minimum((s * ns).astype(np.int64), ns - 1)
    vb = np.minimum((v * nv).astype(np.int64), nv - 1)
    hist = np.bincount((hb * ns + sb) * nv + vb, weights=counts, minlength=nh * ns * nv)
    peak = int(np.argmax(hist))
    names = names_from_counts(rgb8, counts, table, names_mode)
    pad = [0.69 * B + 0.22 * S, -0.31 * B + 0.60 * S, -0.76 * B + 0.32 * S]
    return np.concatenate(
        [mean_rgb, [mean_h, S, B, peak, hist[peak] / n], names, pad]
    )


def color_feature_names() -> list[str]:
    """Names of the 22 values of :func:`color_features`, in order."""
    return (
        ["mean_r", "mean_g", "mean_b", "mean_h", "mean_s", "mean_v",
         "hsv_peak_bin", "hsv_peak_fraction"]
        + [f"name_{c}" for c in COLOR_NAMES]
        + ["pleasure", "arousal", "dominance"]
    )


class ColorFeatures(ImageTransformer):
    """Colour features of Kim et al. (2018): means, HSV peak, colour names, PAD.

    A thin shell around :func:`color_features`; see it for the 22 values.

    Parameters
    ----------
    hsv_bins : (int, int, int), default=(8, 3, 3)
        Joint HSV histogram bins (hue, saturation, value).
    names_mode : {"soft", "hard"}, default="soft"
        Colour-name fractions by probability mass or by argmax.
    data_home : str or path-like, default=None
        Where the colour-naming table ``color/w2c.npy`` is found.
    cache_dir : None, str or path-like, default=None
        Folder of the per-image feature cache.
    memory : deprecated
        The old name of ``cache_dir`` (deprecated in 0.2, removed in 0.4).
    batch_size : int, default=32
        Images per joblib task.
    n_jobs : int, default=None
        Parallel workers (processes) over images.
    verbose : bool, default=False
        Show a progress bar.
    on_error : {"raise", "nan"}, default="raise"
        What to do with unreadable images (see :class:`ImageBatchError`).

    Attributes
    ----------
    feature_names_out_ : ndarray of str
    n_features_out_ : int

    See Also
    --------
    GISTFeatures
        Texture by oriented filters (the paper's GIST).
    LBPFeatures
        Texture by local binary patterns.
    color_features
        The function this transformer applies to each image.

    Examples
    --------
    >>> from sklearn_emotion import ColorFeatures
    >>> from skimage import data
    >>> ColorFeatures().fit_transform([data.astronaut()]).shape  # doctest: +SKIP
    (1, 22)
    """

    def __init__(self, hsv_bins=(8, 3, 3), names_mode="soft", data_home=None, *,
                 cache_dir=None, batch_size=32, n_jobs=None, verbose=False, on_error="raise",
                 memory="deprecated"):
        self.hsv_bins = hsv_bins
        self.names_mode = names_mode
        self.data_home = data_home
        self.cache_dir = cache_dir
        self.memory = memory
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    _parameter_constraints = {
        **ImageTransformer._parameter_constraints,
        "hsv_bins": ["array-like"],
        "names_mode": [StrOptions({"soft", "hard"})],
    }

    def _validate_params_extra(self):
        bins = tuple(self.hsv_bins)
        if len(bins) != 3 or not all(isinstance(b, (int, np.integer)) and b >= 1 for b in bins):
            raise ValueError(f"hsv_bins must be three positive ints, got {self.hsv_bins!r}")

    def _feature_names(self):
        return color_feature_names()

    def _compute_batch(self, images):
        table = self._lazy_get("table", lambda: load_color_name_table(self.data_home))
        return np.stack(
            [color_features(im, table, tuple(self.hsv_bins), self.names_mode) for im in images]
        )

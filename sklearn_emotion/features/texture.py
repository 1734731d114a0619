"""Texture features (Kim et al. 2018, §IV-B): GIST and uniform LBP."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval
import scipy.fft
from PIL import Image
from skimage.feature import local_binary_pattern

from ._base import ImageTransformer

__all__ = ["square_grey", 
    "GISTFeatures",
    "LBPFeatures",
    "gabor_filter_bank",
    "gist",
    "gist_prefilter",
    "lbp_histogram",
]


def square_grey(image, size):
    """The image GIST describes: grey (the channel mean, as LMgist), resized
    so its short side is ``size``, then centre-cropped to ``size`` × ``size``.

    Parameters
    ----------
    image : ndarray of shape (h, w) or (h, w, 3)
        Values on [0, 255].
    size : int

    Returns
    -------
    ndarray of shape (size, size), float64
        Values on [0, 255].
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3:
        img = img.mean(axis=2)
    h, w = img.shape
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    pil = Image.fromarray(img, mode="F").resize((nw, nh), Image.BILINEAR)
    img = np.asarray(pil, dtype=np.float64)
    top, left = (nh - size) // 2, (nw - size) // 2
    return img[top : top + size, left : left + size]


def gist_prefilter(image, fc=4):
    """Torralba's GIST prefilter: log, whitening and local contrast normalisation.

    Parameters
    ----------
    image : ndarray of shape (N, N)
        Grey image on [0, 255].
    fc : float, default=4
        Cut-off of the Gaussian low-pass that defines "local" (cycles/image).

    Returns
    -------
    out : ndarray of shape (N, N)
        ``log(1 + image)`` minus its low-pass, divided by
        ``0.2 + local standard deviation``.  A constant image gives zeros, and
        multiplying the image by a constant changes the result little (the
        log turns the gain into an offset that the high-pass removes).
    """
    w = 5
    s1 = fc / np.sqrt(np.log(2))
    img = np.log1p(np.asarray(image, dtype=np.float64))
    img = np.pad(img, w, mode="symmetric")
    sn, sm = img.shape
    n = max(sn, sm)
    n = n + (n % 2)
    img = np.pad(img, ((0, n - sn), (0, n - sm)), mode="symmetric")
    fx, fy = np.meshgrid(np.arange(-n // 2, n // 2), np.arange(-n // 2, n // 2))
    gf = np.fft.fftshift(np.exp(-(fx**2 + fy**2) / (s1**2)))
    out = img - np.real(scipy.fft.ifft2(scipy.fft.fft2(img) * gf))
    localstd = np.sqrt(np.abs(scipy.fft.ifft2(scipy.fft.fft2(out**2) * gf)))
    out = out / (0.2 + localstd)
    return out[w : sn - w, w : sm - w]


def gabor_filter_bank(orientations_per_scale=(8, 8, 8, 8), size=256 + 64):
    """Torralba's bank of Gabor-like filters in the frequency domain.

    Parameters
    ----------
    orientations_per_scale : sequence of int, default=(8, 8, 8, 8)
        Number of orientations at each scale, finest scale first.
    size : int, default=320
        Side of the (padded) image the filters apply to.

    Returns
    -------
    bank : ndarray of shape (n_filters, size, size), float32
        Transfer functions laid out as ``numpy.fft.fft2`` output.  Filter
        ``j`` of a scale with ``k`` orientations is tuned to frequencies at
        angle ``-pi * j / k``: orientation 0 picks horizontal frequencies,
        i.e. vertical structure such as vertical stripes.
    """
    params = []
    for i, k in enumerate(orientations_per_scale):
        for j in range(k):
            params.append((0.35, 0.3 / (1.85**i), 16.0 * k**2 / 32**2, np.pi / k * j))
    fx, fy = np.meshgrid(np.arange(-size // 2, size // 2), np.arange(-size // 2, size // 2))
    fr = np.fft.fftshift(np.sqrt(fx**2 + fy**2))
    t = np.fft.fftshift(np.angle(fx + 1j * fy))
    bank = np.empty((len(params), size, size), dtype=np.float32)
    for n, (a, f0, b, theta) in enumerate(params):
        tr = t + theta
        tr = tr + 2 * np.pi * (tr < -np.pi) - 2 * np.pi * (tr > np.pi)
        bank[n] = np.exp(-10 * a * (fr / size / f0 - 1) ** 2 - 2 * b * np.pi * tr**2)
    return bank


def gist(image, image_size=256, orientations_per_scale=(8, 8, 8, 8), n_blocks=4,
         prefilter_fc=4, boundary_extension=32, filter_bank=None):
    """GIST descriptor of Oliva & Torralba, as in Torralba's ``LMgist.m``.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, 3)
        Image on [0, 255] (uint8 or float); colour is averaged to grey.
    image_size : int, default=256
        The grey image is resized (short side) and centre-cropped to this
        square.
    orientations_per_scale : sequence of int, default=(8, 8, 8, 8)
        Orientations per scale; 4 scales × 8 orientations by default.
    n_blocks : int, default=4
        Filter magnitudes are averaged over an ``n_blocks × n_blocks`` grid.
    prefilter_fc : float, default=4
        Cut-off of :func:`gist_prefilter`.
    boundary_extension : int, default=32
        Symmetric padding before filtering, against wrap-around.
    filter_bank : ndarray, optional
        Precomputed :func:`gabor_filter_bank` of side
        ``image_size + 2 * boundary_extension``.

    Returns
    -------
    descriptor : ndarray of shape (sum(orientations_per_scale) * n_blocks**2,)
        512 values by default, filter-major (scale, then orientation), each
        filter's grid in row-major order.

    References
    ----------
    .. [1] A. Oliva, A. Torralba, "Modeling the shape of the scene: a holistic
       representation of the spatial envelope", IJCV 42(3), 2001.

    Examples
    --------
    >>> import numpy as np
    >>> gist(np.random.default_rng(0).integers(0, 256, (64, 80))).shape
    (512,)
    """
    n = image_size + 2 * boundary_extension
    if filter_bank is None:
        filter_bank = gabor_filter_bank(orientations_per_scale, n)
    if filter_bank.shape[1:] != (n, n):
        raise ValueError(f"filter_bank has side {filter_bank.shape[1]}, expected {n}")
    img = gist_prefilter(square_grey(image, image_size), prefilter_fc)
    img = np.pad(img, boundary_extension, mode="symmetric")
    spec = scipy.fft.fft2(img.astype(np.float32))
    resp = np.abs(scipy.fft.ifft2(spec[None] * filter_bank, axes=(-2, -1)))
    be = boundary_extension
    resp = resp[:, be : n - be, be : n - be]
    edges = np.fix(np.linspace(0, image_size, n_blocks + 1)).astype(int)
    out = np.empty((filter_bank.shape[0], n_blocks, n_blocks))
    for r in range(n_blocks):
        for c in range(n_blocks):
            out[:, r, c] = resp[:, edges[r] : edges[r + 1], edges[c] : edges[c + 1]].mean(axis=(1, 2))
    return out.reshape(-1)


def lbp_histogram(image, P=8, R=1):
    """Normalised histogram of non-rotation-invariant uniform LBP codes.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, 3), uint8
        Colour is converted to grey with ITU-R BT.601 weights.
    P : int, default=8
        Neighbours on the circle.
    R : float, default=1
        Circle radius.

    Returns
    -------
    hist : ndarray of shape (P * (P - 1) + 3,)
        59 bins for P = 8: one per uniform pattern, the last for all
        non-uniform patterns (``skimage.feature.local_binary_pattern`` with
        ``method="nri_uniform"``), over the pixels at least ``ceil(R)``
        from the border.  Sums to 1.

    References
    ----------
    .. [1] T. Ojala, M. Pietikäinen, T. Mäenpää, "Multiresolution gray-scale
       and rotation invariant texture classification with local binary
       patterns", IEEE TPAMI 24(7), 2002.
    """
    img = np.asarray(image)
    if img.ndim == 3:
        img = np.round(img[..., :3].astype(np.float64) @ [0.299, 0.587, 0.114])
    img = img.astype(np.uint8)
    codes = local_binary_pattern(img, P, R, method="nri_uniform").astype(np.int64)
    # skimage reads neighbours outside the image as 0: drop that border so it
    # does not add spurious patterns (only pixels with a full circle count)
    b = int(np.ceil(R))
    if codes.shape[0] > 2 * b and codes.shape[1] > 2 * b:
        codes = codes[b:-b, b:-b]
    n_bins = P * (P - 1) + 3
    hist = np.bincount(codes.ravel(), minlength=n_bins).astype(np.float64)
    return hist / hist.sum()


class GISTFeatures(ImageTransformer):
    """GIST texture descriptor (512 values by default); a shell around :func:`gist`.

    Parameters
    ----------
    image_size : int, default=256
        Side of the square grey image the descriptor is computed on.
    orientations_per_scale : tuple of int, default=(8, 8, 8, 8)
        Gabor orientations at each of the scales.
    n_blocks : int, default=4
        Spatial grid side.
    prefilter_fc : float, default=4
        Prefilter cut-off.
    cache_dir, batch_size, n_jobs, verbose, on_error, memory
        As for :class:`ColorFeatures`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``gist_s{scale}_o{orientation}_r{row}c{col}``.
    n_features_out_ : int

    See Also
    --------
    LBPFeatures
        The paper's other texture descriptor.
    ColorFeatures
        The paper's colour features.
    """

    def __init__(self, image_size=256, orientations_per_scale=(8, 8, 8, 8), n_blocks=4,
                 prefilter_fc=4, *, cache_dir=None, batch_size=16, n_jobs=None, verbose=False,
                 on_error="raise", memory="deprecated"):
        self.image_size = image_size
        self.orientations_per_scale = orientations_per_scale
        self.n_blocks = n_blocks
        self.prefilter_fc = prefilter_fc
        self.cache_dir = cache_dir
        self.memory = memory
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    _parameter_constraints = {
        **ImageTransformer._parameter_constraints,
        "image_size": [Interval(Integral, 1, None, closed="left")],
        "orientations_per_scale": ["array-like"],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "prefilter_fc": [Interval(Real, 0, None, closed="neither")],
    }

    def _validate_params_extra(self):
        if self.image_size < 4 * self.n_blocks:
            raise ValueError(
                f"image_size={self.image_size} is too small for n_blocks={self.n_blocks}"
            )
        ops = tuple(self.orientations_per_scale)
        if not ops or not all(isinstance(k, (int, np.integer)) and k >= 1 for k in ops):
            raise ValueError(
                f"orientations_per_scale must be positive ints, got {self.orientations_per_scale!r}"
            )

    def _feature_names(self):
        names = []
        for s, k in enumerate(self.orientations_per_scale):
            for o in range(k):
                for r in range(self.n_blocks):
                    for c in range(self.n_blocks):
                        names.append(f"gist_s{s}_o{o}_r{r}c{c}")
        return names

    def _bank(self):
        return self._lazy_get(
            "bank",
            lambda: gabor_filter_bank(tuple(self.orientations_per_scale), self.image_size + 64),
        )

    def _compute_batch(self, images):
        bank = self._bank()
        return np.stack([
            gist(im, self.image_size, tuple(self.orientations_per_scale), self.n_blocks,
                 self.prefilter_fc, 32, bank)
            for im in images
        ])


class LBPFeatures(ImageTransformer):
    """Uniform LBP histogram (59 values for P=8, R=1); a shell around :func:`lbp_histogram`.

    Parameters
    ----------
    P : int, default=8
        Circle neighbours.
    R : float, default=1
        Circle radius.
    cache_dir, batch_size, n_jobs, verbose, on_error, memory
        As for :class:`ColorFeatures`.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``lbp_u{k}`` for the uniform patterns, ``lbp_nonuniform`` last.
    n_features_out_ : int

    See Also
    --------
    GISTFeatures
        The paper's other texture descriptor.
    ColorFeatures
        The paper's colour features.
    """

    def __init__(self, P=8, R=1, *, cache_dir=None, batch_size=32, n_jobs=None, verbose=False,
                 on_error="raise", memory="deprecated"):
        self.P = P
        self.R = R
        self.cache_dir = cache_dir
        self.memory = memory
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    _parameter_constraints = {
        **ImageTransformer._parameter_constraints,
        "P": [Interval(Integral, 2, None, closed="left")],
        "R": [Interval(Real, 0, None, closed="neither")],
    }

    def _feature_names(self):
        n = self.P * (self.P - 1) + 2
        return [f"lbp_u{k}" for k in range(n)] + ["lbp_nonuniform"]

    def _compute_batch(self, images):
        return np.stack([lbp_histogram(im, self.P, self.R) for im in images])

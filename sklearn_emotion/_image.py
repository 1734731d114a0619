"""The image input layer.

Every image transformer accepts ``X`` as a sequence (list, tuple, 1-D numpy
array, pandas Series, or a one-column DataFrame) of images, each one a file
path (``str`` or path-like), a numpy array (H×W, H×W×1, H×W×3 or H×W×4) or a
PIL image; a 4-D ``(n, h, w, c)`` array is also a batch.  :func:`load_image`
turns any one of them into an RGB ``uint8`` array of shape (H, W, 3), and
every error it raises is an :class:`ImageLoadError` naming the item and the
problem.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from . import _config

__all__ = [
    "ImageBatchError",
    "ImageLoadError",
    "as_image_list",
    "describe_item",
    "get_image_limits",
    "load_image",
    "set_image_limits",
]

#: File extensions taken as images where a folder or a name without an
#: extension is resolved.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


#: The working resolution's default (2048 × 2048 pixels).
DEFAULT_WORKING_PIXELS = _config.DEFAULT_WORKING_PIXELS


def get_image_limits() -> dict:
    """The current image limits: ``{"max_pixels": ..., "working_pixels": ...}``
    (the image settings of :func:`sklearn_emotion.get_config`)."""
    config = _config.get_config()
    return {"max_pixels": config["max_pixels"], "working_pixels": config["working_pixels"]}


def set_image_limits(*, max_pixels=None, working_pixels=None) -> dict:
    """Set the largest image accepted and the resolution images are decoded at.

    :func:`sklearn_emotion.set_config` with just these two settings (see it
    for their meaning and defaults), returning the previous values; prefer
    :func:`sklearn_emotion.config_context` for a scoped change.

    Parameters
    ----------
    max_pixels : int, optional
        Images with more pixels (width × height) are refused with an
        :class:`ImageLoadError` naming the file and both numbers.
    working_pixels : int, optional
        Images with more pixels are downscaled, aspect ratio kept, to at most
        this many as they are decoded.  Colour and LBP features are computed
        at this working resolution; GIST resizes to its ``image_size``, the
        CNN families to their network's input (224 × 224 for MobileNetV2,
        513 for DeepLabV3), and the face detector sees the working image.

    Returns
    -------
    previous : dict
        The limits before the call, to restore them:
        ``set_image_limits(**previous)``.
    """
    previous = get_image_limits()
    _config.set_config(max_pixels=max_pixels, working_pixels=working_pixels)
    return previous


_LIMIT_MESSAGE = ("image of {size} exceeds the limit of {limit:,} pixels (a guard against "
                  "decompression bombs; raise it with "
                  "sklearn_emotion.config_context(max_pixels=...) or SKLEARN_EMOTION_MAX_PIXELS)")


def _too_large(name, w, h):
    limit = _config.get_config()["max_pixels"]
    if w * h > limit:
        raise ImageLoadError(name, _LIMIT_MESSAGE.format(size=f"{w}x{h} = {w * h:,} pixels",
                                                         limit=limit))


def _working_size(w, h):
    """(w, h) scaled down to at most ``working_pixels`` pixels, or None if it fits."""
    limit = _config.get_config()["working_pixels"]
    if w * h <= limit:
        return None
    scale = (limit / (w * h)) ** 0.5
    return max(1, int(w * scale)), max(1, int(h * scale))


class ImageLoadError(ValueError):
    """An input image could not be turned into an RGB array.

    Attributes
    ----------
    item : str
        The offending item: its path, or ``X[i]`` for an in-memory image.
    reason : str
        What is wrong with it.
    """

    def __init__(self, item: str, reason: str):
        self.item = item
        self.reason = reason
        super().__init__(f"{item}: {reason}")

    def __reduce__(self):  # keep it picklable across joblib workers
        return (type(self), (self.item, self.reason))


class ImageBatchError(ValueError):
    """Some images of a batch could not be loaded.

    Raised by ``transform`` with ``on_error="raise"`` after every *good* image
    was processed (and cached, with ``memory``), so one bad file never loses
    the others' results.

    Attributes
    ----------
    errors : dict of int -> ImageLoadError
        The failed items, by position in ``X``.
    features : ndarray
        The full feature matrix with NaN rows for the failed items.
    partial : ndarray, DataFrame or None
        What the raising call would have returned, with NaN rows for the
        failed items: the features for a transformer's ``transform``, the
        predictions for :class:`~sklearn_emotion.AffectModel`'s ``predict``
        (the intervals for ``predict_interval``, the frame for
        ``predict_frame``).  Nothing computed is lost::

            try:
                pred = model.predict(files)
            except ImageBatchError as err:
                pred = err.partial          # good rows, NaN for err.errors
    """

    def __init__(self, errors: dict, features: np.ndarray | None = None, partial=None):
        self.errors = errors
        self.features = features
        self.partial = features if partial is None else partial
        lines = "\n".join(f"  - {e}" for _, e in sorted(errors.items())[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} image(s) could not be loaded:\n{lines}{more}")

    def with_partial(self, partial):
        """A copy of this error whose :attr:`partial` is ``partial``."""
        err = type(self)(self.errors, self.features, partial)
        err.__traceback__ = self.__traceback__
        return err

    def __reduce__(self):
        return (type(self), (self.errors, self.features, self.partial))


def describe_item(item, index: int | None = None) -> str:
    """Return the name used for ``item`` in messages: its path or ``X[i]``."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    return f"X[{index}]" if index is not None else "image"


def path_index(items):
    """The index of a frame with one row per image: the paths, when every
    image was given as a path (``str`` or path-like), named ``"path"``;
    otherwise None (a 0..n-1 index is kept).

    Parameters
    ----------
    items : list
        As returned by :func:`as_image_list`.

    Returns
    -------
    index : pandas.Index or None
    """
    import pandas as pd

    if items and all(isinstance(i, (str, os.PathLike)) for i in items):
        return pd.Index([os.fspath(i) for i in items], name="path", dtype=object)
    return None


def as_image_list(X) -> list:
    """Return the images of ``X`` as a list, validating the container.

    Parameters
    ----------
    X : sequence of images
        List, tuple, 1-D object array, pandas Series or one-column DataFrame
        of paths, arrays or PIL images; or a 4-D ``(n, h, w, c)`` array.

    Returns
    -------
    images : list
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(
            "X must be a sequence of images (e.g. a list of paths), got a single "
            f"{type(X).__name__}; wrap it in a list"
        )
    if isinstance(X, Image.Image):
        raise TypeError("X must be a sequence of images, got a single PIL image; wrap it in a list")
    if hasattr(X, "iloc") and hasattr(X, "columns"):  # DataFrame
        if X.shape[1] != 1:
            raise ValueError(
                f"X is a DataFrame with {X.shape[1]} columns; image transformers take "
                "one column of images"
            )
        X = X.iloc[:, 0]
    if hasattr(X, "iloc"):  # Series
        return list(X.to_numpy())
    if isinstance(X, np.ndarray):
        if X.dtype != object and X.ndim == 4:
            return list(X)
        if X.ndim == 2 and X.dtype == object and X.shape[1] == 1:
            return list(X[:, 0])
        if X.ndim != 1:
            raise ValueError(
                f"X is a {X.ndim}-D array of shape {X.shape}; pass a list of images, "
                "a 1-D array of paths, or a 4-D (n, height, width, channels) batch"
            )
        return list(X)
    if isinstance(X, (list, tuple)):
        return list(X)
    if isinstance(X, Sequence) or hasattr(X, "__iter__"):
        return list(X)
    raise TypeError(f"X must be a sequence of images, got {type(X).__name__}")


def _pil_to_rgb(img: Image.Image, name: str) -> np.ndarray:
    rgb = _pil_rgb(img, name)
    return rgb if isinstance(rgb, np.ndarray) else np.asarray(rgb)


def _pil_rgb(img: Image.Image, name: str) -> Image.Image | np.ndarray:
    """``img`` upright, transparency on white, as an RGB PIL image (an
    ``(H, W, 3)`` uint8 array for 16-bit and float modes): a caller that
    resizes next does it before the one conversion to an array."""
    if getattr(img, "is_animated", False):
        img.seek(0)
    img = _exif_upright(_to_working(img))
    if img.width == 0 or img.height == 0:
        raise ImageLoadError(name, f"zero-size image ({img.width}x{img.height})")
    mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    ):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _array_to_rgb(np.asarray(img), name, pil_mode=mode)
    if mode != "RGB":
        img = img.convert("RGB")
    return img


def _exif_upright(img: Image.Image) -> Image.Image:
    """``ImageOps.exif_transpose``, without its copy of the whole image when
    the EXIF orientation asks for no turn (most photos); a broken EXIF block
    leaves the pixels as they are."""
    try:
        if img.getexif().get(ExifTags.Base.Orientation, 1) in (2, 3, 4, 5, 6, 7, 8):
            return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not lose the pixels
        pass
    return img


def _to_working(img: Image.Image) -> Image.Image:
    """Downscale a PIL image larger than the working resolution (modes Pillow
    can resize; others are resized after conversion to RGB)."""
    size = _working_size(*img.size)
    if size is None:
        return img
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA" if (img.mode == "PA" or "transparency" in img.info) else "RGB")
    elif img.mode == "CMYK":
        img = img.convert("RGB")
    if img.mode in ("1", "L", "LA", "RGB", "RGBA", "RGBa", "La", "I", "F"):
        if img.mode == "1":
            img = img.convert("L")
        info = img.info
        img = img.resize(size, Image.BILINEAR, reducing_gap=2.0)
        img.info.update({k: v for k, v in info.items() if k == "exif"})
    return img


def _array_to_rgb(a: np.ndarray, name: str, pil_mode: str | None = None) -> np.ndarray:
    if a.dtype == object or not (
        np.issubdtype(a.dtype, np.number) or a.dtype == bool
    ):
        raise ImageLoadError(name, f"array of dtype {a.dtype} is not an image")
    if np.iscomplexobj(a):
        raise ImageLoadError(name, "complex-valued array is not an image")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3):
        raise ImageLoadError(
            name, f"array has {a.ndim} dimensions (shape {a.shape}); expected HxW, HxWx3 or HxWx4"
        )
    if a.ndim == 3 and a.shape[2] not in (3, 4):
        raise ImageLoadError(
            name, f"array has {a.shape[2]} channels (shape {a.shape}); expected 1, 3 or 4"
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageLoadError(name, f"zero-size image (shape {a.shape})")
    _too_large(name, a.shape[1], a.shape[0])
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype == np.uint8:
        pass
    elif np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise ImageLoadError(name, "array contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if pil_mode == "F":  # a float file: 0-1, 0-255 or 0-65535 data
            if lo < 0.0 or hi > 65535.0:
                raise ImageLoadError(
                    name,
                    f"float image file with values in [{lo:g}, {hi:g}]; expected data in "
                    "0-1, 0-255 or 0-65535",
                )
            if hi > 1.0:
                a = a / (65535.0 if hi > 255 else 255.0)
        elif lo < 0.0 or hi > 1.0:
            raise ImageLoadError(
                name,
                f"float image values must lie in [0, 1], found [{lo:g}, {hi:g}]; "
                "scale the array to [0, 1] or pass 0-255 data as uint8",
            )
        a = np.round(a * 255.0).astype(np.uint8)
    else:  # integer types
        lo, hi = int(a.min()), int(a.max())
        if lo < 0:
            raise ImageLoadError(name, f"integer image has negative values (min {lo})")
        if a.dtype == np.uint16 or pil_mode in ("I;16", "I;16B", "I;16L", "I;16N") or (
            pil_mode == "I" and hi > 255
        ):
            if hi > 65535:
                raise ImageLoadError(name, f"integer image values exceed 65535 (max {hi})")
            a = np.round(a.astype(np.float64) / 257.0).astype(np.uint8)
        elif hi <= 255:
            a = a.astype(np.uint8)
        else:
            raise ImageLoadError(
                name,
                f"integer image of dtype {a.dtype} has values up to {hi}; expected "
                "0-255 (uint8) or 0-65535 (uint16)",
            )
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.float32) / 255.0
        rgb = a[:, :, :3].astype(np.float32)
        a = np.round(rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    size = _working_size(a.shape[1], a.shape[0])
    if size is not None:
        a = np.asarray(Image.fromarray(np.ascontiguousarray(a)).resize(
            size, Image.BILINEAR, reducing_gap=2.0))
    return np.ascontiguousarray(a)


def check_image_file(path: str, name: str | None = None) -> None:
    """Raise :class:`ImageLoadError` unless ``path`` is a non-empty regular file.

    Names the exact problem: missing file, broken symbolic link, symbolic
    link loop, directory, FIFO, device or socket (which are never opened:
    reading a FIFO would block and a device never ends), or an empty file.
    """
    name = path if name is None else name
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageLoadError(name, "symbolic link loop (the link resolves to itself)") from None
        if os.path.islink(path):
            raise ImageLoadError(
                name, f"broken symbolic link (its target {os.readlink(path)!r} does not exist)"
            ) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise ImageLoadError(name, "file not found") from None
        raise ImageLoadError(name, f"cannot read file: {exc.strerror}") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise ImageLoadError(name, "is a directory, not an image file")
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    for test, kind in kinds:
        if test(mode):
            raise ImageLoadError(name, f"is {kind}, not a regular image file")
    if st.st_size == 0:
        raise ImageLoadError(name, "empty file (0 bytes), not an image")


def _load_file(path, name, size):
    """An image file decoded (at reduced DCT size when the result is smaller),
    or an :class:`ImageLoadError` that says what is wrong with it."""
    check_image_file(path, name)
    try:
        with warnings.catch_warnings():
            # one limit, ours (_too_large), rather than Pillow's warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _too_large(name, *img.size)
                target = _working_size(*img.size)
                if size is not None:
                    # square: covers the input whatever the EXIF rotation
                    # twice the input side: Pillow's reducing_gap=2 rule (thumbnail),
                    # the resize after the reduced decode still antialiases as from
                    # the full image
                    target = (2 * max(size), 2 * max(size))
                if target is not None and img.format == "JPEG":
                    img.draft("RGB", target)  # decode at reduced DCT size
                img.load()
                rgb = _pil_rgb(img, name)
                if isinstance(rgb, np.ndarray):
                    return rgb if size is None else resize_rgb(rgb, size)
                # resized as a PIL image: one conversion to an array, of
                # the small image (the same pixels as resize_rgb)
                return np.asarray(rgb if size is None else _resize_pil(rgb, size))
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow refuses before the size is seen here: the same message as ours
        import re

        m = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(m.group(1)):,} pixels" if m else "its size"
        raise ImageLoadError(name, _LIMIT_MESSAGE.format(size=size, limit=_config.get_config()["max_pixels"])) from None
    except UnidentifiedImageError:
        raise ImageLoadError(name, "not a recognised image file (unknown format or corrupt header)") from None
    except PermissionError as exc:
        raise ImageLoadError(name, f"cannot read file: {exc.strerror}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(name, f"truncated or corrupt image file: {exc}") from None


def load_image(item, index: int | None = None, *, size: tuple[int, int] | None = None
               ) -> np.ndarray:
    """Load one image as an RGB ``uint8`` array of shape (H, W, 3).

    Parameters
    ----------
    item : str, path-like, numpy.ndarray or PIL.Image.Image
        A file path, an H×W / H×W×1 / H×W×3 / H×W×4 array, or a PIL image.
        Arrays of dtype uint8, bool, uint16 (0–65535), other integers
        (0–255) and floats (0–1) are accepted.
    index : int, optional
        Position of the item in ``X``, used to name in-memory images in errors.
    size : (int, int), optional
        ``(height, width)`` to return the image resized to (as
        :func:`resize_rgb`), for a network's fixed input.  A JPEG file at
        least twice as large as ``max(size)`` on both sides is then decoded
        at the smallest DCT scale (1/2, 1/4 or 1/8) that keeps both sides at
        least ``2 * max(size)`` (Pillow's ``draft``, with the margin of its
        ``reducing_gap=2``): a 12-megapixel photo costs a fraction of a full
        decode, and the pixels differ only slightly from resizing the fully
        decoded image.  Smaller files decode in full, as without ``size``.

    Returns
    -------
    image : ndarray of shape (H, W, 3), dtype uint8
        Grayscale is replicated to three channels; transparency is composited
        on white; CMYK and palette images are converted; 16-bit data is
        scaled by 1/257; EXIF orientation is applied; an animated image
        gives its first frame.

    Raises
    ------
    ImageLoadError
        Naming the item (its path or ``X[i]``) and the problem: missing file,
        not an image, truncated or corrupt data, zero size, NaN/inf, wrong
        dimensions or channels, values out of range, or more pixels than
        the limit of :func:`set_image_limits`.

    Notes
    -----
    An image with more pixels than the working resolution of
    :func:`set_image_limits` (4,194,304 by default) is downscaled, aspect
    ratio kept, as it is decoded, so memory per image stays bounded.
    """
    name = describe_item(item, index)
    if isinstance(item, (str, os.PathLike)):
        return _load_file(os.fspath(item), name, size)
    if size is not None:
        return resize_rgb(load_image(item, index), size)
    if isinstance(item, Image.Image):
        try:
            item.load()
            return _pil_to_rgb(item, name)
        except ImageLoadError:
            raise
        except (OSError, ValueError) as exc:
            raise ImageLoadError(name, f"corrupt PIL image: {exc}") from None
    if isinstance(item, np.ndarray):
        return _array_to_rgb(item, name)
    if isinstance(item, (list, tuple)):
        return _array_to_rgb(np.asarray(item), name)
    raise ImageLoadError(
        name,
        f"unsupported image type {type(item).__name__}; expected a path, a numpy array "
        "or a PIL image",
    )


def resize_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image to ``size = (height, width)`` (bilinear, no
    crop: the whole picture is kept, as ``keras.utils.load_img(target_size=)``)."""
    if image.shape[:2] == tuple(size):
        return image
    return np.asarray(_resize_pil(Image.fromarray(image), size))


def _resize_pil(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    h, w = size
    return img if img.size == (w, h) else img.resize((w, h), Image.BILINEAR)

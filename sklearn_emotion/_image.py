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

import hashlib
import os
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ImageBatchError",
    "ImageLoadError",
    "as_image_list",
    "describe_item",
    "image_key",
    "load_image",
]

#: File extensions taken as images where a folder or a name without an
#: extension is resolved.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})

# Largest array accepted: the same bound as Pillow's decompression-bomb error.
_MAX_PIXELS = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)


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
    """

    def __init__(self, errors: dict, features: np.ndarray | None = None):
        self.errors = errors
        self.features = features
        lines = "\n".join(f"  - {e}" for _, e in sorted(errors.items())[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} image(s) could not be loaded:\n{lines}{more}")

    def __reduce__(self):
        return (type(self), (self.errors, self.features))


def describe_item(item, index: int | None = None) -> str:
    """Return the name used for ``item`` in messages: its path or ``X[i]``."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    return f"X[{index}]" if index is not None else "image"


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
    if getattr(img, "is_animated", False):
        img.seek(0)
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block must not lose the pixels
        pass
    if img.width == 0 or img.height == 0:
        raise ImageLoadError(name, f"zero-size image ({img.width}x{img.height})")
    mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    ):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _array_to_rgb(np.asarray(img), name, pil_mode=mode)
    if mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img)


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
    if a.shape[0] * a.shape[1] > _MAX_PIXELS:
        raise ImageLoadError(
            name, f"image of {a.shape[0]}x{a.shape[1]} pixels exceeds the limit of {_MAX_PIXELS}"
        )
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype == np.uint8:
        pass
    elif np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise ImageLoadError(name, "array contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if pil_mode == "F" and hi > 1.0:  # a float TIFF of 0..255 or 0..65535 data
            a = a / (65535.0 if hi > 255 else 255.0)
            lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:
            raise ImageLoadError(
                name,
                f"float image values must lie in [0, 1], found [{lo:g}, {hi:g}]; "
                "convert 0-255 data to uint8 first",
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
    return np.ascontiguousarray(a)


def load_image(item, index: int | None = None) -> np.ndarray:
    """Load one image as an RGB ``uint8`` array of shape (H, W, 3).

    Parameters
    ----------
    item : str, path-like, numpy.ndarray or PIL.Image.Image
        A file path, an H×W / H×W×1 / H×W×3 / H×W×4 array, or a PIL image.
        Arrays of dtype uint8, bool, uint16 (0–65535), other integers
        (0–255) and floats (0–1) are accepted.
    index : int, optional
        Position of the item in ``X``, used to name in-memory images in errors.

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
        dimensions or channels, values out of range, or an absurd size
        (Pillow's decompression-bomb guard stays on).
    """
    name = describe_item(item, index)
    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        if not os.path.exists(path):
            raise ImageLoadError(name, "file not found")
        if os.path.isdir(path):
            raise ImageLoadError(name, "is a directory, not an image file")
        if os.path.getsize(path) == 0:
            raise ImageLoadError(name, "empty file (0 bytes), not an image")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as img:
                    img.load()
                    return _pil_to_rgb(img, name)
        except ImageLoadError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageLoadError(name, f"image is too large (decompression-bomb guard): {exc}") from None
        except UnidentifiedImageError:
            raise ImageLoadError(name, "not a recognised image file (unknown format or corrupt header)") from None
        except PermissionError as exc:
            raise ImageLoadError(name, f"cannot read file: {exc.strerror}") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageLoadError(name, f"truncated or corrupt image file: {exc}") from None
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


def image_key(item, index: int | None = None) -> str:
    """Content key of an image for the feature cache.

    A path is keyed by the sha1 of its file's bytes (no decoding needed); an
    in-memory image by the sha1 of its decoded RGB pixels and shape.  Two
    different files never share a key; a file edited in place gets a new one.
    """
    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        h = hashlib.sha1(b"file:")
        try:
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            # unreadable: let the loader produce the proper error later
            return "unreadable:" + path
        return h.hexdigest()
    rgb = load_image(item, index)
    h = hashlib.sha1(b"rgb:")
    h.update(repr(rgb.shape).encode())
    h.update(rgb.tobytes())
    return h.hexdigest()



def resize_rgb(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image to ``size = (height, width)`` (bilinear, no
    crop: the whole picture is kept, as ``keras.utils.load_img(target_size=)``)."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR))

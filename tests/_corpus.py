"""A corpus of malformed and unusual image inputs, generated at test time.

Each case says exactly what must happen to it: decoded (shape and mean of the
RGB uint8 array) or refused (the reason's text), and, for files, what the
command line's folder mode does with it (``predicted``, ``failed`` with the
loader's reason, ``skipped`` with the scan's reason, or ``hidden``).
Nothing binary is committed: every file is made here, in a temporary folder.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass
class Case:
    name: str
    item: object
    ok: bool
    shape: tuple | None = None  # decoded shape
    mean: float | None = None  # decoded mean
    atol: float = 0.0
    reason: str | None = None  # refused: text of the reason
    folder: str | None = None  # folder mode: predicted / failed / skipped / hidden
    folder_reason: str | None = None

    @property
    def is_file(self):
        return isinstance(self.item, str)


def _save(img, path, **kw):
    img.save(path, **kw)
    return str(path)


def _bomb_png(path):
    raw = io.BytesIO()
    Image.new("1", (1, 1)).save(raw, "PNG")
    raw = bytearray(raw.getvalue())
    raw[16:24] = struct.pack(">II", 100_000, 100_000)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    path.write_bytes(bytes(raw))
    return str(path)


def _working_shape(h, w, limit=4_194_304):
    s = (limit / (w * h)) ** 0.5
    return (max(1, int(h * s)), max(1, int(w * s)), 3)


def make_corpus(root):
    """Write the corpus under ``root`` (files in ``root/corpus``); return the cases."""
    d = root / "corpus"
    d.mkdir()
    solid = Image.new("RGB", (16, 12), (10, 20, 30))
    jpg_bytes = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 100, 50)).save(jpg_bytes, "JPEG", quality=95)
    jpg = jpg_bytes.getvalue()
    C = []

    def ok_file(name, path, shape, mean, atol=0.0, folder="predicted"):
        C.append(Case(name, path, True, shape, mean, atol, folder=folder))

    def bad_file(name, path, reason, folder="failed", folder_reason=None):
        C.append(Case(name, path, False, reason=reason, folder=folder,
                      folder_reason=folder_reason or (reason if folder == "failed" else None)))

    # ---- files that decode
    ok_file("rgb png", _save(solid, d / "rgb.png"), (12, 16, 3), 20.0)
    ok_file("grey png", _save(Image.new("L", (8, 8), 128), d / "grey.png"), (8, 8, 3), 128.0)
    ok_file("transparent rgba png", _save(Image.new("RGBA", (8, 8), (255, 0, 0, 0)),
                                          d / "rgba.png"), (8, 8, 3), 255.0)
    ok_file("half-alpha LA png", _save(Image.new("LA", (8, 8), (0, 128)), d / "la.png"),
            (8, 8, 3), 127.0, atol=0.5)
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    ok_file("palette png with transparency", _save(pal, d / "palette.png", transparency=0),
            (8, 8, 3), 255.0)
    ok_file("1-bit png", _save(Image.new("1", (8, 8), 1), d / "bilevel.png"), (8, 8, 3), 255.0)
    ok_file("cmyk jpeg", _save(Image.new("CMYK", (16, 16), (0, 0, 0, 0)), d / "cmyk.jpg"),
            (16, 16, 3), 255.0, atol=1.0)
    ok_file("16-bit png", _save(Image.fromarray(np.full((6, 6), 65535, np.uint16)), d / "w16.png"),
            (6, 6, 3), 255.0)
    ok_file("16-bit tiff", _save(Image.fromarray(np.full((6, 6), 25700, np.uint16)), d / "w16.tif"),
            (6, 6, 3), 100.0)
    ok_file("float tiff 0-1", _save(Image.fromarray(np.full((6, 6), 0.5, np.float32)),
                                    d / "f01.tif"), (6, 6, 3), 128.0)
    ok_file("float tiff 0-255", _save(Image.fromarray(np.full((6, 6), 100.0, np.float32)),
                                      d / "f255.tif"), (6, 6, 3), 100.0)
    ex = Image.new("RGB", (20, 10), (0, 0, 0))
    exif = ex.getexif()
    exif[0x0112] = 6  # rotate 90 degrees: 20x10 stored, 10 wide x 20 high shown
    ok_file("exif-rotated jpeg", _save(ex, d / "rotated.jpg", exif=exif), (20, 10, 3), 0.0,
            atol=1.0)
    frames = [Image.new("RGB", (8, 8), (255, 255, 255)), Image.new("RGB", (8, 8), (0, 0, 0))]
    ok_file("animated gif (first frame)", _save(frames[0], d / "anim.gif", save_all=True,
                                                append_images=frames[1:]), (8, 8, 3), 255.0)
    ok_file("bmp", _save(solid, d / "image.bmp"), (12, 16, 3), 20.0)
    ok_file("lossless webp", _save(solid, d / "image.webp", lossless=True), (12, 16, 3), 20.0)
    ok_file("ico", _save(Image.new("RGB", (16, 16), (10, 20, 30)), d / "icon.ico"),
            (16, 16, 3), 20.0)
    ok_file("tga", _save(solid, d / "image.tga"), (12, 16, 3), 20.0)
    (d / "jpeg_without_extension").write_bytes(jpg)
    ok_file("jpeg without extension", str(d / "jpeg_without_extension"), (48, 64, 3),
            350 / 3, atol=1.5)
    (d / "jpeg_named.png").write_bytes(jpg)
    ok_file("jpeg named .png", str(d / "jpeg_named.png"), (48, 64, 3), 350 / 3, atol=1.5)
    (d / "link_to_good.jpg").symlink_to(d / "jpeg_named.png")
    ok_file("symlink to a good image", str(d / "link_to_good.jpg"), (48, 64, 3), 350 / 3,
            atol=1.5)
    big = _save(Image.new("RGB", (3000, 2000), (0, 128, 255)), d / "big.png")
    ok_file("6-megapixel png (decoded at the working resolution)", big,
            _working_shape(2000, 3000), 383 / 3, atol=0.01)
    (d / ".hidden.jpg").write_bytes(jpg)
    ok_file("hidden jpeg", str(d / ".hidden.jpg"), (48, 64, 3), 350 / 3, atol=1.5,
            folder="hidden")

    # ---- files that are refused
    (d / "truncated.jpg").write_bytes(jpg[: len(jpg) // 2])
    bad_file("truncated jpeg", str(d / "truncated.jpg"), "truncated or corrupt image file")
    png = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(png, "PNG")
    (d / "truncated.png").write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    bad_file("truncated png", str(d / "truncated.png"), "truncated or corrupt image file")
    (d / "empty.jpg").write_bytes(b"")
    bad_file("empty file", str(d / "empty.jpg"), "empty file (0 bytes), not an image")
    (d / "notes.jpg").write_text("just some text")
    bad_file("text named .jpg", str(d / "notes.jpg"), "not a recognised image file")
    (d / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    bad_file("png header then garbage", str(d / "garbage.png"),
             "not a recognised image file (unknown format or corrupt header)")
    (d / "folder.jpg").mkdir()
    bad_file("directory named .jpg", str(d / "folder.jpg"), "is a directory, not an image file",
             folder="skipped", folder_reason="empty folder")
    bad_file("float tiff -2..2", _save(Image.fromarray(np.linspace(-2, 2, 36, dtype=np.float32)
                                                         .reshape(6, 6)), d / "fneg.tif"),
             "float image file with values in [-2, 2]; expected data in 0-1, 0-255 or 0-65535")
    bad_file("decompression bomb", _bomb_png(d / "bomb.png"),
             "exceeds the limit of 89,478,485 pixels")
    (d / "broken_link.jpg").symlink_to(d / "does_not_exist.jpg")
    bad_file("broken symlink", str(d / "broken_link.jpg"), "broken symbolic link")
    os.symlink(d / "loop_b", d / "loop_a")
    os.symlink(d / "loop_a", d / "loop_b")
    bad_file("symlink loop", str(d / "loop_a"), "symbolic link loop",
             folder="skipped", folder_reason="symbolic link loop")
    C.append(Case("symlink loop, other end", str(d / "loop_b"), False,
                  reason="symbolic link loop", folder="skipped",
                  folder_reason="symbolic link loop"))
    os.mkfifo(d / "pipe.jpg")
    bad_file("fifo named .jpg", str(d / "pipe.jpg"), "is a FIFO (named pipe)")
    os.mkfifo(d / "pipe")
    bad_file("fifo", str(d / "pipe"), "is a FIFO (named pipe)", folder="skipped",
             folder_reason="is a FIFO (named pipe)")
    (d / "zero").symlink_to("/dev/zero")
    bad_file("link to /dev/zero", str(d / "zero"), "is a character device", folder="skipped",
             folder_reason="is a character device")
    (d / "photo.heic").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 64)
    bad_file("heic", str(d / "photo.heic"), "not a recognised image file", folder="skipped",
             folder_reason="HEIC/HEIF/AVIF image")
    (d / "drawing.svg").write_text('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>')
    bad_file("svg", str(d / "drawing.svg"), "not a recognised image file", folder="skipped",
             folder_reason="SVG (vector) drawing")
    (d / "scan.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")
    bad_file("pdf", str(d / "scan.pdf"), "not a recognised image file", folder="skipped",
             folder_reason="PDF document")
    (d / "README").write_text("a note")
    bad_file("text without extension", str(d / "README"), "not a recognised image file",
             folder="skipped", folder_reason="not an image file (unknown format)")
    C.append(Case("missing file", str(root / "missing.jpg"), False, reason="file not found"))

    # ---- in-memory images
    def ok_mem(name, item, shape, mean, atol=0.0):
        C.append(Case(name, item, True, shape, mean, atol))

    def bad_mem(name, item, reason):
        C.append(Case(name, item, False, reason=reason))

    ok_mem("uint8 rgb array", np.full((5, 7, 3), 9, np.uint8), (5, 7, 3), 9.0)
    ok_mem("uint8 grey array", np.full((5, 7), 9, np.uint8), (5, 7, 3), 9.0)
    ok_mem("HxWx1 array", np.full((5, 7, 1), 9, np.uint8), (5, 7, 3), 9.0)
    ok_mem("rgba array, alpha 0", np.zeros((4, 4, 4), np.uint8), (4, 4, 3), 255.0)
    ok_mem("bool array", np.eye(4, dtype=bool), (4, 4, 3), 255 / 4)
    ok_mem("uint16 array", np.full((4, 4), 257 * 40, np.uint16), (4, 4, 3), 40.0)
    ok_mem("float array 0-1", np.full((4, 4, 3), 0.2), (4, 4, 3), 51.0)
    ok_mem("int64 array 0-255", np.full((4, 4), 77, np.int64), (4, 4, 3), 77.0)
    ok_mem("nested list", [[0, 255], [255, 0]], (2, 2, 3), 127.5)
    ok_mem("PIL RGBA image", Image.new("RGBA", (6, 4), (0, 0, 0, 255)), (4, 6, 3), 0.0)
    ok_mem("PIL CMYK image", Image.new("CMYK", (6, 4), (0, 0, 0, 0)), (4, 6, 3), 255.0)
    ok_mem("6-megapixel array (working resolution)", np.full((2000, 3000, 3), 60, np.uint8),
           _working_shape(2000, 3000), 60.0)
    bad_mem("float array 0-255", np.full((4, 4), 100.0),
            "float image values must lie in [0, 1], found [100, 100]; scale the array to [0, 1] "
            "or pass 0-255 data as uint8")
    nan = np.zeros((4, 4, 3))
    nan[0, 0, 0] = np.nan
    bad_mem("array with NaN", nan, "array contains NaN or infinite values")
    bad_mem("array with inf", np.full((4, 4), np.inf), "array contains NaN or infinite values")
    bad_mem("two channels", np.zeros((4, 4, 2), np.uint8), "array has 2 channels")
    bad_mem("4-D array", np.zeros((1, 4, 4, 3, 1), np.uint8), "array has 5 dimensions")
    bad_mem("1-D array", np.zeros(5, np.uint8), "array has 1 dimensions")
    bad_mem("zero-size array", np.zeros((0, 4, 3), np.uint8), "zero-size image")
    bad_mem("complex array", np.zeros((4, 4), complex), "complex-valued array is not an image")
    bad_mem("string dtype array", np.full((2, 2), "a"), "is not an image")
    bad_mem("negative integers", np.full((3, 3), -5, np.int32),
            "integer image has negative values (min -5)")
    bad_mem("integers above 65535", np.full((3, 3), 70000, np.int64),
            "integer image of dtype int64 has values up to 70000; expected 0-255 (uint8) or "
            "0-65535 (uint16)")
    bad_mem("uint32 above 65535", np.full((3, 3), 70000, np.uint32),
            "integer image of dtype uint32 has values up to 70000")
    bad_mem("int32 up to 1000", np.full((3, 3), 1000, np.int32),
            "integer image of dtype int32 has values up to 1000")
    bad_mem("None", None, "unsupported image type NoneType")
    bad_mem("a dict", {"a": 1}, "unsupported image type dict")
    bad_mem("array over the pixel limit", np.zeros((9500, 9500), np.bool_),
            "exceeds the limit of 89,478,485 pixels")
    return C

"""The image input layer: conversions and a corpus of bad inputs."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from sklearn_emotion import ImageLoadError, load_image
from sklearn_emotion._image import as_image_list
from sklearn_emotion._keys import image_key


def _save(img, path, **kw):
    img.save(path, **kw)
    return str(path)


# ------------------------------------------------------------ conversions
def test_rgb_uint8_roundtrip(rng):
    a = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = load_image(a)
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, a)


def test_grayscale_array_and_file(tmp_path):
    g = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    np.testing.assert_array_equal(load_image(g), np.repeat(g[..., None], 3, 2))
    np.testing.assert_array_equal(load_image(g[..., None]), np.repeat(g[..., None], 3, 2))
    p = _save(Image.fromarray(g, "L"), tmp_path / "g.png")
    np.testing.assert_array_equal(load_image(p), np.repeat(g[..., None], 3, 2))


def test_rgba_composited_on_white(tmp_path):
    a = np.zeros((2, 2, 4), np.uint8)
    a[..., 0] = 255  # red
    a[0, 0, 3] = 255  # opaque red
    a[0, 1, 3] = 0  # transparent -> white
    a[1, :, 3] = 128  # half
    out = load_image(a)
    assert tuple(out[0, 0]) == (255, 0, 0)
    assert tuple(out[0, 1]) == (255, 255, 255)
    assert tuple(out[1, 0]) == (255, 127, 127)
    p = _save(Image.fromarray(a, "RGBA"), tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(p), out)


def test_la_palette_cmyk(tmp_path):
    la = Image.fromarray(np.array([[[0, 0], [0, 255]]], np.uint8), "LA")
    out = load_image(_save(la, tmp_path / "la.png"))
    assert tuple(out[0, 0]) == (255, 255, 255) and tuple(out[0, 1]) == (0, 0, 0)
    pal = Image.new("RGB", (3, 3), (10, 200, 30)).quantize(4)
    assert tuple(load_image(_save(pal, tmp_path / "p.png"))[1, 1]) == (10, 200, 30)
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(_save(cmyk, tmp_path / "c.jpg", quality=100))
    assert out[..., 0].min() > 240 and out[..., 1:].max() < 15


def test_16bit_and_float(tmp_path):
    a16 = np.full((3, 3), 65535, np.uint16)
    a16[0, 0] = 0
    out = load_image(a16)
    assert out[1, 1, 0] == 255 and out[0, 0, 0] == 0
    p = _save(Image.fromarray(np.full((3, 3), 32896, np.uint16)), tmp_path / "i16.png")
    assert load_image(p)[0, 0, 0] == 128
    f = np.full((2, 2, 3), 0.5)
    assert load_image(f)[0, 0, 0] == 128
    assert load_image(np.ones((2, 2), bool))[0, 0, 0] == 255


def test_exif_orientation_applied(tmp_path):
    a = np.zeros((10, 20, 3), np.uint8)
    a[:, :10] = 255  # left half white
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 cw on display
    p = _save(img, tmp_path / "rot.jpg", exif=exif, quality=95)
    out = load_image(p)
    assert out.shape == (20, 10, 3)
    assert out[:10].mean() > 200 and out[10:].mean() < 50  # white now on top


def test_animated_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    p = str(tmp_path / "anim.gif")
    frames[0].save(p, save_all=True, append_images=frames[1:])
    out = load_image(p)
    assert out[0, 0, 0] > 200 and out[0, 0, 2] < 50


def test_pil_image_and_pathlike(tmp_path):
    img = Image.new("RGB", (3, 2), (1, 2, 3))
    assert tuple(load_image(img)[0, 0]) == (1, 2, 3)
    p = tmp_path / "x.png"
    img.save(p)
    assert tuple(load_image(p)[1, 2]) == (1, 2, 3)


def test_container_forms():
    import pandas as pd

    a = np.zeros((2, 2, 3), np.uint8)
    assert len(as_image_list([a, a])) == 2
    assert len(as_image_list((a,))) == 1
    assert len(as_image_list(np.array(["a", "b"], dtype=object))) == 2
    assert len(as_image_list(pd.Series(["a", "b"]))) == 2
    assert len(as_image_list(pd.DataFrame({"f": ["a", "b"]}))) == 2
    assert len(as_image_list(np.zeros((3, 4, 4, 3), np.uint8))) == 3
    with pytest.raises(TypeError, match="single str"):
        as_image_list("a.jpg")
    with pytest.raises(ValueError, match="3-D array"):
        as_image_list(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="2 columns"):
        as_image_list(pd.DataFrame({"a": [1], "b": [2]}))


def test_image_key_content_based(tmp_path):
    a = np.zeros((4, 4, 3), np.uint8)
    p1, p2 = tmp_path / "1.png", tmp_path / "2.png"
    Image.fromarray(a).save(p1)
    Image.fromarray(a).save(p2)
    assert image_key(str(p1)) == image_key(str(p2))  # same bytes, different path
    Image.fromarray(a + 1).save(p2)
    assert image_key(str(p1)) != image_key(str(p2))
    assert image_key(a) == image_key(a.copy()) != image_key(a + 1)


# -------------------------------------------------------- bad-input corpus
def _bad_corpus(tmp_path):
    """(item, expected message fragment, expected item name) triples."""
    d = tmp_path
    good = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 100, np.uint8)).save(good, "JPEG")
    jpg = good.getvalue()
    png = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 100, np.uint8)).save(png, "PNG")
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("this is not an image\n")
    (d / "trunc.jpg").write_bytes(jpg[: len(jpg) // 2])
    (d / "trunc.png").write_bytes(png.getvalue()[:60])
    (d / "garbage_header.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    (d / "folder.jpg").mkdir()
    # a PNG header claiming an absurd size trips Pillow's decompression-bomb guard
    bomb = Image.new("1", (1, 1))
    bomb_bytes = io.BytesIO()
    bomb.save(bomb_bytes, "PNG")
    raw = bytearray(bomb_bytes.getvalue())
    import struct
    import zlib

    raw[16:24] = struct.pack(">II", 100_000, 100_000)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    (d / "bomb.png").write_bytes(bytes(raw))
    nan = np.zeros((4, 4, 3))
    nan[1, 1, 1] = np.nan
    inf = np.zeros((4, 4))
    inf[0, 0] = np.inf
    return [
        (str(d / "missing.jpg"), "file not found", str(d / "missing.jpg")),
        (str(d / "empty.jpg"), "empty file (0 bytes)", str(d / "empty.jpg")),
        (str(d / "text.jpg"), "not a recognised image file", str(d / "text.jpg")),
        (str(d / "trunc.jpg"), "truncated or corrupt", str(d / "trunc.jpg")),
        (str(d / "trunc.png"), "truncated or corrupt", str(d / "trunc.png")),
        (str(d / "garbage_header.png"), "corrupt header", str(d / "garbage_header.png")),
        (str(d / "folder.jpg"), "is a directory", str(d / "folder.jpg")),
        (str(d / "bomb.png"), "exceeds the limit of 89,478,485 pixels", str(d / "bomb.png")),
        (nan, "NaN or infinite", "X[3]"),
        (inf, "NaN or infinite", "X[3]"),
        (np.zeros((0, 5, 3), np.uint8), "zero-size", "X[3]"),
        (np.zeros((5, 0), np.uint8), "zero-size", "X[3]"),
        (np.zeros((2, 2, 2, 3), np.uint8), "4 dimensions", "X[3]"),
        (np.zeros(5, np.uint8), "1 dimensions", "X[3]"),
        (np.zeros((4, 4, 2), np.uint8), "2 channels", "X[3]"),
        (np.full((4, 4), 2.0), "must lie in [0, 1]", "X[3]"),
        (np.full((4, 4), -0.5), "must lie in [0, 1]", "X[3]"),
        (np.full((4, 4), 300, np.int32), "values up to 300", "X[3]"),
        (np.full((4, 4), -3, np.int16), "negative values", "X[3]"),
        (np.array([["a"]], dtype=object), "dtype object is not an image", "X[3]"),
        (12345, "unsupported image type int", "X[3]"),
        (None, "unsupported image type NoneType", "X[3]"),
        (np.zeros((4, 4), complex), "complex-valued", "X[3]"),
    ]


def test_bad_input_corpus(tmp_path):
    corpus = _bad_corpus(tmp_path)
    assert len(corpus) >= 15
    for item, fragment, name in corpus:
        with pytest.raises(ImageLoadError) as exc:
            load_image(item, 3)
        assert type(exc.value) is ImageLoadError
        assert fragment in exc.value.reason, (name, exc.value.reason)
        assert exc.value.item == name
        assert str(exc.value).startswith(name + ": ")


def test_set_image_limits_refuses_and_downscales_and_restores(tmp_path):
    from PIL import Image

    from sklearn_emotion import ImageLoadError, get_image_limits, load_image, set_image_limits

    p = tmp_path / "wide.png"
    Image.fromarray(np.zeros((40, 60, 3), dtype=np.uint8)).save(p)
    before = get_image_limits()
    previous = set_image_limits(max_pixels=2000)
    try:
        assert previous == before and get_image_limits()["max_pixels"] == 2000
        with pytest.raises(ImageLoadError, match=r"wide\.png.*exceeds the limit of 2,000 pixels"):
            load_image(str(p))
        set_image_limits(max_pixels=10_000, working_pixels=600)
        im = load_image(str(p))
        assert im.shape[0] * im.shape[1] <= 600
        assert abs(im.shape[1] / im.shape[0] - 1.5) < 0.1  # aspect ratio kept
        # the working resolution enters the feature cache key
        from sklearn_emotion import ColorFeatures

        token = ColorFeatures().fit([])._cache_token()
        set_image_limits(working_pixels=before["working_pixels"])
        assert ColorFeatures().fit([])._cache_token() != token
    finally:
        set_image_limits(**previous)
    assert get_image_limits() == before
    assert load_image(str(p)).shape == (40, 60, 3)

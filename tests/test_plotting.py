"""--plot draws exactly what the features saw, and stays readable for many images."""

import numpy as np
from PIL import Image

from sklearn_emotion._image import load_image
from sklearn_emotion._plotting import plot_va_thumbnails, thumbnail


def test_thumbnails_are_what_the_features_see(tmp_path):
    ex = Image.new("RGB", (40, 20), (0, 0, 0))
    exif = ex.getexif()
    exif[0x0112] = 6  # stored 40 wide, shown 20 wide x 40 high
    ex.save(tmp_path / "rotated.jpg", exif=exif)
    Image.fromarray(np.full((8, 8), 25700, np.uint16)).save(tmp_path / "w16.tif")
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(tmp_path / "f.tif")
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    t = thumbnail(str(tmp_path / "rotated.jpg"), size=20)
    assert t.shape[0] > t.shape[1]  # rotated as EXIF says
    for name, mean in (("w16.tif", 100.0), ("f.tif", 128.0), ("clear.png", 255.0)):
        t = thumbnail(str(tmp_path / name))
        assert t.mean() == mean == load_image(str(tmp_path / name)).mean(), name


def test_many_images_give_a_density_and_a_sample(tmp_path):
    rng = np.random.default_rng(0)
    items = [np.full((8, 8, 3), i, np.uint8) for i in range(40)]
    va = rng.uniform(1, 9, (40, 2))
    assert plot_va_thumbnails(items, va, tmp_path / "few.png") == 40
    shown = plot_va_thumbnails(items + ["missing.jpg"], np.vstack([va, [[5, 5]]]),
                               tmp_path / "many.png", max_thumbnails=10)
    assert shown <= 10 and shown >= 9  # a sample; an unreadable one is left out
    assert Image.open(tmp_path / "many.png").size == (800, 800)

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


def test_spread_sample_keeps_thumbnails_apart():
    """The thumbnails of a large set are spread over the plane: their closest
    pair is far further apart than in a random sample of the same size."""
    from sklearn_emotion._plotting import spread_sample

    rng = np.random.default_rng(0)
    va = np.vstack([rng.normal(5, 0.4, (1900, 2)), rng.uniform(1, 9, (80, 2))])

    def closest(idx):
        p = va[idx]
        d = np.sqrt(((p[:, None] - p[None]) ** 2).sum(-1))
        return d[np.triu_indices(len(p), 1)].min()

    idx = spread_sample(va, 40, seed=0)
    assert 30 <= len(idx) <= 40 and len(set(idx)) == len(idx)
    rand = [closest(rng.choice(len(va), len(idx), replace=False)) for _ in range(20)]
    assert closest(idx) > 3 * np.median(rand)

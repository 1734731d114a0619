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
    assert plot_va_thumbnails(items[:20], va[:20], tmp_path / "few.png") == 20  # every one
    shown = plot_va_thumbnails(items + ["missing.jpg"], np.vstack([va, [[5, 5]]]),
                               tmp_path / "many.png", max_thumbnails=10)
    assert shown <= 10 and shown >= 9  # a sample; an unreadable one is left out
    assert Image.open(tmp_path / "many.png").size == (1200, 860)


def _cells(centres, xlim, ylim, n):
    size = np.array([(xlim[1] - xlim[0]) / n, (ylim[1] - ylim[0]) / n])
    return np.floor((centres - [xlim[0], ylim[0]]) / size).astype(int)


def test_few_images_each_get_a_cell_of_their_own_nearest_their_position():
    """Up to half as many images as cells: all shown, no two in one cell (so
    no thumbnail overlaps another), each in its own cell when that cell is
    not taken by an image nearer its centre, otherwise in the nearest free
    cell (checked by brute force)."""
    from sklearn_emotion._plotting import cell_layout

    rng = np.random.default_rng(1)
    va = np.vstack([rng.normal(5, 0.3, (12, 2)), rng.uniform(1, 9, (8, 2))])
    idx, centres = cell_layout(va, (1, 9), (1, 9), 8, 8, 300)
    assert list(idx) == list(range(20))
    cells = _cells(centres, (1, 9), (1, 9), 8)
    assert len({tuple(c) for c in cells}) == 20
    np.testing.assert_allclose(centres, 1 + (cells + 0.5), rtol=0)  # cell centres
    own = np.floor(va - 1).astype(int)
    d_own = (((va - 1 - own - 0.5)) ** 2).sum(1)
    taken = set()
    for i in np.argsort(d_own, kind="stable"):
        free = [(a, b) for a in range(8) for b in range(8) if (a, b) not in taken]
        best = min(free, key=lambda c: ((va[i] - 1 - np.array(c) - 0.5) ** 2).sum())
        assert tuple(cells[i]) == best
        taken.add(best)


def test_many_images_show_one_per_occupied_cell():
    from sklearn_emotion._plotting import cell_layout

    rng = np.random.default_rng(2)
    va = rng.uniform(1, 9, (500, 2))
    idx, centres = cell_layout(va, (1, 9), (1, 9), 9, 9, 300)
    cells = _cells(centres, (1, 9), (1, 9), 9)
    own = np.floor((va - 1) / (8 / 9)).astype(int)
    np.testing.assert_array_equal(cells, own[idx])  # each in its own cell
    assert len({tuple(c) for c in cells}) == len(idx) == len({tuple(c) for c in own})
    for i, c in zip(idx, cells):  # the image nearest its cell's centre
        members = np.flatnonzero((own == c).all(1))
        d = ((va[members] - (1 + (c + 0.5) * 8 / 9)) ** 2).sum(1)
        assert i == members[np.argmin(d)]
    idx10, _ = cell_layout(va, (1, 9), (1, 9), 9, 9, 10)
    assert len(idx10) == 10 and set(idx10) <= set(idx)

import numpy as np
import pytest

from sklearn_emotion import ColorFeatures
from sklearn_emotion.features.color import (
    COLOR_NAMES, color_feature_names, color_features, color_names, load_color_name_table,
)


@pytest.fixture(scope="module")
def table(data_home):
    return load_color_name_table()


def _img(rgb, shape=(20, 30)):
    return np.broadcast_to(np.asarray(rgb, np.uint8), (*shape, 3)).copy()


def _f(x, name):
    return x[color_feature_names().index(name)]


def test_pure_red(table):
    f = color_features(_img((255, 0, 0)), table)
    assert f.shape == (22,)
    np.testing.assert_allclose(f[:3], [1, 0, 0])
    assert _f(f, "mean_h") == pytest.approx(0.0) and _f(f, "mean_s") == 1 and _f(f, "mean_v") == 1
    # joint HSV bins (8, 3, 3): hue bin 0, saturation bin 2, value bin 2
    assert _f(f, "hsv_peak_bin") == (0 * 3 + 2) * 3 + 2
    assert _f(f, "hsv_peak_fraction") == 1.0
    # the real table is soft: (255, 0, 0) is 49 % "red" and red is its top name;
    # hard assignment puts every pixel on "red"
    soft = f[8:19]
    assert soft.argmax() == COLOR_NAMES.index("red") and _f(f, "name_red") > 0.45
    assert color_names(_img((255, 0, 0)), table, "hard")[COLOR_NAMES.index("red")] == 1.0


def test_pure_blue_and_green_hue(table):
    fb = color_features(_img((0, 0, 255)), table)
    assert _f(fb, "mean_h") == pytest.approx(2 / 3)
    assert fb[8:19].argmax() == COLOR_NAMES.index("blue")
    assert color_names(_img((0, 0, 255)), table, "hard")[COLOR_NAMES.index("blue")] == 1.0
    assert _f(fb, "hsv_peak_bin") == (5 * 3 + 2) * 3 + 2  # 240 deg -> hue bin 5 of 8
    fg = color_features(_img((0, 255, 0)), table)
    assert _f(fg, "mean_h") == pytest.approx(1 / 3)


def test_hue_is_circular(table):
    # half pure red (0 deg), half magenta-red at 350 deg: linear mean would be ~0.49
    a = _img((255, 0, 0))
    a[:, 15:] = (255, 0, 43)  # hue ~ 349.9 deg
    h = _f(color_features(a, table), "mean_h")
    assert min(h, 1 - h) < 0.02


def test_half_white_half_black(table):
    a = _img((0, 0, 0))
    a[:, 15:] = 255
    f = color_features(a, table)
    np.testing.assert_allclose(f[:3], 0.5)
    assert _f(f, "mean_v") == 0.5 and _f(f, "mean_s") == 0
    assert _f(f, "hsv_peak_fraction") == 0.5
    names = dict(zip(COLOR_NAMES, color_names(a, table, "hard")))
    assert names["black"] == pytest.approx(0.5) and names["white"] == pytest.approx(0.5)
    soft = dict(zip(COLOR_NAMES, color_names(a, table)))
    assert sorted(soft, key=soft.get)[-2:] in (["black", "white"], ["white", "black"])
    np.testing.assert_allclose(sum(soft.values()), 1)


def test_pad_formulas(table):
    dark, bright = _img((60, 40, 40)), _img((240, 160, 160))  # same S, V x4
    fd, fb = color_features(dark, table), color_features(bright, table)
    for f in (fd, fb):
        B, S = _f(f, "mean_v"), _f(f, "mean_s")
        np.testing.assert_allclose(
            [_f(f, "pleasure"), _f(f, "arousal"), _f(f, "dominance")],
            [0.69 * B + 0.22 * S, -0.31 * B + 0.60 * S, -0.76 * B + 0.32 * S],
        )
    assert _f(fb, "pleasure") > _f(fd, "pleasure")
    assert _f(fb, "dominance") < _f(fd, "dominance")
    assert _f(fb, "arousal") < _f(fd, "arousal")


def test_transformer_matches_function(table, rng):
    imgs = [rng.integers(0, 256, (16, 12, 3), dtype=np.uint8) for _ in range(3)]
    T = ColorFeatures(hsv_bins=(4, 2, 2), names_mode="hard").fit(imgs)
    expected = np.stack([color_features(i, table, (4, 2, 2), "hard") for i in imgs])
    np.testing.assert_allclose(T.transform(imgs), expected)
    assert list(T.get_feature_names_out()) == color_feature_names()


def test_bad_params():
    with pytest.raises(ValueError, match="names_mode"):
        ColorFeatures(names_mode="fuzzy").fit([np.zeros((2, 2, 3), np.uint8)])
    with pytest.raises(ValueError, match="hsv_bins"):
        ColorFeatures(hsv_bins=(8, 0, 3)).fit([np.zeros((2, 2, 3), np.uint8)])


def test_hsv_of_distinct_colours_is_skimages_bit_for_bit():
    from skimage.color import rgb2hsv

    from sklearn_emotion.features.color import _hsv_uint8

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (1_000_000, 3)).astype(np.uint8)
    v = rng.integers(0, 256, 2000).astype(np.uint8)
    o = rng.integers(0, 256, 2000).astype(np.uint8)
    ties = np.concatenate([np.stack([v, v, o], 1), np.stack([v, o, v], 1), np.stack([o, v, v], 1),
                           np.stack([v, v, v], 1), [[0, 0, 0], [255, 255, 255]]]).astype(np.uint8)
    for colours in (rgb, ties):
        ref = rgb2hsv(colours[None]).reshape(-1, 3)
        got = np.stack(_hsv_uint8(colours), axis=1)
        assert np.array_equal(got, ref)


def test_color_features_equal_the_per_pixel_computation(emotion6_paths):
    from benchmarks import bench_color as bench
    from sklearn_emotion._image import load_image
    from sklearn_emotion.features.color import color_features, load_color_name_table

    table = load_color_name_table()
    for path in emotion6_paths[::150]:
        im = load_image(path)
        np.testing.assert_allclose(color_features(im, table), bench.per_pixel(im, table),
                                   rtol=0, atol=1e-9)


def test_color_features_do_not_depend_on_n_jobs(emotion6_paths):
    paths = list(emotion6_paths[::50][:40])
    here = ColorFeatures().fit(paths).transform(paths)
    workers = ColorFeatures(n_jobs=2).fit(paths).transform(paths)
    np.testing.assert_array_equal(here, workers)


def test_colour_names_read_the_table_row_the_readme_gives(table):
    """Soft names of a one-colour image are that colour's row of the table,
    at index r//8 + 32 * (g//8) + 1024 * (b//8) (the data home's README);
    of a two-colour image, the pixel-weighted mean of the two rows."""
    for rgb in [(10, 200, 90), (200, 10, 90), (90, 10, 200), (37, 129, 250)]:
        r, g, b = rgb
        row = table[r // 8 + 32 * (g // 8) + 1024 * (b // 8)].astype(np.float64)
        np.testing.assert_allclose(color_names(_img(rgb), table, "soft"), row / row.sum(),
                                   rtol=1e-6)  # the table is float32
    two = np.concatenate([_img((10, 200, 90), (10, 30)), _img((90, 10, 200), (30, 30))])
    r1 = table[10 // 8 + 32 * 25 + 1024 * 11].astype(np.float64)
    r2 = table[11 + 32 * 1 + 1024 * 25].astype(np.float64)
    want = 0.25 * r1 / r1.sum() + 0.75 * r2 / r2.sum()
    np.testing.assert_allclose(color_names(two, table, "soft"), want / want.sum(), rtol=1e-6)


def test_a_grey_image_has_mean_hue_zero(table):
    """Hue is undefined for greys: the documented mean hue is 0, not 1."""
    for grey in (0, 128, 255):
        assert _f(color_features(_img((grey, grey, grey)), table), "mean_h") == 0.0


def test_opposite_hues_that_cancel_have_mean_hue_zero(table):
    """Half red (hue 0), half cyan (hue 0.5): the mean hue vector is zero and
    its angle undefined; the documented value is 0."""
    img = np.concatenate([_img((255, 0, 0), (10, 30)), _img((0, 255, 255), (10, 30))])
    assert _f(color_features(img, table), "mean_h") == 0.0

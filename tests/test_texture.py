import numpy as np
import pytest

from sklearn_emotion import GISTFeatures, LBPFeatures
from sklearn_emotion.features.texture import gabor_filter_bank, gist, gist_prefilter, lbp_histogram


def _stripes(vertical, period=8, size=256):
    x = np.arange(size)
    wave = (np.sin(2 * np.pi * x / period) > 0) * 200.0 + 20
    img = np.tile(wave, (size, 1)) if vertical else np.tile(wave[:, None], (1, size))
    return img.astype(np.uint8)


def _orientation_energy(desc, n_orient=8, n_scales=4, n_blocks=4):
    return desc.reshape(n_scales, n_orient, n_blocks * n_blocks).sum(axis=(0, 2))


def test_gist_shape_and_finite(rng):
    d = gist(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    assert d.shape == (512,) and np.isfinite(d).all() and (d >= 0).all()


def test_gist_orientation_selectivity():
    ev = _orientation_energy(gist(_stripes(vertical=True)))
    eh = _orientation_energy(gist(_stripes(vertical=False)))
    # orientation 0 = horizontal frequencies = vertical stripes; 4 is orthogonal
    assert ev.argmax() == 0 and eh.argmax() == 4
    assert ev[0] > 5 * ev[4] and eh[4] > 5 * eh[0]


def test_gist_uniform_is_zero():
    d = gist(np.full((200, 200), 128, np.uint8))
    assert np.abs(d).max() < 1e-6
    assert np.abs(gist_prefilter(np.full((64, 64), 77.0))).max() < 1e-9


def test_gist_brightness_invariance():
    from skimage import data

    img = data.camera().astype(np.float64)
    d1, d2 = gist(img * 0.5), gist(img)
    rel = np.linalg.norm(d1 - d2) / np.linalg.norm(d2)
    assert rel < 0.05


def test_filter_bank_layout():
    b = gabor_filter_bank((8, 8, 8, 8), 320)
    assert b.shape == (32, 320, 320) and b.dtype == np.float32
    # as in LMgist, the DC gain is at most exp(-3.5): the prefilter removed the mean
    assert b.max() <= 1.0 and b[:, 0, 0].max() == pytest.approx(np.exp(-3.5), rel=1e-5)


def test_gist_transformer_params_and_names(rng):
    imgs = [rng.integers(0, 256, (40, 50, 3), dtype=np.uint8) for _ in range(2)]
    T = GISTFeatures(image_size=64, orientations_per_scale=(4, 2), n_blocks=2).fit(imgs)
    F = T.transform(imgs)
    assert F.shape == (2, 6 * 4)
    names = T.get_feature_names_out()
    assert names[0] == "gist_s0_o0_r0c0" and names[-1] == "gist_s1_o1_r1c1"
    np.testing.assert_allclose(F[0], gist(imgs[0], 64, (4, 2), 2))


def test_lbp_constant_and_stripes():
    h = lbp_histogram(np.full((10, 10), 5, np.uint8))
    assert h.shape == (59,) and h.sum() == pytest.approx(1)
    # every pixel codes 11111111 (all neighbours >= centre): one uniform bin
    assert h.max() == 1.0 and h.argmax() == 57
    st = np.zeros((22, 22), np.uint8)
    st[:, ::2] = 255
    hs = lbp_histogram(st)
    # bright columns: dark left/right, bright up/down -> 4 transitions: non-uniform bin
    assert hs[58] > 0.4 and hs[57] > 0.4


def test_lbp_checkerboard():
    cb = ((np.indices((20, 20)).sum(0) % 2) * 255).astype(np.uint8)
    h = lbp_histogram(cb)
    # 1-pixel checkerboard: bright pixels see only darker neighbours (code 0),
    # dark ones only brighter or equal (all ones): two uniform bins
    assert h[0] + h[57] == pytest.approx(1.0)
    assert h[0] == pytest.approx(0.5, abs=0.05)


def test_lbp_transformer(rng):
    imgs = [rng.integers(0, 256, (30, 30, 3), dtype=np.uint8) for _ in range(3)]
    T = LBPFeatures().fit(imgs)
    F = T.transform(imgs)
    assert F.shape == (3, 59)
    np.testing.assert_allclose(F.sum(1), 1)
    assert T.get_feature_names_out()[-1] == "lbp_nonuniform"

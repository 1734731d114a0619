"""The per-image feature cache (``memory=``)."""

import numpy as np
import pytest
from joblib import Memory
from PIL import Image

from sklearn_emotion import ColorFeatures, LBPFeatures


@pytest.fixture
def paths(tmp_path):
    rng = np.random.default_rng(3)
    out = []
    for i in range(5):
        p = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(p)
        out.append(str(p))
    return out


class Counting(LBPFeatures):
    calls = 0
    images = 0

    def _compute_batch(self, images):
        type(self).calls += 1
        type(self).images += len(images)
        return super()._compute_batch(images)


@pytest.mark.parametrize("as_memory", [False, True])
def test_second_run_over_seen_images_computes_nothing(paths, tmp_path, as_memory):
    Counting.calls = Counting.images = 0
    mem = Memory(tmp_path / "c", verbose=0) if as_memory else tmp_path / "c"
    F = Counting(memory=mem).fit_transform(paths[:4])
    assert Counting.images == 4
    # a different subset, all seen already: no computation at all
    F2 = Counting(memory=mem).fit_transform([paths[2], paths[0]])
    assert Counting.images == 4
    np.testing.assert_array_equal(F2, F[[2, 0]])
    # one new image: only it is computed
    Counting(memory=mem).fit_transform(paths)
    assert Counting.images == 5
    np.testing.assert_allclose(Counting().fit_transform(paths), Counting(memory=mem).fit_transform(paths))


def test_changed_parameter_or_file_gives_fresh_features(paths, tmp_path):
    Counting.calls = Counting.images = 0
    Counting(memory=tmp_path / "c").fit_transform(paths)
    Counting(memory=tmp_path / "c", R=2).fit_transform(paths)
    assert Counting.images == 10  # R changes the numbers: new namespace
    # mechanics parameters do not
    Counting(memory=tmp_path / "c", batch_size=2, verbose=True).fit_transform(paths)
    assert Counting.images == 10
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(paths[1])  # edited in place
    F = Counting(memory=tmp_path / "c").fit_transform(paths)
    assert Counting.images == 11
    assert F[1, -2] == 1.0  # constant image: all in the "all ones" uniform bin


def test_cache_safe_with_parallel_workers(paths, tmp_path):
    F1 = ColorFeatures(memory=tmp_path / "c", n_jobs=2, batch_size=1).fit_transform(paths)
    F2 = ColorFeatures(memory=tmp_path / "c", n_jobs=2, batch_size=1).fit_transform(paths)
    np.testing.assert_array_equal(F1, F2)
    np.testing.assert_allclose(F1, ColorFeatures().fit_transform(paths))
    assert not list((tmp_path / "c").rglob("*.tmp"))


def test_bad_memory_type():
    with pytest.raises(TypeError, match="'memory' parameter of LBPFeatures must be"):
        LBPFeatures(memory=3).fit([np.zeros((4, 4, 3), np.uint8)])

"""FaceExpressionFeatures with scikit-image's cascade and the real FER model."""

import numpy as np
import pytest
from skimage import data

from sklearn_emotion import FaceExpressionFeatures
from sklearn_emotion.features.faces import EXPRESSIONS


@pytest.fixture(scope="module")
def est(data_home):
    return FaceExpressionFeatures().fit([data.astronaut()])


def test_astronaut_one_happy_face(est):
    f = est.transform([data.astronaut()])[0]
    names = list(est.get_feature_names_out())
    assert f[names.index("n_faces")] == 1
    assert 0.01 < f[names.index("face_area_fraction")] < 0.1  # ~90x90 of 512x512
    mean = f[2:9]
    assert EXPRESSIONS[int(np.argmax(mean))] == "happy"
    np.testing.assert_allclose(f[9:16], mean)  # one face: mean == largest
    assert mean.sum() == pytest.approx(1, abs=0.02)


def test_no_face_gives_zeros(est):
    sky = np.zeros((200, 300, 3), np.uint8)
    sky[..., 2] = np.linspace(120, 250, 200)[:, None]
    sky[..., 1] = 120
    F = est.transform([sky, np.full((64, 64, 3), 128, np.uint8)])
    np.testing.assert_array_equal(F, 0)


def test_skin_filter_removes_false_positive_on_astronaut(est):
    names = list(est.get_feature_names_out())
    n_faces = names.index("n_faces")
    loose = FaceExpressionFeatures(skin_threshold=None).fit([data.astronaut()])
    # the cascade alone also fires on the suit; the skin filter keeps the one real face
    assert loose.transform([data.astronaut()])[0, n_faces] > 1
    assert est.transform([data.astronaut()])[0, n_faces] == 1


def test_bad_params():
    with pytest.raises(ValueError, match="scale_factor"):
        FaceExpressionFeatures(scale_factor=1.0).fit([np.zeros((8, 8, 3), np.uint8)])

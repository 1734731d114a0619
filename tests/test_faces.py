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


def test_detect_faces_finds_the_astronauts_face_and_maps_boxes_back():
    from skimage import data
    from skimage.feature import Cascade

    from sklearn_emotion.features.faces import detect_faces

    det = Cascade(data.lbp_frontal_face_cascade_filename())
    img = data.astronaut()
    boxes = detect_faces(img, det)
    assert len(boxes) == 1
    r, c, h, w = boxes[0]
    # Eileen Collins' face: rows about 70-160, columns 175-260 of the 512x512 photo
    assert 90 < r + h / 2 < 140 and 190 < c + w / 2 < 250 and 60 < h < 120
    # a cat is not a face
    assert detect_faces(data.chelsea(), det) == []
    # a 1024x1024 copy is searched at 640 and its box mapped back to full size
    big = np.kron(img, np.ones((2, 2, 1), dtype=np.uint8))
    (R, C, H, W), = detect_faces(big, det)
    assert abs((R + H / 2) - 2 * (r + h / 2)) < 20 and abs((C + W / 2) - 2 * (c + w / 2)) < 20
    assert 1.6 * h < H < 2.6 * h

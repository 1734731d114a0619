import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# Tests read the real resources in place.  CI sets SKLEARN_EMOTION_DATA to
# ../shared; a developer checkout beside ../shared gets the same default.
if not os.environ.get("SKLEARN_EMOTION_DATA") and (REPO.parent / "shared").is_dir():
    os.environ["SKLEARN_EMOTION_DATA"] = str(REPO.parent / "shared")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def data_home():
    home = os.environ.get("SKLEARN_EMOTION_DATA")
    if not home or not Path(home).is_dir():
        pytest.fail("SKLEARN_EMOTION_DATA must point at the shared data home")
    return Path(home)


@pytest.fixture(scope="session")
def emotion6_paths(data_home):
    from sklearn_emotion.datasets import load_emotion6

    return list(load_emotion6().filenames)


@pytest.fixture
def rng():
    return np.random.default_rng(0)

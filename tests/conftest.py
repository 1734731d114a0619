import os
from pathlib import Path

import numpy as np
import pytest

# SKLEARN_EMOTION_DATA's default for a checkout beside ../shared is set in
# the repository's top-level conftest.py (it serves the doctests too).


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

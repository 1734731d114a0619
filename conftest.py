"""Test-session defaults shared by tests/ and the package's doctests.

Tests read the real resources in place.  CI sets SKLEARN_EMOTION_DATA to
../shared; a developer checkout beside ../shared gets the same default.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent

if not os.environ.get("SKLEARN_EMOTION_DATA") and (REPO.parent / "shared").is_dir():
    os.environ["SKLEARN_EMOTION_DATA"] = str(REPO.parent / "shared")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Derived files built on first use (EfficientNet-Lite2's LiteRT port) go to a
# folder of this session, never into the user's cache or the data home.
if not os.environ.get("SKLEARN_EMOTION_DERIVED"):
    import atexit
    import shutil
    import tempfile

    _derived = tempfile.mkdtemp(prefix="sklearn-emotion-derived-")
    os.environ["SKLEARN_EMOTION_DERIVED"] = _derived
    atexit.register(shutil.rmtree, _derived, ignore_errors=True)

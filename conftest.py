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

"""The generated API page is current."""

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_api_page_is_generated_from_the_current_docstrings():
    spec = importlib.util.spec_from_file_location("make_api", DOCS / "make_api.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (DOCS / "api.md").read_text(encoding="utf-8") == mod.render(), (
        "docs/api.md is stale: run python docs/make_api.py")

"""The generated API page is current."""

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_api_page_is_generated_from_the_current_docstrings():
    spec = importlib.util.spec_from_file_location("make_api", DOCS / "make_api.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (DOCS / "api.rst").read_text(encoding="utf-8") == mod.render(), (
        "docs/api.rst is stale: run python docs/make_api.py")


def test_readme_quick_look_runs_and_prints_what_the_readme_says(tmp_path, monkeypatch, capsys):
    """The README's Python quick look: small, fast, and its printed scores are real."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Quick look", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0].strip()
    monkeypatch.chdir(tmp_path)  # its feature cache goes to a temporary folder
    exec(compile(code, "README.md quick look", "exec"), {})
    printed = capsys.readouterr().out.strip()
    assert printed == shown

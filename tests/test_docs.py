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


def _bash_blocks(text):
    return [b.split("```", 1)[0].strip() for b in text.split("```bash\n")[1:]]


def test_ci_runs_the_readme_test_command_exactly():
    """.ci/run calls the README's test command as the README writes it (the
    relative data home included), so CI fails when a new user would."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    commands = [b for b in _bash_blocks(readme) if "pytest" in b]
    assert len(commands) == 1, commands
    ci = [ln.strip() for ln in (root / ".ci/run").read_text(encoding="utf-8").splitlines()
          if ln.strip() and not ln.lstrip().startswith("#")]
    assert ci[-1] == commands[0]
    # nothing before it changes what the command sees (no exported variables)
    assert not any(ln.startswith("export ") for ln in ci), ci


def test_the_user_guides_cat_example_is_what_the_model_says():
    """The guide quotes the shipped model's emotion and nearest word for
    scikit-image's cat; both are computed here."""
    import re

    from skimage import data

    from sklearn_emotion import load_pretrained
    from sklearn_emotion._lexicons import nearest_emotion_word

    text = " ".join((DOCS / "user_guide.md").read_text(encoding="utf-8").split())
    m = re.search(r'cat photo gets the category "(\w+)" at a point whose nearest word is '
                  r'"(\w+)"', text)
    assert m, "the sentence moved: update this test"
    frame = load_pretrained().predict_frame([data.chelsea()])
    assert frame["emotion"].iloc[0] == m.group(1)
    v, a = frame[["valence", "arousal"]].to_numpy()[0]
    assert nearest_emotion_word(v, a) == m.group(2)

"""The documentation site builds with no warning, and every gallery example
runs and puts its figure in the HTML.

The examples run on reduced sizes here (SKLEARN_EMOTION_EXAMPLES_QUICK=1);
``sphinx-build -W -b html docs docs/_build/html`` builds the full gallery.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("sphinx_gallery")

ROOT = Path(__file__).resolve().parents[1]


def test_site_builds_without_warnings_and_every_example_draws(tmp_path):
    out = tmp_path / "html"
    env = dict(os.environ, SKLEARN_EMOTION_EXAMPLES_QUICK="1")
    # the examples run in examples/: the data home must not be relative
    env["SKLEARN_EMOTION_DATA"] = os.path.abspath(os.environ["SKLEARN_EMOTION_DATA"])
    # a clean copy of the sources: no example output generated earlier in
    # the checkout is reused, so every example runs
    import shutil

    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("_build", "generated", "auto_examples", "sg_execution_times.rst")
    shutil.copytree(ROOT / "docs", src / "docs", ignore=ignore)
    shutil.copytree(ROOT / "examples", src / "examples")
    shutil.copytree(ROOT / "benchmarks" / "results", src / "benchmarks" / "results")  # figures
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(src / "docs"), str(out)],
        env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    examples = sorted(p.stem for p in (ROOT / "examples").glob("plot_*.py"))
    assert len(examples) == 8
    for name in examples:
        page = (out / "auto_examples" / f"{name}.html").read_text(encoding="utf-8")
        figures = re.findall(rf'src="\.\./_images/(sphx_glr_{name}_\d+\.png)"', page)
        assert figures, f"{name}: no figure in its page"
        for m in figures:
            assert (out / "_images" / m).stat().st_size > 5000, m
    api = (out / "api.html").read_text(encoding="utf-8")
    import sklearn_emotion

    for name in sklearn_emotion.__all__:
        if name.startswith("__") or name == "datasets":
            continue
        assert f"sklearn_emotion.{name}" in api, name

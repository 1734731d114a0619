"""Sphinx configuration: API reference from the numpydoc docstrings, the
Markdown guides through MyST, and the sphinx-gallery examples of examples/.

Build: pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if not os.environ.get("SKLEARN_EMOTION_DATA") and (ROOT.parent / "shared").is_dir():
    os.environ["SKLEARN_EMOTION_DATA"] = str(ROOT.parent / "shared")
if os.environ.get("SKLEARN_EMOTION_DATA"):
    # the gallery runs each example in examples/: a relative data home would break
    os.environ["SKLEARN_EMOTION_DATA"] = os.path.abspath(os.environ["SKLEARN_EMOTION_DATA"])

import sklearn_emotion  # noqa: E402

project = "sklearn-emotion"
author = "sklearn-emotion developers"
copyright = "2026, sklearn-emotion developers"
release = version = sklearn_emotion.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
templates_path = ["_templates"]

# ---- API reference
autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    # scikit-learn's generated metadata-routing setters and score() carry
    # scikit-learn's own cross-references; their pages are scikit-learn's
    "exclude-members": ("set_fit_request,set_predict_request,set_score_request,"
                        "set_transform_request,set_partial_fit_request,get_metadata_routing,"
                        "score"),
}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# ---- links to scikit-learn, NumPy, Keras.  Their inventories are fetched
# from the web; offline (as on this project's CI machines) the links fall
# back to plain text, and the fetch failure must not fail a -W build.
def _online(host="scikit-learn.org"):
    import socket

    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "keras": ("https://keras.io/api", None),
} if _online() else {}
intersphinx_timeout = 5

# ---- Markdown guides
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# ---- gallery: every example runs at build time; SKLEARN_EMOTION_EXAMPLES_QUICK=1
# makes them use fewer images (the test suite's build does)
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
}

# ---- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-emotion {version}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = ["_static"]
html_css_files = ["tables.css"]

"""The house rules of docs/design.md, checked on the source."""

import ast
from pathlib import Path

import sklearn_emotion

PKG = Path(sklearn_emotion.__file__).resolve().parent


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield 0, a.name, []


def _resolved(path, level, module):
    """Absolute dotted name of an import in ``path``."""
    if level == 0:
        return module
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    base = parts[: len(parts) - level]
    return ".".join(base + ([module] if module else []))


def test_models_and_features_do_not_import_each_other():
    for sub, other in (("models", "features"), ("features", "models")):
        for f in (PKG / sub).glob("*.py"):
            for level, mod, _ in _imports(f):
                target = _resolved(f, level, mod)
                assert not target.startswith(f"sklearn_emotion.{other}"), (f, target)


def test_library_code_never_touches_the_matplotlib_backend_or_pyplot():
    for f in PKG.rglob("*.py"):
        text = f.read_text(encoding="utf-8")
        assert "matplotlib.use(" not in text, f
        for _, mod, _ in _imports(f):
            assert mod != "matplotlib.pyplot", f


def test_reproduction_builds_families_from_the_pipeline_registry_only():
    from sklearn_emotion.pipeline import FEATURE_FAMILIES
    from sklearn_emotion.reproduce import FEATURE_SETS

    used = {f for fams in FEATURE_SETS.values() for f in fams}
    assert used <= set(FEATURE_FAMILIES)
    # no module of the reproduction constructs a feature transformer itself
    names = {"ColorFeatures", "GISTFeatures", "LBPFeatures", "SceneFeatures",
             "FaceExpressionFeatures", "ObjectEmotionFeatures"}
    for f in (PKG / "reproduce").glob("*.py"):
        for _, _, imported in _imports(f):
            assert not names & set(imported), f


def test_image_batch_error_lives_in_the_input_layer():
    from sklearn_emotion import ImageBatchError, _image
    from sklearn_emotion.features import ImageBatchError as from_features

    assert ImageBatchError is _image.ImageBatchError is from_features
    assert ImageBatchError.__module__ == "sklearn_emotion._image"

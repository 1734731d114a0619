"""The package's structure: no module reaches into another's private names."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_emotion"


def _private_imports(package=PACKAGE):
    """(file, line, module, name) of every relative import of a private name
    (a leading underscore) that is not a submodule."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level > 0):
                continue
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            target = base.joinpath(*node.module.split(".")) if node.module else base
            for alias in node.names:
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                if (target / f"{name}.py").is_file() or (target / name).is_dir():
                    continue  # a private module of the package: its public names are its API
                found.append((str(path.relative_to(package)), node.lineno, node.module, name))
    return found


def test_no_module_imports_another_modules_private_names():
    assert _private_imports() == []


def test_the_check_sees_a_private_import(tmp_path):
    """The scan itself: a planted private import is found."""
    pkg = tmp_path / "sklearn_emotion"
    pkg.mkdir()
    (pkg / "a.py").write_text("def _hidden():\n    pass\n")
    (pkg / "_b.py").write_text("X = 1\n")
    (pkg / "c.py").write_text("from .a import _hidden\nfrom . import _b\n")
    assert _private_imports(pkg) == [("c.py", 1, "a", "_hidden")]

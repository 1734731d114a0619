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
            found += [(str(path.relative_to(package)), node.lineno, node.module, name)
                      for name in _private_names(node, target)]
    return found


def _private_names(node, target):
    """The private names an ``import from`` node takes from the folder
    ``target``, leaving out private modules (their public names are their API)."""
    return [a.name for a in node.names
            if a.name.startswith("_") and not a.name.startswith("__")
            and not ((target / f"{a.name}.py").is_file() or (target / a.name).is_dir())]


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


BENCHMARKS = PACKAGE.parent / "benchmarks"


def _benchmark_private_imports(folder=BENCHMARKS, package=PACKAGE):
    """(file, line, module, name) of every import, in the benchmark scripts,
    of a private name of the package that is not a submodule; and of every
    script that edits ``sys.path``."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "sys.path" in source:
            found.append((str(path.relative_to(folder)), 0, "sys", "path"))
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    and node.module.split(".")[0] == package.name):
                continue
            target = package.parent.joinpath(*node.module.split("."))
            found += [(str(path.relative_to(folder)), node.lineno, node.module, name)
                      for name in _private_names(node, target)]
    return found


def test_benchmarks_use_public_names_and_leave_sys_path_alone():
    assert _benchmark_private_imports() == []


def test_the_benchmark_check_sees_a_private_import_and_a_path_edit(tmp_path):
    pkg = tmp_path / "sklearn_emotion"
    (pkg / "models").mkdir(parents=True)
    (pkg / "models" / "cnn.py").write_text("def _step():\n    pass\n")
    (pkg / "models" / "_steps.py").write_text("def step():\n    pass\n")
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "a.py").write_text("from sklearn_emotion.models.cnn import _step\n"
                                "from sklearn_emotion.models import _steps\n")
    (bench / "b.py").write_text("import sys\nsys.path.insert(0, '.')\n")
    assert _benchmark_private_imports(bench, pkg) == [
        ("a.py", 1, "sklearn_emotion.models.cnn", "_step"), ("b.py", 0, "sys", "path")]


EXAMPLES = PACKAGE.parent / "examples"
_OWN = ("self", "cls")


def _defined_private(package=PACKAGE):
    """{private function or method name: the package modules defining it}."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                    node.name.startswith("_") and not node.name.startswith("__"):
                out.setdefault(node.name, set()).add(path)
    return out


def _is_own(value):
    """``self``, ``cls`` or ``super()``: an object's access to its own members."""
    if isinstance(value, ast.Name):
        return value.id in _OWN
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id == "super")


def _reaches_in(folders, package=PACKAGE):
    """(file, line, what) of every call of another module's private method
    (``obj._name(...)`` where ``_name`` is a function of the package defined
    in another module, ``obj`` not ``self``/``cls``/``super()``) and every
    write through another object's ``__dict__``, in the given folders."""
    defined = _defined_private(package)
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            if "exploration" in path.parts:  # each runs only at the commit it names
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                where = (str(path.relative_to(folder.parent)), getattr(node, "lineno", 0))
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in defined and not _is_own(node.func.value)
                        and path not in defined[node.func.attr]):
                    found.append((*where, f"calls {node.func.attr}"))
                targets = []
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                    targets = node.targets if hasattr(node, "targets") else [node.target]
                    targets = [t.value for t in targets if isinstance(t, ast.Subscript)]
                elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                      and node.func.attr in ("update", "setdefault", "pop", "clear", "popitem")):
                    targets = [node.func.value]
                for t in targets:
                    if (isinstance(t, ast.Attribute) and t.attr == "__dict__"
                            and not _is_own(t.value)):
                        found.append((*where, "writes __dict__"))
    return sorted(found)


def test_no_module_benchmark_or_example_reaches_into_another_modules_privates():
    assert _reaches_in([PACKAGE, BENCHMARKS, EXAMPLES]) == []


def test_the_reach_check_sees_a_private_call_and_a_dict_write(tmp_path):
    pkg = tmp_path / "sklearn_emotion"
    pkg.mkdir()
    (pkg / "a.py").write_text("class A:\n    def _hidden(self):\n        return self._own()\n"
                              "    def _own(self):\n        return 1\n"
                              "def use(a):\n    return a._own()\n")  # same module: allowed
    (pkg / "b.py").write_text("def f(a):\n    a._hidden()\n    a.__dict__['x'] = 1\n"
                              "    a.__dict__.pop('y', None)\n    self.__dict__['z'] = 2\n"
                              "    super()._hidden()\n")
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    (bench / "c.py").write_text("m._hidden()\nm.public()\nsys._getframe()\n")
    assert _reaches_in([pkg, bench], pkg) == [
        ("benchmarks/c.py", 1, "calls _hidden"), ("sklearn_emotion/b.py", 2, "calls _hidden"),
        ("sklearn_emotion/b.py", 3, "writes __dict__"), ("sklearn_emotion/b.py", 4, "writes __dict__")]

"""The package's layout is its design: subpackages that are the layers, imports that only go
down, small modules, no private name crossing a module, one explicit public namespace.

    theory (0)  <-  training (1)  <-  paper (2)  <-  studies (3)  <-  plotting, notebook (4)  <-  CLI (5)
"""
import ast
from pathlib import Path

import pytest

import condense_lib as cl

PACKAGE = Path(cl.__file__).resolve().parent
LAYERS = {"theory": 0, "training": 1, "paper": 2, "studies": 3, "plotting": 4, "notebook": 4, "__main__": 5,
          "__init__": 5}
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))
MAX_LINES = 600


def _layer(path: Path) -> int:
    top = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    return LAYERS[top]


def _imports(path: Path):
    """(target module parts relative to the package, imported names) of every relative import."""
    tree = ast.parse(path.read_text())
    here = list(path.relative_to(PACKAGE).parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = here[: len(here) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            yield target, [a.name for a in node.names]


def _target_layer(target: list) -> int:
    return LAYERS[target[0]] if target else LAYERS["__init__"]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_down(path):
    layer = _layer(path)
    for target, _ in _imports(path):
        assert _target_layer(target) <= layer, f"{path.relative_to(PACKAGE)} imports {'.'.join(target)}, a layer above it"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_crosses_a_module(path):
    for target, names in _imports(path):
        private = [n for n in names if n.startswith("_")]
        assert not private, f"{path.relative_to(PACKAGE)} imports private {private} from {'.'.join(target)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small_and_declare_their_public_names(path):
    lines = path.read_text().count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines (at most {MAX_LINES}): split it"
    if path.name != "__main__.py":
        tree = ast.parse(path.read_text())
        assert any(isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "__all__" for n in tree.body), \
            f"{path.relative_to(PACKAGE)} has no __all__"


def test_the_trainer_knows_nothing_of_notebooks():
    for name in ("trainer", "runner", "sweep", "progress"):
        source = (PACKAGE / "training" / f"{name}.py").read_text()
        assert "notebook" not in {t[0] for t, _ in _imports(PACKAGE / "training" / f"{name}.py") if t}, name
        assert "ipywidgets" not in source and "google.colab" not in source, name


def test_every_public_name_of_every_subpackage_is_in_the_top_namespace():
    import importlib

    names = set(cl.__all__)
    for sub in ("theory", "training", "paper", "studies", "plotting"):
        module = importlib.import_module(f"condense_lib.{sub}")
        missing = set(module.__all__) - names
        assert not missing, f"condense_lib.{sub} names {sorted(missing)} that condense_lib.__all__ lacks"
    assert len(cl.__all__) == len(names), "a name is exported twice"
    assert all(hasattr(cl, n) for n in cl.__all__)
    assert "is_cached" in names and "resolve_scale" in names and "resolve_device" in names

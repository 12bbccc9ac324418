"""The layers of the package: imports run downward only, nothing sits loose at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers import REPO

PACKAGE = REPO / "src" / "posekit"
# layer -> the posekit packages it must never import (the entry points are never importable)
FORBIDDEN: dict[str, set[str]] = {
    "core": {"codecs", "data", "models", "metrics", "engine", "deploy", "runs", "viz", "analysis"},
    "codecs": {"data", "models", "metrics", "engine", "deploy", "runs", "viz", "analysis"},
    "data": {"models", "metrics", "engine", "deploy", "runs", "analysis"},
    "metrics": {"data", "models", "engine", "deploy", "runs", "viz", "analysis"},
    "models": {"engine", "deploy", "analysis"},
    "deploy": {"engine", "analysis"},
    "viz": {"data", "models", "engine", "deploy", "analysis"},
    "runs": {"engine", "deploy", "analysis"},
}
TOP_LEVEL_MODULES = {"__init__.py", "config.py", "cli.py"}


def posekit_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every ``posekit...`` import in a file, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] in ("posekit", "train", "eval")]


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "posekit" and len(parts) > 1 else None


def violations(files: list[Path], package: Path = PACKAGE) -> list[str]:
    """Every import in ``files`` (modules of ``package``) that breaks the layer rules."""
    broken = []
    for path in files:
        layer = path.relative_to(package).parts[0]
        for line, module in posekit_imports(path):
            where = f"{path.relative_to(package.parent)}:{line} imports {module}"
            if module.split(".")[0] in ("train", "eval"):
                broken.append(f"{where} (an entry point)")
            elif layer_of(module) in FORBIDDEN.get(layer, set()):
                broken.append(f"{where} ({layer} must not import {layer_of(module)})")
    return broken


def test_imports_run_downward_only():
    files = [p for p in PACKAGE.rglob("*.py") if len(p.relative_to(PACKAGE).parts) > 1]
    assert files, "no modules found"
    assert violations(files) == []


def test_the_rule_check_catches_an_upward_import(tmp_path):
    """The check itself fails on a data module importing metrics inside a function."""
    fake = tmp_path / "posekit"
    (fake / "data").mkdir(parents=True)
    bad = fake / "data" / "bad.py"
    bad.write_text("def f():\n    from posekit.metrics.pck import PCKMetric\n    import train\n")
    found = violations([bad], package=fake)
    assert found == [
        "posekit/data/bad.py:2 imports posekit.metrics.pck (data must not import metrics)",
        "posekit/data/bad.py:3 imports train (an entry point)",
    ]


def test_nothing_but_the_config_module_is_loose_at_the_top():
    loose = {p.name for p in PACKAGE.glob("*.py")}
    assert loose <= TOP_LEVEL_MODULES, sorted(loose - TOP_LEVEL_MODULES)


@pytest.mark.parametrize("package", sorted(p.name for p in PACKAGE.iterdir() if p.is_dir()
                                           and (p / "__init__.py").is_file()))
def test_every_package_says_what_it_holds(package):
    docstring = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
    assert docstring and len(docstring) > 40, f"posekit.{package} has no docstring"

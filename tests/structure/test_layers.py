"""The layering of the package: data flows one way (records at the ground floor, optimisers and analysis
above it never reaching into training, the PEFT library named only where models are built)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "autopeft"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function (relative imports resolved)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _files(folder: str) -> list[Path]:
    files = sorted((PACKAGE / folder).rglob("*.py"))
    assert files, folder
    return files


def _project_imports(path: Path) -> set[str]:
    return {name for name in _imports(path) if name == "autopeft" or name.startswith("autopeft.")}


def test_records_import_nothing_else_of_the_project():
    for path in _files("records"):
        others = {n for n in _project_imports(path) if not n.startswith("autopeft.records") and n != "autopeft.errors"}
        assert not others, f"{path.name} imports {sorted(others)}"


@pytest.mark.parametrize("folder", ["optim", "analysis"])
def test_optimisers_and_analysis_never_reach_into_training(folder):
    below = ("autopeft.train", "autopeft.build", "autopeft.models", "autopeft.study", "autopeft.exec")
    for path in _files(folder):
        reached = {n for n in _project_imports(path) if n.startswith(below)}
        assert not reached, f"{folder}/{path.name} imports {sorted(reached)}"


def test_the_scan_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from autopeft.train.trainer import run_trial\n    import adapters\n")
    assert _imports(module) == {"autopeft.train.trainer", "adapters"}


def test_only_the_modules_and_the_build_layer_name_the_peft_library():
    # exporting.py writes HF PEFT's own format (the inverse of the build)
    allowed = {PACKAGE / "build.py", PACKAGE / "exporting.py", *(PACKAGE / "modules").rglob("*.py")}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in allowed:
            continue
        named = {n for n in _imports(path) if n in ("adapters", "peft") or n.startswith(("adapters.", "peft."))}
        assert not named, f"{path.relative_to(PACKAGE)} imports {sorted(named)}"


def test_only_the_ray_executor_imports_ray():
    """Ray is an optional extra: the rest of the package imports without it."""
    for path in sorted(PACKAGE.rglob("*.py")):
        named = {n for n in _imports(path) if n == "ray" or n.startswith("ray.")}
        if path != PACKAGE / "exec" / "ray_executor.py":
            assert not named, f"{path.relative_to(PACKAGE)} imports {sorted(named)}"


def test_every_test_folder_is_collected(request):
    """pytest skips folders matching ``norecursedirs`` (by default ``build``, which hid tests/build from
    every full run until the project's own list left it out): no folder of tests may match it."""
    import fnmatch

    patterns = request.config.getini("norecursedirs")
    root = Path(__file__).resolve().parents[1]
    folders = [p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__" and any(p.glob("test_*.py"))]
    hidden = [str(p.relative_to(root)) for p in folders if any(fnmatch.fnmatch(p.name, pat) for pat in patterns)]
    assert folders and not hidden

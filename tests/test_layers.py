"""The layers of DESIGN.md, enforced: import-linter's contracts (in pyproject.toml) and a check
that no core module escapes them, plus the TUI-free core checked by importing it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Sub-packages of `workbench/` that are not the core.
NOT_CORE = {"trainer", "cli"}


def core_modules() -> set[str]:
    """Top-level core modules and packages: every `workbench/*.py` and package but trainer/cli."""
    names = set()
    for path in (ROOT / "workbench").iterdir():
        if path.name.startswith("_") or path.name in NOT_CORE or path.name == "__pycache__":
            continue
        if path.suffix == ".py":
            names.add(f"workbench.{path.stem}")
        elif (path / "__init__.py").is_file():
            names.add(f"workbench.{path.name}")
    return names


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_every_core_module_is_under_the_core_contract() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    core = next(c for c in contracts if c["name"].startswith("The core imports"))
    assert core_modules() <= set(core["source_modules"]), "add new core modules to the contract in pyproject.toml"


def test_core_and_training_process_never_import_textual() -> None:
    code = (
        "import importlib, pkgutil, sys, workbench\n"
        "for m in pkgutil.walk_packages(workbench.__path__, 'workbench.'):\n"
        "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        "print('textual' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_no_modules_import_each_other() -> None:
    """The parts import only downwards: no cycle of imports among our modules, of any length
    (imports under TYPE_CHECKING count too)."""
    import grimp

    graph = grimp.build_graph("workbench", "screens", cache_dir=None)
    imports = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        visiting.append(module)
        for imported in sorted(imports[module]):
            assert imported not in visiting, "import cycle: " + " -> ".join(visiting[visiting.index(imported):] + [imported])
            if imported not in done:
                visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph.modules):
        if module not in done:
            visit(module)

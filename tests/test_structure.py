"""The package's shape: no import cycle among its modules (every import counted, at module level
or inside a function), and package `__init__` files that hold re-exports only."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "s3logextraction"
TITLE = "s3logextraction command reference"


def module_files() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def imports_of(name: str, path: Path, *, package: bool, known: set[str]) -> set[str]:
    """The package's modules that `name` imports anywhere in its body.  `from X import y` counts
    X.y when it is a module, else X; importing X.Y is not counted as importing X's package."""
    base = name.split(".") if package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            anchor = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join([*anchor, *([node.module] if node.module else [])])
            found |= {f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target for alias in node.names}
    return {module for module in found if module in known and module != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            following = next(edges, None)
            if following is not None:
                if following not in index:
                    index[following] = low[following] = len(index)
                    stack.append(following)
                    on_stack.add(following)
                    work.append((following, iter(sorted(graph[following]))))
                elif following in on_stack:
                    low[node] = min(low[node], index[following])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_through_others() -> None:
    files = module_files()
    graph = {name: imports_of(name, path, package=package, known=set(files)) for name, (path, package) in files.items()}
    assert graph["s3logextraction.report.build"] >= {"s3logextraction.appinfo"}  # the parser sees imports
    assert cycles(graph) == []


def test_package_init_files_hold_re_exports_only() -> None:
    for path, package in module_files().values():
        if not package:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            allowed = (ast.Import, ast.ImportFrom, ast.Expr)
            is_all = isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["__all__"]
            assert isinstance(node, allowed) or is_all, f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"


def test_the_command_reference_is_generated_from_the_cli(tmp_path: Path) -> None:
    """docs/cli.md is what typer's `utils docs` writes for the app; regenerate it with the command
    in its first line when a command or an option changes."""
    reference = PACKAGE.parents[1] / "docs" / "cli.md"
    fresh = tmp_path / "cli.md"
    typer_script = Path(sys.executable).with_name("typer")
    subprocess.run(
        [str(typer_script), "s3logextraction.cli.app", "utils", "docs", "--name", "s3logextraction",
         "--title", TITLE, "--output", str(fresh)],
        check=True, capture_output=True, env={**os.environ, "COLUMNS": "120", "TERMINAL_WIDTH": "120"},
    )  # fmt: skip
    assert fresh.read_text(encoding="utf-8") == reference.read_text(encoding="utf-8"), (
        "docs/cli.md is stale: typer s3logextraction.cli.app utils docs --name s3logextraction "
        f"--title '{TITLE}' --output docs/cli.md"
    )

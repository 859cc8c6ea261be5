"""No import cycles in stsdesk at module level, and the three that issue 11 named stay untied at any level:
the CLI package (once cli.py <-> cli_commands.py), core/cache.py <-> core/cache_pending.py and
emulator/app.py <-> emulator/server.py."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "stsdesk"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path], module_level_only: bool) -> set[str]:
    """stsdesk modules ``path`` imports (outside ``if TYPE_CHECKING:``), at module level or anywhere."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    nodes = (
        [n for stmt in tree.body if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
         for n in ast.walk(stmt)]
        if module_level_only
        else list(ast.walk(tree))
    )
    found: set[str] = set()
    for node in nodes:
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in modules}


def test_no_module_level_import_cycle() -> None:
    modules = _modules()
    edges = {name: _imports(path, modules, True) - {name} for name, path in modules.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges[name]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target):], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = 2

    for name in sorted(modules):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_named_cycles_stay_untied_even_lazily() -> None:
    modules = _modules()
    assert "stsdesk.cli_commands" not in modules and (PACKAGE / "cli" / "__init__.py").exists()
    anywhere = {name: _imports(path, modules, False) for name, path in modules.items()}
    assert "stsdesk.core.cache" not in anywhere["stsdesk.core.cache_pending"]
    assert "stsdesk.emulator.app" not in anywhere["stsdesk.emulator.server"]
    # The CLI's modules never import the package's __init__ (main): it imports them.
    assert all("stsdesk.cli" not in anywhere[name] for name in modules if name.startswith("stsdesk.cli."))

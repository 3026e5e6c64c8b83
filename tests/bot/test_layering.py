"""The packages import in one direction: no package imports another that imports it back, bot/ names
no capability (they are loaded by name from bot/capabilities.py), and nlu/ imports nothing of the
project. Read from the source (every import, including those inside functions)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "nlu", "handlers", "notifications", "admin")


def _unit(module: str) -> str:
    """A package, or one capability (handlers.<name>) as a unit of its own."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "handlers" and len(parts) > 1 else parts[0]


def _imports() -> dict[str, set[tuple[str, str]]]:
    """unit -> {(imported unit, file)} for every import of a project module."""
    graph: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            source_unit = _unit(".".join(relative.with_suffix("").parts))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
                for name in names:
                    if name.split(".")[0] in PACKAGES and _unit(name) not in (source_unit, "handlers"):
                        graph[source_unit].add((_unit(name), str(relative)))
    return graph


def test_no_package_imports_in_a_circle() -> None:
    graph = _imports()
    top: dict[str, set[str]] = defaultdict(set)
    for source, targets in graph.items():
        for target, _ in targets:
            if source.split(".")[0] != target.split(".")[0]:
                top[source.split(".")[0]].add(target.split(".")[0])
    package_cycles = sorted((a, b) for a in top for b in top[a] if a < b and a in top.get(b, set()))
    assert package_cycles == [], f"packages importing each other: {package_cycles}"
    unit_cycles = sorted(
        (a, b, file)
        for a, targets in graph.items()
        for b, file in targets
        if any(back == a for back, _ in graph.get(b, set()))
    )
    assert unit_cycles == [], f"capabilities/packages importing each other: {unit_cycles}"


def test_bot_names_no_capability_and_nlu_nothing_of_the_project() -> None:
    graph = _imports()
    from_bot = sorted((target, file) for target, file in graph["bot"] if target != "nlu")
    assert from_bot == [], f"bot/ imports these by name (load them through bot/capabilities.py): {from_bot}"
    assert sorted(graph["nlu"]) == [], f"nlu/ imports project code: {sorted(graph['nlu'])}"

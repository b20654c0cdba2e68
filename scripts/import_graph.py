"""Check the package's layering: which ``amplio`` sub-packages import which, and whether any
import runs upward (a pure part importing ``workspace``, ``server`` or ``cli``) or in a circle.

    python scripts/import_graph.py            # the graph, the upward imports and the circles
    python scripts/import_graph.py --check    # exit 1 when there is an upward import or a circle

Every import counts, also one inside a function or under ``TYPE_CHECKING``: hiding an import in a
function does not change which way the code depends.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "amplio"
# Layers, lowest first: a package may import only packages of its own layer or below.
LAYERS = [
    {"errors", "progress", "runtime", "registry", "config", "quality", "plugins"},
    {"embedding", "llm", "data", "projection"},
    {"concepts", "decoders", "gaps", "augment", "engines"},
    {"workspace"},
    {"server", "cli", "notebook", "mcp", "__init__", "__main__"},
]


def unit(path: Path) -> str:
    """The sub-package (or top-level module) a file belongs to."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "amplio" and len(parts) > 1:
                found.add(parts[1])
            elif parts[0] == "amplio" and isinstance(node, ast.ImportFrom):
                found.update(a.name for a in node.names)  # from amplio import x
    return found


def layer(name: str) -> int:
    for i, members in enumerate(LAYERS):
        if name in members:
            return i
    return len(LAYERS)


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        source = unit(path)
        for target in imports(path):
            exists = (PACKAGE / target).is_dir() or (PACKAGE / f"{target}.py").is_file()
            if target != source and exists:
                edges[source].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, stack, seen = [], [], set()

    def visit(node: str) -> None:
        if node in stack:
            cycle = stack[stack.index(node):] + [node]
            key = frozenset(cycle)
            if key not in seen:
                seen.add(key)
                found.append(cycle)
            return
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            visit(nxt)
        stack.pop()

    for start in sorted(edges):
        visit(start)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    edges = graph()
    upward = sorted((a, b) for a, targets in edges.items() for b in targets if layer(b) > layer(a))
    circles = cycles(edges)
    if not args.check:
        for source in sorted(edges):
            print(f"{source:>12} -> {', '.join(sorted(edges[source]))}")
    for a, b in upward:
        print(f"upward import: {a} -> {b}")
    for c in circles:
        print("circle: " + " -> ".join(c))
    if not upward and not circles:
        print("no upward import, no circle")
    return 1 if args.check and (upward or circles) else 0


if __name__ == "__main__":
    sys.exit(main())

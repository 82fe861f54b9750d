"""The import graph of napari_calcium, read from the source (AST), and its cycles.

Every ``import`` counts, at module level or inside a function (a lazy import is still
a dependency). ``from package import name`` depends on ``package.name`` when that is
a module, else on ``package``. Run it to see whether the package has an import cycle::

    .venv/bin/python tests/import_graph.py        # exit status 1 when there is one
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = "napari_calcium"
ROOT = Path(__file__).resolve().parents[1]


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported(name: str, path: Path, node) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative import
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    return [f"{module}.{alias.name}" for alias in node.names] + [module]


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    found = modules(root)
    edges: dict[str, set[str]] = {}
    for name, path in found.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets = _imported(name, path, node)
            # ``from pkg import module`` names the module; the package itself only for names
            names = (
                [t for t in targets[:-1] if t in found] if isinstance(node, ast.ImportFrom) else []
            )
            if isinstance(node, ast.ImportFrom) and len(names) < len(targets) - 1:
                names.append(targets[-1])
            for target in names or targets:
                while target not in found and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in found and target != name:
                    deps.add(target)
        edges[name] = deps
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(edges.get(node, ())):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(edges)))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def main() -> int:
    edges = graph()
    found = cycles(edges)
    n_imports = sum(len(deps) for deps in edges.values())
    print(f"{PACKAGE}: {len(edges)} modules, {n_imports} imports between them")
    for component in found:
        print("import cycle: " + " <-> ".join(component))
    if not found:
        print("no import cycle")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

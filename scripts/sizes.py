"""Long functions and long modules of the package, longest first.

    .venv/bin/python scripts/sizes.py                  # napari_calcium/, over 80 / 500 lines
    .venv/bin/python scripts/sizes.py --functions 60 --modules 400 napari_calcium/cohort

A function's length is its lines from ``def`` to its last statement, docstring
included (what a reader has to hold in mind); a method counts on its own, and a
function nested in another counts inside its parent too. A module's length is its
line count. Exits 0: it reports, it does not judge.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def function_lengths(path: Path) -> list[tuple[int, str]]:
    """(lines, qualified name) of every function and method in the file at ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                out.append((child.end_lineno - child.lineno + 1, name))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return out


def sizes(folder: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(functions, modules) of every ``.py`` file under ``folder``: (lines, name) lists,
    functions named ``module.py:Class.function``, modules by their path."""
    functions, modules = [], []
    for path in sorted(folder.rglob("*.py")):
        shown = path.relative_to(folder.parent) if folder.parent in path.parents else path
        text = path.read_text(encoding="utf-8")
        modules.append((text.count("\n") + (not text.endswith("\n") and bool(text)), str(shown)))
        functions += [(n, f"{shown}:{name}") for n, name in function_lengths(path)]
    return functions, modules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "napari_calcium")
    parser.add_argument("--functions", type=int, default=80, help="longest function allowed")
    parser.add_argument("--modules", type=int, default=500, help="longest module allowed")
    args = parser.parse_args(argv)
    functions, modules = sizes(args.folder.resolve())
    long_functions = sorted((f for f in functions if f[0] > args.functions), reverse=True)
    long_modules = sorted((m for m in modules if m[0] > args.modules), reverse=True)
    print(
        f"{len(functions)} functions in {len(modules)} modules; "
        f"{len(long_functions)} functions over {args.functions} lines, "
        f"{len(long_modules)} modules over {args.modules} lines"
    )
    print(f"\nfunctions over {args.functions} lines:")
    for lines, name in long_functions:
        print(f"  {lines:5d}  {name}")
    print(f"\nmodules over {args.modules} lines:")
    for lines, name in long_modules:
        print(f"  {lines:5d}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

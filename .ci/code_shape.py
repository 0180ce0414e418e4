"""Measure the shape of the code: the figures a refactor reports before and after.

Prints, for ``src/stagewise`` (or the directory given):

* how often ``Any`` is used as a name (annotations, casts) and how many ``# type: ignore`` comments exist;
* the longest functions (lines from ``def`` to the last line of the body);
* the largest modules (lines);
* the import graph between the top-level subpackages, and any import cycle between modules.

Run it from the repository root: ``.venv/bin/python .ci/code_shape.py [SRC] [--top N]``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """Ids of the statements under ``if TYPE_CHECKING:`` (they never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for statement in node.body for child in ast.walk(statement))
    return skipped


def _imports(
    tree: ast.Module, module: str, is_package: bool, known: set[str], *, module_level: bool
) -> set[str]:
    """Absolute names of the modules a module imports when it runs.

    ``from package import submodule`` counts as an import of the submodule only; ``from package
    import name`` as an import of the package. ``module_level`` keeps only the imports executed on
    import (not inside functions); imports under ``if TYPE_CHECKING:`` are always left out.
    """
    found: set[str] = set()
    skipped = _type_checking_nodes(tree)
    nodes = _top_level(tree) if module_level else ast.walk(tree)
    for node in nodes:
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                submodule = f"{prefix}.{alias.name}"
                found.add(submodule if submodule in known else prefix)
    return found


def _signature_uses_any(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """How many of a function's parameters and return annotation mention ``Any``."""
    arguments = function.args
    annotations = [
        a.annotation
        for a in [
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            arguments.vararg,
            arguments.kwarg,
        ]
        if a is not None and a.annotation is not None
    ]
    if function.returns is not None:
        annotations.append(function.returns)
    return sum(1 for annotation in annotations if any(_is_any(node) for node in ast.walk(annotation)))


def _is_any(node: ast.AST) -> bool:
    """Whether a node names ``Any`` (``Any``, ``typing.Any``, or inside a string annotation)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return "Any" in node.value.replace("[", " ").replace(",", " ").replace("]", " ").split()
    return (isinstance(node, ast.Name) and node.id == "Any") or (
        isinstance(node, ast.Attribute) and node.attr == "Any"
    )


def _top_level(tree: ast.Module) -> list[ast.AST]:
    """The statements that run when the module is imported (not function or method bodies)."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        found.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
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
                    components.append(sorted(component))
    return components


def modules_of(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file below ``root`` (a package directory)."""
    return {_module_name(f, root): f for f in sorted(root.rglob("*.py"))}


def import_graph(modules: dict[str, Path], *, module_level: bool) -> dict[str, set[str]]:
    """Module → the package's modules it imports (see :func:`_imports` for ``module_level``)."""
    graph: dict[str, set[str]] = {}
    known = set(modules)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = _imports(tree, name, path.name == "__init__.py", known, module_level=module_level)
        graph[name] = {m for m in imported if m in known and m != name}
    return graph


def import_cycles(root: Path, *, module_level: bool) -> list[list[str]]:
    """The groups of modules below ``root`` that import each other in a circle."""
    return _cycles(import_graph(modules_of(root), module_level=module_level))


def package_edges(root: Path) -> dict[str, set[str]]:
    """Subpackage → the subpackages it imports (public ones only: ``_atomic`` and such are left out)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in import_graph(modules_of(root), module_level=False).items():
        source = module.split(".")[1] if module.count(".") else ""
        for target in targets:
            destination = target.split(".")[1] if target.count(".") else ""
            public = all(name and not name.startswith("_") for name in (source, destination))
            if public and destination != source:
                edges[source].add(destination)
    return dict(edges)


DIAGRAM_LEAVES_OUT = ("cli",)
"""Packages the diagram leaves out: the CLI imports nearly every package, and its arrows hide the rest."""


def mermaid(edges: dict[str, set[str]]) -> str:
    """The package graph as a Mermaid flowchart (one line per import edge, sorted), without the CLI."""
    lines = ["flowchart TD"]
    lines += [
        f"    {source} --> {target}"
        for source in sorted(edges)
        if source not in DIAGRAM_LEAVES_OUT
        for target in sorted(edges[source])
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", default="src/stagewise", type=Path)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--mermaid", action="store_true", help="print only the package graph, as Mermaid")
    args = parser.parse_args(argv)
    root: Path = args.src.resolve()
    if args.mermaid:
        print(mermaid(package_edges(root)))
        return 0
    modules = modules_of(root)

    any_count = any_in_signatures = ignore_count = 0
    functions: list[tuple[int, str]] = []
    sizes: list[tuple[int, str]] = []
    for name, path in modules.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        sizes.append((len(text.splitlines()), name))
        ignore_count += text.count("type: ignore")
        any_count += sum(1 for node in ast.walk(tree) if _is_any(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
                functions.append((node.end_lineno - node.lineno + 1, f"{name}:{node.name}"))
                any_in_signatures += _signature_uses_any(node)

    print(f"modules: {len(modules)}, lines: {sum(s for s, _ in sizes):,}")
    print(
        f"`Any` used: {any_count} (in {any_in_signatures} function parameters or returns), "
        f"`type: ignore`: {ignore_count}"
    )
    print(f"\nlongest {args.top} functions:")
    for length, name in sorted(functions, reverse=True)[: args.top]:
        print(f"  {length:4d}  {name}")
    print(f"\nlargest {args.top} modules:")
    for length, name in sorted(sizes, reverse=True)[: args.top]:
        print(f"  {length:4d}  {name}")
    over = [name for length, name in sizes if length > 400]
    print(f"modules over 400 lines: {len(over)}")

    print("\nimports between subpackages (private top-level modules such as _atomic left out):")
    for source, targets in sorted(package_edges(root).items()):
        print(f"  {source:12s} -> {', '.join(sorted(targets))}")
    for label, module_level in (("on import", True), ("counting imports inside functions", False)):
        cycles = import_cycles(root, module_level=module_level)
        print(f"\nimport cycles between modules, {label}: {len(cycles)}")
        for component in cycles:
            print("  " + " <-> ".join(component))
    return 0


if __name__ == "__main__":
    sys.exit(main())

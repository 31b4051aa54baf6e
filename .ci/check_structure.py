"""Structure checks over the source tree, read with ``ast`` (nothing is imported):

* no import circle among the modules of ``hta/`` and ``models/``, counting imports inside
  functions (an import inside a function hides a circle from the import system, not from a reader);
* no module over 800 lines.

    python .ci/check_structure.py [ROOT]

Edges: ``import a.b`` and ``from a.b import c`` give an edge to ``a.b.c`` when that is a module,
otherwise to ``a.b`` (as import-linter counts them; a parent package's ``__init__`` is not
counted as imported by its submodules). Exit 1 listing every circle and every long module.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_LINES = 800
PACKAGES = ("hta", "models")


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def add(target: str):
        if target in known:
            found.add(target)
        elif "." in target:
            add(target.rsplit(".", 1)[0])

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                full = f"{mod}.{alias.name}"
                add(full if full in known else mod)
    found.discard(name)
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for start, targets in graph.items():
        if start in index:
            continue
        work = [(start, iter(sorted(targets)))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def main(root: Path) -> int:
    known = modules(root)
    graph = {name: imports(name, path, known) for name, path in known.items()}
    found = circles(graph)
    long = {name: n for name, path in known.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    for comp in found:
        print("import circle: " + " <-> ".join(comp))
    for name, n in sorted(long.items()):
        print(f"module over {MAX_LINES} lines: {name} ({n})")
    print(f"{len(known)} modules, {sum(map(len, graph.values()))} import edges; "
          f"{len(found)} circle(s), {len(long)} module(s) over {MAX_LINES} lines")
    return 1 if found or long else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]))

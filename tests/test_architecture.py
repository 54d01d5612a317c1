"""The import graph measured from the source (every ``import`` statement, function-local ones
included) against what ``docs/architecture.md`` says: the packages table is true, no package
cycle, ``law`` imports nothing of syn2real and no torch, nothing imports ``cli``."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "syn2real"
#: Modules every package may use; they import nothing of syn2real but ``errors``.
SHARED = {"atomic", "hashing", "errors", "yamlfile", "children", "locking"}


def _unit(module: str) -> str:
    """``syn2real.law.batch`` → ``law``; ``syn2real`` (its ``__init__``) → ``syn2real``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def measured_graph() -> dict[str, set[str]]:
    """Package (or top-level module) → the syn2real packages and modules it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for f in SRC.rglob("*.py"):
        parts = list(f.relative_to(SRC.parent).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        if is_init:
            parts = parts[:-1]
        here = _unit(".".join(parts))
        graph.setdefault(here, set())  # every unit is a node
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = parts if is_init else parts[:-1]
                    base = base[:len(base) - node.level + 1]
                    names = [".".join(base + ([node.module] if node.module else []))]
                else:
                    names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "syn2real" and _unit(name) != here:
                    graph[here].add(_unit(name))
    return graph


def documented_graph() -> dict[str, set[str]]:
    """The packages table of docs/architecture.md: package → its 'imports from syn2real'
    column (parenthesised remarks dropped, dotted names cut to their package)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("## Packages and what each imports")[1].split("\n\n")[1]
    out = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        pkg = re.match(r"`(\w+)`", cells[0])
        if pkg is None or pkg.group(1) == "cli":
            continue
        column = re.sub(r"\([^()]*\)", "", re.sub(r"\([^()]*\)", "", cells[2]))
        out[pkg.group(1)] = {w.strip().split(".")[0] for w in column.split(",")
                             if re.fullmatch(r"[a-z_.]+", w.strip())}
    return out


def test_the_documented_package_imports_are_the_measured_ones():
    measured, documented = measured_graph(), documented_graph()
    assert len(documented) >= 12
    for pkg, deps in documented.items():
        assert measured[pkg] - SHARED - {"syn2real"} == deps - SHARED, pkg


def test_no_package_cycle_and_the_layering_rules_hold():
    graph = {k: v - {"syn2real"} for k, v in measured_graph().items()}
    seen: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            assert seen.get(nxt) != 1, "import cycle: " + " -> ".join(path + [node, nxt])
            if nxt not in seen:
                visit(nxt, path + [node])
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node, [])
    assert graph["law"] == set()
    assert graph["advise"] - SHARED == {"law"}
    assert all("cli" not in deps for unit, deps in graph.items() if unit != "cli")
    for shared in SHARED:
        assert graph[shared] <= {"errors"}, shared


def test_law_imports_no_torch():
    code = ("import sys, syn2real.law, syn2real.law.pfn, syn2real.advise; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"

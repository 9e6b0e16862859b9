"""The import graph of bench/, methods/ and tasks/: no circles, no arrow from a lower floor up.

Floors, top to bottom:

3. the command line: ``bench.cli`` (and ``bench.__main__``);
2. side by side: ``tasks``, ``methods``, ``bench.data``, the engine modules (:data:`ENGINE`) and
   the ``bench.gate``, ``bench.perf`` and ``bench.report`` packages;
   ``methods`` and ``tasks`` never import each other;
1. the bottom: :data:`BOTTOM` (``bench.api``, registry, config, results, dist, errors and the
   small helper modules), which import nothing above them.

Every ``import`` and ``from ... import`` counts, at module level and inside functions (a lazy
import still makes the circle when it runs); only imports under ``if TYPE_CHECKING:`` are left
out, as they never run. Run ``python -m pytest -q tests/test_import_graph.py`` to check; a failure
lists each circle and each upward arrow with the file and line of the import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "methods", "tasks")
BOTTOM = {
    "bench",
    "bench.api",
    "bench.config",
    "bench.config_values",
    "bench.constraints",
    "bench.dist",
    "bench.environment",
    "bench.errors",
    "bench.fileio",
    "bench.hashing",
    "bench.precision",
    "bench.predictions",
    "bench.registry",
    "bench.results",
    "bench.seeding",
    "bench.stale",
    "bench.stored_config",
}
ENGINE = {
    "bench.ablation",
    "bench.checkpoint",
    "bench.evaluate",
    "bench.launch",
    "bench.featurecache",
    "bench.leaderboard",
    "bench.leaderboard_ci",
    "bench.matrix",
    "bench.models",
    "bench.optim",
    "bench.pretraining",
    "bench.published",
    "bench.taskdata",
    "bench.train",
    "bench.train_utils",
}
TOP, MIDDLE, LOW = 3, 2, 1
NEVER = {("methods", "tasks"), ("tasks", "methods")}  # (importer's package, imported package)

# Arrows being removed in their own changes while this test lands; each breaks one circle or is the
# upward arrow. test_known_exceptions_still_exist fails once one is gone, so that it leaves here too.
KNOWN: set[tuple[str, str]] = {
}


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    where: str  # "path:line"

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}  ({self.where})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Line numbers of the imports under ``if TYPE_CHECKING:`` (they never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {n.lineno for stmt in node.body for n in ast.walk(stmt) if hasattr(n, "lineno")}
    return skipped


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_package: bool, modules: set[str]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    base = node.module or ""
    if node.level:  # relative: from the importer's package upward
        package = name.split(".") if is_package else name.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        yield sub if sub in modules else base


def _owner(target: str, modules: set[str]) -> str | None:
    """The project module an import resolves to (its longest known prefix), or None."""
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in modules:
            return candidate
    return None


def import_arrows() -> list[Arrow]:
    modules = project_modules()
    names = set(modules)
    arrows: dict[Arrow, None] = {}  # ordered, without repeats
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or node.lineno in skipped:
                continue
            for target in _targets(node, name, path.name == "__init__.py", names):
                owner = _owner(target, names)
                arrow = Arrow(name, owner or "", f"{path.relative_to(REPO)}:{node.lineno}")
                if owner is not None and owner != name:
                    arrows[arrow] = None
    return list(arrows)


def floor(module: str) -> int | None:
    if module == "bench.__main__" or module == "bench.cli" or module.startswith("bench.cli."):
        return TOP
    if module in BOTTOM or module == "bench.stats" or module.startswith("bench.stats."):
        return LOW
    if module in ENGINE or module.split(".")[0] in ("tasks", "methods") or module.startswith(("bench.data", "bench.gate", "bench.perf", "bench.report")):
        return MIDDLE
    return None


def cycles(arrows: list[Arrow]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for a in arrows:
        graph.setdefault(a.source, set()).add(a.target)
        graph.setdefault(a.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def violations(arrows: list[Arrow]) -> tuple[list[str], list[Arrow], list[Arrow]]:
    """(modules without a floor, upward arrows, arrows between methods and tasks)."""
    unplaced = sorted({m for a in arrows for m in (a.source, a.target) if floor(m) is None})
    upward = [a for a in arrows if None not in (floor(a.source), floor(a.target)) and floor(a.source) < floor(a.target)]
    crossing = [a for a in arrows if (a.source.split(".")[0], a.target.split(".")[0]) in NEVER]
    return unplaced, upward, crossing


def report(arrows: list[Arrow]) -> str:
    lines = []
    unplaced, upward, crossing = violations(arrows)
    if unplaced:
        lines.append("modules on no floor (add them to BOTTOM or ENGINE in this test): " + ", ".join(unplaced))
    for component in cycles(arrows):
        inside = [a for a in arrows if a.source in component and a.target in component]
        lines.append("circle among " + ", ".join(component) + ":\n    " + "\n    ".join(map(str, inside)))
    for a in upward:
        lines.append(f"upward (floor {floor(a.source)} imports floor {floor(a.target)}): {a}")
    for a in crossing:
        lines.append(f"methods and tasks import each other: {a}")
    return "\n".join(lines)


def _known(a: Arrow) -> bool:
    return (a.source, a.target) in KNOWN


def test_the_walk_sees_lazy_relative_and_package_imports():
    arrows = import_arrows()
    pairs = {(a.source, a.target) for a in arrows}
    assert ("bench.cli.import_", "bench.checkpoint") in pairs  # inside run()
    assert ("methods.prior.model", "methods.prior.steps") in pairs  # `from methods.prior import steps`
    assert ("bench.train", "bench.dist") in pairs  # `from bench import dist`
    assert ("methods.prior.steps", "methods.prior.model") not in pairs  # only under TYPE_CHECKING
    assert len(project_modules()) > 100


def test_the_rules_catch_a_circle_and_an_upward_arrow():
    made_up = [
        Arrow("bench.results", "bench.cli.ls", "x:1"),
        Arrow("tasks.retrieval", "methods.tokenize", "x:2"),
        Arrow("bench.train", "bench.optim", "x:3"),
        Arrow("bench.optim", "bench.train", "x:4"),
    ]
    text = report(made_up)
    assert "upward (floor 1 imports floor 3): bench.results -> bench.cli.ls" in text
    assert "methods and tasks import each other: tasks.retrieval -> methods.tokenize" in text
    assert "circle among bench.optim, bench.train" in text and "bench.optim -> bench.train  (x:4)" in text


def test_no_circles_and_no_arrow_up():
    arrows = import_arrows()
    remaining = [a for a in arrows if not _known(a)]
    problems = report(remaining)
    assert not problems, "the import graph breaks the floors:\n" + problems


@pytest.mark.skipif(not KNOWN, reason="no known exceptions left")
def test_known_exceptions_still_exist():
    pairs = {(a.source, a.target) for a in import_arrows()}
    gone = sorted(KNOWN - pairs)
    assert not gone, f"these arrows are gone; delete them from KNOWN: {gone}"

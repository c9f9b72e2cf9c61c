"""The architecture holds: no import cycle, a light core, settings read only by entry points.

The layer contracts themselves are import-linter's (``make lint``); these checks are the ones it
cannot state: cycles between single modules across the whole project, what importing the core
loads at run time, and where settings are read.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import grimp
import pytest

from skyprophet.core.config import PROJECT_ROOT

PACKAGES = ("skyprophet", "feature_repo", "pipelines", "serving", "benchmarks", "studies")
# pyarrow is not listed: pandas itself loads it on import.
HEAVY = ("feast", "mlflow", "redis", "hiredis", "lightgbm", "duckdb", "ibis", "sklearn", "fastapi", "uvicorn", "typer", "rich")
# The entry points, which alone read settings (docs/design.md: entry points read settings; everything below takes them).
SETTINGS_READERS = {"skyprophet/cli/_common.py", "serving/main.py", "feature_repo/repo.py"}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
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
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("type_only", [False, True], ids=["run-time imports", "with type-only imports"])
def test_no_import_cycle_between_any_two_modules(type_only: bool) -> None:
    """Not even through ``TYPE_CHECKING`` imports: a cycle of types (the metrics naming the
    inference they measure, which imports them) is a cycle of design all the same."""
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=not type_only, cache_dir=None)  # never a stale cache
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(edges) == []


def test_importing_the_core_loads_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import skyprophet.core.config, skyprophet.core.errors, skyprophet.core.features, skyprophet.core.keys\n"
        "import skyprophet.core.model, skyprophet.core.transforms\n"
        "skyprophet.core.config.Settings()\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {list(HEAVY)!r})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def _reads_settings(path: str) -> list[int]:
    """Lines of ``path`` that call ``get_settings()`` or ``get_serving_settings()``."""
    tree = ast.parse((PROJECT_ROOT / path).read_text())
    names = ("get_settings", "get_serving_settings")
    return [
        node.lineno for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in names
    ]


def test_only_entry_points_read_settings() -> None:
    library = [p.relative_to(PROJECT_ROOT).as_posix() for pkg in ("skyprophet", "feature_repo", "pipelines", "serving")
               for p in (PROJECT_ROOT / pkg).rglob("*.py")]
    readers = {path: lines for path in library if (lines := _reads_settings(path))}
    assert set(readers) <= SETTINGS_READERS, readers
    assert "skyprophet/cli/_common.py" in readers  # the check sees calls at all

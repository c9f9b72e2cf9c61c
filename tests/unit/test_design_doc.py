"""docs/design.md is the project's own design statement: its layout table names every module."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("skyprophet", "pipelines", "serving", "feature_repo", "benchmarks", "studies")


def _modules() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if p.name != "__init__.py"}


def test_the_layout_table_names_every_module_and_nothing_else() -> None:
    page = (ROOT / "docs" / "design.md").read_text()
    layout = page.split("## Layout", 1)[1]
    named = set(re.findall(r"^\| `([^`]+\.py)` \|", layout, flags=re.M))
    modules = _modules()
    assert not modules - named, f"modules missing from docs/design.md's layout: {sorted(modules - named)}"
    assert not named - modules, f"docs/design.md names modules that do not exist: {sorted(named - modules)}"


def test_the_project_points_at_no_design_file_outside_it() -> None:
    outside = "DESIGN" + ".md"  # spelled apart so that this file does not name it
    for pkg in (*PACKAGES, "tests"):
        for p in (ROOT / pkg).rglob("*.py"):
            assert outside not in p.read_text(), p

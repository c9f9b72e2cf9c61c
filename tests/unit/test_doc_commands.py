"""Every `make X` and `skyprophet ...` command the README and the docs show exists, with the options shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyprophet.core.config import PROJECT_ROOT
from tests.unit.doc_commands import Shown, check, make_targets, shown_commands

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").rglob("*.md"))]


@pytest.fixture(scope="module")
def cli():  # type: ignore[no-untyped-def]
    from typer.main import get_command

    from skyprophet.cli.app import app

    return get_command(app)


@pytest.fixture(scope="module")
def targets() -> set[str]:
    return make_targets(PROJECT_ROOT / "Makefile")


def test_every_command_shown_exists_with_its_options(cli, targets: set[str]) -> None:  # type: ignore[no-untyped-def]
    shown = [c for page in PAGES for c in shown_commands(page, PROJECT_ROOT)]
    assert len(shown) > 100 and {c.page for c in shown} >= {"README.md", "docs/getting-started.md"}
    problems = [p for c in shown if (p := check(c, targets, cli))]
    assert problems == [], "\n".join(problems)


def test_a_wrong_command_in_a_page_is_found(tmp_path: Path, cli, targets: set[str]) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "page.md"
    page.write_text(
        "Run `make rnu` first.\n\n```bash\n"
        "make run                                  # fine\n"
        "skyprophet model train --no-such-option 3 # an option it lacks\n"
        "skyprophet modle train\n"
        "skyprophet -q features build --until 2013-06-15T12:00:00+00:00 \\\n  --out-dir /tmp/cut | tail -1\n"
        "skyprophet <command> --help\n"
        "```\n\nAnd `skyprophet data ingest [--sources F]`, `make run SOURCES=x.yaml`.\n")
    found = [check(c, targets, cli) for c in shown_commands(page, tmp_path)]
    assert found == [
        "page.md:1: `make rnu`: no make target rnu",
        None,
        "page.md:5: `skyprophet model train --no-such-option 3`: skyprophet model train has no option --no-such-option",
        "page.md:6: `skyprophet modle train`: skyprophet has no command 'modle'",
        None, None, None, None,
    ]


def test_inline_spans_and_continued_lines_are_read(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("```bash\nskyprophet model predict --carrier DL \\\n  --origin LGA\n```\n")
    assert list(shown_commands(page, tmp_path)) == [Shown("p.md", 2, "skyprophet model predict --carrier DL --origin LGA")]

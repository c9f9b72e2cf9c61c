"""The shared Redis server's databases: one owner each, named in tests/conftest.py's table."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REDIS_DBS

ROOT = Path(__file__).resolve().parents[2]
# a database picked by hand: the URL's path cut off and a number put back on
BY_HAND = re.compile(r"""rsplit\(\s*["']/["']\s*,\s*1\s*\)\s*\[0\]\s*\+\s*["']/(\d+)["']""")


def test_every_database_has_one_owner_and_the_default_is_left_alone() -> None:
    numbers = list(REDIS_DBS.values())
    assert len(numbers) == len(set(numbers)), sorted(numbers)
    assert all(1 <= n <= 15 for n in numbers), numbers


def test_no_test_picks_a_database_by_hand() -> None:
    found = [f"{p.relative_to(ROOT)}: /{m.group(1)}" for p in sorted((ROOT / "tests").rglob("*.py"))
             for m in BY_HAND.finditer(p.read_text())]
    assert found == []


def test_the_benchmarks_keep_off_the_tests_databases() -> None:
    bench = {int(m.group(1)) for p in (ROOT / "benchmarks").rglob("*.py") for m in BY_HAND.finditer(p.read_text())}
    assert bench, "the benchmarks name their databases as the tests once did; this check lost its subject"
    assert bench.isdisjoint(REDIS_DBS.values()), bench & set(REDIS_DBS.values())

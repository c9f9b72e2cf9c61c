"""``make bench-smoke`` runs every benchmark and study that has a smoke mode, in two lanes
(``benchmarks/smoke.py``): none forgotten, none twice, and those sharing a Redis database never
side by side. A lane entry is a module, with its arguments when a study runs one family each time."""

from __future__ import annotations

import re

import pytest

from benchmarks.smoke import LANES, lanes
from skyprophet.core.config import PROJECT_ROOT


def _with_smoke_mode() -> set[str]:
    files = [*PROJECT_ROOT.glob("benchmarks/*.py"), *PROJECT_ROOT.glob("studies/*.py")]
    return {f"{p.parent.name}.{p.stem}" for p in files if p.stem != "smoke" and '"--smoke"' in p.read_text()}


def _redis_db(module: str) -> set[int]:
    """The Redis databases a module loads: ``/NN`` after a URL's last slash, or a ``REDIS_DB`` it imports."""
    text = (PROJECT_ROOT / (module.replace(".", "/") + ".py")).read_text()
    dbs = {int(d) for d in re.findall(r'rsplit\("/", 1\)\[0\] \+ "/(\d+)"', text)}
    dbs |= {int(d) for d in re.findall(r"^REDIS_DB = (\d+)", text, re.M)}
    if "from benchmarks.bench_serving import" in text and "prepare" in text:
        dbs |= _redis_db("benchmarks.bench_serving")
    return dbs


def test_every_smoke_mode_is_in_exactly_one_lane() -> None:
    listed = [m for lane in LANES for m in lane]
    assert len(listed) == len(set(listed))
    assert {m.split()[0] for m in listed} == _with_smoke_mode()


def test_modules_sharing_a_redis_database_share_a_lane() -> None:
    lane_of = {m: i for i, lane in enumerate(LANES) for m in lane}
    by_db: dict[int, set[int]] = {}
    for module, i in lane_of.items():
        for db in _redis_db(module.split()[0]):
            by_db.setdefault(db, set()).add(i)
    assert by_db[13] == {lane_of["benchmarks.bench_serving"]}  # the rule below sees bench_serving and soak
    assert all(len(found) == 1 for found in by_db.values()), by_db


def test_a_subset_keeps_its_lanes_and_serial_is_one_lane() -> None:
    assert lanes(["benchmarks.soak", "benchmarks.bench_stream"], serial=False) == [["benchmarks.soak"], ["benchmarks.bench_stream"]]
    assert lanes(["benchmarks.bench_stream", "benchmarks.soak"], serial=True) == [["benchmarks.soak", "benchmarks.bench_stream"]]
    with pytest.raises(SystemExit, match="unknown module"):
        lanes(["benchmarks.nope"], serial=False)

"""The producer example of the how-to page, run as written against a real Redis: every entry it
writes passes the event contract as the processor checks it, in availability order."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from skyprophet.core.events import CLOCK, parse_entry
from tests.api.conftest import free_port
from tests.conftest import redis_server

pytestmark = [pytest.mark.integration]
PAGE = Path(__file__).resolve().parents[2] / "docs" / "how-to" / "write-a-producer.md"
STREAM = "producer-doc:events"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 1, "the page has one Python example"
    return blocks[0]


def test_the_producer_example_writes_valid_entries(tmp_path: Path) -> None:
    port = free_port()
    server = redis_server(port)  # a Redis of the test's own: the shared one's databases all have owners
    try:
        _check(f"redis://127.0.0.1:{port}/0", tmp_path)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _check(url: str, tmp_path: Path) -> None:
    r = redis.Redis.from_url(url)
    script = tmp_path / "producer.py"
    script.write_text(_example())
    env = {**os.environ, "REDIS_URL": url, "SKYPROPHET_STREAM_NAME": STREAM}
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    entries = [fields for _, fields in r.xrange(STREAM)]
    events = [parse_entry(fields) for fields in entries]  # raises InvalidInput naming the problem
    assert [e.kind for e in events] == ["planned", CLOCK, "weather", "schedule", CLOCK, "departure", CLOCK]
    assert [e.at for e in events] == sorted(e.at for e in events), "not in availability order"
    assert int(r.get(f"{STREAM}:clock") or 0) == events[-1].at
    assert events[-1].at % 900 == 0 and events[-1].at >= events[-2].at  # a clock at the grid point after the departure

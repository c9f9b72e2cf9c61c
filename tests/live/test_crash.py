"""Crash safety: the processor killed with SIGKILL in the middle of a replay and restarted ends
with the same online store and the same durable log as a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import redis

from skyprophet.core.config import Settings
from tests.live.conftest import Live, live_setup

pytestmark = pytest.mark.live
# the start test_poison and test_recover replay from (its feature build is made once a session);
# 16 hours: the night and the morning's first departure bank
START = datetime(2013, 12, 16, 0, 0, tzinfo=timezone.utc)
END = START + timedelta(hours=16)
CLI = str(Path(sys.executable).with_name("skyprophet"))


def _processor(live: Live, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SKYPROPHET_DATA_DIR": str(live.settings.data_dir), "REDIS_URL": live.settings.redis_url,
           "SKYPROPHET_STREAM_NAME": live.settings.stream_name, "SKYPROPHET_STREAM_BATCH": "40"}
    return subprocess.Popen([CLI, "live", "stream", "--to", END.isoformat(), *args], env=env, stderr=subprocess.PIPE)


def _online_state(live: Live) -> dict[bytes, dict[bytes, bytes]]:
    r = redis.Redis.from_url(live.settings.redis_url)
    skip = live.settings.stream_name.encode()
    return {k: r.hgetall(k) for k in r.scan_iter(count=1000) if not k.startswith(skip)}


def _log(live: Live) -> pd.DataFrame:
    return live.event_log.read().drop(columns="stream_id").reset_index(drop=True)


def _finish(proc: subprocess.Popen[bytes]) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-2000:]


def test_kill_9_and_restart_equals_uninterrupted_run(settings: Settings, canonical: pd.DataFrame, tmp_path: Path, redis_url: str) -> None:
    runs: dict[str, Any] = {}
    for name in ("clean", "killed"):
        (tmp_path / name).mkdir()
        live = live_setup(settings, tmp_path / name, redis_url, f"crash-{name}", START, canonical)
        live.stream.ensure_group()
        proc = _processor(live, "--from", START.isoformat())
        replay = live.replay(END)
        replay.run()
        if name == "killed":
            mid = int((START + timedelta(hours=8)).timestamp()) // 60
            while int(live.stream.checkpoint().get("tick", 0)) < mid:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                time.sleep(0.01)
            # kill with a batch in flight (read, not yet acknowledged), not in the instant between two
            # batches: CI once killed it there, and then the restart had nothing in flight to recover
            deadline = time.monotonic() + 30
            while not live.stream.r.xpending(live.stream.name, live.stream.group)["pending"]:
                assert proc.poll() is None and time.monotonic() < deadline, "the processor never had a batch in flight"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            pending = live.stream.r.xpending(live.stream.name, live.stream.group)["pending"]
            checkpoint = int(live.stream.checkpoint()["tick"])
            assert checkpoint < int(END.timestamp()) // 60, "killed after the end: nothing was interrupted"
            proc = _processor(live)  # no --from: it resumes from the checkpoint
            runs["pending_at_kill"] = pending
        _finish(proc)
        runs[name] = live
    clean, killed = runs["clean"], runs["killed"]
    a, b = _online_state(clean), _online_state(killed)
    assert len(a) > 1000 and a == b
    pd.testing.assert_frame_equal(_log(clean), _log(killed))
    assert len(_log(clean)) > 1000
    assert runs["pending_at_kill"] > 0, "the kill found nothing in flight"

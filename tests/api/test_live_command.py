"""`skyprophet live`: with no Redis answering, it starts one, loads the online store, runs the
processor, the replay and the API in live mode, which then scores the flights due at the clock;
SIGTERM stops everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.config import ServingSettings
from skyprophet.core.keys import flight_query
from tests.api.conftest import free_port

pytestmark = [pytest.mark.api, pytest.mark.live]
CLI = str(Path(sys.executable).with_name("skyprophet"))
START = pd.Timestamp("2013-12-09T10:00:00Z")


def _wait(check, seconds: float = 240):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_live_command_runs_the_whole_loop(api_settings: ServingSettings, small_models, canonical: pd.DataFrame, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    data.mkdir()
    (data / "raw").symlink_to(api_settings.raw_dir)
    redis_port, api_port = free_port(), free_port()
    env = {**os.environ, "SKYPROPHET_DATA_DIR": str(data), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "SKYPROPHET_MLFLOW_TRACKING_URI": api_settings.mlflow_tracking_uri, "SKYPROPHET_STREAM_BATCH": "200"}
    out = open(tmp_path / "live.log", "wb")  # noqa: SIM115 - closed at the end
    proc = subprocess.Popen([CLI, "live", "--from", START.isoformat(), "--to", (START + pd.Timedelta(hours=6)).isoformat(),
                             "--speed", "60", "--port", str(api_port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{api_port}"
    try:
        def ready() -> dict | None:  # type: ignore[type-arg]
            assert proc.poll() is None, (tmp_path / "live.log").read_text()[-3000:]
            try:
                r = httpx.get(f"{url}/ready", timeout=2)
            except httpx.HTTPError:
                return None
            body = r.json()
            return body if r.status_code == 200 and body["live"]["clock"] > START.isoformat() else None

        body = _wait(ready)
        now = pd.Timestamp(body["live"]["clock"])
        t = canonical["sched_dep_utc"] - pd.Timedelta(minutes=120)
        due = canonical[(t > now - pd.Timedelta(minutes=5)) & (t <= now + pd.Timedelta(minutes=5))].head(20)
        assert len(due)
        r = httpx.post(f"{url}/predict", json={"flights": [flight_query(x) for x in due.itertuples()]}, timeout=10)
        assert r.status_code == 200, r.text
        served = pd.Timestamp(r.json()["as_of"])
        assert served >= now
        preds = r.json()["predictions"]
        ok = [p for p in preds if p["status"] == "ok"]
        assert ok, preds[0]
        # fresh features: the airline's window row is at most one grid step old at the clock
        assert all(p["feature_age_s"]["airline_stats"] is not None and p["feature_age_s"]["airline_stats"] <= 900 for p in ok)
        assert all(0 < p["delay_probability"] < 1 for p in ok)
        later = _wait(lambda: (b := ready()) and pd.Timestamp(b["live"]["clock"]) > now + pd.Timedelta(minutes=15) and b)
        assert later["live"]["lag_minutes"] <= 15
        assert (data / "live" / "events").is_dir() and any((data / "live" / "events").glob("day=*/*.parquet"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        out.close()
    assert proc.returncode == 0, (tmp_path / "live.log").read_text()[-3000:]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=2)

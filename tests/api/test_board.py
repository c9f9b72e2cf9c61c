"""`skyprophet live run`, and the departures board in a real browser during its replay.

With no Redis answering, `skyprophet live run` starts one, loads the online store, runs the
processor, the replay and the API in live mode, which scores the flights due at the clock from
fresh features; SIGTERM stops everything it started. In Debian's chromium (headless, driven by
Playwright) the board shows rows, a probability changes as the clock advances, an outcome
appears once a flight has departed, and the page logs no error."""

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
from tests.browser import CHROMIUM, headless_page

pytestmark = [pytest.mark.api, pytest.mark.live, pytest.mark.browser]
CLI = str(Path(sys.executable).with_name("skyprophet"))
START = pd.Timestamp("2013-12-09T11:00:00Z")


@pytest.fixture
def chromium() -> str | None:
    """Debian's chromium; under CI=true its absence is a failure, elsewhere the browser part is skipped."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed (apt-get install chromium)")
        return None
    return CHROMIUM


def _browse(url: str, chromium: str, tmp_path: Path) -> None:
    """The board in headless chromium during the replay (see the module docstring)."""
    with headless_page(chromium, width=1440) as (page, errors):
        page.goto(f"{url}/board?origin=EWR")
        page.wait_for_selector("#rows tr", timeout=30_000)
        rows = "#rows tr, #departed tr"
        probabilities: dict[str, set[str]] = {}
        outcomes: dict[str, list[bool]] = {}
        clocks: set[str] = set()
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            clocks.add(page.inner_text("#clock"))
            for r in page.query_selector_all(rows):
                key = r.get_attribute("data-flight") or ""
                value = r.query_selector("td.prob .value")
                if value is not None:
                    probabilities.setdefault(key, set()).add(value.inner_text())
                outcomes.setdefault(key, []).append(bool(r.query_selector("td.outcome").inner_text().strip()))
            changed = [k for k, v in probabilities.items() if len(v) > 1]
            appeared = [k for k, v in outcomes.items() if not v[0] and v[-1]]
            if changed and appeared and len(clocks) > 3 and "%" in page.inner_text("#hitrate"):
                break
            time.sleep(0.5)
        shot = Path(os.environ.get("SKYPROPHET_BOARD_SCREENSHOT", str(tmp_path / "board.png")))
        page.screenshot(path=str(shot), full_page=False)
    assert len(clocks) > 3, clocks
    assert changed, f"no probability changed as the clock advanced: {list(probabilities.items())[:5]}"
    assert appeared, "no outcome appeared after a departure"
    assert not errors, errors


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _due_flights_are_fresh(url: str, canonical: pd.DataFrame) -> None:
    """POST /predict without as_of scores the flights due at the clock from fresh features."""
    body = httpx.get(f"{url}/ready", timeout=5).json()
    now = pd.Timestamp(body["live"]["clock"])
    t = canonical["sched_dep_utc"] - pd.Timedelta(minutes=120)
    due = canonical[(t > now - pd.Timedelta(minutes=5)) & (t <= now + pd.Timedelta(minutes=5))].head(20)
    assert len(due)
    r = httpx.post(f"{url}/predict", json={"flights": [flight_query(x) for x in due.itertuples()]}, timeout=10)
    assert r.status_code == 200, r.text
    assert pd.Timestamp(r.json()["as_of"]) >= now
    ok = [p for p in r.json()["predictions"] if p["status"] == "ok"]
    assert ok, r.json()["predictions"][0]
    assert all(p["feature_age_s"]["airline_stats"] is not None and p["feature_age_s"]["airline_stats"] <= 900 for p in ok)
    assert all(0 < p["delay_probability"] < 1 for p in ok)


def test_live_command_and_the_board_in_a_browser(
    api_settings: ServingSettings, small_models, canonical: pd.DataFrame, chromium: str | None, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "raw").symlink_to(api_settings.raw_dir)
    redis_port, api_port = free_port(), free_port()
    env = {**os.environ, "SKYPROPHET_DATA_DIR": str(data), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "SKYPROPHET_MLFLOW_TRACKING_URI": api_settings.mlflow_tracking_uri, "SKYPROPHET_STREAM_BATCH": "200",
           "SKYPROPHET_BOARD_REFRESH_MS": "500"}
    log = tmp_path / "live.log"
    out = log.open("wb")
    proc = subprocess.Popen([CLI, "live", "run", "--from", START.isoformat(), "--to", (START + pd.Timedelta(hours=8)).isoformat(),
                             "--speed", "300", "--port", str(api_port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 240
        while not _ready(url):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the live API never became ready"
            time.sleep(0.5)
        _due_flights_are_fresh(url, canonical)
        if chromium is None:
            browsed = False
        else:
            _browse(url, chromium, tmp_path)
            browsed = True
        ready = httpx.get(f"{url}/ready", timeout=5).json()
        assert ready["status"] == "ready" and ready["live"]["lag_minutes"] <= 15
        assert any((data / "live" / "events").glob("day=*/*.parquet"))  # what was received is kept
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        out.close()
    assert proc.returncode == 0, log.read_text()[-3000:]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=2)
    if not browsed:
        pytest.skip("chromium is not installed: the board's browser part did not run")

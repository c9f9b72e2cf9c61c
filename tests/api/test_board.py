"""The departures board in a real browser (Debian's chromium, headless, driven by Playwright)
during a replay: rows appear, a probability changes as the clock advances, an outcome appears
once a flight has departed, and the page logs no error."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.config import ServingSettings
from tests.api.conftest import free_port

pytestmark = [pytest.mark.api, pytest.mark.live, pytest.mark.browser]
CLI = str(Path(sys.executable).with_name("skyprophet"))
START = pd.Timestamp("2013-12-09T11:00:00Z")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        msg = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return CHROMIUM


def test_board_in_a_browser_during_a_replay(
    api_settings: ServingSettings, small_models, chromium: str, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    from playwright.sync_api import sync_playwright

    data = tmp_path / "data"
    data.mkdir()
    (data / "raw").symlink_to(api_settings.raw_dir)
    redis_port, api_port = free_port(), free_port()
    env = {**os.environ, "SKYPROPHET_DATA_DIR": str(data), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "SKYPROPHET_MLFLOW_TRACKING_URI": api_settings.mlflow_tracking_uri, "SKYPROPHET_STREAM_BATCH": "200",
           "SKYPROPHET_BOARD_REFRESH_MS": "500"}
    log = tmp_path / "live.log"
    out = log.open("wb")
    proc = subprocess.Popen([CLI, "live", "--from", START.isoformat(), "--to", (START + pd.Timedelta(hours=8)).isoformat(),
                             "--speed", "300", "--port", str(api_port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{api_port}"
    errors: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
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
            browser.close()
        assert len(clocks) > 3, clocks
        assert changed, f"no probability changed as the clock advanced: {list(probabilities.items())[:5]}"
        assert appeared, "no outcome appeared after a departure"
        assert not errors, errors
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        out.close()

"""Snapshot mode's timetable (`make run`): `GET /departures` and the board list the schedule as of the
instant the online store holds, score the flights due then, and show the outcomes known then.

The expected rows come from the canonical flights directly (pandas), not from the timetable; the
expected predictions from `POST /predict` with that instant as `as_of`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from serving.config import ServingSettings
from skyprophet.core.keys import flight_query
from tests.api.conftest import MATERIALIZED, start_server
from tests.browser import chromium_or_skip, headless_page

pytestmark = [pytest.mark.api, pytest.mark.integration]
HELD = pd.Timestamp(MATERIALIZED)


@pytest.fixture(scope="module")
def snapshot_settings(api_settings: ServingSettings, loaded_redis: str) -> ServingSettings:
    return api_settings.model_copy(update={"snapshot": True})


def test_departures_in_snapshot_mode(snapshot_settings: ServingSettings, canonical: pd.DataFrame) -> None:
    from fastapi.testclient import TestClient

    from serving.main import create_app

    sched = canonical["sched_dep_utc"]
    expected = canonical[(canonical["origin"] == "EWR") & (sched > HELD - pd.Timedelta(hours=2))
                         & (sched <= HELD + pd.Timedelta(hours=6))].sort_values("sched_dep_utc", kind="stable")
    departed = expected["actual_dep_utc"] <= HELD  # known at the held instant; later departures are not
    assert departed.any() and (~departed & (expected["sched_dep_utc"] > HELD)).any()
    with TestClient(create_app(snapshot_settings)) as c:
        r = c.get("/departures", params={"origin": "EWR", "hours": 6, "past_hours": 2})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["as_of"] == HELD.isoformat()
        rows = body["departures"]
        assert [(d["flight_id"], d["dest"]) for d in rows] == list(zip(expected["carrier"] + expected["flight_number"].astype(str),
                                                                        expected["dest"], strict=True))
        for d, (_, f), gone in zip(rows, expected.iterrows(), departed, strict=True):
            if gone:
                assert d["outcome"]["delay_minutes"] == f["dep_delay_min"] and d["prediction"] is None, d
            else:
                assert d["outcome"] is None, d
        upcoming = expected[expected["sched_dep_utc"] >= HELD + pd.Timedelta(minutes=30)].head(snapshot_settings.max_flights)
        scored = {d["flight_id"] + d["scheduled_departure"]: d["prediction"] for d in rows if d["prediction"]}
        asked = c.post("/predict", json={"flights": [flight_query(f) for f in upcoming.itertuples()], "as_of": HELD.isoformat()})
        assert asked.status_code == 200, asked.text
        for f, p in zip(upcoming.itertuples(), asked.json()["predictions"], strict=True):
            key = f.carrier + str(f.flight_number) + (f.sched_dep_utc + pd.Timedelta(minutes=f.utc_offset_min)).strftime("%Y-%m-%dT%H:%M")
            got = next(v for k, v in scored.items() if k.startswith(key))
            assert got["status"] == "ok" and got["reliable"], got
            assert got["delay_probability"] == p["delay_probability"]
        assert c.get("/departures", params={"origin": "EWR"}).status_code == 200
    with TestClient(create_app(snapshot_settings.model_copy(update={"snapshot": False}))) as c:
        assert c.get("/departures", params={"origin": "EWR"}).status_code == 409


def test_board_in_snapshot_mode_in_a_browser(snapshot_settings: ServingSettings, tmp_path: Path) -> None:
    chromium = chromium_or_skip()
    server = start_server(snapshot_settings)
    try:
        with headless_page(chromium, width=1440) as (page, errors):
            page.goto(f"{server.url}/board?origin=EWR")
            page.wait_for_selector("#rows tr td.prob .value", timeout=30_000)
            assert page.inner_text("#clock") == "2013-12-30 12:00 UTC"
            shown = [v.inner_text() for v in page.query_selector_all("#rows tr td.prob .value")]
            assert shown and all(s.endswith("%") for s in shown), shown
            assert page.query_selector_all("#departed tr td.outcome"), "no departed flight with its outcome"
            shot = Path(os.environ.get("SKYPROPHET_SNAPSHOT_BOARD_SCREENSHOT", str(tmp_path / "board.png")))
            page.screenshot(path=str(shot), full_page=False)
        assert not errors, errors
    finally:
        server.stop()

"""Live mode: /predict without as_of reads the replay's clock, /ready reports stale features, and
each view's feature age is in the response and in /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta, timezone

import httpx
import pandas as pd
import pytest
import redis

from serving.config import ServingSettings
from skyprophet.adapters.stream import EventStream
from skyprophet.core.keys import flight_query
from tests.api.conftest import MATERIALIZED, Server, start_server

pytestmark = [pytest.mark.api, pytest.mark.integration]
NOW = int(MATERIALIZED.timestamp())


@pytest.fixture(scope="module")
def live_api(api_settings: ServingSettings, loaded_redis: str) -> Iterator[tuple[Server, redis.Redis, str]]:
    settings = api_settings.model_copy(update={"live": True, "stream_name": "test:live-api"})
    r = redis.Redis.from_url(loaded_redis)
    name = settings.stream_name
    stream = EventStream(r, name=name)
    stream.reset()
    r.set(f"{name}:clock", NOW)
    r.hset(f"{name}:checkpoint", mapping={"tick": NOW // 60})
    server = start_server(settings)
    yield server, r, name
    server.stop()
    stream.reset()


def _flights(canonical: pd.DataFrame, lo_min: int, hi_min: int) -> pd.DataFrame:
    """Flights whose prediction time (scheduled - 2 h) is in [now + lo, now + hi) minutes."""
    t = canonical["sched_dep_utc"] - pd.Timedelta(minutes=120)
    now = pd.Timestamp(MATERIALIZED)
    return canonical[(t >= now + pd.Timedelta(minutes=lo_min)) & (t < now + pd.Timedelta(minutes=hi_min))].head(30)


def test_scores_flights_due_now_as_of_the_clock(live_api, api, canonical: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    server, _, _ = live_api
    due = _flights(canonical, -10, 15)
    later = _flights(canonical, 60, 120)
    flights = [flight_query(r) for r in due.itertuples()] + [flight_query(r) for r in later.itertuples()]
    got = httpx.post(f"{server.url}/predict", json={"flights": flights}, timeout=30)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["as_of"] == MATERIALIZED.isoformat()
    preds = body["predictions"]
    # the same flights read as of the clock's instant by the server that is not live
    ref = httpx.post(f"{api.url}/predict", json={"flights": flights[: len(due)], "as_of": MATERIALIZED.isoformat()}, timeout=30).json()
    for p, q in zip(preds[: len(due)], ref["predictions"], strict=True):
        assert p["status"] == "ok" and p["delay_probability"] == q["delay_probability"]
        assert p["feature_age_s"]["airline_stats"] == 0  # a row at every grid point; the clock is on one
        assert p["feature_age_s"] == q["feature_age_s"]
    for p in preds[len(due):]:
        assert p["status"] == "not_due" and p["delay_probability"] is None
        assert "after the clock's now" in p["reason"] and "within 15 min" in p["reason"]
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert 'skyprophet_feature_age_seconds{view="airline_stats"} 0.0' in metrics


def test_ready_reports_stale_features_and_a_missing_clock(live_api) -> None:  # type: ignore[no-untyped-def]
    server, r, name = live_api
    ready = httpx.get(f"{server.url}/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["live"]["lag_minutes"] == 0
    try:
        r.set(f"{name}:clock", NOW + int(timedelta(minutes=45).total_seconds()))  # the processor fell behind
        stale = httpx.get(f"{server.url}/ready", timeout=10)
        assert stale.status_code == 503
        assert any("stale features" in p and "45 min" in p for p in stale.json()["problems"]), stale.text
        assert "skyprophet_live_lag_seconds 2700.0" in httpx.get(f"{server.url}/metrics", timeout=10).text
        r.delete(f"{name}:clock")
        none = httpx.get(f"{server.url}/ready", timeout=10)
        assert none.status_code == 503 and "no clock" in none.text
        flight = {"carrier": "UA", "flight_number": 1545, "origin": "EWR", "dest": "IAH",
                  "scheduled_departure": "2013-12-30T09:00:00-05:00"}
        p = httpx.post(f"{server.url}/predict", json={"flights": [flight]}, timeout=10)
        assert p.status_code == 503 and "no clock" in p.json()["detail"]
    finally:
        r.set(f"{name}:clock", NOW)


def test_departures_lists_the_timetable_with_predictions_and_outcomes(live_api, api, canonical: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    from pipelines.replay import flight_events
    from skyprophet.adapters.departures import Departures
    from skyprophet.core.events import CANCELLATION, DEPARTURE, PLANNED

    server, r, name = live_api
    board = Departures(r, name)
    known = [e for _, _, e in flight_events(canonical, NOW - 30 * 3600, NOW) if e.kind in (PLANNED, DEPARTURE, CANCELLATION)]
    board.write(known)
    got = httpx.get(f"{server.url}/departures", params={"origin": "EWR", "hours": 6, "past_hours": 1, "explain": True}, timeout=30)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["as_of"] == MATERIALIZED.isoformat() and body["origin"] == "EWR"
    rows = body["departures"]
    sched = canonical["sched_dep_utc"]
    now = pd.Timestamp(MATERIALIZED)
    want = canonical[(canonical["origin"] == "EWR") & (sched > now - pd.Timedelta(hours=1)) & (sched <= now + pd.Timedelta(hours=6))]
    assert sorted(x["flight_id"] + x["scheduled_departure"] for x in rows) == sorted(
        f"{c}{n}" + s.tz_convert(timezone(timedelta(minutes=int(o)))).isoformat()
        for c, n, s, o in zip(want["carrier"], want["flight_number"], want["sched_dep_utc"], want["utc_offset_min"], strict=True)
    )
    assert [pd.Timestamp(x["scheduled_departure"]) for x in rows] == sorted(pd.Timestamp(x["scheduled_departure"]) for x in rows)
    due = [x for x in rows if x["prediction"] and x["prediction"]["status"] == "ok"]
    assert due, "no flight due at the clock"
    for x in rows:
        t = pd.Timestamp(x["scheduled_departure"]) - pd.Timedelta(minutes=120)
        if x["outcome"] is not None or pd.Timestamp(x["scheduled_departure"]) <= now:
            assert x["prediction"] is None
        elif abs((t - now).total_seconds()) <= 900:
            assert x["prediction"]["status"] == "ok" and len(x["prediction"]["top_factors"]) == 5
        else:
            assert x["prediction"]["status"] == "not_due"
    departed = [x for x in rows if x["outcome"] is not None]
    assert departed
    assert all(x["outcome"]["delayed"] == (x["outcome"]["delay_minutes"] > 15) for x in departed if not x["outcome"]["cancelled"])
    # the same flights through POST /predict give the same probabilities
    keys = [{"carrier": x["carrier"], "flight_number": x["flight_number"], "origin": "EWR", "dest": x["dest"],
             "scheduled_departure": x["scheduled_departure"], **({"tailnum": x["tailnum"]} if x["tailnum"] else {})} for x in due]
    same = httpx.post(f"{server.url}/predict", json={"flights": keys}, timeout=30).json()["predictions"]
    assert [p["delay_probability"] for p in same] == [x["prediction"]["delay_probability"] for x in due]
    # errors name the problem; a server not in live mode has no timetable
    bad = httpx.get(f"{server.url}/departures", params={"origin": "ewr", "hours": 30}, timeout=10)
    assert bad.status_code == 422 and "origin" in bad.text and "hours" in bad.text
    off = httpx.get(f"{api.url}/departures", params={"origin": "EWR"}, timeout=10)
    assert off.status_code == 409 and "live mode" in off.json()["detail"]

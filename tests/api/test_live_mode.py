"""Live mode: /predict without as_of reads the replay's clock, /ready reports stale features, and
each view's feature age is in the response and in /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pandas as pd
import pytest
import redis

from serving.config import ServingSettings
from skyprophet.core.keys import flight_query
from tests.api.conftest import MATERIALIZED, Server, start_server

pytestmark = [pytest.mark.api, pytest.mark.integration]
NOW = int(MATERIALIZED.timestamp())


@pytest.fixture(scope="module")
def live_api(api_settings: ServingSettings, loaded_redis: str) -> Iterator[tuple[Server, redis.Redis, str]]:
    settings = api_settings.model_copy(update={"live": True, "stream_name": "test:live-api"})
    r = redis.Redis.from_url(loaded_redis)
    name = settings.stream_name
    r.set(f"{name}:clock", NOW)
    r.hset(f"{name}:checkpoint", mapping={"tick": NOW // 60})
    server = start_server(settings)
    yield server, r, name
    server.stop()
    r.delete(f"{name}:clock", f"{name}:checkpoint")


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

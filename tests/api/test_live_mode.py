"""Live mode: /predict without as_of reads the replay's clock and scores any flight departing in
the next 24 h as of it (the model is trained at several leads), /ready reports stale features, and
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
from skyprophet.core.keys import entity_frame, flight_query
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


def _flights(canonical: pd.DataFrame, lo_min: int, hi_min: int, n: int = 30) -> pd.DataFrame:
    """Flights scheduled in (now + lo, now + hi] minutes, spread over that span."""
    sched, now = canonical["sched_dep_utc"], pd.Timestamp(MATERIALIZED)
    found = canonical[(sched > now + pd.Timedelta(minutes=lo_min)) & (sched <= now + pd.Timedelta(minutes=hi_min))]
    return found.iloc[:: max(1, len(found) // n)].head(n)


def test_scores_any_flight_of_the_next_24_h_as_of_the_clock(live_api, api, canonical, offline_store) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import historical, normalized

    server, _, _ = live_api
    ahead = _flights(canonical, 0, 24 * 60)  # from minutes to a day ahead: every lead the model knows
    past = _flights(canonical, -90, 0, 3)  # scheduled before now
    far = _flights(canonical, 24 * 60 + 1, 30 * 60, 3)  # more than 24 h ahead
    flights = [flight_query(r) for f in (ahead, past, far) for r in f.itertuples()]
    got = httpx.post(f"{server.url}/predict", json={"flights": flights, "debug": True}, timeout=30)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["as_of"] == MATERIALIZED.isoformat()
    preds = body["predictions"]
    leads = ((ahead["sched_dep_utc"] - pd.Timestamp(MATERIALIZED)).dt.total_seconds() / 60).to_numpy()
    assert leads.min() < 60 and leads.max() > 20 * 60
    # the same flights read as of the clock's instant by the server that is not live
    ref = httpx.post(f"{api.url}/predict", json={"flights": flights[: len(ahead)], "as_of": MATERIALIZED.isoformat()}, timeout=30).json()
    for p, q, lead in zip(preds[: len(ahead)], ref["predictions"], leads, strict=True):
        assert p["status"] == "ok" and p["delay_probability"] == q["delay_probability"]
        assert p["lead_minutes"] == pytest.approx(lead) and p["features"]["flight_timing__lead_minutes"] == pytest.approx(lead)
        assert p["feature_age_s"]["airline_stats"] == 0  # a row at every grid point; the clock is on one
        assert p["feature_age_s"] == q["feature_age_s"]
    # every input equals Feast's offline retrieval as of the clock's instant (T = now, any lead)
    entities = entity_frame(ahead.assign(flight_row_id=range(len(ahead))), as_of=pd.Timestamp(MATERIALIZED))
    offline = historical(offline_store, entities)
    for p, (_, row) in zip(preds[: len(ahead)], offline.iterrows(), strict=True):
        assert {k: normalized(v) for k, v in p["features"].items()} == {k: normalized(row[k]) for k in p["features"]}
    for p in preds[len(ahead): len(ahead) + len(past)]:
        assert p["status"] == "departed" and p["delay_probability"] is None and p["lead_minutes"] <= 0
        assert "before departure only" in p["reason"]
    for p in preds[len(ahead) + len(past):]:
        assert p["status"] == "beyond_horizon" and p["delay_probability"] is None and p["lead_minutes"] > 24 * 60
        assert "up to 24 h ahead" in p["reason"]
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert 'skyprophet_feature_age_seconds{view="airline_stats"} 0.0' in metrics


def test_the_clock_crossing_midnight_reads_the_new_day_s_rows(live_api, api, canonical: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    """The service reads the clock and the features together, keyed by the day it last saw; when
    the clock has moved to another UTC day the views are read again at that day."""
    server, r, name = live_api
    flights = [flight_query(f) for f in _flights(canonical, 60, 12 * 60, 20).itertuples()]
    assert httpx.post(f"{server.url}/predict", json={"flights": flights}, timeout=30).status_code == 200  # seen: 12-30
    before_midnight = (MATERIALIZED.replace(hour=0) - timedelta(minutes=10)).astimezone(timezone.utc)  # 12-29 23:50
    try:
        r.set(f"{name}:clock", int(before_midnight.timestamp()))
        got = httpx.post(f"{server.url}/predict", json={"flights": flights, "debug": True}, timeout=30).json()
        ref = httpx.post(f"{api.url}/predict", json={"flights": flights, "debug": True, "as_of": before_midnight.isoformat()},
                         timeout=30).json()
        assert got["as_of"] == before_midnight.isoformat()
        for p, q in zip(got["predictions"], ref["predictions"], strict=True):
            assert p["status"] == q["status"] == "ok"
            assert p["features"] == q["features"] and p["delay_probability"] == q["delay_probability"]
        # the 12-29 rows were read (a 12-30 key holds only later rows: every time-varying input null)
        assert all(p["features"]["airline_stats__deps_7d"] is not None for p in got["predictions"])
    finally:
        r.set(f"{name}:clock", NOW)


def test_a_flight_the_stream_saw_leave_is_not_scored(live_api, canonical: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    from skyprophet.adapters.departures import Departures
    from skyprophet.core.events import CANCELLATION, DEPARTURE, make

    server, r, name = live_api
    early, gone = (_flights(canonical, 5, 60, 2).iloc[i] for i in (0, 1))
    data = [{"carrier": f.carrier, "flight_number": str(f.flight_number), "origin": f.origin, "dest": f.dest,
             "sched": int(f.sched_dep_utc.timestamp())} for f in (early, gone)]
    board = Departures(r, name)
    board.write([make(DEPARTURE, {**data[0], "actual": NOW - 60, "delay": -6.0}), make(CANCELLATION, data[1])])
    try:
        got = httpx.post(f"{server.url}/predict", json={"flights": [flight_query(early), flight_query(gone)]}, timeout=30).json()
        first, second = got["predictions"]
        assert first["status"] == "departed" and first["delay_probability"] is None and "-6 min" in first["reason"]
        assert second["status"] == "cancelled" and second["delay_probability"] is None
    finally:
        for d in data:
            r.hdel(f"{name}:outcomes:{d['origin']}", f"{d['carrier']}{d['flight_number']}:{d['origin']}:{d['sched']}")


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
    from pipelines.live.replay import flight_events
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
    assert due, "no flight scored at the clock"
    for x in rows:
        sched = pd.Timestamp(x["scheduled_departure"])
        if x["outcome"] is not None or sched <= now:
            assert x["prediction"] is None
        else:  # every coming flight is scored as of now, at its own lead
            assert x["prediction"]["status"] == "ok" and len(x["prediction"]["top_factors"]) == 5
            assert x["prediction"]["lead_minutes"] == pytest.approx((sched - now).total_seconds() / 60)
    departed = [x for x in rows if x["outcome"] is not None]
    assert departed
    assert all(x["outcome"]["delayed"] == (x["outcome"]["delay_minutes"] > 15) for x in departed if not x["outcome"]["cancelled"])
    # the same flights through POST /predict give the same probabilities (up to its 100 flights a request)
    due = due[:100]
    keys = [{"carrier": x["carrier"], "flight_number": x["flight_number"], "origin": "EWR", "dest": x["dest"],
             "scheduled_departure": x["scheduled_departure"], **({"tailnum": x["tailnum"]} if x["tailnum"] else {})} for x in due]
    same = httpx.post(f"{server.url}/predict", json={"flights": keys}, timeout=30).json()["predictions"]
    assert [p["delay_probability"] for p in same] == [x["prediction"]["delay_probability"] for x in due]
    # errors name the problem; a server not in live mode has no timetable
    bad = httpx.get(f"{server.url}/departures", params={"origin": "ewr", "hours": 30}, timeout=10)
    assert bad.status_code == 422 and "origin" in bad.text and "hours" in bad.text
    off = httpx.get(f"{api.url}/departures", params={"origin": "EWR"}, timeout=10)
    assert off.status_code == 409 and "live mode" in off.json()["detail"]


def test_metrics_show_what_the_processor_did_with_the_stream(live_api) -> None:  # type: ignore[no-untyped-def]
    server, r, name = live_api
    stream = EventStream(r, name=name)
    before = stream.counts()
    # what a processor's acknowledgement of two batches adds (its checkpoint unchanged)
    stream.ack([], {"tick": NOW // 60}, {"applied": 40, "duplicates": 2, "rejected": 3, "dead_lettered": 1})
    stream.ack([], {"tick": NOW // 60}, {"applied": 5, "late": 2, "rejected": 1, "failed": 1})
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    want = {"applied": 45, "duplicates": 2, "late": 2, "rejected": 4, "failed": 1, "dead_lettered": 1}
    for outcome, n in want.items():
        assert f'skyprophet_stream_events{{outcome="{outcome}"}} {float(before[outcome] + n)}' in metrics, outcome

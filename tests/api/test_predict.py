"""POST /predict and the service routes, over HTTP against real Redis and registered models."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from skyprophet.core.keys import entity_frame, flight_query
from tests.api.conftest import MATERIALIZED
from tests.conftest import historical

pytestmark = [pytest.mark.api, pytest.mark.integration]


def _query(row: Any) -> dict[str, Any]:
    return flight_query(row)


@pytest.fixture(scope="module")
def upcoming(canonical: pd.DataFrame) -> pd.DataFrame:
    """Flights whose prediction time falls in the quarter hour after the materialization time."""
    t = canonical["sched_dep_utc"] - pd.Timedelta(minutes=120)
    lo = pd.Timestamp(MATERIALIZED)
    return canonical[(t >= lo) & (t < lo + pd.Timedelta(minutes=15))].reset_index(drop=True)


def post(api, body: dict[str, Any]) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(f"{api.url}/predict", json=body, timeout=30)


def test_happy_path(api, upcoming: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    row = next(r for r in upcoming.itertuples() if isinstance(r.tailnum, str))
    r = post(api, {"flights": [_query(row)]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"]["name"] == "flight-delay" and body["model"]["alias"] == "production"
    (p,) = body["predictions"]
    assert p["flight_id"] == f"{row.carrier}{row.flight_number}"
    assert 0.0 < p["delay_probability"] < 1.0
    assert p["delayed"] == (p["delay_probability"] >= p["threshold"])
    # Materialized just before T: the carrier's, the origin's and the calendar features are there.
    told = ("airline_stats__", "origin_ops__deps", "flight_timing__local", "flight_timing__lead")
    assert not any(m.startswith(told) for m in p["missing_features"])
    assert p["lead_minutes"] == 120  # no clock, no as_of: T = scheduled - 2 h
    assert "top_factors" not in p


def test_batch_keeps_order_and_explains(api, upcoming: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    rows = list(upcoming.itertuples())[:40]
    r = post(api, {"flights": [_query(x) for x in rows], "explain": True})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert [p["flight_id"] for p in preds] == [f"{x.carrier}{x.flight_number}" for x in rows]
    for p in preds:
        f = p["top_factors"]
        assert len(f) == 5
        mags = [abs(x["contribution"]) for x in f]
        assert mags == sorted(mags, reverse=True)
    # The same flight alone scores the same as inside the batch.
    alone = post(api, {"flights": [_query(rows[7])]}).json()["predictions"][0]
    assert alone["delay_probability"] == preds[7]["delay_probability"]


def test_explanations_add_up_to_the_score(api, upcoming: pd.DataFrame, api_settings) -> None:  # type: ignore[no-untyped-def]
    """Factors are LightGBM's contributions (in the calibrated log-odds when Platt scaling is on),
    and bias + all contributions give back the served probability."""
    from skyprophet.adapters.tracking import connect, load_by_alias

    model = load_by_alias(connect(api_settings), api_settings.model_name)
    row = next(iter(upcoming.itertuples()))
    r = post(api, {"flights": [_query(row)], "explain": True, "debug": True})
    p = r.json()["predictions"][0]
    from skyprophet.core.model import encode_rows

    x = encode_rows([p["features"]], model.spec)
    contrib = model.booster.predict(x, pred_contrib=True)[0]
    a, b = model.spec.calibration or (1.0, 0.0)
    top = {f["feature"]: f["contribution"] for f in p["top_factors"]}
    for name, c in top.items():
        assert c == pytest.approx(a * contrib[model.spec.feature_names.index(name)], abs=1e-6)
    prob = p["delay_probability"]
    assert a * contrib.sum() + b == pytest.approx(math.log(prob / (1 - prob)), abs=1e-4)


GOOD = {"carrier": "UA", "flight_number": 1545, "origin": "EWR", "dest": "IAH", "scheduled_departure": "2013-12-30T08:00:00-05:00"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"flights": [{**GOOD, "carrier": "united"}]}, "flights[0].carrier"),
        ({"flights": [{**GOOD, "carrier": "u1x"}]}, "flights[0].carrier"),
        ({"flights": [{**GOOD, "flight_number": 0}]}, "flights[0].flight_number"),
        ({"flights": [{**GOOD, "flight_number": -5}]}, "flights[0].flight_number"),
        ({"flights": [{**GOOD, "scheduled_departure": "next tuesday"}]}, "flights[0].scheduled_departure"),
        ({"flights": [{**GOOD, "scheduled_departure": "2013-12-30T08:00:00"}]}, "flights[0].scheduled_departure"),
        ({"flights": [{**GOOD, "gate": "C71"}]}, "flights[0].gate"),
        ({"flights": [GOOD], "priority": "high"}, "priority"),
        ({"flights": [GOOD] * 101}, "flights"),
        ({"flights": []}, "flights"),
        ({"flights": [{**GOOD, "origin": "newark"}]}, "flights[0].origin"),
        ({}, "flights"),
    ],
    ids=["carrier-long", "carrier-case", "flight-number-zero", "flight-number-negative", "datetime-unparseable",
         "datetime-no-offset", "unknown-field", "unknown-top-field", "too-many-flights", "no-flights", "origin", "missing"],
)
def test_invalid_input_is_422_naming_the_field(api, body: dict[str, Any], field: str) -> None:  # type: ignore[no-untyped-def]
    r = post(api, body)
    assert r.status_code == 422, r.text
    message = r.json()["message"]
    assert message.startswith(f"{field}: "), message


@pytest.mark.parametrize("raw", [b'{"flights": [', b"carrier=UA", b""], ids=["truncated", "form", "empty"])
def test_a_body_that_is_not_json_is_422(api, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{api.url}/predict", content=raw, headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 422, r.text
    message = r.json()["message"]
    assert message.startswith("body: ") and "JSON" in message, message


def test_unknown_flight_keys_are_flagged_not_failed(api) -> None:  # type: ignore[no-untyped-def]
    q = {"carrier": "ZZ", "flight_number": 9999, "origin": "QQQ", "dest": "XXX",
         "scheduled_departure": "2013-12-30T09:00:00-05:00", "tailnum": "N00000"}
    r = post(api, {"flights": [q]})
    assert r.status_code == 200, r.text
    p = r.json()["predictions"][0]
    stored = [n for n in api_feature_names(api) if not n.startswith("flight_timing__")]
    assert set(stored) <= set(p["missing_features"])
    assert {"flight_timing__local_hour", "flight_timing__lead_minutes"}.isdisjoint(p["missing_features"])  # from the request itself
    assert 0.0 < p["delay_probability"] < 1.0


def api_feature_names(api) -> list[str]:  # type: ignore[no-untyped-def]
    from skyprophet.adapters.tracking import connect, load_by_alias

    return load_by_alias(connect(api.settings), api.settings.model_name).spec.feature_names


def test_admin_reload_needs_the_token(api) -> None:  # type: ignore[no-untyped-def]
    url = f"{api.url}/admin/reload"
    assert httpx.post(url).status_code == 401
    assert httpx.post(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = httpx.post(url, headers={"Authorization": "Bearer test-admin-token"}, timeout=60)
    assert ok.status_code == 200 and ok.json()["version"] is not None


def test_service_routes(api) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(f"{api.url}/ping").text == "pong"
    assert httpx.get(f"{api.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{api.url}/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert httpx.get(f"{api.url}/").json()["links"]["predict"] == "/predict"
    assert "/predict" in httpx.get(f"{api.url}/openapi.json").json()["paths"]
    assert httpx.get(f"{api.url}/docs").status_code == 200
    post(api, {"flights": [GOOD]})
    text = httpx.get(f"{api.url}/metrics").text
    assert 'skyprophet_http_requests_total{method="POST",route="/predict",status="200"}' in text
    assert 'skyprophet_http_request_seconds_count{method="POST",route="/predict",status="200"}' in text
    assert "skyprophet_model_version{" in text
    assert "skyprophet_missing_features_total" in text


def test_predict_scores_what_offline_retrieval_returns(api, canonical: pd.DataFrame, offline_store) -> None:  # type: ignore[no-untyped-def]
    """>= 200 flights: the vector /predict scores equals get_historical_features at the materialization time."""
    t = pd.Timestamp(MATERIALIZED)
    sched = canonical["sched_dep_utc"]
    flights = canonical[(sched > t) & (sched <= t + pd.Timedelta(hours=10))].sample(240, random_state=11).reset_index(drop=True)
    entity = entity_frame(flights, as_of=t)
    offline = historical(offline_store, entity)
    names = api_feature_names(api)
    body = {"flights": [_query(r) for r in flights.itertuples()], "debug": True, "as_of": MATERIALIZED.isoformat()}
    for start in range(0, len(flights), 100):
        part = {**body, "flights": body["flights"][start:start + 100]}
        preds = post(api, part).json()["predictions"]
        for i, p in enumerate(preds, start=start):
            for n in names:
                a, b = offline.at[i, n], p["features"][n]
                a = None if a is None or (isinstance(a, float) and np.isnan(a)) or a is pd.NA else a
                assert a == b, f"row {i} {n}: offline {a!r} served {b!r}"
    assert len(flights) >= 200


def test_debug_options_can_be_disabled(api_settings, loaded_redis) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from serving.main import create_app

    with TestClient(create_app(api_settings.model_copy(update={"allow_debug": False}))) as c:
        r = c.post("/predict", json={"flights": [GOOD], "debug": True})
        assert r.status_code == 422 and r.json()["message"].startswith("debug: ")
        r = c.post("/predict", json={"flights": [GOOD], "debug": False, "as_of": "2013-12-30T08:00:00-05:00"})
        assert r.status_code == 422 and [e["loc"][-1] for e in r.json()["detail"]] == ["debug", "as_of"]
        assert c.post("/predict", json={"flights": [GOOD]}).status_code == 200
        # what its OpenAPI document advertises, this server accepts: every field of the request, each given
        advertised = c.get("/openapi.json").json()["components"]["schemas"]["PredictRequest"]
        assert advertised["additionalProperties"] is False
        values = {"flights": [GOOD], "explain": True, "debug": True, "as_of": "2013-12-30T08:00:00-05:00"}
        assert set(advertised["properties"]) <= set(values)
        for name in advertised["properties"]:
            r = c.post("/predict", json={"flights": [GOOD], name: values[name]})
            assert r.status_code == 200, (name, r.json())
    with TestClient(create_app(api_settings)) as c:  # a debugging server advertises them
        assert {"debug", "as_of"} <= set(c.get("/openapi.json").json()["components"]["schemas"]["PredictRequest"]["properties"])


def test_prediction_time_is_scheduled_minus_lead(api, upcoming: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    """Without as_of, a flight is read as of its own T: the same answer as as_of = T given explicitly."""
    row = next(iter(upcoming.itertuples()))
    q = _query(row)
    t = (row.sched_dep_utc - timedelta(minutes=120)).isoformat()
    implicit = post(api, {"flights": [q], "debug": True}).json()["predictions"][0]
    explicit = post(api, {"flights": [q], "debug": True, "as_of": t}).json()["predictions"][0]
    assert implicit["features"] == explicit["features"]
    # An hour after the last materialized grid point, the same day: grid values are past their ttl.
    later = post(api, {"flights": [q], "debug": True, "as_of": (MATERIALIZED + timedelta(hours=1)).isoformat()})
    stale = later.json()["predictions"][0]["stale_features"]
    assert "airline_stats__deps_1d" in stale and "origin_ops__deps_2h" in stale
    assert later.json()["predictions"][0]["features"]["airline_stats__deps_1d"] is None


def test_snapshot_mode_reads_as_of_what_the_store_holds(api_settings, loaded_redis, canonical: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    """With SKYPROPHET_SNAPSHOT (make run's store, loaded once): every flight as of the instant the
    store was loaded up to; flights it cannot score say why instead of a low-coverage probability."""
    from fastapi.testclient import TestClient

    from serving.main import create_app

    held = pd.Timestamp(MATERIALIZED)
    sched = canonical["sched_dep_utc"]
    due = canonical[(sched > held + pd.Timedelta(hours=3)) & (sched <= held + pd.Timedelta(hours=4))].head(5)
    gone = canonical[(sched < held - pd.Timedelta(hours=20)) & (sched > held - pd.Timedelta(hours=21))].head(2)
    far = canonical[sched > held + pd.Timedelta(hours=30)].head(2)
    flights = [_query(r) for r in pd.concat([due, gone, far]).itertuples()]
    with TestClient(create_app(api_settings.model_copy(update={"snapshot": True}))) as c:
        body = c.post("/predict", json={"flights": flights, "debug": True}).json()
        assert body["as_of"] == MATERIALIZED.isoformat()
        got = body["predictions"]
        assert [p["status"] for p in got] == ["ok"] * len(due) + ["departed"] * len(gone) + ["beyond_horizon"] * len(far)
        # a due flight: its lead from the held instant, and the same answer as asking as of that instant
        explicit = c.post("/predict", json={"flights": flights[: len(due)], "debug": True, "as_of": MATERIALIZED.isoformat()})
        for p, q, row in zip(got[: len(due)], explicit.json()["predictions"], due.itertuples(), strict=True):
            assert p["lead_minutes"] == round((row.sched_dep_utc - held).total_seconds() / 60, 2)
            assert p["delay_probability"] == q["delay_probability"] and p["features"] == q["features"]
            assert p["reliable"], p
        assert all("2013-12-30 12:00 UTC" in p["reason"] for p in got[len(due):])
        # a store that notes no load: a 503 that says what to run
        held_file = api_settings.data_dir / "online-held.json"
        moved = held_file.rename(held_file.with_suffix(".away"))
        try:
            r = c.post("/predict", json={"flights": flights[:1]})
            assert r.status_code == 503 and "materialize" in r.json()["detail"], r.text
        finally:
            moved.rename(held_file)
    with TestClient(create_app(api_settings)) as c:  # without it, each flight at its own T: the far ones are read
        assert c.post("/predict", json={"flights": flights[-1:]}).json()["predictions"][0]["status"] == "ok"

"""Hardening: strict inputs, every status documented, honest coverage, reloads that refuse what cannot serve."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from skyprophet.core.keys import flight_query
from tests.api.conftest import MATERIALIZED, start_server
from tests.api.test_predict import GOOD

pytestmark = [pytest.mark.api, pytest.mark.integration]

# Real keys, but an unknown airport and a day outside the data: almost nothing is stored for it.
UNKNOWN = {"carrier": "UA", "flight_number": 1545, "origin": "QQQ", "dest": "IAH",
           "scheduled_departure": "2000-06-01T08:00:00-04:00"}


def raw(url: str, content: bytes | Iterator[bytes], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/predict", content=content, headers={"content-type": "application/json", **(headers or {})},
                      timeout=30)


def _with(field: str, literal: str, top: bool = False) -> bytes:
    """The GOOD request with one field's JSON text replaced by ``literal`` (which json.dumps cannot write)."""
    body = {"flights": [GOOD], "debug": "__TOP__"} if top else {"flights": [{**GOOD, field: "__FIELD__"}]}
    text = json.dumps(body)
    return text.replace('"__TOP__"', literal).replace('"__FIELD__"', literal).replace('"debug"', f'"{field}"').encode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_with("flight_number", "NaN"), "flights[0].flight_number"),
        (_with("flight_number", "Infinity"), "flights[0].flight_number"),
        (_with("flight_number", "-Infinity"), "flights[0].flight_number"),
        (_with("flight_number", '"1545a"'), "flights[0].flight_number"),
        (_with("flight_number", '"12345"'), "flights[0].flight_number"),
        (_with("flight_number", '" 1545"'), "flights[0].flight_number"),
        (_with("flight_number", "1545.5"), "flights[0].flight_number"),
        (_with("flight_number", "true"), "flights[0].flight_number"),
        (_with("debug", "0", top=True), "debug"),
        (_with("explain", '"true"', top=True), "explain"),
        (_with("carrier", "12"), "flights[0].carrier"),
        (_with("scheduled_departure", "1388408400"), "flights[0].scheduled_departure"),
        (_with("scheduled_departure", '"1388408400"'), "flights[0].scheduled_departure"),
        (_with("as_of", '"432"', top=True), "as_of"),
    ],
    ids=["nan", "infinity", "minus-infinity", "lower-case-suffix", "five-digits", "leading-space", "fraction-as-integer",
         "bool-as-int", "zero-as-false",
         "text-as-bool", "number-as-text-field", "epoch-as-datetime", "epoch-text-as-datetime", "epoch-text-as-of"],
)
def test_no_silent_coercion_and_no_500_on_non_finite(api, body: bytes, field: str) -> None:  # type: ignore[no-untyped-def]
    r = raw(api.url, body)
    assert r.status_code == 422, (r.status_code, r.text)
    assert r.json()["message"].startswith(field), r.json()["message"]


def test_a_whole_float_is_an_integer_as_json_schema_says(api) -> None:  # type: ignore[no-untyped-def]
    as_int = raw(api.url, json.dumps({"flights": [GOOD]}).encode())
    as_float = raw(api.url, _with("flight_number", "1545.0"))
    assert as_int.status_code == as_float.status_code == 200, as_float.text
    assert as_float.json()["predictions"] == as_int.json()["predictions"]


def test_a_flight_number_as_the_airline_writes_it_is_the_same_flight(api) -> None:  # type: ignore[no-untyped-def]
    as_int = raw(api.url, json.dumps({"flights": [GOOD]}).encode())
    for written in ('"1545"', '"01545"'):
        as_text = raw(api.url, _with("flight_number", written))
        assert as_text.status_code == 200, as_text.text
        assert as_text.json()["predictions"] == as_int.json()["predictions"], written
    (p,) = as_int.json()["predictions"]
    assert p["flight_id"] == "UA1545"


def test_invalid_utf8_is_422_naming_the_body(api) -> None:  # type: ignore[no-untyped-def]
    r = raw(api.url, b'{"flights": [{"carrier": "\xff\xfe", "flight_number": 1}]}')
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith("body: ") and "JSON" in r.json()["message"]


def test_oversized_body_is_413_naming_the_limit(api) -> None:  # type: ignore[no-untyped-def]
    limit = api.settings.max_body_bytes
    padded = b'{"flights": [' + b" " * limit + json.dumps(GOOD).encode() + b"]}"
    declared = raw(api.url, padded)
    assert declared.status_code == 413, declared.text
    assert str(limit) in declared.json()["message"] and "SKYPROPHET_MAX_BODY_BYTES" in declared.json()["message"]
    # Sent in chunks without a Content-Length: the reader stops at the limit all the same.
    chunked = raw(api.url, iter([padded[i : i + 65536] for i in range(0, len(padded), 65536)]))
    assert chunked.status_code == 413, chunked.text
    # Just under the limit is read and answered.
    assert raw(api.url, json.dumps({"flights": [GOOD]}).encode()).status_code == 200


def test_every_status_is_in_the_openapi_document(api) -> None:  # type: ignore[no-untyped-def]
    doc = httpx.get(f"{api.url}/openapi.json", timeout=10).json()
    predict = doc["paths"]["/predict"]["post"]["responses"]
    assert {"200", "413", "422", "503"} <= set(predict)
    assert predict["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert {"200", "503"} <= set(doc["paths"]["/ready"]["get"]["responses"])
    assert "401" in doc["paths"]["/admin/reload"]["post"]["responses"]
    flights = doc["components"]["schemas"]["PredictRequest"]["properties"]["flights"]
    assert flights["maxItems"] == api.settings.max_flights


def _coverage_from_features(features: dict[str, Any]) -> float:
    return sum(v is not None for v in features.values()) / len(features)


@pytest.fixture(scope="module")
def fresh(canonical: pd.DataFrame) -> list[dict[str, Any]]:
    """Twenty real flights whose prediction time follows the materialization: their features are fresh."""
    t = canonical["sched_dep_utc"] - pd.Timedelta(minutes=120)
    lo = pd.Timestamp(MATERIALIZED)
    rows = canonical[(t >= lo) & (t < lo + pd.Timedelta(minutes=15)) & canonical["tailnum"].notna()]
    return [flight_query(r) for r in rows.head(20).itertuples()]


def test_coverage_and_reliability_are_reported(api, fresh: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{api.url}/predict", json={"flights": [*fresh, UNKNOWN], "debug": True}, timeout=30)
    assert r.status_code == 200, r.text
    *known, unknown = r.json()["predictions"]
    for p in (*known, unknown):
        # Independently: the share of the scored values (debug) that are present.
        assert p["coverage"] == pytest.approx(_coverage_from_features(p["features"]), abs=1e-4)
        assert p["reliable"] is (p["coverage"] >= api.settings.min_coverage)
        assert p["status"] == "ok" and 0 < p["delay_probability"] < 1
    assert sum(p["reliable"] for p in known) >= len(known) // 2
    assert not unknown["reliable"] and unknown["coverage"] < 0.5


def test_unreliable_flights_can_be_refused(api_settings, fresh: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    server = start_server(api_settings.model_copy(update={"refuse_unreliable": True}))
    try:
        r = httpx.post(f"{server.url}/predict", json={"flights": [*fresh, UNKNOWN]}, timeout=30)
        assert r.status_code == 200, r.text
        predictions = r.json()["predictions"]
        refused = [p for p in predictions if p["status"] == "refused"]
        answered = [p for p in predictions if p["status"] == "ok"]
        assert predictions[-1] in refused and answered
        assert all(p["reliable"] and p["delay_probability"] is not None for p in answered)
        for p in refused:
            assert not p["reliable"] and p["delay_probability"] is None and p["delayed"] is None
            n = len(p["missing_features"])
            assert re.fullmatch(rf"input coverage \d+% is below 80%: {n} of \d+ inputs missing or stale", p["reason"]), p["reason"]
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        found = re.search(r'skyprophet_unreliable_flights_total\{status="refused"\} (\S+)', metrics)
        assert found and float(found.group(1)) == len(refused)
    finally:
        server.stop()


# ------------------------------------------------------------------ reloads that cannot go through


def _reload(api) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    token = api.settings.admin_token.get_secret_value()
    r = httpx.post(f"{api.url}/admin/reload", headers={"Authorization": f"Bearer {token}"}, timeout=120)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _gauge(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", text, re.M)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def _register_broken(settings, how: str) -> str:  # type: ignore[no-untyped-def]
    """A new version of the production model that cannot serve: its feature service does not
    exist, or its booster file is not a model."""
    import mlflow
    import mlflow.lightgbm

    from skyprophet.adapters.tracking import connect, experiment_id, load_by_alias

    client = connect(settings)
    good = load_by_alias(client, settings.model_name)
    spec = good.spec.to_dict()
    if how == "unknown-feature-service":
        spec["feature_service"] = "flight_delay_v99"
    with mlflow.start_run(experiment_id=experiment_id(client, settings), run_name=f"broken-{how}"):
        info = mlflow.lightgbm.log_model(good.booster, name="model", metadata={"skyprophet": spec},
                                         registered_model_name=settings.model_name)
    if how == "unloadable-artifact":
        folder = mlflow.get_logged_model(info.model_id).artifact_location.removeprefix("file://")
        booster_file = Path(folder) / "model.lgb"
        assert booster_file.exists(), sorted(p.name for p in Path(folder).iterdir())
        booster_file.write_bytes(b"this is not a LightGBM model")
    return str(info.registered_model_version)


@pytest.mark.parametrize("how", ["unknown-feature-service", "unloadable-artifact"])
def test_a_broken_production_version_is_refused_and_the_old_model_serves(api, small_models, how: str) -> None:  # type: ignore[no-untyped-def]
    from skyprophet.adapters.tracking import PRODUCTION, connect

    v1 = small_models[0]
    client = connect(api.settings)
    name = api.settings.model_name
    assert _reload(api)["version"] == v1
    broken = _register_broken(api.settings, how)
    client.set_registered_model_alias(name, PRODUCTION, broken)
    try:
        outcome = _reload(api)
        assert outcome["outcome"] == "refused" and outcome["version"] == v1, outcome
        assert f"version {broken}" in outcome["error"]
        r = httpx.post(f"{api.url}/predict", json={"flights": [GOOD]}, timeout=30)
        assert r.status_code == 200 and r.json()["model"]["version"] == v1, r.text
        ready = httpx.get(f"{api.url}/ready", timeout=10)
        assert ready.status_code == 200, ready.text  # still serving
        body = ready.json()
        assert body["model"]["version"] == v1 and body["reload"]["outcome"] == "refused"
        assert any(f"refused {name} version {broken}" in w for w in body["warnings"]), body
        assert _gauge(api.url, "skyprophet_model_reload_failing") == 1.0
        assert _gauge(api.url, 'skyprophet_model_reloads_total{outcome="refused"}') >= 1
    finally:
        client.set_registered_model_alias(name, PRODUCTION, v1)
    outcome = _reload(api)
    assert outcome["outcome"] == "unchanged" and outcome["version"] == v1
    assert httpx.get(f"{api.url}/ready", timeout=10).json()["warnings"] == []
    assert _gauge(api.url, "skyprophet_model_reload_failing") == 0.0


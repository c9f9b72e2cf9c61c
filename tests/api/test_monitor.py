"""Monitoring served traffic: the prediction log's online values against offline retrieval at the
same instant (training-serving skew), an injected skew in one view, and the report served at
/monitor with its gauges in /metrics."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from pipelines.monitoring.report import monitor, read_log, skew
from serving.config import ServingSettings
from skyprophet.core.keys import flight_query
from tests.api.conftest import MATERIALIZED, Server

pytestmark = [pytest.mark.api, pytest.mark.integration]
CORRUPTED = "route_static"  # the view whose online rows are corrupted (distance + 500 miles)


def _served(api: Server, flights: list[dict[str, Any]], rid: str) -> None:
    got = httpx.post(f"{api.url}/predict", json={"flights": flights, "as_of": MATERIALIZED.isoformat()},
                     headers={"X-Request-ID": rid}, timeout=60)
    assert got.status_code == 200, got.text
    assert sum(p["status"] == "ok" for p in got.json()["predictions"]) == len(flights)
    api.server.config.app.state.services.logs.flush()  # type: ignore[attr-defined]


def _metric(api: Server, name: str, label: str | None = None) -> float | None:
    key = f'{name}{{input="{label}"}} ' if label else f"{name} "
    for line in httpx.get(f"{api.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(key):
            return float(line[len(key):])
    return None


def test_skew_shows_in_the_corrupted_view_only_and_the_report_is_served(
    api: Server, api_settings: ServingSettings, canonical: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from skyprophet.adapters.store import open_store

    started = datetime.now(timezone.utc)  # the report covers this test's traffic (other tests read at other instants)
    app = api.server.config.app  # type: ignore[attr-defined]
    store = open_store(api_settings, online="redis")  # the test's own: the server's is busy in its threads
    model = app.state.services.models.current
    names = model.spec.feature_names
    # flights leaving 1-8 h after the instant the online store was materialized up to: read as of that instant,
    # online equals offline (the parity tests' promise), so any mismatch is skew
    sched = canonical["sched_dep_utc"]
    pick = canonical[(sched > pd.Timestamp(MATERIALIZED) + pd.Timedelta(hours=1))
                     & (sched <= pd.Timestamp(MATERIALIZED) + pd.Timedelta(hours=8))].sample(60, random_state=3)
    flights = [flight_query(r) for r in pick.itertuples()]
    dest = store.get_feature_service(model.spec.feature_service).logging_config.destination.path

    _served(api, flights, "skew-clean")
    source = pd.read_parquet(store.get_feature_view(CORRUPTED).batch_source.path)
    routes = source[source["route"].isin(pick["origin"] + "-" + pick["dest"])]
    # Feast's Redis store keeps a row only when it is newer than the stored one: a second later, then two
    store.write_to_online_store(CORRUPTED, routes.assign(distance=routes["distance"] + 500.0,
                                                         event_ts=routes["event_ts"] + pd.Timedelta(seconds=1)))
    try:
        _served(api, flights, "skew-corrupted")
    finally:  # the true values back for the other tests
        store.write_to_online_store(CORRUPTED, routes.assign(event_ts=routes["event_ts"] + pd.Timedelta(seconds=2)))
    # a flight far beyond the data: served (all its inputs missing), logged, and left out of the report
    far = {**flights[0], "scheduled_departure": "2100-01-01T10:00:00+00:00"}
    got = httpx.post(f"{api.url}/predict", json={"flights": [far], "as_of": "2100-01-01T08:00:00+00:00"},
                     headers={"X-Request-ID": "far-future"}, timeout=60)
    assert got.status_code == 200, got.text
    app.state.services.logs.flush()
    logged = read_log(Path(dest))
    assert (logged["__request_id"] == "far-future").any()
    for rid in ("skew-clean", "skew-corrupted"):
        rows = logged[logged["__request_id"] == rid].reset_index(drop=True)
        assert len(rows) == len(flights)
        found = skew(store, rows, model.spec.feature_service, names).match_rate
        bad = {n for n, rate in found.items() if rate < 0.99}
        assert bad == ({n for n in names if n.startswith(f"{CORRUPTED}__")} if rid == "skew-corrupted" else set()), rid
        assert all(rate == 1.0 for n, rate in found.items() if n not in bad), rid

    # the whole report over the log: JSON, page, Evidently's page, gauges
    assert httpx.get(f"{api.url}/monitor/", timeout=10).status_code in (200, 404)
    settings = api_settings.model_copy(update={"monitor_sample_flights": 2_000})
    result = monitor(settings, log_dir=Path(dest), since=started, name="served", store=store)
    report = result.report
    assert report.window.source == "prediction_log" and report.window.rows == 2 * len(flights)
    assert report.window.outside_data >= 1
    assert report.skew_match_rate is not None and report.freshness is not None and report.performance is not None
    assert report.skew_match_rate[f"{CORRUPTED}__distance"] < 0.99  # half the rows were corrupted
    assert {a.input for a in report.alerts if a.check == "skew"} == {f"{CORRUPTED}__distance"}
    fresh = report.freshness["origin_ops"]
    assert 0 <= fresh.age_p50_s <= 16 * 60 and fresh.present > 0.9  # materialized up to the instant read

    page = httpx.get(f"{api.url}/monitor", timeout=10, follow_redirects=True)
    assert page.status_code == 200 and "Monitoring report: served" in page.text
    served_json = httpx.get(f"{api.url}/monitor/report.json", timeout=10).json()
    assert served_json["name"] == "served" and served_json["adversarial_auc"] == pytest.approx(report.adversarial_auc)
    assert httpx.get(f"{api.url}/monitor/drift.html", timeout=10).status_code == 200
    assert httpx.get(f"{api.url}/monitor/secrets.txt", timeout=10).status_code == 404
    assert _metric(api, "skyprophet_monitor_adversarial_auc") == pytest.approx(report.adversarial_auc)
    assert _metric(api, "skyprophet_monitor_skew_match_rate", f"{CORRUPTED}__distance") == pytest.approx(
        report.skew_match_rate[f"{CORRUPTED}__distance"])
    assert _metric(api, "skyprophet_monitor_alerts") == len(report.alerts)
    # the retraining alerts: the served window against the weeks before its first read, scored offline
    assert report.recent is not None and report.recent.rows > 0 and report.recent.checks["log_loss_rise"] is not None
    assert _metric(api, "skyprophet_monitor_retrain_alerts") == len(report.recent.alerts)

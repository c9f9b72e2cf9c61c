"""The prediction log: every flight /predict scores is written, off the request path, to Feast's
feature log of the model's feature service, as it was served; a full buffer drops and counts,
a failed write keeps its records for the next one."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pandas as pd
import pytest

from serving.config import ServingSettings
from skyprophet.core.keys import flight_query
from tests.api.conftest import MATERIALIZED, Server, start_server

pytestmark = [pytest.mark.api, pytest.mark.integration]


def _app(server: Server) -> Any:
    return server.server.config.app  # type: ignore[attr-defined]


def _destination(server: Server) -> Path:
    app = _app(server)
    model = app.state.services.models.current
    service = app.state.services.lookup.store.get_feature_service(model.spec.feature_service)
    return Path(service.logging_config.destination.path)


def _logged(dest: Path, request_id: str) -> pd.DataFrame:
    if not any(dest.glob("*.parquet")):
        return pd.DataFrame()
    return duckdb.sql(f"select * from read_parquet('{dest}/*.parquet', union_by_name = true) "
                      f"where __request_id = '{request_id}'").df()


def _count(server: Server, outcome: str) -> float:
    """``skyprophet_prediction_log_flights_total`` for ``outcome`` in /metrics (0 when absent)."""
    prefix = f'skyprophet_prediction_log_flights_total{{outcome="{outcome}"}} '
    lines = [x for x in httpx.get(f"{server.url}/metrics", timeout=10).text.splitlines() if x.startswith(prefix)]
    return float(lines[0][len(prefix):]) if lines else 0.0


def _flights(canonical: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    t = canonical["sched_dep_utc"] - pd.Timedelta(hours=2)
    lo = pd.Timestamp(MATERIALIZED)
    near = canonical[(t >= lo) & (t < lo + pd.Timedelta(minutes=30))]
    return [flight_query(r) for r in near.head(n).itertuples()]


def test_every_scored_flight_is_logged_as_served(api: Server, canonical: pd.DataFrame) -> None:
    flights = _flights(canonical, 12)
    got = httpx.post(f"{api.url}/predict", json={"flights": flights, "debug": True}, headers={"X-Request-ID": "log-as-served"},
                     timeout=30)
    assert got.status_code == 200, got.text
    assert got.headers["x-request-id"] == "log-as-served"
    preds = got.json()["predictions"]
    _app(api).state.services.logs.flush()
    dest = _destination(api)
    rows = _logged(dest, "log-as-served")
    assert len(rows) == len(flights)
    model = got.json()["model"]
    by_flight = {(r.carrier, str(r.flight_number), r.origin): r for r in rows.itertuples(index=False)}
    for q, p in zip(flights, preds, strict=True):
        row = rows.iloc[list(by_flight).index((q["carrier"], q["flight_number"], q["origin"]))]
        assert row["delay_probability"] == pytest.approx(p["delay_probability"], abs=1e-6)
        assert bool(row["delayed"]) == p["delayed"] and row["prediction_status"] == p["status"]
        assert row["model_name"] == model["name"] and row["model_version"] == str(model["version"])
        assert row["lead_minutes"] == pytest.approx(p["lead_minutes"])
        as_of = row["as_of"]
        assert row["scheduled_departure"] - as_of == pd.Timedelta(minutes=p["lead_minutes"])
        for name, value in p["features"].items():
            logged = row[name]
            status = row[f"{name}__status"]
            if value is None:
                assert pd.isna(logged) and status in (2, 3, 4), name
                assert (status == 4) == (name in p["stale_features"]), name
            else:
                assert logged == pytest.approx(value) if isinstance(value, float) else logged == value, name
                assert status == 1, name
                assert row[f"{name}__timestamp"] <= as_of, name  # no input is from after the instant read
    # Feast's own reading of the destination
    app = _app(api)
    service = app.state.services.lookup.store.get_feature_service(app.state.services.models.current.spec.feature_service)
    assert Path(service.logging_config.destination.to_data_source().path) == dest


@pytest.fixture()
def tiny_log_api(api_settings: ServingSettings, loaded_redis: str) -> Iterator[Server]:
    server = start_server(api_settings.model_copy(update={"prediction_log_max_flights": 3, "prediction_log_flush_s": 3600.0}))
    yield server
    server.stop()


def test_a_full_buffer_drops_and_counts_and_a_failed_write_loses_nothing(tiny_log_api: Server, canonical: pd.DataFrame) -> None:
    server = tiny_log_api
    flights = _flights(canonical, 5)
    # the counters of every app in this process are aggregated (Prometheus' multiprocess files): deltas
    before = {k: _count(server, k) for k in ("dropped", "failed", "written")}
    dest = _destination(server)
    # the destination cannot be written: a file where its folder should be
    aside = dest.with_name(dest.name + ".aside")
    if dest.exists():
        shutil.move(dest, aside)
    dest.write_text("not a folder")
    try:
        ok = httpx.post(f"{server.url}/predict", json={"flights": flights[:2]}, headers={"X-Request-ID": "kept"}, timeout=30)
        full = httpx.post(f"{server.url}/predict", json={"flights": flights[2:]}, headers={"X-Request-ID": "dropped"}, timeout=30)
        assert ok.status_code == 200 and full.status_code == 200  # logging never fails a request
        assert _app(server).state.services.logs.flush() == 0  # the write fails; the records stay
        failed = _count(server, "failed") - before["failed"]
        assert _count(server, "dropped") - before["dropped"] == 3
        assert failed >= 2 and failed % 2 == 0  # each attempt: the same 2 flights
    finally:
        dest.unlink()
        if aside.exists():
            shutil.move(aside, dest)
    assert _app(server).state.services.logs.flush() == 2  # written once the destination is back
    deadline = time.monotonic() + 10
    while len(_logged(dest, "kept")) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(_logged(dest, "kept")) == 2 and len(_logged(dest, "dropped")) == 0
    assert _count(server, "written") - before["written"] == 2

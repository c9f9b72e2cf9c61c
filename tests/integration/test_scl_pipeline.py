"""The whole pipeline on the SCL format: a data set generated for this test (generated, for
correctness only) in the original SkyProphet's columns, April-July 2017 at Santiago (SCEL) over
Chile's 14 May daylight-saving change, goes through the real commands (ingest with the ``scl``
adapter, feature build, ``feast apply``, training with ``split: auto``, promotion,
materialization) and the service answers ``/predict`` for one of its flights."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import yaml

from skyprophet.core.config import PROJECT_ROOT

pytestmark = pytest.mark.integration

DESTS = {"SAEZ": "Buenos Aires", "SPJC": "Lima", "KMIA": "Miami", "SBGR": "Sao Paulo", "SCFA": "Antofagasta",
         "SCIE": "Concepcion", "SCTE": "Puerto Montt", "SCDA": "Iquique"}
AIRLINES = {"LAN": "Grupo LATAM", "SKU": "Sky Airline", "AAL": "American Airlines", "ARG": "Aerolineas Argentinas"}
SANTIAGO = ZoneInfo("America/Santiago")


def _scl_rows(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    names = ["Domingo", "Lunes", "Martes", "Miercoles", "Jueves", "Viernes", "Sabado"]
    day = date(2017, 4, 1)
    while day <= date(2017, 7, 31):
        for k in range(36):
            dest = list(DESTS)[k % len(DESTS)]
            emp = list(AIRLINES)[k % len(AIRLINES)]
            sched = datetime(day.year, day.month, day.day, 5 + (k * 37) % 19, (k * 13) % 60)
            busy = 1.0 + (sched.hour >= 17) + (day.weekday() == 4)  # evenings and Fridays run later
            delay = int(rng.exponential(6 * busy)) - 3
            oper = sched + timedelta(minutes=delay)
            number = f"{100 + k}{'P' if k % 3 == 0 else ''}"  # some numbers carry a letter, as airlines write them
            rows.append({
                "Fecha-I": sched.strftime("%Y-%m-%d %H:%M:%S"), "Vlo-I": number, "Ori-I": "SCEL", "Des-I": dest,
                "Emp-I": emp, "Fecha-O": oper.strftime("%Y-%m-%d %H:%M:%S"), "Vlo-O": number, "Ori-O": "SCEL",
                "Des-O": dest, "Emp-O": emp, "DIA": day.day, "MES": day.month, "AÑO": day.year,
                "DIANOM": names[(day.weekday() + 1) % 7], "TIPOVUELO": "N" if dest.startswith("SC") else "I",
                "OPERA": AIRLINES[emp], "SIGLAORI": "Santiago", "SIGLADES": DESTS[dest],
            })
        day += timedelta(days=1)
    return pd.DataFrame(rows)


def test_scl_data_trains_promotes_and_serves(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from serving.config import ServingSettings
    from serving.main import create_app

    flights = _scl_rows(np.random.default_rng(17))
    flights.to_csv(tmp_path / "scl.csv", index=False)
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params |= {"split": "auto", "leads_minutes": [120], "lead_minutes": 120}
    params["lightgbm"] |= {"min_data_in_leaf": 50, "num_threads": 1}
    params["training"]["num_boost_round"] = 200
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "SKYPROPHET_DATA_DIR": str(tmp_path / "data"), "SKYPROPHET_REPORTS_DIR": str(tmp_path / "reports"),
           "SKYPROPHET_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "SKYPROPHET_MLFLOW_ARTIFACT_ROOT": str(tmp_path / "artifacts")}
    cli = str(Path(sys.executable).with_name("skyprophet"))

    def run(*args: str) -> str:
        proc = subprocess.run([cli, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{args}: {proc.stderr[-3000:]}"
        return proc.stdout + proc.stderr

    run("data", "ingest", "--source", "scl", "--flights", str(tmp_path / "scl.csv"), "--weather-source", "none")
    canonical = pd.read_parquet(tmp_path / "data" / "raw" / "canonical_flights.parquet")
    assert len(canonical) == len(flights)  # every row accepted
    assert set(canonical["carrier"]) == {"LA", "H2", "AA", "AR"} and set(canonical["origin"]) == {"SCL"}
    assert set(canonical["utc_offset_min"]) == {-180, -240}  # both sides of 14 May
    assert set(canonical["origin_country"]) == {"CL"}  # Chile's public holidays count, not the US's
    run("features", "build")
    run("features", "apply")
    run("model", "train", "--params", str(tmp_path / "params.yaml"), "--num-threads", "1")
    run("model", "promote")
    run("features", "materialize", "--end", "2017-07-31T12:00:00+00:00")

    later = canonical[canonical["sched_dep_utc"] >= pd.Timestamp("2017-07-31 13:00", tz="UTC")]
    pick = later[later["flight_number"].str.endswith("P")].iloc[0]
    settings = ServingSettings(data_dir=tmp_path / "data", reports_dir=tmp_path / "reports",
                               mlflow_tracking_uri=env["SKYPROPHET_MLFLOW_TRACKING_URI"],
                               mlflow_artifact_root=tmp_path / "artifacts", prediction_log=False)
    # 16 July 2017 (Virgen del Carmen) was a public holiday in Chile; the nearest US one was 4 July
    holiday = canonical[canonical["sched_dep_utc"].dt.tz_convert(SANTIAGO).dt.date == date(2017, 7, 16)].iloc[0]

    def query(row: pd.Series) -> dict[str, object]:
        return {"carrier": row["carrier"], "flight_number": row["flight_number"], "origin": "SCL", "dest": row["dest"],
                "scheduled_departure": row["sched_dep_utc"].tz_convert(SANTIAGO).isoformat()}

    with TestClient(create_app(settings)) as client:
        r = client.post("/predict", json={"flights": [query(pick)], "as_of": "2017-07-31T12:00:00+00:00"})
        on_holiday = client.post("/predict", json={"flights": [query(holiday)], "debug": True})
    assert r.status_code == 200, r.text
    body = r.json()
    got = body["predictions"][0]
    assert body["model"]["version"] == "1" and got["status"] == "ok", got
    assert 0 < got["delay_probability"] < 1 and got["flight_id"] == f"{pick['carrier']}{pick['flight_number']}"
    # its own schedule and history were found (weather and the aircraft are not in this data: missing)
    assert "origin_ops__sched_deps_1h" not in got["missing_features"] and got["coverage"] > 0.5
    # a number with a letter is a key like any other: the flight's own 28 days were found under it
    assert "flight_history__deps_28d" not in got["missing_features"], got["missing_features"]
    assert on_holiday.status_code == 200, on_holiday.text
    days = {k: v for k, v in on_holiday.json()["predictions"][0]["features"].items() if k.endswith("days_to_holiday")}
    assert list(days.values()) == [0], days

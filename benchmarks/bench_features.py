"""Feature platform benchmark: build, apply, materialize, historical retrieval; 1x and scaled.

Each stage runs in its own process so that its peak RSS (VmHWM) is its own. Scaled data
replicates the year's flights and weather shifted by whole multiples of 53 weeks (weekdays
kept). Prints a table with the targets beside the figures and writes reports/bench/features.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd

from skyprophet.config import PROJECT_ROOT, get_settings

SHIFT = pd.Timedelta(weeks=53)
TARGETS = {"historical_retrieval": "<= 10 s, <= 1536 MB"}


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def replicate(src: Path, dst: Path, factor: int) -> None:
    """``dst/raw`` = ``src/raw`` with flights and weather repeated ``factor`` times, shifted."""
    (dst / "raw").mkdir(parents=True, exist_ok=True)
    flights = pd.read_parquet(src / "raw" / "canonical_flights.parquet")
    weather = pd.read_parquet(src / "raw" / "weather.parquet")
    fl, wx = [], []
    th = pd.to_datetime(weather["time_hour"], utc=True, format="ISO8601")
    for k in range(factor):
        f = flights.copy()
        f["flight_row_id"] += k * 10_000_000
        for c in ("sched_dep_utc", "actual_dep_utc"):
            f[c] = f[c] + k * SHIFT
        fl.append(f)
        w = weather.copy()
        w["time_hour"] = (th + k * SHIFT).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        wx.append(w)
    pd.concat(fl, ignore_index=True).to_parquet(dst / "raw" / "canonical_flights.parquet")
    pd.concat(wx, ignore_index=True).to_parquet(dst / "raw" / "weather.parquet")
    for name in ("planes", "airports"):
        (dst / "raw" / f"{name}.parquet").write_bytes((src / "raw" / f"{name}.parquet").read_bytes())


def stage(name: str, data_dir: Path) -> dict[str, float | int]:
    """Run one stage in this process and measure it."""
    import warnings

    warnings.simplefilter("ignore")
    from pipelines import build_features
    from pipelines.feature_store import apply, materialize
    from skyprophet.keys import entity_frame
    from skyprophet.store import open_store

    settings = get_settings().model_copy(update={"data_dir": data_dir})
    rows = 0
    if name == "feature_build":
        t = time.perf_counter()
        rows = sum(build_features.run(data_dir).values())
    elif name == "apply":
        store = open_store(settings, online="sqlite")
        t = time.perf_counter()
        apply(store, data_dir / "processed")
    elif name == "materialize":
        store = open_store(settings, online="sqlite")
        end = pd.read_parquet(data_dir / "processed" / "airline_stats.parquet", columns=["event_ts"])["event_ts"].max()
        t = time.perf_counter()
        done = materialize(store, end.to_pydatetime(), incremental=False, chunk=timedelta(days=30), show_progress=False)
        rows = sum(done.values())
    elif name == "historical_retrieval":
        store = open_store(settings, online="sqlite")
        flights = pd.read_parquet(data_dir / "raw" / "canonical_flights.parquet")
        entity = entity_frame(flights[~flights["cancelled"]], lead_minutes=settings.lead_minutes)
        svc = store.get_feature_service("flight_delay_v1")
        t = time.perf_counter()
        df = store.get_historical_features(entity_df=entity, features=svc, full_feature_names=True).to_arrow()
        rows = df.num_rows
        assert rows == len(entity), f"{rows} rows for {len(entity)} entity rows"
    else:
        raise ValueError(name)
    return {"rows": rows, "seconds": round(time.perf_counter() - t, 2), "peak_rss_mb": round(_peak_mb(), 1)}


def measure(name: str, data_dir: Path) -> dict[str, float | int]:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "benchmarks.bench_features", "--stage", name, "--data-dir", str(data_dir)],
        check=True, capture_output=True, text=True, cwd=PROJECT_ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--scale", type=int, nargs="*", default=[4, 16])
    parser.add_argument("--work-dir", type=Path, default=PROJECT_ROOT / "reports" / "bench" / "work")
    args = parser.parse_args(argv)
    if args.stage:
        print(json.dumps(stage(args.stage, args.data_dir)))  # noqa: T201 (child protocol)
        return
    stages = ["feature_build", "apply", "materialize", "historical_retrieval"]
    out = PROJECT_ROOT / "reports" / "bench" / "features.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {}
    scale: list[dict[str, object]] = []
    report["scale"] = scale
    base = args.work_dir / "x1"
    replicate(get_settings().data_dir, base, 1)
    for s in stages:  # written after every stage, so a long run leaves what it measured
        report[s] = measure(s, base)
        out.write_text(json.dumps(report, indent=2))
    for k in args.scale:
        d = args.work_dir / f"x{k}"
        replicate(get_settings().data_dir, d, k)
        block: dict[str, object] = {"factor": k}
        scale.append(block)
        for s in stages:
            block[s] = measure(s, d)
            out.write_text(json.dumps(report, indent=2))
    lines = [f"{'stage':<22}{'factor':>7}{'rows':>11}{'seconds':>9}{'peak MB':>9}  target"]
    for k, block in [(1, report)] + [(s["factor"], s) for s in scale]:
        for s in stages:
            r = block[s]  # type: ignore[index]
            lines.append(f"{s:<22}{k:>7}{r['rows']:>11}{r['seconds']:>9}{r['peak_rss_mb']:>9}  {TARGETS.get(s, '') if k == 1 else ''}")
    print("\n".join(lines))  # noqa: T201
    print(f"wrote {out}")  # noqa: T201


if __name__ == "__main__":
    main()

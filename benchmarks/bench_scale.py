"""Scale-out benchmark: training-set retrieval on DuckDB beside Spark ``local[2]`` at 1x, 4x and 16x
the data, and /predict on one Redis beside a three-master Redis Cluster.

- Retrieval: the year's flights and weather replicated (``benchmarks.bench_features.replicate``:
  shifted by 53-week steps), the features built once per scale, then every labelled flight's
  training row at T = scheduled - 2 h through each engine, 100k flights per Feast call, each
  chunk streamed to a parquet dataset (``pipelines.features.training_set.write_labelled``, what
  ``make bench-features`` measures on DuckDB). Each measurement runs in a process of its own:
  ``peak_rss_mb`` is that process's peak plus, for Spark, the peak of its JVM (a child process).
- Serving: the production model behind two servers up together (2 workers each), one reading
  Redis database 12, one the cluster (``scripts/redis_cluster.sh``), both loaded with the same
  two days; wrk at c=1 and c=8 in five interleaved rounds; medians. ``cluster_rps_ratio`` is the
  cluster's requests/s at c=8 over one Redis's.

Writes reports/bench/scale.json (after every measurement) and prints a table. ``--smoke``: both
engines at 1x over the first 31 days, two-second serving runs in one round
(reports/bench/smoke/scale.json); fails when a figure is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_features import SMOKE_DAYS
from benchmarks.smoke import report_path, require
from skyprophet.adapters.progress import peak_rss_mb
from skyprophet.core.config import FEATURE_SERVICE, PROJECT_ROOT, get_settings

ENGINES = ("duckdb", "spark")
ROUNDS = 5
CLUSTER_PORTS = os.environ.get("REDIS_CLUSTER_PORTS", "7100 7101 7102")


def _child_peaks_mb() -> float:
    """Peak resident memory of this process's live children (the Spark JVM), in MB."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return round(total, 1)


def retrieve(engine: str, data_dir: Path, service: str = FEATURE_SERVICE, canonical: Path | None = None) -> dict[str, Any]:
    """One engine's training-set retrieval over ``data_dir`` (in this process): the labelled flights
    of ``canonical`` (default: the data's own canonical table) through ``service``."""
    import warnings

    warnings.simplefilter("ignore")
    from pipelines.features.store import apply
    from pipelines.features.training_set import write_labelled
    from skyprophet.adapters.store import open_store

    settings = get_settings().model_copy(update={"data_dir": data_dir, "offline_store": engine})
    registry = data_dir / f"registry-{engine}"
    store = open_store(settings, online="sqlite", data_dir=registry)
    apply(store, settings, processed_dir=data_dir / "processed")
    t = time.perf_counter()
    rows = write_labelled(store, canonical or data_dir / "raw" / "canonical_flights.parquet", data_dir / f"training_set-{engine}",
                          service, settings.lead_minutes, chunk_rows=100_000)
    out = {"rows": rows, "seconds": round(time.perf_counter() - t, 1)}
    jvm = _child_peaks_mb()
    out["peak_rss_mb"] = round(peak_rss_mb() + jvm, 1)
    if engine == "spark":
        out["jvm_peak_rss_mb"] = jvm
    return out


def measure(engine: str, data_dir: Path, service: str = FEATURE_SERVICE, canonical: Path | None = None) -> dict[str, Any]:
    """``retrieve`` in a process of its own (its peak, and the JVM's, are its own)."""
    cmd = [sys.executable, "-W", "ignore", "-m", "benchmarks.bench_scale", "--stage", engine, "--data-dir", str(data_dir),
           "--service", service, *(["--canonical", str(canonical)] if canonical else [])]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if done.returncode != 0:  # say why: the child's output is otherwise lost
        raise RuntimeError(f"{engine} retrieval over {data_dir} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scaled_data(factor: int, work: Path, days: int | None = None) -> Path:
    """``work/x<factor>``: the data (its first ``days`` when given) replicated and its features
    built (kept between runs)."""
    from benchmarks.bench_features import replicate
    from pipelines.features import build as build_features

    d = work / f"x{factor}"
    if not (d / "processed" / "plane_recent.parquet").exists():
        replicate(get_settings().data_dir, d, factor, days)
        build_features.build(get_settings().model_copy(update={"data_dir": d}))
    return d


def growth(points: dict[str, dict[str, Any]], key: str) -> dict[str, float]:
    """Each scale's figure over the 1x figure."""
    base = points.get("1", {}).get(key)
    return {k: round(v[key] / base, 2) for k, v in points.items() if base and key in v}


def serving(report: dict[str, Any], seconds: int, workers: int, rounds_n: int = ROUNDS) -> None:
    """/predict on one Redis beside the cluster: both servers up, interleaved wrk rounds."""
    import statistics

    import redis

    from benchmarks.bench_serving import MATERIALIZED, Service, bodies, uvicorn_cmd, wrk
    from pipelines.features.store import apply, materialize
    from skyprophet.adapters.redis.cluster import cluster_client
    from skyprophet.adapters.store import open_store

    subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "redis_cluster.sh"), "start"], check=True,
                   env={**os.environ, "REDIS_CLUSTER_PORTS": CLUSTER_PORTS})
    nodes = ",".join(f"127.0.0.1:{p}" for p in CLUSTER_PORTS.split())
    settings = get_settings()
    redis_url = settings.redis_url.rsplit("/", 1)[0] + "/12"
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        data = work / "data"
        data.mkdir()
        for name in ("raw", "processed"):
            (data / name).symlink_to(settings.data_dir.resolve() / name)
        redis.Redis.from_url(redis_url).flushdb()
        cluster: Any = cluster_client(nodes)
        cluster.flushall(target_nodes=cluster.PRIMARIES)
        s = settings.model_copy(update={"data_dir": data, "redis_url": redis_url, "redis_cluster_nodes": nodes})
        for kind in ("redis", "redis_cluster"):
            store = open_store(s, online=kind)
            apply(store, s)
            materialize(store, MATERIALIZED, start=MATERIALIZED - timedelta(days=2), chunk=timedelta(days=1), show_progress=False)
        sizes = [cluster.get_redis_connection(n).dbsize() for n in cluster.get_primaries()]
        report["online_keys"] = {"redis": redis.Redis.from_url(redis_url).dbsize(), "cluster_per_master": sizes}
        report["online_bytes"] = online_bytes(redis.Redis.from_url(redis_url))
        env = {"SKYPROPHET_DATA_DIR": str(data), "REDIS_URL": redis_url, "SKYPROPHET_REDIS_CLUSTER_NODES": nodes,
               "SKYPROPHET_ALLOW_DEBUG": "false", "SKYPROPHET_ENVIRONMENT": "local"}
        one = bodies()["one"]
        body = json.dumps(one)
        cmd = uvicorn_cmd("serving.main:create_app", workers)
        rounds: dict[str, list[dict[str, Any]]] = {f"{n}_c{c}": [] for n in ("redis", "cluster") for c in (1, 8)}
        with Service("redis", cmd, {**env, "SKYPROPHET_ONLINE_STORE": "redis"}, "/predict", one) as single, \
                Service("cluster", cmd, {**env, "SKYPROPHET_ONLINE_STORE": "redis_cluster"}, "/predict", one) as clustered:
            a = httpx_json(single.url + "/predict", one)
            b = httpx_json(clustered.url + "/predict", one)
            report["same_answer"] = a == b
            for _ in range(rounds_n):
                for c in (1, 8):
                    for name, svc in (("redis", single), ("cluster", clustered)):
                        rounds[f"{name}_c{c}"].append(wrk(svc.url + "/predict", c, max(2, seconds // rounds_n), body, work))
    med = {k: {m: statistics.median(r[m] for r in runs) for m in ("p50_ms", "rps")} | {"errors": sum(r["errors"] for r in runs)}
           for k, runs in rounds.items()}
    report["serving"] = {"rounds": rounds_n, "seconds_per_round": max(2, seconds // rounds_n), "workers": workers,
                         **med, "runs": {k: [{m: r[m] for m in ("p50_ms", "rps")} for r in v] for k, v in rounds.items()}}
    report["cluster_rps_ratio"] = round(med["cluster_c8"]["rps"] / med["redis_c8"]["rps"], 3)
    report["cluster_p50_ratio_c1"] = round(med["cluster_c1"]["p50_ms"] / med["redis_c1"]["p50_ms"], 3)


def online_bytes(client: Any, sample: int = 5000) -> dict[str, Any]:
    """Redis memory per stored entity row (``MEMORY USAGE`` of a sample of keys, which counts the
    key, its hash of feature fields and timestamps, and Redis' overhead)."""
    import statistics

    keys: list[bytes] = []
    for key in client.scan_iter(count=1000):
        keys.append(key)
        if len(keys) >= sample:
            break
    sizes = [client.memory_usage(k, samples=0) or 0 for k in keys]
    fields = [client.hlen(k) for k in keys[:500]]
    return {"keys": int(client.dbsize()), "sampled": len(sizes), "mean_bytes_per_key": round(statistics.mean(sizes), 1),
            "median_bytes_per_key": statistics.median(sizes), "mean_fields_per_key": round(statistics.mean(fields), 1)}


def httpx_json(url: str, body: dict[str, Any]) -> Any:
    import httpx

    r = httpx.post(url, json=body, timeout=30)
    r.raise_for_status()
    p = r.json()["predictions"][0]
    return p["delay_probability"], p["delayed"], p["status"]


def render(report: dict[str, Any]) -> str:
    lines = [f"{'retrieval':<24}{'rows':>10}{'seconds':>10}{'peak MB':>10}"]
    for engine, points in report.get("retrieval", {}).items():
        for k, r in points.items():
            lines.append(f"{engine + ' ' + k + 'x':<24}{r['rows']:>10}{r['seconds']:>10}{r['peak_rss_mb']:>10}")
    srv = report.get("serving")
    if srv:
        for k in ("redis_c1", "cluster_c1", "redis_c8", "cluster_c8"):
            lines.append(f"/predict {k:<15}{'':>10}p50 {srv[k]['p50_ms']:>6} ms {srv[k]['rps']:>8} req/s  errors {srv[k]['errors']}")
        lines.append(f"cluster_rps_ratio (c=8) {report['cluster_rps_ratio']}  (target >= 0.75)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--service", default=FEATURE_SERVICE, help=argparse.SUPPRESS)
    parser.add_argument("--canonical", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=int, nargs="*", default=[1, 4, 16], help="replication factors (DuckDB)")
    parser.add_argument("--spark-scale", type=int, nargs="*", default=[1, 4, 16], help="replication factors (Spark)")
    parser.add_argument("--seconds", type=int, default=20, help="load per line, split into five rounds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-serving", action="store_true")
    parser.add_argument("--skip-retrieval", action="store_true")
    parser.add_argument("--work-dir", type=Path, default=PROJECT_ROOT / "reports" / "bench" / "work")
    parser.add_argument("--smoke", action="store_true", help="1x of a month, short serving runs (make bench-smoke)")
    args = parser.parse_args(argv)
    if args.stage:
        print(json.dumps(retrieve(args.stage, args.data_dir, args.service, args.canonical)))  # noqa: T201 (child protocol)
        return
    out = report_path("scale", args.smoke)
    days, rounds_n = (SMOKE_DAYS, 1) if args.smoke else (None, ROUNDS)
    if args.smoke:
        args.scale, args.spark_scale, args.seconds, args.work_dir = [1], [1], 2, args.work_dir / "smoke-scale"
        shutil.rmtree(args.work_dir, ignore_errors=True)
    report: dict[str, Any] = json.loads(out.read_text()) if out.exists() and not args.smoke else {"smoke": args.smoke}

    def save() -> None:
        out.write_text(json.dumps(report, indent=2))

    if not args.skip_retrieval:
        report.setdefault("retrieval", {})  # figures of other scales (an earlier run) are kept
        for e in ENGINES:
            report["retrieval"].setdefault(e, {})
        for k in sorted(set(args.scale) | set(args.spark_scale)):
            d = scaled_data(k, args.work_dir, days)
            for engine in ENGINES:
                if k in (args.scale if engine == "duckdb" else args.spark_scale):
                    report["retrieval"][engine][str(k)] = measure(engine, d)
                    report["retrieval_growth"] = {e: {"seconds": growth(p, "seconds"), "peak_rss_mb": growth(p, "peak_rss_mb")}
                                                  for e, p in report["retrieval"].items()}
                    save()
            shutil.rmtree(d / "training_set-duckdb", ignore_errors=True)
            shutil.rmtree(d / "training_set-spark", ignore_errors=True)
    if not args.skip_serving:
        serving(report, args.seconds, args.workers, rounds_n)
        save()
    print(render(report))  # noqa: T201
    print(f"wrote {out}")  # noqa: T201
    if args.smoke:
        shutil.rmtree(args.work_dir, ignore_errors=True)
        require("bench_scale", report, [f"retrieval.{e}.1.{m}" for e in ENGINES for m in ("rows", "seconds", "peak_rss_mb")]
                + ["same_answer", "cluster_rps_ratio", "cluster_p50_ratio_c1", "online_bytes.mean_bytes_per_key"])


if __name__ == "__main__":
    main()

"""Soak: the production server (2 workers, Redis) under steady load for ten minutes.

The server and its data are set up as ``bench_serving`` does (Redis database 13, materialized up
to 2013-12-30 12:00 UTC, the production model). wrk then holds concurrency 8 on ``POST /predict``
(one real flight) in one-minute rounds; after each round the resident memory of the server's
processes (master and workers) is read. Pass: memory after the warm-up minute grows by less
than 10 %, and every minute's p99 stays within 2x the first minute's. Not part of ``make test``:
it takes ten minutes. Writes reports/bench/soak.json. ``--smoke``: three five-second rounds
(reports/bench/smoke/soak.json); fails when a figure is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.bench_serving import Service, bodies, prepare, uvicorn_cmd, wrk
from benchmarks.smoke import report_path, require

MEMORY_GROWTH = 0.10
P99_FACTOR = 2.0


def server_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, MB."""
    import psutil

    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def verdict(minutes: list[dict[str, Any]]) -> dict[str, Any]:
    """Growth of memory after the warm-up minute and the worst p99 against the first minute's."""
    warm = minutes[0]["rss_mb"]
    growth = (minutes[-1]["rss_mb"] - warm) / warm
    worst = max(m["p99_ms"] for m in minutes)
    factor = worst / minutes[0]["p99_ms"]
    errors = sum(m["errors"] for m in minutes)
    return {
        "rss_growth_after_warmup": round(growth, 4),
        "rss_growth_met": growth < MEMORY_GROWTH,
        "worst_p99_over_first_minute": round(factor, 3),
        "p99_met": factor <= P99_FACTOR,
        "errors": errors,
        "met": bool(growth < MEMORY_GROWTH and factor <= P99_FACTOR and errors == 0),
    }


def render(report: dict[str, Any]) -> str:
    lines = [f"{'minute':>6}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>10}{'errors':>8}{'RSS MB':>9}"]
    for m in report["minutes"]:
        lines.append(f"{m['minute']:>6}{m['p50_ms']:>9}{m['p99_ms']:>9}{m['rps']:>10}{m['errors']:>8}{m['rss_mb']:>9.1f}")
    v = report["verdict"]
    lines.append(f"memory growth after warm-up {v['rss_growth_after_warmup']:+.1%} (target < {MEMORY_GROWTH:.0%}): "
                 f"{'met' if v['rss_growth_met'] else 'NOT MET'}")
    lines.append(f"worst p99 / first minute's {v['worst_p99_over_first_minute']:.2f}x (target <= {P99_FACTOR}x): "
                 f"{'met' if v['p99_met'] else 'NOT MET'}; errors {v['errors']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="how many one-minute rounds")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="three five-second rounds (make bench-smoke)")
    args = parser.parse_args(argv)
    round_s = 5 if args.smoke else 60
    if args.smoke:
        args.minutes = 3
    out = report_path("soak", args.smoke)
    with tempfile.TemporaryDirectory(prefix="skyprophet-soak-") as tmp:
        work = Path(tmp)
        env = prepare(work)
        body = json.dumps(bodies()["one"])
        minutes = []
        with Service("skyprophet", uvicorn_cmd("serving.main:create_app", args.workers), env, "/ready") as svc:
            for minute in range(1, args.minutes + 1):
                m = wrk(svc.url + "/predict", args.concurrency, round_s, body, work)
                minutes.append({"minute": minute, **m, "rss_mb": round(server_rss_mb(svc.proc.pid), 1)})
                sys.stderr.write(f"minute {minute}: p99 {m['p99_ms']} ms, {m['rps']} req/s, RSS {minutes[-1]['rss_mb']} MB\n")
        report = {"smoke": args.smoke, "round_seconds": round_s, "concurrency": args.concurrency, "workers": args.workers,
                  "minutes": minutes, "verdict": verdict(minutes)}
    out.write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(render(report) + "\n")
    require("soak", report, [f"minutes.{i}.{m}" for i in range(args.minutes) for m in ("p99_ms", "rps", "rss_mb")]
            + ["verdict.rss_growth_after_warmup", "verdict.worst_p99_over_first_minute"])


if __name__ == "__main__":
    main()

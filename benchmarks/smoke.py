"""Every benchmark and every study, once, on a small slice (``make bench-smoke``, run in CI).

A smoke run proves that a benchmark still produces its figures, not what they are: each is run
as ``python -m <module> --smoke`` in its own process and fails when it exits non-zero or leaves a
figure it promises missing or not a number (``require``). Smoke reports go to
``reports/bench/smoke/``, never over the real figures in ``reports/bench/``.

The modules run in two lanes side by side (2 cores), one after another within a lane; modules that
share a Redis database share a lane (``LANES``). ``--serial`` runs them one at a time.

Prints one line per benchmark (seconds, outcome) as each ends and writes
``reports/bench/smoke/summary.json``; exits 1 when any failed.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from skyprophet.core.config import PROJECT_ROOT

SMOKE_DIR = PROJECT_ROOT / "reports" / "bench" / "smoke"
# Two lanes of about equal length; bench_serving and soak both load Redis database 13, one lane; bench_scale and
# bench_loop both use database 12, the other.
LANES = (
    ("benchmarks.bench_serving", "benchmarks.soak", "benchmarks.bench_train", "studies.tune_october", "studies.october_checks",
     "benchmarks.bench_national", "studies.seed_spread", "studies.psi_binning"),
    ("benchmarks.bench_features", "benchmarks.bench_scale", "benchmarks.bench_stream", "studies.october_leads",
     "studies.october_leads --family sampling", "benchmarks.bench_backtest", "benchmarks.bench_loop"),
)
TIMEOUT_S = 900
# The smoke slice's months and boosting rounds (smoke_slice, and bench-train's params file).
SMOKE_SPLIT = {"train": ("2013-09", "2013-09"), "validation": ("2013-10", "2013-10"), "test": ("2013-11", "2013-11")}
SMOKE_ROUNDS = 40


def report_path(name: str, smoke: bool) -> Path:
    """Where a benchmark writes its report: ``reports/bench/<name>.json``, or under ``smoke/``."""
    path = (SMOKE_DIR if smoke else PROJECT_ROOT / "reports" / "bench") / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_report(name: str, report: dict[str, Any], smoke: bool, render: Any) -> Path:
    """``<name>.json`` and the page ``render(report)`` makes of it, ``<name>.html``, where
    ``report_path`` says; returns the JSON's path."""
    path = report_path(name, smoke)
    path.write_text(json.dumps(report, indent=2) + "\n")
    page = path.with_suffix(".html")
    page.write_text(render(report))
    print(f"wrote {path} and {page}")  # noqa: T201
    return path


def missing(report: Any, paths: list[str]) -> list[str]:
    """The dotted ``paths`` of ``report`` that hold no finite number (or, for a list or mapping,
    nothing): ``a.b.0.c`` walks mappings by key and lists by index."""
    absent = []
    for path in paths:
        value = report
        for part in path.split("."):
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            elif isinstance(value, dict) and part in value:
                value = value[part]
            else:
                value = None
                break
        if isinstance(value, bool) or value is None:
            ok = isinstance(value, bool)
        elif isinstance(value, (int, float)):
            ok = math.isfinite(value)
        else:
            ok = bool(value)
        if not ok:
            absent.append(path)
    return absent


def require(name: str, report: Any, paths: list[str]) -> None:
    """Exit with a message naming every promised figure ``report`` lacks."""
    gaps = missing(report, paths)
    if gaps:
        raise SystemExit(f"{name}: no figure for {', '.join(gaps)}")


def smoke_slice(params: Any) -> Any:
    """Training parameters (a ``TrainParams``) on a slice: September to train, October to validate,
    November to test, three leads (12 h, the headline lead, 30 minutes: the leads the studies'
    rules look at), 40 boosting rounds."""
    from dataclasses import replace

    from skyprophet.core.months import Window

    windows = [Window(name, first, last) for name, (first, last) in SMOKE_SPLIT.items()]
    leads = sorted({720, params.lead_minutes, 30}, reverse=True)
    return replace(params, windows=windows, leads_minutes=leads, num_boost_round=SMOKE_ROUNDS)


def run(module: str, timeout_s: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-W", "ignore", "-m", *module.split(), "--smoke"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=timeout_s)
        ok, tail = done.returncode == 0, (done.stderr or done.stdout).strip().splitlines()[-3:]
    except subprocess.TimeoutExpired:
        ok, tail = False, [f"timed out after {timeout_s:.0f} s"]
    return {"module": module, "ok": ok, "seconds": round(time.perf_counter() - started, 1), "tail": [] if ok else tail}


def lanes(modules: list[str], serial: bool) -> list[list[str]]:
    """``modules`` (default: all) as the lanes to run side by side: ``LANES``' order, or one lane."""
    known = [m for lane in LANES for m in lane]
    unknown = sorted(set(modules) - set(known))
    if unknown:
        raise SystemExit(f"bench-smoke: unknown module(s): {', '.join(unknown)} (known: {', '.join(known)})")
    chosen = set(modules or known)
    out = [[m for m in lane if m in chosen] for lane in LANES]
    return [[m for lane in out for m in lane]] if serial else [lane for lane in out if lane]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="only these (default: all; a study's family as one quoted argument)")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds allowed to each")
    parser.add_argument("--serial", action="store_true", help="one module at a time")
    args = parser.parse_args(argv)

    def lane(modules: list[str]) -> list[dict[str, Any]]:
        results = []
        for module in modules:
            result = run(module, args.timeout)
            results.append(result)
            print(f"{module:<32}{result['seconds']:>8.1f} s  {'ok' if result['ok'] else 'FAILED'}", flush=True)  # noqa: T201
            for line in result["tail"]:
                print(f"{'':<34}{line}", flush=True)  # noqa: T201
        return results

    started = time.perf_counter()
    chosen = lanes(args.modules, args.serial)
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        results = [r for done in pool.map(lane, chosen) for r in done]
    print(f"{'all':<32}{time.perf_counter() - started:>8.1f} s", flush=True)  # noqa: T201
    report_path("summary", True).write_text(json.dumps(results, indent=2) + "\n")
    failed = [r["module"] for r in results if not r["ok"]]
    if failed:
        raise SystemExit(f"bench-smoke: {len(failed)} failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()

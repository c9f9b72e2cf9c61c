"""The API fuzzed from its own OpenAPI document: schemathesis, every check it has.

Twice, at least 1,000 cases in all: the API tests' server with its debug options on (at least 700),
and the production command (`skyprophet serve`, as `make serve` runs it: 2 workers, uvloop,
httptools, debug options off; at least 300), whose document must advertise only what it accepts. Under CI=true the seed is fixed (a failure
reproduces); elsewhere it is drawn anew each run and printed with any failure.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import free_port, wait_ready

pytestmark = [pytest.mark.api, pytest.mark.integration]

CI_SEED = 20131230
MIN_CASES = 1000  # in all
DEBUG_CASES = 700  # of which against the server with debug options
# Examples per operation asked of schemathesis: its coverage phase adds cases, and operations
# without inputs stop early; these give about 1,000 and 450 cases (the assertions count them).
DEBUG_EXAMPLES, PRODUCTION_EXAMPLES = 250, 100
PRODUCTION_TOKEN = "production-fuzz-token"


def _cases(report: Path) -> int:
    """Test cases schemathesis generated and sent, from its JSON run report."""
    return int(json.loads(report.read_text())["test_cases"]["generated"])


def _fuzz(url: str, token: str, examples: int, tmp_path: Path) -> int:
    """schemathesis against ``url``'s own document; the number of cases it sent (asserts no finding)."""
    seed = CI_SEED if os.environ.get("CI", "").lower() == "true" else random.randrange(2**31)
    report = tmp_path / "schemathesis.json"
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/openapi.json",
        "--checks", "all", "--max-examples", str(examples), "--seed", str(seed), "--workers", "1",
        "--header", f"Authorization: Bearer {token}", "--generation-database", "none", "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report), "--no-color",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"seed {seed}:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    cases = _cases(report)
    print(f"schemathesis: {cases} cases, seed {seed}")  # noqa: T201 (shown with -s and in a failure's report)
    return cases


def test_schemathesis_finds_nothing(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert _fuzz(api.url, api.settings.admin_token.get_secret_value(), DEBUG_EXAMPLES, tmp_path) >= DEBUG_CASES


@pytest.fixture()
def production(api_settings, loaded_redis: str, tmp_path: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """``skyprophet serve`` (make serve's command) on the API tests' stores; its URL once ready."""
    port = free_port()
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    env = {**os.environ, "SKYPROPHET_DATA_DIR": str(api_settings.data_dir), "REDIS_URL": loaded_redis,
           "SKYPROPHET_REPORTS_DIR": str(api_settings.reports_dir),
           "SKYPROPHET_MLFLOW_TRACKING_URI": api_settings.mlflow_tracking_uri,
           "SKYPROPHET_MLFLOW_ARTIFACT_ROOT": str(api_settings.mlflow_artifact_root),
           "SKYPROPHET_ADMIN_TOKEN": PRODUCTION_TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("skyprophet")), "serve", "--host", "127.0.0.1", "--port", str(port), "--online", "redis"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_schemathesis_finds_nothing_in_production_settings(production: str, tmp_path: Path) -> None:
    document = httpx.get(f"{production}/openapi.json", timeout=10).json()
    body = document["components"]["schemas"]["PredictRequest"]["properties"]
    assert "debug" not in body and "as_of" not in body, sorted(body)  # refused there, so not advertised
    assert _fuzz(production, PRODUCTION_TOKEN, PRODUCTION_EXAMPLES, tmp_path) >= MIN_CASES - DEBUG_CASES

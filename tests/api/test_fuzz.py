"""The API fuzzed from its own OpenAPI document: schemathesis, every check it has, at least 1,000 cases.

Under CI=true the seed is fixed (a failure reproduces); elsewhere it is drawn anew each run and
printed with any failure. The run goes through the real HTTP server of the API tests.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.api, pytest.mark.integration]

CI_SEED = 20131230
MIN_CASES = 1000


def _cases(report: Path) -> int:
    """Test cases schemathesis generated and sent, from its JSON run report."""
    return int(json.loads(report.read_text())["test_cases"]["generated"])


def test_schemathesis_finds_nothing(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    seed = CI_SEED if os.environ.get("CI", "").lower() == "true" else random.randrange(2**31)
    report = tmp_path / "schemathesis.json"
    token = api.settings.admin_token.get_secret_value()
    cmd = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{api.url}/openapi.json",
        "--checks", "all", "--max-examples", "900", "--seed", str(seed), "--workers", "1",
        "--header", f"Authorization: Bearer {token}", "--generation-database", "none", "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report), "--no-color",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"seed {seed}:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    assert _cases(report) >= MIN_CASES, proc.stdout[-3000:]

"""The real Feast, imported through this project, is not instrumented by typeguard
(``skyprophet/core/imports.py``): its FeatureView constructor is Feast's own code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from skyprophet.core.config import PROJECT_ROOT

pytestmark = pytest.mark.integration

PROBE = (
    "import json, sys, pipelines.features.store, feast\n"
    "names = feast.FeatureView.__init__.__code__.co_names + feast.FeatureService.__init__.__code__.co_names\n"
    "print(json.dumps(sorted(n for n in set(names) if n.startswith('typeguard') or 'check_argument_types' in n)))\n"
)


def test_feast_imported_by_the_pipelines_carries_no_run_time_type_checks() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []

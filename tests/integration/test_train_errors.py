"""Bad input to `skyprophet model train`: one clear line, non-zero exit, nothing registered."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from skyprophet.core.config import PROJECT_ROOT

pytestmark = pytest.mark.integration


def _train(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("skyprophet")), "model", "train", *args],
        cwd=PROJECT_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
    )


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        return int(con.execute(f"select count(*) from {table}").fetchone()[0])  # noqa: S608 - fixed names


@pytest.mark.parametrize(
    ("args", "tracking", "message"),
    [
        (["--feature-service", "flight_delay_v9"], None, "skyprophet model train: error: unknown feature service 'flight_delay_v9'"),
        (["--train", "2014-01..2014-09"], None, "skyprophet model train: error: no labelled flights in the train window 2014-01..2014-09"),
        ([], "http://127.0.0.1:9", "skyprophet model train: error: MLflow tracking store unreachable at http://127.0.0.1:9"),
    ],
    ids=["unknown-feature-service", "empty-training-window", "unreachable-tracking-uri"],
)
def test_bad_input_is_one_line_and_registers_nothing(
    args: list[str], tracking: str | None, message: str, settings, offline_store, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    db = tmp_path / "mlflow.db"
    env = {
        "SKYPROPHET_DATA_DIR": str(settings.data_dir),
        "SKYPROPHET_MLFLOW_TRACKING_URI": tracking or f"sqlite:///{db}",
        "SKYPROPHET_MLFLOW_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "SKYPROPHET_REPORTS_DIR": str(tmp_path / "reports"),
    }
    proc = _train(args, env)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert _count(db, "runs") == 0
    assert _count(db, "model_versions") == 0
    assert _count(db, "registered_models") == 0

"""The tools users already know start from the README's set-up: `feast ui` over the project's
registry, and the MLflow UI over a tracking store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from skyprophet.core.config import Settings
from tests.api.conftest import free_port

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def _serves(proc: subprocess.Popen[bytes], url: str, log: Path, seconds: float = 120) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            return httpx.get(url, timeout=5)
        except httpx.HTTPError:
            time.sleep(0.5)
    raise AssertionError(f"nothing answered at {url}: {log.read_text()[-3000:]}")


def _run(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    # MLflow's job runner (a process and its workers, for jobs this project never submits) would
    # take a core from the other test worker while the UI is up
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    return subprocess.Popen(args, cwd=cwd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)


def test_feast_ui_lists_the_feature_views(settings: Settings, tmp_path: Path) -> None:
    from pipelines.features.store import apply
    from skyprophet.adapters.store import open_store

    data = tmp_path / "data"
    data.mkdir()
    (data / "processed").symlink_to(settings.processed_dir)
    store = open_store(settings.model_copy(update={"data_dir": data}), online="sqlite")
    apply(store, settings, processed_dir=settings.processed_dir)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(
        f"project: skyprophet\nprovider: local\nregistry: {data / 'registry.db'}\noffline_store:\n  type: duckdb\n"
        f"online_store:\n  type: sqlite\n  path: {data / 'online.db'}\nentity_key_serialization_version: 3\n"
    )
    port = free_port()
    log = tmp_path / "feast-ui.log"
    proc = _run([str(BIN / "feast"), "ui", "--host", "127.0.0.1", "-p", str(port)], repo, log)
    try:
        page = _serves(proc, f"http://127.0.0.1:{port}/", log)
        assert page.status_code == 200 and "<html" in page.text.lower()
        projects = httpx.get(f"http://127.0.0.1:{port}/projects-list.json", timeout=10).json()
        assert [p["id"] for p in projects["projects"]] == ["skyprophet"]
        views = httpx.get(f"http://127.0.0.1:{port}/api/v1/feature_views", params={"project": "skyprophet"}, timeout=30)
        assert views.status_code == 200, views.text[:500]
        assert "airline_stats" in views.text and "origin_ops" in views.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_mlflow_ui_serves_the_tracking_store(mlflow_settings: Settings, trained_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # the store the session's model was trained into (a fresh one would spend most of the test
    # creating its tables), as `make mlflow-ui` serves the project's: one worker (MLflow's default
    # of four starts four processes that each import MLflow, for one reader)
    port = free_port()
    log = tmp_path / "mlflow-ui.log"
    proc = _run([str(BIN / "mlflow"), "ui", "--backend-store-uri", mlflow_settings.mlflow_tracking_uri, "--host", "127.0.0.1",
                 "--port", str(port), "--workers", "1"], tmp_path, log)
    try:
        page = _serves(proc, f"http://127.0.0.1:{port}/", log)
        assert page.status_code == 200
        experiments = httpx.get(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search", params={"max_results": 10}, timeout=30)
        assert experiments.status_code == 200
        assert mlflow_settings.experiment_name in {e["name"] for e in experiments.json()["experiments"]}
        models = httpx.get(f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/search", timeout=30)
        assert models.status_code == 200
        assert mlflow_settings.model_name in {m["name"] for m in models.json()["registered_models"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)

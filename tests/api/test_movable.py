"""A built checkout that moves reads its own data: its data folder (tables, registry, embedded
online store) and its MLflow store are copied to a new place, that place is renamed and the copy's
original folder is gone; the API served from the renamed folder loads its model, answers and logs
its predictions there. Feast records tables and log folders, MLflow records artifacts, as absolute
paths: without re-anchoring, the server cannot load its model from a folder that no longer exists."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.config import ServingSettings
from skyprophet.adapters.store import ANCHOR, open_store
from skyprophet.adapters.tracking import connect, model_location
from skyprophet.core.keys import flight_query
from tests.api.conftest import MATERIALIZED, start_server

pytestmark = pytest.mark.integration


def _checkout(api_settings: ServingSettings, root: Path) -> ServingSettings:
    """``root`` laid out as a checkout: ``data/`` (tables copied, not linked), ``mlflow.db``, ``mlartifacts/``."""
    shutil.copytree(api_settings.data_dir, root / "data", symlinks=False,
                    ignore=shutil.ignore_patterns("prediction_log", ".duckdb_tmp"))
    tracking_db = Path(api_settings.mlflow_tracking_uri.removeprefix("sqlite:///"))
    shutil.copy2(tracking_db, root / "mlflow.db")
    shutil.copytree(api_settings.mlflow_artifact_root, root / "mlartifacts")
    return _at(api_settings, root)


def _at(api_settings: ServingSettings, root: Path) -> ServingSettings:
    return api_settings.model_copy(update={
        "data_dir": root / "data", "reports_dir": root / "reports", "mlflow_tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
        "mlflow_artifact_root": root / "mlartifacts"})


def test_a_moved_checkout_serves_from_its_own_folder(api_settings: ServingSettings, loaded_redis: str, canonical: pd.DataFrame,
                                                     tmp_path: Path) -> None:
    first = tmp_path / "first"
    _checkout(api_settings, first)
    assert json.loads((first / "data" / ANCHOR).read_text())["data_dir"] == str(api_settings.data_dir.resolve())
    moved = tmp_path / "renamed"
    first.rename(moved)  # the checkout moved: nothing is left where it was built
    settings = _at(api_settings, moved)

    t = canonical["sched_dep_utc"] - pd.Timedelta(minutes=120)
    row = next(canonical[(t >= pd.Timestamp(MATERIALIZED)) & canonical["tailnum"].notna()].itertuples())
    server = start_server(settings)  # re-anchors the registry and finds the model in the moved folder
    try:
        answer = httpx.post(f"{server.url}/predict", json={"flights": [flight_query(row)]}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert 0 < answer.json()["predictions"][0]["delay_probability"] < 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list((moved / "data" / "prediction_log").rglob("*.parquet")):
            time.sleep(0.2)
    finally:
        server.stop()

    store = open_store(settings, online="redis")
    paths = [Path(s.path) for s in store.list_data_sources() if getattr(s, "path", None)]
    assert paths and all(p.parent == (moved / "data" / "processed").resolve() for p in paths)
    logs = [Path(fs.logging_config.destination.path) for fs in store.list_feature_services() if fs.logging_config]
    assert logs and all(p.parent == moved / "data" / "prediction_log" for p in logs)
    assert json.loads((moved / "data" / ANCHOR).read_text()) == {"data_dir": str(moved / "data"),
                                                                  "processed_dir": str(moved / "data" / "processed")}
    client = connect(settings)
    version = client.get_model_version_by_alias(settings.model_name, "production")
    assert str(model_location(client, version)).startswith(str(moved / "mlartifacts"))
    assert list((moved / "data" / "prediction_log").rglob("*.parquet")), "the copy logged nothing in its own folder"
    assert not first.exists(), "something was written where the checkout used to be"

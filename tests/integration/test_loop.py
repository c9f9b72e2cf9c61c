"""The loop's decisions on a real MLflow registry (SQLite): when a retraining is due (the schedule,
a retraining alert written since the last retraining), that a step which fails is a ``fail`` turn
journalled on its version rather than an exception, and what a turn does when nothing is due.
The whole loop in a replay is ``make bench-loop`` (its smoke run is in CI)."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipelines.monitoring.loop import due, last_retraining, turn
from skyprophet.adapters.tracking import CHALLENGER, PRODUCTION, alias_version, connect
from skyprophet.core.config import Settings

pytestmark = pytest.mark.integration
NOW = datetime(2013, 12, 10, 6, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MLflow store for the module (creating one costs seconds); each test registers a model of its own in it."""
    return tmp_path_factory.mktemp("loop-mlflow")


@pytest.fixture()
def registry(store: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    s = Settings(mlflow_tracking_uri=f"sqlite:///{store / 'mlflow.db'}", mlflow_artifact_root=store / "artifacts",
                 reports_dir=tmp_path / "reports", data_dir=tmp_path / "data", loop_retrain_days=7,
                 model_name=f"loop-{request.node.name[5:40]}")
    connect(s).create_registered_model(s.model_name)
    return s


def _version(s: Settings, retrained_as_of: str | None) -> str:
    client = connect(s)
    v = client.create_model_version(s.model_name, source=str(s.reports_dir / "no-such-model"))
    if retrained_as_of:
        client.set_model_version_tag(s.model_name, v.version, "retrained_as_of", retrained_as_of)
    return str(v.version)


def _report(s: Settings, alerts: list[dict[str, object]]) -> Path:
    path = s.reports_dir / "monitor" / s.loop_report / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    recent = {"reference": "2013-11-05..2013-12-02", "rows": 900, "checks": {"log_loss_rise": 0.08},
              "thresholds": {"log_loss_rise": 0.05}, "alerts": alerts}
    path.write_text(json.dumps({"name": "live", "recent": recent}))
    return path


def test_a_retraining_is_scheduled_when_none_was_ever_made_and_a_week_after_the_last(registry: Settings) -> None:
    client = connect(registry)
    _version(registry, None)  # trained by `model train`: no retraining day
    assert due(registry, client, NOW) == "scheduled"
    _version(registry, "2013-12-04")
    _version(registry, "2013-11-20")  # older: not the last
    assert last_retraining(client, registry.model_name)[0].isoformat() == "2013-12-04"  # type: ignore[union-attr]
    assert due(registry, client, NOW) is None  # six days
    assert due(registry, client, NOW.replace(day=11)) == "scheduled"  # seven


def test_a_retraining_alert_written_since_the_last_retraining_starts_one(registry: Settings) -> None:
    client = connect(registry)
    _version(registry, "2013-12-08")
    alert = {"check": "log_loss_rise", "input": None, "value": 0.08, "threshold": 0.05}
    path = _report(registry, [])
    time.sleep(0.01)
    assert due(registry, client, NOW) is None  # a report without a retraining alert
    _report(registry, [alert])
    assert due(registry, client, NOW) == "drift"
    registered = last_retraining(client, registry.model_name)[1]
    assert registered is not None
    os.utime(path, (registered - 60, registered - 60))  # the same alert, written before the last retraining
    assert due(registry, client, NOW) is None
    path.write_text("{not json")  # a report being written: read again next turn
    assert due(registry, client, NOW) is None


def test_a_broken_challenger_is_retired_a_failing_step_is_a_fail_turn_and_nothing_due_is_idle(registry: Settings) -> None:
    client = connect(registry)
    production = _version(registry, "2013-12-08")
    client.set_registered_model_alias(registry.model_name, PRODUCTION, production)
    counted = []
    assert [t.step for t in turn(registry, NOW, client=client, count=counted.append)] == ["idle"]
    broken = _version(registry, "2013-12-09")  # its artifact does not exist: the services refuse it too
    client.set_registered_model_alias(registry.model_name, CHALLENGER, broken)
    got = turn(registry, NOW, client=client, count=counted.append)
    assert [(t.step, t.version) for t in got] == [("refuse", broken)] and "does not load" in got[0].outcome
    assert alias_version(client, registry.model_name, CHALLENGER) is None
    assert json.loads(client.get_model_version(registry.model_name, broken).tags["loop_refuse"])["at"] == NOW.isoformat()
    # a week later a retraining is due, and this folder holds no data to build from: a fail turn, not an exception
    got = turn(registry, NOW.replace(day=16), client=client, count=counted.append)
    assert [t.step for t in got] == ["fail"] and got[0].outcome
    assert [t.step for t in counted] == ["idle", "refuse", "fail"]
    assert alias_version(client, registry.model_name, PRODUCTION) == production  # untouched throughout

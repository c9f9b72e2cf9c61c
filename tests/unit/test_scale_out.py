"""Scale-out configuration without any service: one list of views for both offline engines, the
cluster settings, and the key of a RESP command (how the cluster reader finds a key's slot)."""

from __future__ import annotations

from pathlib import Path

import pytest
from feast import FeatureView, FileSource

from feature_repo.definitions import objects
from skyprophet.adapters.redis.wire import command, key_of
from skyprophet.core.config import Settings


def _views(engine: str) -> dict[str, FeatureView]:
    return {o.name: o for o in objects(Path("/nonexistent/processed"), 15, engine) if isinstance(o, FeatureView)}  # type: ignore[arg-type]


def test_both_engines_register_the_same_views_over_the_same_tables() -> None:
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

    duck, spark = _views("duckdb"), _views("spark")
    assert duck.keys() == spark.keys() and len(duck) == 10
    for name, fv in duck.items():
        other = spark[name]
        assert isinstance(fv.batch_source, FileSource) and isinstance(other.batch_source, SparkSource)
        assert fv.batch_source.path == other.batch_source.path  # type: ignore[union-attr]
        assert fv.batch_source.timestamp_field == other.batch_source.timestamp_field == "event_ts"
        assert [(f.name, f.dtype) for f in fv.features] == [(f.name, f.dtype) for f in other.features]
        assert fv.entities == other.entities and fv.ttl == other.ttl


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown offline engine"):
        objects(Path("/nonexistent/processed"), 15, "bigquery")  # type: ignore[arg-type]


def test_store_configuration_follows_the_settings(tmp_path: Path) -> None:
    from feast.infra.offline_stores.contrib.spark_offline_store.spark import SparkOfflineStoreConfig
    from feast.infra.online_stores.redis import RedisType

    from skyprophet.adapters.store import repo_config

    s = Settings(data_dir=tmp_path, offline_store="spark", online_store="redis_cluster", spark_master="local[1]",
                 spark_conf={"spark.driver.memory": "1g"}, redis_cluster_nodes="10.0.0.1:7000,10.0.0.2:7000")
    cfg = repo_config(s)
    assert isinstance(cfg.offline_store, SparkOfflineStoreConfig)
    conf = cfg.offline_store.spark_conf or {}
    assert conf["spark.master"] == "local[1]" and conf["spark.driver.memory"] == "1g"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert cfg.online_store.redis_type == RedisType.redis_cluster
    assert cfg.online_store.connection_string == "10.0.0.1:7000,10.0.0.2:7000"
    assert cfg.batch_engine_config == "local"  # materialization: Feast's local engine unless asked
    engine = repo_config(s.model_copy(update={"batch_engine": "spark"})).batch_engine
    assert type(engine).__name__ == "SparkComputeEngineConfig" and engine.spark_conf == conf


def test_spark_engine_needs_the_spark_offline_store() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="offline_store=spark"):
        Settings(batch_engine="spark")
    assert Settings(batch_engine="spark", offline_store="spark").batch_engine == "spark"


def test_cluster_nodes_must_be_host_port_pairs() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(redis_cluster_nodes="10.0.0.1,10.0.0.2:7000")


@pytest.mark.parametrize("key", [b"k", b"\x00\x01binary\r\nkey", "é".encode() * 40])
def test_key_of_a_command(key: bytes) -> None:
    assert key_of(command("HMGET", key, b"field", b"other")) == key
    assert key_of(command("GET", key)) == key


def test_a_spark_cluster_is_sized_from_the_measured_rates() -> None:
    from benchmarks.bench_national import cluster_sizing

    # 300,000 rows in 150 s on two cores: 0.001 core-second a row; 9 million rows (every split) are
    # 9,000 core-seconds, 2.5 core-hours, and 9,000 / 2,700 s = 3.33, so four cores for 45 minutes
    steps = {"spark_retrieval": {"spark": {"seconds": 150.0, "rows": 300_000, "jvm_peak_rss_mb": 2_900.0}},
             "training_set_fit": {"rows": {"train": 7_000_000, "validation": 1_000_000, "test": 1_000_000,
                                           "cancelled_excluded": 12_345}, "training_set_seconds": 600.0}}
    sizing = cluster_sizing(steps)
    assert sizing is not None
    assert sizing["training_rows"] == 9_000_000
    assert sizing["spark_core_seconds_per_row"] == pytest.approx(0.001)
    assert sizing["spark_core_hours"] == pytest.approx(2.5)
    assert sizing["cores_for_45_min"] == 4
    # a failed or missing step gives no sizing rather than a made-up one
    assert cluster_sizing({"spark_retrieval": {"failed": "exit -9"}, "training_set_fit": steps["training_set_fit"]}) is None
    assert cluster_sizing({"spark_retrieval": steps["spark_retrieval"], "training_set_fit": None}) is None

"""Feast's Spark offline store (``local[2]``) against DuckDB: the same views, registered with
SparkSources from the same definitions, give the same training set value for value, and a model
trained on it scores the same; materialization through Spark loads the same online values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.features.store import apply, materialize
from skyprophet.core.months import Window
from pipelines.features.training_set import SPLIT, TrainingSet, build
from skyprophet.core.config import Settings
from skyprophet.core.keys import FlightKeys
from tests.conftest import normalized

pytestmark = [pytest.mark.integration, pytest.mark.spark]

TRAIN = Window("train", "2013-02", "2013-02")  # one full month: 24,000 labelled flights
OTHERS = [Window("validation", "2013-03", "2013-03"), Window("test", "2013-04", "2013-04")]


@pytest.fixture(scope="module")
def spark_store(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The session data's views registered with Spark sources, in a registry of their own."""
    import shutil

    from skyprophet.adapters.store import open_store

    if shutil.which("java") is None:
        pytest.fail("Spark needs Java 17 (.ci/run installs openjdk-17-jre-headless)")
    s = settings.model_copy(update={"offline_store": "spark"})
    d = tmp_path_factory.mktemp("spark")
    store = open_store(s, online="sqlite", data_dir=d)
    apply(store, s, processed_dir=settings.processed_dir)
    yield store
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:  # the JVM's memory back to the rest of the suite
        active.stop()


@pytest.fixture(scope="module")
def spark_month(spark_store, canonical: pd.DataFrame) -> TrainingSet:  # type: ignore[no-untyped-def]
    from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

    assert all(isinstance(fv.batch_source, SparkSource) for fv in spark_store.list_feature_views())
    return build(spark_store, canonical, [TRAIN], lead_minutes=120, require=("train",))


@pytest.fixture(scope="module")
def duckdb_months(offline_store, canonical: pd.DataFrame) -> TrainingSet:  # type: ignore[no-untyped-def]
    return build(offline_store, canonical, [TRAIN, *OTHERS], lead_minutes=120)


def test_spark_training_set_equals_duckdb(spark_month: TrainingSet, duckdb_months: TrainingSet) -> None:
    spark = spark_month.frame.reset_index(drop=True)
    duck = duckdb_months.part("train").reset_index(drop=True)
    assert len(spark) > 20_000
    assert list(spark.columns) == list(duck.columns)
    assert (spark["row_id"].to_numpy() == duck["row_id"].to_numpy()).all()
    assert (spark["event_timestamp"] == duck["event_timestamp"]).all()  # same T, as UTC instants
    compared = 0
    for name in spark_month.feature_names:
        a, b = spark[name], duck[name]
        assert (a.isna() == b.isna()).all(), f"{name}: nulls differ"
        present = a.notna()
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            diff = np.abs(a[present].astype(float).to_numpy() - b[present].astype(float).to_numpy())
            assert diff.max(initial=0) <= 1e-9, f"{name}: differs by {diff.max()}"
        else:
            assert [normalized(v) for v in a[present]] == [normalized(v) for v in b[present]], name
        compared += int(present.sum())
    assert compared > 0.7 * len(spark) * len(spark_month.feature_names)


def test_retrieval_leaves_no_entity_rows_in_the_spark_session(spark_month: TrainingSet) -> None:
    """Feast uploads each call's entity rows as a temporary view and never drops it; kept, they
    filled the driver's memory after 30 calls of a 16x retrieval. The retrieval drops them."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    assert spark is not None and len(spark_month.frame) > 0
    views = [t.name for t in spark.catalog.listTables() if t.isTemporary]
    assert not [v for v in views if v.startswith("feast_entity_df_")], views


def test_model_on_spark_training_set_scores_the_same(spark_month: TrainingSet, duckdb_months: TrainingSet,
                                                     train_params) -> None:  # type: ignore[no-untyped-def]
    """The same LightGBM fit on the Spark-retrieved month as on DuckDB's, scored on the same
    validation and test months: the same metrics."""
    from dataclasses import replace

    from pipelines.model.fit import fit_model

    rest = duckdb_months.frame[duckdb_months.frame[SPLIT] != "train"]
    frame = pd.concat([spark_month.frame, rest], ignore_index=True)
    on_spark = replace(duckdb_months, frame=frame)
    params = replace(train_params, windows=[TRAIN, *OTHERS], leads_minutes=[120])
    a = fit_model(on_spark, params, threads=2, shuffle_labels=False)
    b = fit_model(replace(duckdb_months, frame=duckdb_months.frame.reset_index(drop=True)), params, threads=2,
                  shuffle_labels=False)
    assert a.booster.best_iteration == b.booster.best_iteration
    assert a.metrics == b.metrics
    assert a.metrics["test"]["roc_auc"] > 0.6  # a model that learnt something, not two empty ones


def test_materialize_through_spark(spark_store, settings: Settings, canonical: pd.DataFrame,  # type: ignore[no-untyped-def]
                                   tmp_path: Path) -> None:
    """Materialization loads the online store with DuckDB's values both ways Spark can do it:
    Feast's local engine reading through the Spark offline store, and Feast's Spark compute
    engine (``batch_engine=spark``: Spark reads, keeps each key's latest row and writes the online
    store from its Python workers)."""
    from skyprophet.adapters.online import OnlineFeatures
    from skyprophet.adapters.store import open_store

    t = datetime(2013, 2, 14, 18, 0, tzinfo=timezone.utc)
    duck = open_store(settings, online="sqlite", data_dir=tmp_path / "duckdb")
    apply(duck, settings)
    s = settings.model_copy(update={"offline_store": "spark", "batch_engine": "spark"})
    engine = open_store(s, online="sqlite", data_dir=tmp_path / "engine")
    apply(engine, s, processed_dir=settings.processed_dir)
    assert type(engine._provider.batch_engine).__name__ == "SparkComputeEngine"
    assert type(spark_store._provider.batch_engine).__name__ == "LocalComputeEngine"
    for store in (spark_store, engine, duck):
        materialize(store, t, start=t - timedelta(hours=12), chunk=timedelta(days=1), show_progress=False)
    near = canonical[(canonical["sched_dep_utc"] - pd.Timestamp(t)).abs() <= pd.Timedelta(hours=3)]
    keys = [FlightKeys(r.carrier, str(r.flight_number), r.origin, r.dest, int(r.sched_dep_utc.timestamp()),
                       int(r.utc_offset_min), r.tailnum if isinstance(r.tailnum, str) else None)
            for r in near.itertuples()]
    assert len(keys) > 100
    b = OnlineFeatures(duck).read(keys, [t] * len(keys))
    assert sum(v is not None for ff in b for v in ff.values.values()) > 0.5 * len(keys) * len(b[0].values)
    for store in (spark_store, engine):
        a = OnlineFeatures(store).read(keys, [t] * len(keys))
        for x, y in zip(a, b, strict=True):
            assert {k: normalized(v) for k, v in x.values.items()} == {k: normalized(v) for k, v in y.values.items()}
            assert x.stamps == y.stamps

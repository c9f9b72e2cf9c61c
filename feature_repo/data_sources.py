"""Data sources: the parquet tables written by ``pipelines.features.build``, and the request.

Parquet sources are made for a folder and an offline engine (``parquet_source``), so the
definitions read no settings: the same tables are ``FileSource``s for DuckDB and
``SparkSource``s for Spark (Feast's Spark store reads only the latter). The request source is
the same everywhere.
"""

from pathlib import Path
from typing import Literal

from feast import FileSource, RequestSource
from feast.data_source import DataSource
from feast.data_format import ParquetFormat
from feast.field import Field
from feast.types import Int64, String


Engine = Literal["duckdb", "spark"]


def parquet_source(processed_dir: Path, name: str, engine: Engine = "duckdb") -> DataSource:
    """The table ``<processed_dir>/<name>.parquet``, time-stamped by ``event_ts``, as a source of
    the offline ``engine``."""
    path = str(Path(processed_dir).resolve() / f"{name}.parquet")
    description = f"data/processed/{name}.parquet from pipelines.features.build"
    if engine == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource

        return SparkSource(name=name, path=path, file_format="parquet", timestamp_field="event_ts",
                           description=description)
    if engine != "duckdb":
        raise ValueError(f"unknown offline engine {engine!r} (duckdb or spark)")
    return FileSource(name=name, path=path, file_format=ParquetFormat(), timestamp_field="event_ts",
                      description=description)


flight_request = RequestSource(
    name="flight_request",
    schema=[
        Field(name="sched_dep_epoch_s", dtype=Int64, description="Scheduled departure, seconds since the epoch (UTC)."),
        Field(name="utc_offset_min", dtype=Int64, description="Origin's UTC offset at the scheduled departure, minutes."),
        Field(name="origin_country", dtype=String,
              description="The origin's ISO country code, whose public holidays count (\"\": not known, the US calendar)."),
    ],
    description="Values the caller sends with each flight.",
)

prediction_request = RequestSource(
    name="prediction_request",
    schema=[
        Field(name="sched_dep_epoch_s", dtype=Int64, description="Scheduled departure, seconds since the epoch (UTC)."),
        Field(name="utc_offset_min", dtype=Int64, description="Origin's UTC offset at the scheduled departure, minutes."),
        Field(name="as_of_epoch_s", dtype=Int64,
              description="The prediction time T, seconds since the epoch (UTC): the entity row's event timestamp."),
        Field(name="origin_country", dtype=String,
              description="The origin's ISO country code, whose public holidays count (\"\": not known, the US calendar)."),
    ],
    description="Values the caller sends with each flight, and the instant the prediction is made at.",
)

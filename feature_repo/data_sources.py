"""Data sources: the parquet tables written by ``pipelines.build_features``, and the request.

File sources are made for a folder (``parquet_source``), so the definitions read no settings;
the request source is the same everywhere.
"""

from pathlib import Path

from feast import FileSource, RequestSource
from feast.data_format import ParquetFormat
from feast.field import Field
from feast.types import Int64


def parquet_source(processed_dir: Path, name: str) -> FileSource:
    """The table ``<processed_dir>/<name>.parquet``, time-stamped by ``event_ts``."""
    return FileSource(
        name=name,
        path=str(Path(processed_dir).resolve() / f"{name}.parquet"),
        file_format=ParquetFormat(),
        timestamp_field="event_ts",
        description=f"data/processed/{name}.parquet from pipelines.build_features",
    )


flight_request = RequestSource(
    name="flight_request",
    schema=[
        Field(name="sched_dep_epoch_s", dtype=Int64, description="Scheduled departure, seconds since the epoch (UTC)."),
        Field(name="utc_offset_min", dtype=Int64, description="Origin's UTC offset at the scheduled departure, minutes."),
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
    ],
    description="Values the caller sends with each flight, and the instant the prediction is made at.",
)

"""Data sources: the parquet tables written by ``pipelines.build_features`` and the request."""

from feast import FileSource, RequestSource
from feast.data_format import ParquetFormat
from feast.field import Field
from feast.types import Int64

from skyprophet.config import get_settings

_PROCESSED = get_settings().processed_dir


def _parquet(name: str) -> FileSource:
    return FileSource(
        name=name,
        path=str(_PROCESSED / f"{name}.parquet"),
        file_format=ParquetFormat(),
        timestamp_field="event_ts",
        description=f"data/processed/{name}.parquet from pipelines.build_features",
    )


airline_stats_source = _parquet("airline_stats")
origin_ops_source = _parquet("origin_ops")
airport_static_source = _parquet("airport_static")
flight_history_source = _parquet("flight_history")
route_history_source = _parquet("route_history")
plane_static_source = _parquet("plane_static")
plane_recent_source = _parquet("plane_recent")
carrier_origin_recent_source = _parquet("carrier_origin_recent")
route_static_source = _parquet("route_static")

flight_request = RequestSource(
    name="flight_request",
    schema=[
        Field(name="sched_dep_epoch_s", dtype=Int64, description="Scheduled departure, seconds since the epoch (UTC)."),
        Field(name="utc_offset_min", dtype=Int64, description="Origin's UTC offset at the scheduled departure, minutes."),
    ],
    description="Values the caller sends with each flight.",
)

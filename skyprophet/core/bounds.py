"""Plausible ranges of what a source or a producer may report: one definition for ingest's
validation rules and the live event contract.

A value outside its range is not an outlier to keep but a broken record: ingest rejects the row,
the stream processor dead-letters the event (both with the reason).
"""

from __future__ import annotations

MAX_ABS_DELAY_MIN = 24 * 60  # a departure more than a day early or late is a data error
MAX_WIND_MPH = 200.0
MAX_DISTANCE_MI = 13_000.0  # longer than any scheduled non-stop flight
MIN_UTC_OFFSET_MIN, MAX_UTC_OFFSET_MIN = -12 * 60, 14 * 60
# Any instant a record may carry, seconds since the epoch: 1990-01-01 to 2100-01-01 (UTC).
EPOCH_MIN_S, EPOCH_MAX_S = 631_152_000, 4_102_444_800

# Hourly weather, in the canonical table's units: (low, high), both inclusive.
WEATHER_RANGES: dict[str, tuple[float, float]] = {
    "temp": (-130.0, 140.0),  # °F, past the world's records
    "dewp": (-130.0, 140.0),  # °F
    "humid": (0.0, 100.0),  # relative humidity, %
    "wind_dir": (0.0, 360.0),  # degrees
    "wind_speed": (0.0, MAX_WIND_MPH),  # mph
    "wind_gust": (0.0, 300.0),  # mph
    "precip": (0.0, 20.0),  # inches in the hour
    "pressure": (850.0, 1090.0),  # sea-level pressure, millibars
    "visib": (0.0, 100.0),  # miles
}

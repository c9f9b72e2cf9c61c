"""Feature views. Each feature's description is its as-of rule: what it may see at time T.

Dense views have a row at every grid point, so their ttl is the grid step (+1 min); sparse views
have a row at every change and a heartbeat at every UTC midnight while active, so their ttl
is one day. Offline retrieval nulls a value older than the ttl; ``skyprophet.adapters.online``
does the same online, where Feast does not.

The views are made by ``feature_views(processed_dir, grid_minutes)``: the folder of their
tables and the grid step are arguments, not settings read on import.
"""

from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path

from feast import FeatureView, Field
from feast.data_source import DataSource
from feast.types import Float64, Int64, String

from feature_repo.data_sources import Engine, parquet_source
from feature_repo.entities import airline, airport, carrier_origin, day, departure, flight, plane, route

# Whole days: the DuckDB store cannot add a timedelta mixing days and seconds.
SPARSE_TTL = timedelta(days=1)


def dense_ttl(grid_minutes: int) -> timedelta:
    """The ttl of a view with a row at every grid point: one grid step and a minute."""
    return timedelta(minutes=grid_minutes + 1)


def _f(name: str, dtype: object, rule: str) -> Field:
    return Field(name=name, dtype=dtype, description=rule)  # type: ignore[arg-type]


def _dep_window(label: str, what: str) -> list[Field]:
    seen = f"departures of {what} with actual departure in (g - {label}, g], g = latest grid point <= T"
    return [
        _f(f"deps_{label}", Int64, f"Count of {seen}."),
        _f(f"delayed_share_{label}", Float64, f"Share delayed > 15 min of {seen}; null if none."),
        _f(f"mean_delay_{label}", Float64, f"Mean departure delay (min) of {seen}; null if none."),
    ]


_WX = "latest hourly observation labelled H with H + 1 h <= g (it arrives an hour late), if H + 1 h >= g - 2 h"
_WEATHER = {
    "temp": "Temperature (F)",
    "dewp": "Dew point (F)",
    "humid": "Relative humidity (%)",
    "wind_dir": "Wind direction (degrees)",
    "wind_speed": "Wind speed (mph)",
    "wind_gust": "Wind gust (mph)",
    "precip": "Precipitation (inches)",
    "pressure": "Sea-level pressure (mb)",
    "visib": "Visibility (miles)",
}
_STATIC = "Static reference data, valid at any T"
_INBOUND = ("g = latest grid point <= T. The inbound leg: the tail's latest leg scheduled before the flight, landing at "
            "its origin, scheduled at most a day before it; known from a day before the flight (null with no such leg)")


@dataclass(frozen=True)
class FeatureViews:
    """Every feature view of the repo, by name."""

    airline_stats: FeatureView
    origin_ops: FeatureView
    airport_static: FeatureView
    flight_history: FeatureView
    route_history: FeatureView
    carrier_origin_recent: FeatureView
    route_static: FeatureView
    plane_static: FeatureView
    plane_recent: FeatureView
    inbound_leg: FeatureView

    def all(self) -> list[FeatureView]:
        return [getattr(self, f.name) for f in fields(self)]


def feature_views(processed_dir: Path, grid_minutes: int, engine: Engine = "duckdb") -> FeatureViews:
    """The views over the tables in ``processed_dir`` (sources of the offline ``engine``), dense
    ones with the grid step's ttl."""
    grid_ttl = dense_ttl(grid_minutes)

    def src(name: str) -> DataSource:
        return parquet_source(processed_dir, name, engine)

    airline_stats = FeatureView(
        name="airline_stats",
        entities=[airline, day],
        ttl=grid_ttl,
        schema=_dep_window("1d", "the carrier") + _dep_window("7d", "the carrier") + _dep_window("3h", "the carrier"),
        source=src("airline_stats"),
        description="Carrier's recent departures; a row per carrier per grid point.",
    )

    origin_ops = FeatureView(
        name="origin_ops",
        entities=[airport, day],
        ttl=grid_ttl,
        schema=[
            _f("sched_deps_1h", Int64, "Flights (cancelled included) scheduled to leave in (g - 1 h, g], g = latest grid point <= T."),
            *_dep_window("2h", "the airport"),
            _f("backlog_3h", Int64, "Flights scheduled in (g - 3 h, g] that had not departed by g (cancelled included)."),
            _f("late_backlog_3h", Int64, "Flights scheduled in (g - 3 h, g - 15 min] that had not departed by g."),
            *[_f(f"wx_{name}", Float64, f"{what}: {_WX}.") for name, what in _WEATHER.items()],
        ],
        source=src("origin_ops"),
        description="Departure airport's schedule pressure, recent departures and weather; a row per airport per grid point.",
    )

    airport_static = FeatureView(
        name="airport_static",
        entities=[airport],
        ttl=timedelta(0),
        schema=[
            _f("lat", Float64, f"Latitude. {_STATIC}."),
            _f("lon", Float64, f"Longitude. {_STATIC}."),
            _f("alt", Float64, f"Elevation (ft). {_STATIC}."),
        ],
        source=src("airport_static"),
        description="Airport location; used for both origin and destination.",
    )

    flight_history = FeatureView(
        name="flight_history",
        entities=[flight, day],
        ttl=SPARSE_TTL,
        schema=_dep_window("28d", "this flight number"),
        source=src("flight_history"),
        description="The flight number's last 28 days; a row per change plus a daily heartbeat while active.",
    )

    route_history = FeatureView(
        name="route_history",
        entities=[route, day],
        ttl=SPARSE_TTL,
        schema=[
            _f("deps_hist", Int64, "Count of the route's departures with actual departure <= m, m = latest UTC midnight <= T."),
            _f("delayed_share_hist", Float64, "Share delayed > 15 min of the route's departures with actual departure <= m."),
            _f("mean_delay_hist", Float64, "Mean departure delay (min) of the route's departures with actual departure <= m."),
        ],
        source=src("route_history"),
        description="The route's whole past as of the last UTC midnight; a row per route and day.",
    )

    carrier_origin_recent = FeatureView(
        name="carrier_origin_recent",
        entities=[carrier_origin, day],
        ttl=grid_ttl,  # no row within a grid step means an empty window: null, as the empty row says
        schema=_dep_window("2h", "the carrier at the airport"),
        source=src("carrier_origin_recent"),
        description="The carrier's last 2 hours at the flight's origin; a row per grid point while any, and one (null) when it empties.",
    )

    route_static = FeatureView(
        name="route_static",
        entities=[route],
        ttl=timedelta(0),
        schema=[_f("distance", Float64, f"Distance (miles), the schedule's most frequent for the route. {_STATIC}.")],
        source=src("route_static"),
        description="Route distance.",
    )

    plane_static = FeatureView(
        name="plane_static",
        entities=[plane],
        ttl=timedelta(0),
        schema=[
            _f("year_built", Float64, f"Year of manufacture. {_STATIC}."),
            _f("seats", Int64, f"Seats. {_STATIC}."),
            _f("engines", Int64, f"Engines. {_STATIC}."),
            _f("manufacturer", String, f"Manufacturer. {_STATIC}."),
        ],
        source=src("plane_static"),
        description="Aircraft attributes from the FAA registry.",
    )

    plane_recent = FeatureView(
        name="plane_recent",
        entities=[plane, day],
        ttl=SPARSE_TTL,
        schema=[
            _f("prev_dep_delay", Float64, "Delay (min) of the aircraft's latest departure with actual departure <= g; "
               "null a day after 7 days without one."),
            _f("prev_dep_ts", Int64, "When that departure left (seconds since the epoch); input of minutes_since_prev_dep."),
        ],
        source=src("plane_recent"),
        description="The aircraft's previous departure; a row per departure plus a daily heartbeat for 7 days.",
    )
    inbound_leg = FeatureView(
        name="inbound_leg",
        entities=[departure, day],
        ttl=SPARSE_TTL,
        schema=[
            _f("inbound_departed", Int64, f"1 if the inbound leg's actual departure is <= g, else 0. {_INBOUND}"),
            _f("inbound_dep_delay", Float64, f"The inbound leg's departure delay (min), known from its actual departure <= g; "
               f"null before. {_INBOUND}"),
            _f("inbound_arrived", Int64, f"1 if the inbound leg's actual arrival is <= g, else 0. {_INBOUND}"),
            _f("inbound_arr_delay", Float64, f"The inbound leg's arrival delay (min), known from its actual arrival <= g; "
               f"null before. {_INBOUND}"),
            _f("inbound_sched_turn", Float64, f"The flight's scheduled departure minus the inbound leg's scheduled arrival "
               f"(min): the planned turn. {_INBOUND}"),
            _f("inbound_slack", Float64, f"The planned turn minus the latest delay known at g (the arrival's, else the "
               f"departure's, else none): minutes to spare, negative when the flight must leave late. {_INBOUND}"),
        ],
        source=src("inbound_leg"),
        description="The aircraft's inbound leg: the leg its tail flies into the flight's origin before it; "
        "a row when something about it becomes known, and a daily heartbeat, from a day before the flight.",
    )
    return FeatureViews(
        airline_stats=airline_stats,
        origin_ops=origin_ops,
        airport_static=airport_static,
        flight_history=flight_history,
        route_history=route_history,
        carrier_origin_recent=carrier_origin_recent,
        route_static=route_static,
        plane_static=plane_static,
        plane_recent=plane_recent,
        inbound_leg=inbound_leg,
    )

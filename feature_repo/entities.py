"""Entities: what features are keyed by."""

from feast import Entity, ValueType

airline = Entity(
    name="airline",
    join_keys=["carrier"],
    value_type=ValueType.STRING,
    description="Operating carrier, two-letter code (e.g. UA).",
)
airport = Entity(
    name="airport",
    join_keys=["airport"],
    value_type=ValueType.STRING,
    description="Airport, FAA code; joined as `origin` and as `dest` through join-key mapping.",
)
flight = Entity(
    name="flight",
    join_keys=["flight_id"],
    value_type=ValueType.STRING,
    description="Flight number: carrier + number (e.g. UA1545).",
)
plane = Entity(
    name="plane",
    join_keys=["tailnum"],
    value_type=ValueType.STRING,
    description="Aircraft tail number (optional on a request).",
)
route = Entity(
    name="route",
    join_keys=["route"],
    value_type=ValueType.STRING,
    description="Origin and destination (e.g. EWR-IAH).",
)
carrier_origin = Entity(
    name="carrier_origin",
    join_keys=["carrier_origin"],
    value_type=ValueType.STRING,
    description="A carrier at its departure airport: carrier @ origin (e.g. UA@EWR).",
)

departure = Entity(
    name="departure",
    join_keys=["departure_id"],
    value_type=ValueType.STRING,
    description="One scheduled departure: carrier + number, origin and scheduled departure in seconds since the epoch "
    "(e.g. UA1545:EWR:1388408400), as the event contract names a flight.",
)

day = Entity(
    name="day",
    join_keys=["as_of_day"],
    value_type=ValueType.STRING,
    description="UTC date of the prediction time T (YYYY-MM-DD): the time bucket of every "
    "time-varying view, so a point-in-time join only scans T's own day.",
)

ENTITIES = [airline, airport, flight, plane, route, carrier_origin, departure, day]

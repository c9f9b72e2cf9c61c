"""The event contract of live operation: what a producer writes to the stream, and when each
event becomes known (the as-of rule of DESIGN.md applied to events).

A stream entry has four string fields:

| field  | meaning |
|--------|---------|
| `kind` | `planned`, `schedule`, `departure`, `cancellation`, `weather`, or `clock` |
| `id`   | the event's identity (absent for `clock`): a redelivered or re-sent event has the same id, so counting is idempotent |
| `at`   | its availability time, seconds since the epoch (UTC): when the event became known |
| `data` | the payload, a JSON object (below); `{}` for `clock` |

Payloads and availability:

| kind | payload | available at |
|------|---------|--------------|
| `planned` | the flight (below) | scheduled departure − 24 h: the timetable, for the departures board (no feature counts it) |
| `schedule` | the flight (below) | its scheduled departure (the as-of rule counts a flight in the schedule from then) |
| `departure` | the flight, plus `actual` (s since epoch) and `delay` (min) | its actual departure, when the delay is known |
| `cancellation` | the flight | scheduled departure + 3 h (no announcement time in the data; pending until then) |
| `weather` | `origin`, `hour` (s since epoch, the label H) and the observed values (`temp`, `dewp`, ... null when not observed) | H + 1 h |
| `clock` | none | the producer's simulated now: every event known at or before `at` has been written before it |

A flight is `carrier`, `flight_number`, `origin`, `dest`, `tailnum` (null if unknown), `sched`
(s since epoch), `distance` (miles) and `utc_offset_min` (the origin's offset at `sched`). Its
identity is (carrier, flight number, origin, scheduled departure).

Producers write entries in availability order and a `clock` entry at least at every grid point
(the watermark: a processor computes the rows of grid point g once it has read `clock` >= g).
The replay (``skyprophet replay``) is one producer; a real feed writing this schema is another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from skyprophet.core.errors import InvalidInput
from skyprophet.core.windows import BACKLOG_WINDOW, WEATHER_COLUMNS, WEATHER_DELAY

PLANNED = "planned"
SCHEDULE = "schedule"
DEPARTURE = "departure"
CANCELLATION = "cancellation"
WEATHER = "weather"
CLOCK = "clock"
FLIGHT_KINDS = (PLANNED, SCHEDULE, DEPARTURE, CANCELLATION)
KINDS = (*FLIGHT_KINDS, WEATHER, CLOCK)
FLIGHT_FIELDS = ("carrier", "flight_number", "origin", "dest", "tailnum", "sched", "distance", "utc_offset_min")
CANCELLED_AFTER_S = BACKLOG_WINDOW * 60
PLANNED_AHEAD_S = 24 * 3600
WEATHER_DELAY_S = WEATHER_DELAY * 60
_PREFIX = {PLANNED: "P", SCHEDULE: "S", DEPARTURE: "D", CANCELLATION: "C"}


@dataclass(frozen=True)
class Event:
    """One entry of the stream: ``at`` in seconds since the epoch, ``data`` the payload."""

    kind: str
    at: int
    id: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def at_min(self) -> int:
        """Availability in whole minutes since the epoch (the feature grid's unit), rounded up."""
        return -(-self.at // 60)

    def fields(self) -> dict[str, str]:
        """The stream entry's fields."""
        out = {"kind": self.kind, "at": str(self.at), "data": json.dumps(self.data, separators=(",", ":"))}
        if self.id:
            out["id"] = self.id
        return out

    @classmethod
    def from_fields(cls, raw: dict[Any, Any]) -> Event:
        """Parse a stream entry (bytes or str keys and values); a malformed one is an InvalidInput."""
        f = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v) for k, v in raw.items()}
        kind = f.get("kind")
        if kind not in KINDS:
            raise InvalidInput(f"event kind must be one of {', '.join(KINDS)}, got {kind!r}")
        try:
            at = int(f["at"])
            data = json.loads(f.get("data") or "{}")
        except (KeyError, ValueError) as exc:
            raise InvalidInput(f"{kind} event: bad 'at' or 'data' ({exc})") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{kind} event: 'data' must be a JSON object")
        event = cls(kind=kind, at=at, id=f.get("id", ""), data=data)
        event.validate()
        return event

    def validate(self) -> None:
        if self.kind == CLOCK:
            return
        if not self.id:
            raise InvalidInput(f"{self.kind} event without an id")
        need = ("origin", "hour") if self.kind == WEATHER else FLIGHT_FIELDS
        missing = [k for k in need if k not in self.data]
        if self.kind == DEPARTURE:
            missing += [k for k in ("actual", "delay") if self.data.get(k) is None]
        if missing:
            raise InvalidInput(f"{self.kind} event {self.id}: missing {', '.join(missing)}")
        if self.at != available_at(self.kind, self.data):
            raise InvalidInput(f"{self.kind} event {self.id}: 'at' {self.at} is not its availability time")


def available_at(kind: str, data: dict[str, Any]) -> int:
    """When an event becomes known (seconds since the epoch), from its payload."""
    if kind == SCHEDULE:
        return int(data["sched"])
    if kind == PLANNED:
        return int(data["sched"]) - PLANNED_AHEAD_S
    if kind == DEPARTURE:
        return int(data["actual"])
    if kind == CANCELLATION:
        return int(data["sched"]) + CANCELLED_AFTER_S
    if kind == WEATHER:
        return int(data["hour"]) + WEATHER_DELAY_S
    raise InvalidInput(f"no availability rule for {kind!r}")


def flight_identity(data: dict[str, Any]) -> str:
    """carrier+number, origin and scheduled departure: unique in the schedule."""
    return f"{data['carrier']}{int(data['flight_number'])}:{data['origin']}:{int(data['sched'])}"


def event_id(kind: str, data: dict[str, Any]) -> str:
    if kind == WEATHER:
        return f"W:{data['origin']}:{int(data['hour'])}"
    return f"{_PREFIX[kind]}:{flight_identity(data)}"


def make(kind: str, data: dict[str, Any]) -> Event:
    """An event of ``kind`` with its id and availability derived from the payload."""
    return Event(kind=kind, at=available_at(kind, data), id=event_id(kind, data), data=data)


def clock(now_s: int) -> Event:
    return Event(kind=CLOCK, at=int(now_s))


WEATHER_FIELDS = ("origin", "hour", *WEATHER_COLUMNS)

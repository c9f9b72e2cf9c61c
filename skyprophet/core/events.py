"""The event contract of live operation (version 1.1): what a producer writes to the stream, how an
entry is validated before anything else sees it, and when each event becomes known (the as-of
rule applied to events).

A stream entry has these string fields, and no others:

- `kind`: `planned`, `schedule`, `departure`, `arrival`, `cancellation`, `weather` or `clock`;
- `id`: the event's identity, derived from its payload (below; absent for `clock`): a re-sent
  event has the same id, so counting is idempotent;
- `at`: its availability time, whole seconds since the epoch (UTC): when the event became known;
- `data`: the payload, a JSON object (below); `{}` or absent for `clock`.

Payloads, ids and availability, by kind:

- `planned`: the flight (below); id `P:<flight>`; known at scheduled departure − 24 h (the
  timetable: the departures board, and each aircraft's rotation for the inbound leg);
- `schedule`: the flight; id `S:<flight>`; known at its scheduled departure (the as-of rule
  counts a flight in the schedule from then);
- `departure`: the flight, plus `actual` (s since epoch) and `delay` (min, agreeing with
  `actual − sched` to the minute); id `D:<flight>`; known at its actual departure;
- `arrival`: the flight with its `sched_arr`, plus `arrived` (s since epoch) and `arr_delay` (min,
  agreeing with `arrived − sched_arr` to the minute); id `A:<flight>`; known at its actual arrival;
- `cancellation`: the flight; id `C:<flight>`; known at scheduled departure + 3 h (no
  announcement time in the data; pending until then);
- `weather`: `origin`, `hour` (s since epoch, on the hour: the label H) and the observed values
  (`temp`, `dewp`, ...; null or absent when not observed); id `W:<origin>:<hour>`; known at H + 1 h;
- `clock`: no payload, no id; the producer's simulated now: every event known at or before `at`
  has been written before it.

A flight is `carrier`, `flight_number`, `origin`, `dest`, `tailnum` (null if unknown), `sched`
(s since epoch), `distance` (miles, null if unknown), `utc_offset_min` (the origin's offset at
`sched`) and, optionally, `sched_arr` (scheduled arrival, s since epoch; null or absent if unknown;
added in version 1.1, so a 1.0 producer's entries stay valid); `<flight>` is
`<carrier><flight_number>:<origin>:<sched>`. `flight_number` is the airline's: a string of one to
four digits and an optional letter (`"1545"`, `"1545A"`), or a JSON integer; leading zeros are
dropped (`"0123"` is flight `123`, in its id too). Otherwise types are JSON's, strictly: a number
given as a string, a boolean, NaN or Infinity is refused. Codes are short upper-case strings
(carrier 2-3, airport 3-4 characters), every value lies in its plausible range
(``skyprophet.core.bounds``) and a whole entry is at most ``MAX_ENTRY_BYTES``. ``schemas()`` gives
each payload's JSON Schema, for producers that validate before they write.

Producers write entries in availability order and a `clock` entry at least at every grid point
(the watermark: a processor computes the rows of grid point g once it has read `clock` >= g).
The replay (``skyprophet live replay``) is one producer; a real feed writing this contract is another.

The processor's window (``window_problem``): an event more than ``LATE_LIMIT_S`` before its
clock is refused (its id may be forgotten by then, so it could be counted twice), one more than
``AHEAD_LIMIT_S`` after it is refused (no producer is that far ahead; a clock entry that far
ahead would tick a month of grid points at once). An event before the last written tick but
inside the window is late: counted, logged and reported as late.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, with_config
from typing_extensions import NotRequired, TypedDict

from skyprophet.core.bounds import (
    EPOCH_MAX_S,
    EPOCH_MIN_S,
    MAX_ABS_DELAY_MIN,
    MAX_DISTANCE_MI,
    MAX_UTC_OFFSET_MIN,
    MIN_UTC_OFFSET_MIN,
    WEATHER_RANGES,
)
from skyprophet.core.errors import InvalidInput
from skyprophet.core.keys import FlightNumber, departure_id, flight_id, flight_number
from skyprophet.core.windows import BACKLOG_WINDOW, WEATHER_COLUMNS, WEATHER_DELAY

CONTRACT_VERSION = "1.1"  # 1.1: the arrival event and the flight's optional sched_arr
PLANNED = "planned"
SCHEDULE = "schedule"
DEPARTURE = "departure"
ARRIVAL = "arrival"
CANCELLATION = "cancellation"
WEATHER = "weather"
CLOCK = "clock"
FLIGHT_KINDS = (PLANNED, SCHEDULE, DEPARTURE, ARRIVAL, CANCELLATION)
KINDS = (*FLIGHT_KINDS, WEATHER, CLOCK)
ENTRY_FIELDS = ("kind", "id", "at", "data")
FLIGHT_FIELDS = ("carrier", "flight_number", "origin", "dest", "tailnum", "sched", "distance", "utc_offset_min")
WEATHER_FIELDS = ("origin", "hour", *WEATHER_COLUMNS)
CANCELLED_AFTER_S = BACKLOG_WINDOW * 60
PLANNED_AHEAD_S = 24 * 3600
WEATHER_DELAY_S = WEATHER_DELAY * 60
MAX_ENTRY_BYTES = 16 * 1024
LATE_LIMIT_S = 2 * 86_400  # the processor remembers counted ids this long
AHEAD_LIMIT_S = 31 * 86_400
_WHOLE_SECONDS = re.compile(r"-?[0-9]{1,11}")
_PREFIX = {PLANNED: "P", SCHEDULE: "S", DEPARTURE: "D", ARRIVAL: "A", CANCELLATION: "C"}

# ------------------------------------------------------------------ payload schemas

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
Carrier = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,3}$")]
Airport = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3,4}$")]
TailNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,10}$")]
EpochSeconds = Annotated[int, Field(ge=EPOCH_MIN_S, le=EPOCH_MAX_S)]


class _Flight(TypedDict):
    """The fields every flight event carries."""

    carrier: Carrier
    flight_number: FlightNumber
    origin: Airport
    dest: Airport
    tailnum: TailNumber | None
    sched: EpochSeconds
    distance: Annotated[float, Field(gt=0, le=MAX_DISTANCE_MI)] | None
    utc_offset_min: Annotated[int, Field(ge=MIN_UTC_OFFSET_MIN, le=MAX_UTC_OFFSET_MIN)]


@with_config(_STRICT)
class FlightPayload(_Flight):
    """A flight of the published schedule."""

    sched_arr: NotRequired[EpochSeconds | None]


@with_config(_STRICT)
class DeparturePayload(FlightPayload):
    """A flight that left: its actual departure and delay."""

    actual: EpochSeconds
    delay: Annotated[float, Field(ge=-MAX_ABS_DELAY_MIN, le=MAX_ABS_DELAY_MIN)]


@with_config(_STRICT)
class ArrivalPayload(_Flight):
    """A flight that arrived: the flight with its scheduled arrival, its actual arrival and delay."""

    sched_arr: EpochSeconds
    arrived: EpochSeconds
    arr_delay: Annotated[float, Field(ge=-MAX_ABS_DELAY_MIN, le=MAX_ABS_DELAY_MIN)]


def _within(name: str) -> Any:
    lo, hi = WEATHER_RANGES[name]
    return Field(ge=lo, le=hi)


@with_config(_STRICT)
class WeatherPayload(TypedDict):
    """One hourly observation at an airport."""

    origin: Airport
    hour: EpochSeconds
    temp: NotRequired[Annotated[float, _within("temp")] | None]
    dewp: NotRequired[Annotated[float, _within("dewp")] | None]
    humid: NotRequired[Annotated[float, _within("humid")] | None]
    wind_dir: NotRequired[Annotated[float, _within("wind_dir")] | None]
    wind_speed: NotRequired[Annotated[float, _within("wind_speed")] | None]
    wind_gust: NotRequired[Annotated[float, _within("wind_gust")] | None]
    precip: NotRequired[Annotated[float, _within("precip")] | None]
    pressure: NotRequired[Annotated[float, _within("pressure")] | None]
    visib: NotRequired[Annotated[float, _within("visib")] | None]


@with_config(_STRICT)
class ClockPayload(TypedDict):
    """A clock entry carries nothing."""


PAYLOADS: dict[str, Any] = {
    PLANNED: FlightPayload, SCHEDULE: FlightPayload, DEPARTURE: DeparturePayload, ARRIVAL: ArrivalPayload,
    CANCELLATION: FlightPayload,
    WEATHER: WeatherPayload, CLOCK: ClockPayload,
}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {kind: TypeAdapter(p) for kind, p in PAYLOADS.items()}


def schemas() -> dict[str, Any]:
    """The JSON Schema of every kind's payload (what ``data`` must hold), by kind."""
    return {kind: _ADAPTERS[kind].json_schema() for kind in KINDS}


# ------------------------------------------------------------------ events


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


def _text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"field {name!r} is not UTF-8 text (byte 0x{value[exc.start]:02x} at {exc.start})") from None
    return str(value)


def printable(raw: Mapping[Any, Any]) -> dict[str, str]:
    """An entry's fields as text whatever they hold (bytes that are not UTF-8 as escapes): what
    the rejects keep."""
    out = {}
    for k, v in raw.items():
        key = k.decode("utf-8", "backslashreplace") if isinstance(k, bytes | bytearray) else str(k)
        out[key] = v.decode("utf-8", "backslashreplace") if isinstance(v, bytes | bytearray) else str(v)
    return out


def _size(raw: Mapping[Any, Any]) -> int:
    return sum(len(k) + len(v) if isinstance(k, bytes | str) and isinstance(v, bytes | str) else 0 for k, v in raw.items())


def _payload_error(kind: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        where = ".".join(str(p) for p in err["loc"])
        got = err.get("input")
        shown = "" if err["type"] in ("missing", "json_invalid") or isinstance(got, dict) else f" (got {_short(got)})"
        parts.append(f"data{'.' + where if where else ''}: {err['msg']}{shown}")
    more = exc.error_count() - len(parts)
    return f"{kind} event: {'; '.join(parts)}{f'; and {more} more' if more > 0 else ''}"


def _short(v: Any, n: int = 40) -> str:
    try:
        text = repr(v) if isinstance(v, str) else json.dumps(v)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= n else text[: n - 3] + "..."


def parse_entry(raw: Mapping[Any, Any]) -> Event:
    """A stream entry as an ``Event``, validated completely against the contract; anything
    else is an ``InvalidInput`` naming the first problems. Never raises anything else."""
    size = _size(raw)
    if size > MAX_ENTRY_BYTES:
        raise InvalidInput(f"entry of {size} bytes, over the {MAX_ENTRY_BYTES}-byte limit")
    f = {_text("(name)", k): _text(str(k), v) for k, v in raw.items()}
    extra = sorted(set(f) - set(ENTRY_FIELDS))
    if extra:
        raise InvalidInput(f"unknown field(s) {', '.join(map(repr, extra))}: an entry has {', '.join(ENTRY_FIELDS)}")
    kind = f.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"event kind must be one of {', '.join(KINDS)}, got {_short(kind)}")
    at_text = f.get("at", "")
    if not _WHOLE_SECONDS.fullmatch(at_text):
        raise InvalidInput(f"{kind} event: 'at' must be whole seconds since the epoch, got {_short(at_text)}")
    at = int(at_text)
    if not EPOCH_MIN_S <= at <= EPOCH_MAX_S:
        raise InvalidInput(f"{kind} event: 'at' {at} is outside {EPOCH_MIN_S}..{EPOCH_MAX_S} (1990 to 2100)")
    try:
        data = _ADAPTERS[kind].validate_json(f.get("data") or "{}")
    except ValidationError as exc:
        raise InvalidInput(_payload_error(kind, exc)) from None
    return _checked(Event(kind=kind, at=at, id=f.get("id", ""), data=data))


def parse_logged(kind: str, id: str, at: int, data: str) -> Event:
    """A row of the durable log, validated as an entry is (the log may predate the contract)."""
    return parse_entry({"kind": kind, "id": id, "at": str(at), "data": data})


def _checked(e: Event) -> Event:
    """The rules that span fields: identity, availability and agreement between values."""
    d = e.data
    if e.kind == CLOCK:
        if e.id:
            raise InvalidInput(f"clock entry with an id ({_short(e.id)}): a clock has none")
        return e
    if e.kind == WEATHER:
        if d["hour"] % 3600:
            raise InvalidInput(f"weather event: 'hour' {d['hour']} is not on the hour")
    else:
        if d["origin"] == d["dest"]:
            raise InvalidInput(f"{e.kind} event: origin equals destination ({d['origin']})")
        if e.kind == DEPARTURE and abs(d["actual"] - d["sched"] - d["delay"] * 60) >= 60:
            raise InvalidInput(f"departure event: delay {d['delay']} min disagrees with actual - sched "
                               f"({(d['actual'] - d['sched']) / 60:.1f} min)")
        if d.get("sched_arr") is not None and d["sched_arr"] <= d["sched"]:
            raise InvalidInput(f"{e.kind} event: sched_arr {d['sched_arr']} is not after sched {d['sched']}")
        if e.kind == ARRIVAL and abs(d["arrived"] - d["sched_arr"] - d["arr_delay"] * 60) >= 60:
            raise InvalidInput(f"arrival event: arr_delay {d['arr_delay']} min disagrees with arrived - sched_arr "
                               f"({(d['arrived'] - d['sched_arr']) / 60:.1f} min)")
        if e.kind == ARRIVAL and d["arrived"] <= d["sched"] - MAX_ABS_DELAY_MIN * 60:
            raise InvalidInput(f"arrival event: arrived {d['arrived']} more than a day before the scheduled departure {d['sched']}")
    want = event_id(e.kind, d)
    if e.id != want:
        raise InvalidInput(f"{e.kind} event: id {_short(e.id)} is not the payload's identity {want!r}")
    at = available_at(e.kind, d)
    if e.at != at:
        raise InvalidInput(f"{e.kind} event {e.id}: 'at' {e.at} is not its availability time {at}")
    return e


def window_problem(e: Event, clock_s: int) -> str | None:
    """Why the processor, whose clock is at ``clock_s``, refuses ``e`` (None: it takes it)."""
    if e.at > clock_s + AHEAD_LIMIT_S:
        return (f"{e.kind} event available at {_iso(e.at)}, more than {AHEAD_LIMIT_S // 86_400} days after the "
                f"processor's clock ({_iso(clock_s)})")
    if e.kind != CLOCK and e.at < clock_s - LATE_LIMIT_S:
        return (f"{e.kind} event available at {_iso(e.at)}, more than {LATE_LIMIT_S // 86_400} days before the "
                f"processor's clock ({_iso(clock_s)}): too late to be counted exactly once")
    return None


def _iso(s: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(s, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def available_at(kind: str, data: Mapping[str, Any]) -> int:
    """When an event becomes known (seconds since the epoch), from its (validated) payload."""
    if kind == SCHEDULE:
        return int(data["sched"])
    if kind == PLANNED:
        return int(data["sched"]) - PLANNED_AHEAD_S
    if kind == DEPARTURE:
        return int(data["actual"])
    if kind == ARRIVAL:
        return int(data["arrived"])
    if kind == CANCELLATION:
        return int(data["sched"]) + CANCELLED_AFTER_S
    if kind == WEATHER:
        return int(data["hour"]) + WEATHER_DELAY_S
    raise InvalidInput(f"no availability rule for {kind!r}")


def flight_identity(data: Mapping[str, Any]) -> str:
    """carrier+number, origin and scheduled departure: unique in the schedule."""
    return departure_id(flight_id(str(data["carrier"]), flight_number(data["flight_number"])), str(data["origin"]), data["sched"])


def event_id(kind: str, data: Mapping[str, Any]) -> str:
    if kind == WEATHER:
        return f"W:{data['origin']}:{int(data['hour'])}"
    return f"{_PREFIX[kind]}:{flight_identity(data)}"


def make(kind: str, data: dict[str, Any]) -> Event:
    """An event of ``kind`` with its id and availability derived from the payload."""
    return Event(kind=kind, at=available_at(kind, data), id=event_id(kind, data), data=data)


def clock(now_s: int) -> Event:
    return Event(kind=CLOCK, at=int(now_s))

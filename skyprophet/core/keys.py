"""Entity keys derived from a flight's identifiers: one definition for training and serving."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, overload

import numpy as np
import pandas as pd
from pydantic import PlainValidator, WithJsonSchema

# A flight number as airlines write it: one to four digits and an optional letter (IATA's
# operational suffix), e.g. 1545 or 1545A. Leading zeros are dropped (0123 is flight 123), so a
# number has one spelling; a number of digits only is also taken as a JSON integer.
FLIGHT_NUMBER_PATTERN = r"^0*[1-9][0-9]{0,3}[A-Z]?$"
FLIGHT_NUMBER_MAX = 9999
_FLIGHT_NUMBER = re.compile(FLIGHT_NUMBER_PATTERN)


def flight_number(value: object) -> str:
    """One flight number in its canonical spelling ("0123" and 123 give "123", "1545a" gives
    "1545A"); ValueError naming the value when it is not a flight number."""
    if isinstance(value, str) and 0 < len(value) <= 4 and value.isdecimal() and value.isascii() and value[0] != "0":
        return value  # already canonical (the usual case: events carry canonical numbers)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and 1 <= value <= FLIGHT_NUMBER_MAX:
        return str(int(value))
    if isinstance(value, str) and _FLIGHT_NUMBER.match(text := value.strip().upper()):
        return text.lstrip("0")
    raise ValueError(f"{value!r:.40} is not a flight number (1 to 4 digits and an optional letter, e.g. 1545 or 1545A)")


def _strict_flight_number(value: Any) -> str:
    """A JSON integer, or a string exactly as the pattern says (upper case, no spaces), canonical."""
    if isinstance(value, str) and value != value.strip().upper():
        raise ValueError(f"{value!r:.40} is not a flight number (upper case, no spaces: 1545 or 1545A)")
    return flight_number(value)


# A flight number in a JSON payload (events, /predict): as the airline writes it ("1545",
# "1545A") or a JSON integer; validated into its canonical spelling.
FlightNumber = Annotated[
    int | str,
    PlainValidator(_strict_flight_number),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1, "maximum": FLIGHT_NUMBER_MAX},
                              {"type": "string", "pattern": FLIGHT_NUMBER_PATTERN}],
                    "description": "as the airline writes it: 1 to 4 digits and an optional letter (1545, \"1545A\")"}),
]


def flight_numbers(values: pd.Series) -> pd.Series:
    """A column of flight numbers as read from a file (text, or whole numbers) in canonical
    spelling; null where a value is not a flight number."""
    text = values.astype("string").str.strip().str.upper().str.replace(r"\.0+$", "", regex=True)
    ok = text.str.fullmatch(FLIGHT_NUMBER_PATTERN[1:-1]).fillna(False).astype(bool)
    return text.str.lstrip("0").where(ok).astype("string")


def sort_flights(flights: pd.DataFrame) -> pd.DataFrame:
    """Canonical flights in canonical order: scheduled departure, carrier, flight number as a number
    (9 before 10, 1545 before 1545A), origin."""
    text = flights["flight_number"].astype("string")
    keyed = flights.assign(_digits=pd.to_numeric(text.str.extract(r"^(\d+)", expand=False), errors="coerce"),
                           _suffix=text.str.replace(r"^\d+", "", regex=True))
    by = ["sched_dep_utc", "carrier", "_digits", "_suffix", "origin"]
    return keyed.sort_values(by, kind="stable").drop(columns=["_digits", "_suffix"]).reset_index(drop=True)


@overload
def flight_id(carrier: str, number: str) -> str: ...
@overload
def flight_id(carrier: pd.Series, number: pd.Series) -> pd.Series: ...
def flight_id(carrier: str | pd.Series, number: str | pd.Series) -> str | pd.Series:
    """The flight entity key: carrier code + flight number, e.g. ``UA1545``."""
    if isinstance(carrier, pd.Series):
        return carrier.astype(str) + pd.Series(number).astype(str).to_numpy()
    assert not isinstance(number, pd.Series), "a scalar carrier takes a scalar number"
    return f"{carrier}{number}"


# A key of two codes, for one flight (str) or a column of them (Series).
Codes = TypeVar("Codes", str, pd.Series)


def route_id(origin: Codes, dest: Codes) -> Codes:
    """The route entity key: origin and destination codes, e.g. ``EWR-IAH``."""
    return _joined(origin, "-", dest)


def carrier_origin_id(carrier: Codes, origin: Codes) -> Codes:
    """The carrier-at-airport entity key: carrier and departure airport, e.g. ``UA@EWR``."""
    return _joined(carrier, "@", origin)


def _joined(a: Codes, sep: str, b: Codes) -> Codes:
    if isinstance(a, pd.Series):
        return a.astype(str) + sep + pd.Series(b).astype(str).to_numpy()
    return f"{a}{sep}{b}"


def as_of_day(ts: pd.Series) -> pd.Series:
    """The time-bucket join key of time-varying views: the UTC date of ``ts`` (YYYY-MM-DD)."""
    days = ts.dt.tz_convert("UTC").dt.floor("D")
    codes, uniques = pd.factorize(days)
    labels = np.asarray(uniques.strftime("%Y-%m-%d"), dtype=object)
    return pd.Series(labels[codes], index=ts.index)


def as_of_day_of(epoch_s: int) -> str:
    """``as_of_day`` of one instant given in seconds since the epoch (for online lookups).

    Any instant a request can name has a day: before year 1 or after 9999, where ``datetime``
    stops, numpy's calendar takes over (such a day matches no stored row).
    """
    import datetime as _dt

    try:
        return _dt.datetime.fromtimestamp(epoch_s, tz=_dt.timezone.utc).strftime("%Y-%m-%d")
    except (OverflowError, ValueError, OSError):
        return str(np.datetime64(int(epoch_s), "s").astype("datetime64[D]"))


@dataclass(frozen=True)
class FlightKeys:
    """One flight's entity keys and request-time values."""

    carrier: str
    flight_number: str  # canonical spelling (``flight_number``)
    origin: str
    dest: str
    sched_dep_epoch_s: int
    utc_offset_min: int
    tailnum: str | None = None
    country: str = ""  # the origin's ISO country code, whose holidays count ("": not known, the default calendar)

    @property
    def flight_id(self) -> str:
        return flight_id(self.carrier, self.flight_number)

    def entity_row(self, as_of_epoch_s: int) -> dict[str, Any]:
        return self.entity_row_of_day(as_of_day_of(as_of_epoch_s))

    def entity_row_of_day(self, day: str) -> dict[str, Any]:
        """The entity row whose time-varying views are read at ``day`` (an ``as_of_day`` value)."""
        return {
            "carrier": self.carrier,
            "origin": self.origin,
            "dest": self.dest,
            "flight_id": self.flight_id,
            "route": route_id(self.origin, self.dest),
            "carrier_origin": carrier_origin_id(self.carrier, self.origin),
            "tailnum": self.tailnum or "",
            "departure_id": departure_id(self.flight_id, self.origin, self.sched_dep_epoch_s),
            "as_of_day": day,
        }

    def request_row(self, lead_minutes: int) -> dict[str, Any]:
        """The entity row at T = scheduled - lead plus the on-demand view's request values: what
        Feast's ``get_online_features`` needs to serve the whole feature service."""
        return self.request_row_at(self.sched_dep_epoch_s - 60 * lead_minutes)

    def request_row_at(self, as_of_epoch_s: int) -> dict[str, Any]:
        """``request_row`` as of one instant (any lead)."""
        return {**self.entity_row(as_of_epoch_s), "sched_dep_epoch_s": self.sched_dep_epoch_s,
                "utc_offset_min": self.utc_offset_min, "as_of_epoch_s": as_of_epoch_s, "origin_country": self.country}


ROW_ID = "row_id"
TIMESTAMP = "event_timestamp"


def entity_frame(flights: pd.DataFrame, lead_minutes: int | None = None, *, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Feast entity rows for canonical flights, as of their prediction time T = scheduled - lead
    (or as of one instant ``as_of`` for every flight, each then at its own lead).

    Carries ``row_id`` (Feast does not keep the input order) and the request-time values of the
    on-demand views (T itself as ``as_of_epoch_s``, the origin's country as ``origin_country``). A
    missing tail number becomes "" so that it matches nothing, as online.
    """
    sched = flights["sched_dep_utc"]
    if as_of is not None and lead_minutes is None:
        at = pd.Series(pd.Timestamp(as_of), index=sched.index)
    elif as_of is None and lead_minutes is not None:
        at = sched - pd.to_timedelta(lead_minutes, unit="min")
    else:
        raise ValueError("entity rows need a lead or an instant, not both")
    return pd.DataFrame(
        {
            ROW_ID: flights["flight_row_id"].to_numpy(),
            "carrier": flights["carrier"].astype(str).to_numpy(),
            "origin": flights["origin"].astype(str).to_numpy(),
            "dest": flights["dest"].astype(str).to_numpy(),
            "flight_id": flight_id(flights["carrier"], flights["flight_number"]).to_numpy(),
            "route": route_id(flights["origin"], flights["dest"]).to_numpy(),
            "carrier_origin": carrier_origin_id(flights["carrier"], flights["origin"]).to_numpy(),
            "tailnum": flights["tailnum"].astype(object).where(flights["tailnum"].notna(), "").to_numpy(),
            "departure_id": departure_ids(flights, sched),
            "as_of_day": as_of_day(at).to_numpy(),
            TIMESTAMP: at.to_numpy(),
            "sched_dep_epoch_s": (sched.astype("int64") // _per_second(sched)).to_numpy(),
            "utc_offset_min": flights["utc_offset_min"].astype("int64").to_numpy(),
            "as_of_epoch_s": (at.astype("int64") // _per_second(at)).to_numpy(),
            "origin_country": _countries(flights),
        }
    ).astype({TIMESTAMP: "datetime64[us, UTC]"})


def departure_id(fid: str, origin: str, sched_s: int) -> str:
    """One scheduled departure: ``<carrier><number>:<origin>:<scheduled departure, s>`` (the
    ``departure`` entity's key, and a flight's identity in the event contract)."""
    return f"{fid}:{origin}:{int(sched_s)}"


def departure_ids(flights: pd.DataFrame, sched: pd.Series) -> np.ndarray:
    """``departure_id`` of every flight, as a column."""
    seconds = (sched.astype("int64") // _per_second(sched)).astype(str)
    return (flight_id(flights["carrier"], flights["flight_number"]) + ":" + flights["origin"].astype(str) + ":" + seconds).to_numpy()


def _countries(flights: pd.DataFrame) -> np.ndarray:
    """The origin's country per flight ("" where not known: the default holiday calendar)."""
    if "origin_country" not in flights:
        return np.full(len(flights), "", dtype=object)
    c = flights["origin_country"]
    return c.astype(object).where(c.notna(), "").to_numpy()


def _per_second(ts: pd.Series) -> int:
    return {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[ts.dt.unit]


def local_iso(sched_utc: pd.Timestamp, utc_offset_min: int) -> str:
    """A UTC instant as local ISO 8601 with its offset, e.g. ``2013-12-30T08:00:00-05:00``."""
    off = int(utc_offset_min)
    local = (sched_utc + pd.Timedelta(minutes=off)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{local}{'+' if off >= 0 else '-'}{abs(off) // 60:02d}:{abs(off) % 60:02d}"


def flight_query(row: Any) -> dict[str, Any]:
    """A ``/predict`` flight object from a canonical flight row (tests, load tests, benchmarks)."""
    q: dict[str, Any] = {
        "carrier": row.carrier,
        "flight_number": str(row.flight_number),
        "origin": row.origin,
        "dest": row.dest,
        "scheduled_departure": local_iso(row.sched_dep_utc, row.utc_offset_min),
    }
    if isinstance(row.tailnum, str):
        q["tailnum"] = row.tailnum
    return q

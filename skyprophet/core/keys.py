"""Entity keys derived from a flight's identifiers: one definition for training and serving."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar, overload

import numpy as np
import pandas as pd


@overload
def flight_id(carrier: str, number: int) -> str: ...
@overload
def flight_id(carrier: pd.Series, number: pd.Series) -> pd.Series: ...
def flight_id(carrier: str | pd.Series, number: int | pd.Series) -> str | pd.Series:
    """The flight entity key: carrier code + flight number, e.g. ``UA1545``."""
    if isinstance(carrier, pd.Series):
        return carrier.astype(str) + pd.Series(number).astype("int64").astype(str).to_numpy()
    assert not isinstance(number, pd.Series), "a scalar carrier takes a scalar number"
    return f"{carrier}{int(number)}"


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
    flight_number: int
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
            "as_of_day": as_of_day(at).to_numpy(),
            TIMESTAMP: at.to_numpy(),
            "sched_dep_epoch_s": (sched.astype("int64") // _per_second(sched)).to_numpy(),
            "utc_offset_min": flights["utc_offset_min"].astype("int64").to_numpy(),
            "as_of_epoch_s": (at.astype("int64") // _per_second(at)).to_numpy(),
            "origin_country": _countries(flights),
        }
    ).astype({TIMESTAMP: "datetime64[us, UTC]"})


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
        "flight_number": int(row.flight_number),
        "origin": row.origin,
        "dest": row.dest,
        "scheduled_departure": local_iso(row.sched_dep_utc, row.utc_offset_min),
    }
    if isinstance(row.tailnum, str):
        q["tailnum"] = row.tailnum
    return q

"""Upcoming departures per origin, in Redis, for the departures board and ``GET /departures``.

Written by the stream processor from the timetable (``planned`` events, 24 h ahead) and the
outcomes (``departure``, ``cancellation``); read by the API. Keys (``name`` is the stream's):

- ``name:departures:<ORIGIN>``: a sorted set, score = scheduled departure (s since the epoch),
  member = the flight as compact JSON (carrier, flight_number, origin, dest, tailnum, sched,
  utc_offset_min);
- ``name:outcomes:<ORIGIN>``: a hash, flight identity -> ``{"actual": s, "delay": min}`` or
  ``{"cancelled": true}``;
- ``name:departures``: the set of origins listed.

Flights scheduled more than ``KEEP_S`` before the clock are pruned at each tick, with their
outcomes. Every write is idempotent (a redelivered event writes the same member and field).
``EventStream.reset`` (a new replay) deletes these keys with the stream's own.

``SnapshotDepartures`` is the same timetable in snapshot mode (``make run``, no stream): the
canonical flights as of the instant the online store was loaded up to, each outcome known when
its event would have been (a departure at its actual time, a cancellation 3 h after schedule).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow.parquet as pq
import redis

from skyprophet.adapters.redis.wire import command
from skyprophet.adapters.stream import clock_key
from skyprophet.core.events import CANCELLATION, DEPARTURE, PLANNED, Event, available_at, flight_identity

KEEP_S = 6 * 3600  # departed flights stay listed this long after their scheduled time
_MEMBER = ("carrier", "flight_number", "origin", "dest", "tailnum", "sched", "utc_offset_min")


# The clock, the origin's flights in (now - back, now + ahead] and its outcomes, at one instant.
_LISTING = """
local now = redis.call('GET', KEYS[1])
if not now then return false end
local n = tonumber(now)
local members = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. string.format('%d', n - tonumber(ARGV[1])),
                           string.format('%d', n + tonumber(ARGV[2])))
if #members == 0 then return {now, members, {}} end
return {now, members, redis.call('HGETALL', KEYS[3])}
"""


def _with_outcomes(members: list[bytes], outcomes: dict[bytes, bytes]) -> list[dict[str, Any]]:
    """Listed flights (stored members) with their ``outcome`` (None while unknown)."""
    flights = [orjson.loads(m) for m in members]
    for f in flights:
        o = outcomes.get(flight_identity(f).encode())
        f["outcome"] = None if o is None else orjson.loads(o)
    return flights


def member(flight: dict[str, Any]) -> str:
    return json.dumps({k: flight.get(k) for k in _MEMBER}, separators=(",", ":"))


class Departures:
    def __init__(self, client: redis.Redis, stream_name: str):
        self.r = client
        self.clock_key = clock_key(stream_name)
        self.no_clock = f"live mode: no clock at {self.clock_key} (is a replay running?)"
        self.prefix = f"{stream_name}:departures:"
        self.outcomes = f"{stream_name}:outcomes:"
        self.origins_key = f"{stream_name}:departures"  # the set of origins listed
        self._pruned_before: int | None = None
        self._listing = client.register_script(_LISTING)  # EVALSHA, loaded again if Redis lost it

    def write(self, events: list[Event], prune_before_s: int | None = None) -> None:
        """Add planned flights and record outcomes (one pipeline); then drop flights scheduled
        before ``prune_before_s``."""
        pipe = self.r.pipeline(transaction=False)
        for e in events:
            d = e.data
            if e.kind == PLANNED:
                pipe.zadd(self.prefix + str(d["origin"]), {member(d): int(d["sched"])})
                pipe.sadd(self.origins_key, str(d["origin"]))
            elif e.kind == DEPARTURE:
                outcome = json.dumps({"actual": int(d["actual"]), "delay": float(d["delay"])})
                pipe.hset(self.outcomes + str(d["origin"]), flight_identity(d), outcome)
            elif e.kind == CANCELLATION:
                pipe.hset(self.outcomes + str(d["origin"]), flight_identity(d), json.dumps({"cancelled": True}))
        pipe.execute()
        if prune_before_s is not None:
            self.prune(prune_before_s)

    def origins(self) -> list[str]:
        return sorted(o.decode() if isinstance(o, bytes) else str(o) for o in self.r.smembers(self.origins_key))

    def prune(self, before_s: int) -> None:
        """Forget flights scheduled before ``before_s`` and their outcomes (nothing to do until
        ``before_s`` passes the last call's)."""
        if self._pruned_before is not None and before_s <= self._pruned_before:
            return
        self._pruned_before = before_s
        for origin in self.origins():
            self.r.zremrangebyscore(self.prefix + origin, "-inf", f"({before_s}")
            old = [k for k in self.r.hkeys(self.outcomes + origin) if int(k.rsplit(b":", 1)[1]) < before_s]
            if old:
                self.r.hdel(self.outcomes + origin, *old)

    def outcome_commands(self, flights: list[dict[str, Any]]) -> tuple[list[bytes], Callable[[list[Any]], list[dict[str, Any] | None]]]:
        """RESP commands reading each flight's outcome (one HMGET per origin), to send in a round
        trip of the caller's, and the function turning their replies into the outcomes (None
        while unknown), in the flights' order."""
        by_origin: dict[str, list[int]] = {}
        for i, f in enumerate(flights):
            by_origin.setdefault(str(f["origin"]), []).append(i)
        commands = [command("HMGET", self.outcomes + origin, *(flight_identity(flights[i]) for i in idx))
                    for origin, idx in by_origin.items()]

        def outcomes(replies: list[Any]) -> list[dict[str, Any] | None]:
            out: list[dict[str, Any] | None] = [None] * len(flights)
            for idx, got in zip(by_origin.values(), replies, strict=True):
                for i, o in zip(idx, got, strict=True):
                    out[i] = None if o is None else orjson.loads(o)
            return out

        return commands, outcomes

    def listed(self, origin: str, after_s: int, until_s: int) -> list[dict[str, Any]]:
        """Flights of ``origin`` scheduled in (after_s, until_s], by time, each with its
        ``outcome`` (None while unknown)."""
        raw = self.r.zrangebyscore(self.prefix + origin, f"({after_s}", until_s)
        return _with_outcomes(raw, self.r.hgetall(self.outcomes + origin) if raw else {})

    def listed_now(self, origin: str, back_s: int, ahead_s: int) -> tuple[int | None, list[dict[str, Any]]]:
        """The replay's clock and ``listed(origin, now - back_s, now + ahead_s)`` read as one
        (a script: one round trip, one instant); (None, []) when there is no clock."""
        got = self._listing(keys=[self.clock_key, self.prefix + origin, self.outcomes + origin], args=[back_s, ahead_s])
        if not got:
            return None, []
        now, members, pairs = got
        return int(now), _with_outcomes(members, dict(zip(pairs[::2], pairs[1::2], strict=True)))


class SnapshotDepartures:
    """The timetable of snapshot mode: the canonical flights (``path``) around the instant the
    online store holds (``held()``, seconds since the epoch, None when nothing is noted), each
    outcome known when its event would have been. Read from the file at each call (a band of it:
    the file's row groups outside the band are skipped), as the held instant may move."""

    def __init__(self, path: Path, held: Callable[[], int | None]):
        self.path = path
        self.held = held
        self.no_clock = "snapshot mode: the online store notes no load (run `skyprophet features materialize`)"
        self._origins: list[str] | None = None

    def origins(self) -> list[str]:
        if self._origins is None:
            column = pq.read_table(self.path, columns=["origin"]).column("origin")
            self._origins = sorted(str(o) for o in column.unique().to_pylist())
        return self._origins

    def listed_now(self, origin: str, back_s: int, ahead_s: int) -> tuple[int | None, list[dict[str, Any]]]:
        """The held instant and the flights of ``origin`` scheduled in (now - back_s, now + ahead_s],
        by time, each with its ``outcome`` as known at that instant (None while unknown)."""
        now = self.held()
        if now is None:
            return None, []
        lo, hi = (pd.Timestamp(t, unit="s", tz="UTC") for t in (now - back_s, now + ahead_s))
        cols = ["carrier", "flight_number", "origin", "dest", "tailnum", "sched_dep_utc", "utc_offset_min", "actual_dep_utc",
                "dep_delay_min", "cancelled"]
        rows = pd.read_parquet(self.path, columns=cols, filters=[("origin", "==", origin), ("sched_dep_utc", ">", lo),
                                                                 ("sched_dep_utc", "<=", hi)])
        rows = rows.sort_values("sched_dep_utc", kind="stable")
        rows["sched"] = (rows["sched_dep_utc"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
        out = []
        for r in rows.astype(object).where(rows.notna(), None).to_dict("records"):
            flight = {k: r[k] for k in ("carrier", "origin", "dest", "tailnum")}
            flight |= {"flight_number": str(r["flight_number"]), "sched": int(r["sched"]), "utc_offset_min": int(r["utc_offset_min"])}
            flight["outcome"] = _outcome_at(r, now)
            out.append(flight)
        return now, out


def _outcome_at(row: dict[Any, Any], now: int) -> dict[str, Any] | None:
    """A canonical flight's outcome as known at ``now``, as the stream's events would carry it."""
    if row["cancelled"]:
        return {"cancelled": True} if available_at(CANCELLATION, row) <= now else None
    if row["actual_dep_utc"] is None:
        return None
    actual = int(row["actual_dep_utc"].timestamp())
    return {"actual": actual, "delay": float(row["dep_delay_min"])} if actual <= now else None

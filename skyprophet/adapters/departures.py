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
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import redis

from skyprophet.adapters.redis.wire import command
from skyprophet.core.events import CANCELLATION, DEPARTURE, PLANNED, Event, flight_identity

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

    def listed_now(self, clock_key: str, origin: str, back_s: int, ahead_s: int) -> tuple[int | None, list[dict[str, Any]]]:
        """The clock (``clock_key``) and ``listed(origin, now - back_s, now + ahead_s)`` read as one
        (a script: one round trip, one instant); (None, []) when there is no clock."""
        got = self._listing(keys=[clock_key, self.prefix + origin, self.outcomes + origin], args=[back_s, ahead_s])
        if not got:
            return None, []
        now, members, pairs = got
        return int(now), _with_outcomes(members, dict(zip(pairs[::2], pairs[1::2], strict=True)))

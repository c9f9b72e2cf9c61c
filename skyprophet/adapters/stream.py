"""Redis Streams: the event stream, its consumer group, the processor's checkpoint and the clock.

Keys (``name`` is ``skyprophet:events`` by default):

- ``name``: the stream (``XADD ... MAXLEN ~ retention``); the replay waits while the consumer
  group's lag is above half of it, so no unread entry is trimmed;
- ``name:clock``: the simulated now (seconds since the epoch), read by the API;
- ``name:checkpoint``: the processor's last grid tick and last acknowledged entry, written in the
  same transaction as the acknowledgement;
- ``name:counts``: what the processor did with the entries it acknowledged, cumulative (applied,
  duplicates, late, rejected, failed, dead_lettered), incremented in that same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from skyprophet.core.errors import InvalidInput, first_line
from skyprophet.core.events import Event, parse_entry, printable

STREAM = "skyprophet:events"
GROUP = "features"


COUNTS = ("applied", "duplicates", "late", "rejected", "failed", "dead_lettered")


@dataclass(frozen=True)
class Entry:
    """One stream entry: its id, the event or why it could not be read, and how many times the
    group has delivered it (1 for a first delivery)."""

    id: str
    event: Event | None
    error: str = ""
    raw: dict[str, str] | None = None
    deliveries: int = 1


def entry(sid: str, fields: Any, deliveries: int = 1) -> Entry:
    """A stream entry read: validated against the event contract; whatever it holds, never raises."""
    raw = printable(fields or {})
    try:
        return Entry(sid, parse_entry(fields or {}), raw=raw, deliveries=deliveries)
    except InvalidInput as exc:
        return Entry(sid, None, str(exc), raw, deliveries)
    except Exception as exc:  # a gap in the contract's checks: still a reject, never a crash
        return Entry(sid, None, f"unreadable entry: {first_line(exc, with_type=True)}", raw, deliveries)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def clock_key(name: str) -> str:
    """Where the replay's now is kept (seconds since the epoch) for the stream ``name``."""
    return f"{name}:clock"


class EventStream:
    def __init__(self, client: redis.Redis, name: str = STREAM, group: str = GROUP, retention: int = 1_000_000):
        self.r = client
        self.name = name
        self.group = group
        self.retention = retention
        self.clock_key = clock_key(name)  # the replay's now, seconds since the epoch

    @classmethod
    def from_url(cls, url: str, **kw: Any) -> EventStream:
        return cls(redis.Redis.from_url(url, socket_timeout=30), **kw)

    # ------------------------------------------------------------ producer side

    def publish(self, events: list[Event]) -> None:
        """Append events (and clock entries) in order; a clock entry also moves the clock key."""
        pipe = self.r.pipeline(transaction=False)
        for e in events:
            pipe.xadd(self.name, e.fields(), maxlen=self.retention, approximate=True)
            if e.kind == "clock":
                pipe.set(self.clock_key, e.at)
        pipe.execute()

    def lag(self) -> int:
        """Entries not yet delivered to the group (the whole stream if no group reads it)."""
        for g in self.r.xinfo_groups(self.name) if self.r.exists(self.name) else []:
            if _s(g["name"]) == self.group:
                return int(g.get("lag") or 0)
        return 0

    def clock(self) -> int | None:
        v = self.r.get(self.clock_key)
        return None if v is None else int(v)

    def reset(self) -> None:
        """A new replay: delete the stream and every key beside it (``<name>:*``: its clock,
        checkpoint, and the departures board's timetable and outcomes)."""
        beside = list(self.r.scan_iter(match=f"{self.name}:*", count=1000))
        self.r.delete(self.name, *beside)

    # ------------------------------------------------------------ consumer side

    def ensure_group(self) -> None:
        try:
            self.r.xgroup_create(self.name, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, consumer: str, count: int, block_ms: int | None, pending: bool = False) -> list[Entry]:
        """The next entries for ``consumer``: its own unacknowledged ones when ``pending`` (with
        how many times each has now been delivered), else new ones (blocking up to ``block_ms``)."""
        since = "0" if pending else ">"
        got = self.r.xreadgroup(self.group, consumer, {self.name: since}, count=count, block=None if pending else block_ms)
        read = [(_s(sid), fields) for _, entries in got or [] for sid, fields in entries]
        times = self.deliveries(consumer, read[0][0], read[-1][0], len(read)) if pending and read else {}
        return [entry(sid, fields, times.get(sid, 1)) for sid, fields in read]

    def oldest_pending(self, consumer: str) -> tuple[str, int] | None:
        """``consumer``'s oldest unacknowledged entry and how many times it was delivered (this
        look does not count as a delivery); None when it has none."""
        rows = self.r.xpending_range(self.name, self.group, min="-", max="+", count=1, consumername=consumer)
        return (_s(rows[0]["message_id"]), int(rows[0]["times_delivered"])) if rows else None

    def deliveries(self, consumer: str, first: str, last: str, count: int) -> dict[str, int]:
        """How many times each of ``consumer``'s pending entries from ``first`` to ``last`` was delivered."""
        rows = self.r.xpending_range(self.name, self.group, min=first, max=last, count=count, consumername=consumer)
        return {_s(r["message_id"]): int(r["times_delivered"]) for r in rows}

    def claim_orphans(self, consumer: str) -> int:
        """Take over entries delivered to other consumers and never acknowledged (their delivery
        counts unchanged: the next read counts as their next delivery)."""
        n, start = 0, "-"
        while True:
            rows = self.r.xpending_range(self.name, self.group, min=start, max="+", count=1000)
            if not rows:
                return n
            theirs = [r["message_id"] for r in rows if _s(r["consumer"]) != consumer]
            if theirs:
                self.r.xclaim(self.name, self.group, consumer, min_idle_time=0, message_ids=theirs, justid=True)
                n += len(theirs)
            start = "(" + _s(rows[-1]["message_id"])

    def ack(self, ids: list[str], checkpoint: dict[str, Any], counts: dict[str, int] | None = None) -> None:
        """Acknowledge entries, record the checkpoint and add to the counts, atomically."""
        pipe = self.r.pipeline(transaction=True)
        if ids:
            pipe.xack(self.name, self.group, *ids)
        pipe.hset(f"{self.name}:checkpoint", mapping={k: str(v) for k, v in checkpoint.items()})
        for name, n in (counts or {}).items():
            if n:
                pipe.hincrby(f"{self.name}:counts", name, n)
        pipe.execute()

    def counts(self) -> dict[str, int]:
        """What the processor did with the entries it acknowledged since the stream began, by outcome."""
        got = {_s(k): int(v) for k, v in self.r.hgetall(f"{self.name}:counts").items()}
        return {name: got.get(name, 0) for name in COUNTS}

    def restart_at(self, tick_s: int) -> None:
        """A new stream whose processor resumes at grid point ``tick_s`` (recovery): the online
        store holds everything up to it, and the log before it is in the raw data's merge."""
        self.reset()
        self.r.hset(f"{self.name}:checkpoint", mapping={"tick": str(tick_s // 60), "last_id": "0-0", "start": str(tick_s)})

    def checkpoint(self) -> dict[str, str]:
        return {_s(k): _s(v) for k, v in self.r.hgetall(f"{self.name}:checkpoint").items()}

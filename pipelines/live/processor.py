"""The stream processor: events from the stream -> window state -> rows in the online store.

Per read batch, in this order (at-least-once, nothing lost, nothing counted twice):

1. each entry, validated against the event contract when it was read, is decided alone: refused
   (the contract, the processor's window, a conflicting duplicate, a dead letter), a duplicate, or
   counted; a counted event waits for the first tick at or after its availability (late: applied
   at once), and at each ``clock`` entry the state ticks every grid point it passed and yields the
   rows the batch build writes there;
2. the counted events are appended to the durable log (daily parquet partitions, fsynced), the
   refused entries to the rejects with their reason;
3. the rows go to the online store through Feast (``write_to_online_store``);
4. the batch is acknowledged, the checkpoint (last tick, last entry) written and the outcomes
   counted, atomically.

A processor killed anywhere restarts from the checkpoint: the state is rebuilt from the raw data
known at the replay's start plus the acknowledged part of the log, then its unacknowledged
entries are delivered again (ids already counted are skipped) and the ticks after the checkpoint
are written again, with the same rows.
"""

from __future__ import annotations

import heapq
import logging
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.live.features import VIEWS, LiveFeatures, table
from pipelines.live.seed import seeded_state
from skyprophet.adapters.event_log import EventLog, stream_id_le
from skyprophet.adapters.departures import KEEP_S, Departures
from skyprophet.adapters.store import OnlineKind
from skyprophet.adapters.stream import COUNTS, Entry, EventStream
from skyprophet.core.config import Settings
from skyprophet.core.errors import first_line
from skyprophet.core.events import CLOCK, LATE_LIMIT_S, PLANNED_AHEAD_S, Event, window_problem

log = logging.getLogger(__name__)
Writer = Callable[[str, pd.DataFrame], None]
DEDUP_HORIZON = LATE_LIMIT_S // 60  # ids are remembered this long (event time) after the processor's clock


@dataclass
class Processor:
    """One consumer of the stream; ``poll`` handles one read batch."""

    stream: EventStream
    event_log: EventLog
    write: Writer
    state: LiveFeatures
    consumer: str = "processor"
    batch: int = 2000
    max_deliveries: int = 3  # an entry delivered more often than this without an ack is dead-lettered
    start_s: int = 0  # the replay's start, kept in the checkpoint
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> payload of events counted, forgotten
    seen_order: deque[tuple[int, str]] = field(default_factory=deque)  # DEDUP_HORIZON after their time
    waiting: list[tuple[int, int, str, Event]] = field(default_factory=list)  # heap of counted events whose tick is to come
    resuming: bool = True  # entries delivered before a restart and never acknowledged come first
    ticks: int = 0
    rows_written: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))  # since this process started
    on_tick: Callable[[int], None] | None = None
    board: Departures | None = None  # upcoming departures and outcomes, for the board
    _seq: int = 0
    _failed: list[tuple[str, dict[str, str], str]] = field(default_factory=list)  # events whose application failed

    @property
    def events_applied(self) -> int:
        return self.counts["applied"]

    @property
    def duplicates(self) -> int:
        return self.counts["duplicates"]

    @property
    def rejected(self) -> int:
        return self.counts["rejected"]

    def _to_board(self, events: list[Event]) -> None:
        if self.board is not None:
            now_s = (self.state.last_tick or 0) * 60
            self.board.write(events, prune_before_s=now_s - KEEP_S)

    # ------------------------------------------------------------ start

    @classmethod
    def start(
        cls,
        stream: EventStream,
        event_log: EventLog,
        write: Writer,
        canonical: pd.DataFrame,
        weather: pd.DataFrame,
        start_s: int | None,
        step: int,
        **kw: Any,
    ) -> Processor:
        """A processor at its checkpoint, or at ``start_s`` when the stream has none."""
        stream.ensure_group()
        cp = stream.checkpoint()
        if cp:
            start_s = int(cp["start"])
        elif start_s is None:
            raise ValueError("no checkpoint on the stream: give the replay's start")
        assert start_s is not None
        state, days, _ = seeded_state(canonical, weather, start_s, step)
        proc = cls(stream=stream, event_log=event_log, write=write, state=state, start_s=start_s, **kw)
        last_tick = int(cp["tick"]) if cp else start_s // 60 // step * step
        acked = cp.get("last_id")
        logged = [(sid, e) for sid, e in event_log.events() if acked is not None and stream_id_le(sid, acked)]
        # the board as of the checkpoint: the timetable of the next 24 h, the outcomes of the last hours
        horizon = min(start_s, last_tick * 60) - PLANNED_AHEAD_S - KEEP_S
        board: list[Event] = []
        # A day of the seed's events at a time, ticked no further than the grid point before the
        # first logged event (which then takes its place among them as if all were counted at once)
        first = min((e.at_min for _, e in logged), default=None)
        stop = last_tick if first is None else min(last_tick, (first - 1) // step * step)
        for end_min, events in days:
            proc._count(events)
            proc._tick_to(min(end_min // step * step, stop))
            board += [e for e in events if e.at > horizon]
        proc._count([e for _, e in logged])
        proc._tick_to(last_tick)
        proc._to_board(board + [e for _, e in logged])
        proc.stream.claim_orphans(proc.consumer)
        log.info("processor at %s: %d events counted, %d from the log", pd.Timestamp(last_tick * 60, unit="s", tz="UTC"),
                 proc.events_applied, len(logged))
        return proc

    def _count(self, events: list[Event]) -> None:
        """Count known events (those not counted yet): each waits for its tick."""
        for e in sorted(events, key=lambda e: e.at):  # stable: sources keep their order
            if e.id not in self.seen:
                self._remember(e)
                self._wait(e, "")

    def _tick_to(self, tick: int) -> None:
        """Tick without writing up to ``tick`` (a grid point; nothing when the state is there),
        then forget ids too old to come again."""
        if tick > (self.state.last_tick or 0):
            self._advance(tick, None)
            self.state.last_tick = tick
        self._forget()

    def _remember(self, e: Event) -> None:
        self.seen[e.id] = e.data
        self.seen_order.append((e.at_min, e.id))

    def _wait(self, e: Event, sid: str) -> None:
        self._seq += 1
        heapq.heappush(self.waiting, (e.at_min, self._seq, sid, e))

    def _apply(self, e: Event, sid: str) -> None:
        """Apply one counted event; an error is that event's alone: it goes to the rejects with the
        traceback's last line, and the processor goes on."""
        try:
            self.state.apply(e)
            self.counts["applied"] += 1
        except Exception as exc:
            self.counts["failed"] += 1
            self.counts["rejected"] += 1
            where = traceback.extract_tb(exc.__traceback__)[-1]
            reason = f"failed while applying: {first_line(exc, with_type=True)} ({Path(where.filename).name}:{where.lineno})"
            log.error("event %s (stream entry %s) %s", e.id, sid, reason)
            self._failed.append((sid, e.fields(), reason))

    def _forget(self) -> None:
        horizon = (self.state.last_tick or 0) - DEDUP_HORIZON
        q = self.seen_order
        while q and q[0][0] < horizon:
            _, i = q.popleft()
            self.seen.pop(i, None)

    # ------------------------------------------------------------ run

    def _next(self, block_ms: int | None) -> list[Entry]:
        """Pending entries first after a restart (one at a time once a restarted processor has
        died holding them, so a poison among them cannot take valid ones down with it), then new ones."""
        if self.resuming:
            oldest = self.stream.oldest_pending(self.consumer)
            if oldest is not None:
                entries = self.stream.read(self.consumer, 1 if oldest[1] >= 2 else self.batch, None, pending=True)
                if entries:
                    return entries
            self.resuming = False
        return self.stream.read(self.consumer, self.batch, block_ms)

    def poll(self, block_ms: int | None = 1000) -> int:
        """Read, count, tick, log, write, acknowledge one batch; the number of entries handled."""
        entries = self._next(block_ms)
        if not entries:
            return 0
        before = dict(self.counts)
        counted: list[tuple[str, Event]] = []
        rejects: list[tuple[str, dict[str, str], str]] = []
        out: dict[str, list[Any]] = {v: [] for v in VIEWS}
        for x in entries:
            reason = self._take(x, out, counted)
            if reason is not None:
                self.counts["rejected"] += 1
                rejects.append((x.id, x.raw or {}, reason))
        self.event_log.append(counted)
        self.event_log.reject(rejects + self._failed)
        self._failed.clear()
        self._flush(out)
        self._to_board([e for _, e in counted])
        done = {k: v - before[k] for k, v in self.counts.items()}
        self.stream.ack([x.id for x in entries], {"tick": self.state.last_tick, "last_id": entries[-1].id, "start": self.start_s},
                        done)
        self._forget()
        return len(entries)

    def _take(self, x: Entry, out: dict[str, list[Any]], counted: list[tuple[str, Event]]) -> str | None:
        """Handle one entry; why it is refused (None: taken)."""
        if x.deliveries > self.max_deliveries:
            self.counts["dead_lettered"] += 1
            return (f"dead letter: delivered {x.deliveries} times without acknowledgement (a processor died holding it "
                    f"each time; SKYPROPHET_STREAM_MAX_DELIVERIES={self.max_deliveries})")
        e = x.event
        if e is None:
            return x.error
        problem = window_problem(e, (self.state.last_tick or 0) * 60)
        if problem is not None:
            return problem
        if e.kind == CLOCK:
            self._advance(e.at // 60, out)
            return None
        known = self.seen.get(e.id)
        if known is not None:
            if known != e.data:
                return f"conflicting duplicate: {e.id} was counted with another payload (a counted event is never replaced)"
            self.counts["duplicates"] += 1
            return None
        self._remember(e)
        counted.append((x.id, e))
        if e.at_min <= (self.state.last_tick or 0):  # its tick is written: it counts from the next one
            self.counts["late"] += 1
            self._apply(e, x.id)
        else:
            self._wait(e, x.id)
        return None

    def _advance(self, now_min: int, out: dict[str, list[Any]] | None) -> None:
        """Tick every grid point up to ``now_min``, each after the events it may see (none when
        ``out`` is None: a start-up only moves the state)."""
        step = self.state.step
        g = (self.state.last_tick or 0) + step
        w = self.waiting
        while g <= now_min:
            while w and w[0][0] <= g:
                _, _, sid, e = heapq.heappop(w)
                self._apply(e, sid)
            if out is None:
                self.state.tick(g, emit=False)
            else:
                for view, rows in self.state.tick(g).items():
                    if len(rows):
                        out[view].append(rows)
                self.ticks += 1
                if self.on_tick is not None:
                    self._flush(out)
                    self.on_tick(g)
            g += step

    def _flush(self, out: dict[str, list[Any]]) -> None:
        for view, parts in out.items():
            if not parts:
                continue
            rows = parts[0]
            for more in parts[1:]:
                rows.extend(more)
            self.write(view, table(view, rows))
            self.rows_written += len(rows)
            parts.clear()


def process(
    settings: Settings,
    *,
    online: OnlineKind = "redis",
    start: datetime | None,
    until: datetime | None = None,
    consumer: str = "processor",
    reset: bool = False,
    stop: Callable[[], bool] = lambda: False,
) -> Processor:
    """Run the processor on the settings' stream until ``until`` is ticked (or ``stop()``).

    Args:
        settings: Redis URL, stream name, data folder (raw data and the event log), grid step.
        online: the online store the rows go to.
        start: the replay's start (the instant the online store was loaded up to); ignored when
            the stream has a checkpoint, which is resumed.
        until: stop after ticking this instant (default: run until stopped).
        consumer: this processor's name in the consumer group.
        reset: start over: delete the stream and its keys (clock, checkpoint, departures board) first.
        stop: polled between batches.
    """
    from skyprophet.adapters.event_log import known_data
    from skyprophet.adapters.store import online_writer, open_store

    stream = EventStream.from_url(settings.redis_url, name=settings.stream_name, retention=settings.stream_retention)
    board = Departures(stream.r, settings.stream_name)
    if reset:
        stream.reset()
    # The raw data plus the log: after a recovery the replay's start may lie past the raw data.
    canonical, weather = known_data(settings.raw_dir, settings.live_dir, compact=True)
    proc = Processor.start(
        stream,
        EventLog(settings.live_dir),
        online_writer(open_store(settings, online=online, registry_ttl_s=600)),
        canonical,
        weather,
        None if start is None else int(start.timestamp()),
        settings.grid_minutes,
        consumer=consumer,
        batch=settings.stream_batch,
        max_deliveries=settings.stream_max_deliveries,
        board=board,
    )
    end_min = None if until is None else int(until.timestamp()) // 60
    while not stop() and (end_min is None or (proc.state.last_tick or 0) < end_min):
        proc.poll(block_ms=500)
    return proc

"""Feature build: canonical flights + weather + reference tables -> time-stamped feature tables.

Each output row describes what was known at its ``event_ts`` and is computed only from events
at or before it (the as-of rule of docs/design.md):

- a departure is an event at its actual departure time, when its delay becomes known;
- a scheduled flight is an event at its scheduled time (cancelled flights stay in the schedule);
- a weather observation labelled hour H is an event at H + 1 h (it is carried on the origin's
  grid while at most two hours old);
- an arrival is an event at its actual arrival; which leg an aircraft flies before a flight (its
  rotation) is known with the timetable, a day before the flight (the inbound leg).

Rolling tables sit on a fixed grid (``--grid-minutes``, 15 by default). Dense views (airline,
origin operations) have a row at every grid point; the carrier at its airport has one at every
grid point while its 2-hour window holds a departure (and one when it empties); sparse views
(flight number, plane) have a row wherever their value changes plus a daily heartbeat while
they are active; the route's whole-history view has a row per UTC midnight. Static tables
(airports, planes, route distance) are reference data with a single old timestamp. So the
latest row at or before a grid-aligned T is exact and never older than the view's ttl.

Every time-varying table also carries ``as_of_day``, the UTC date of its row, which is a join
key of its view: the point-in-time join then compares a flight only with the rows of its own
day (at most 96 grid rows) instead of a whole year of them. Every active entity has a row at
each UTC midnight, so the latest row at or before T is always found within T's own day.

``--until`` builds only from events at or before the cut-off, for truncation tests and
backfills: flights whose departure came later lose their outcome, and no row is emitted after
the cut-off.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from pipelines.features.timeline import time_ordered
from pipelines.features.views import TABLES, build_tables
from skyprophet.adapters.event_log import known_data
from skyprophet.adapters.parquet import write_if_changed
from skyprophet.adapters.progress import SILENT, Steps
from skyprophet.core.config import Settings

log = logging.getLogger(__name__)

# Tables are written in time order in row groups of this size, so that a scan restricted to a
# time band (a retrieval chunk, a materialization chunk) reads only the row groups it needs.
ROW_GROUP_ROWS = 65_536


def build(
    settings: Settings,
    out_dir: Path | None = None,
    until: datetime | None = None,
    grid_minutes: int | None = None,
    steps: Steps = SILENT,
    live: bool = True,
) -> dict[str, int]:
    """Build the feature tables from ``data/raw`` into ``data/processed``.

    With ``live``, the events that ``skyprophet live stream`` logged under ``data/live`` are merged
    into the raw flights and weather first (new flights, departures, cancellations, weather
    hours), so that the tables include everything received.

    Args:
        settings: the data folder holding ``raw/``, and the default grid step.
        out_dir: where the tables go (default: ``settings.processed_dir``).
        until: build only from events at or before this instant (timezone-aware).
        grid_minutes: grid step of the rolling tables (default: settings).
        steps: progress display (none by default).
        live: merge the live event log (when there is one).

    Returns:
        Row count of every table written.

    Raises:
        MissingData: ingest has not run.
        NoData: no flight at or before ``until``.
    """
    out_dir = out_dir or settings.processed_dir
    raw = settings.raw_dir
    canonical, weather = known_data(raw, settings.live_dir if live else None)
    tables = build_tables(
        canonical,
        weather,
        pd.read_parquet(raw / "planes.parquet"),
        pd.read_parquet(raw / "airports.parquet"),
        until=until,
        grid_minutes=grid_minutes or settings.grid_minutes,
    )
    counts = {}
    t0 = time.perf_counter()
    with steps.step("feature tables", total=len(TABLES)) as advance:
        for name, df in tables:  # one table in memory at a time
            counts[name] = len(df)
            built = time.perf_counter()
            if df.empty:  # an empty text column would be written without a type, which Feast cannot join on
                df = df.astype({c: "string" for c in df.columns if df[c].dtype == object})
            ordered = time_ordered(df)
            ordered.attrs.clear()  # pandas would store them in the file's metadata
            write_if_changed(ordered, out_dir / f"{name}.parquet", row_group_size=ROW_GROUP_ROWS)
            del df, ordered
            t1 = time.perf_counter()
            log.info("%-22s %9d rows  (built in %.1f s, written in %.1f s)", name, counts[name], built - t0, t1 - built)
            t0 = t1
            advance(1)
    return counts

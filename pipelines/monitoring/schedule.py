"""The monitoring report once, or again every so many seconds over the served traffic (live
operation), with outcomes joined only for flights departed by the replay's clock when asked."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from pipelines.monitoring.report import MonitorResult, monitor
from skyprophet.adapters.stream import EventStream
from skyprophet.core.config import Settings
from skyprophet.core.errors import InvalidInput, NoData

log = logging.getLogger(__name__)


def replay_clock(settings: Settings) -> datetime:
    """The replay's simulated now (live operation), or a clear error when no producer has set one."""
    now_s = EventStream.from_url(settings.redis_url, name=settings.stream_name).clock()
    if now_s is None:
        raise InvalidInput(f"--live: no replay clock at {settings.stream_name}:clock on {settings.redis_url}")
    return datetime.fromtimestamp(now_s, timezone.utc)


def watch(settings: Settings, on_report: Callable[[MonitorResult], None], *, every: float | None = None,
          hours: float | None = None, live: bool = False, **report: Any) -> None:
    """Write the report (``report``: ``monitor``'s window arguments) and hand it to ``on_report``;
    with ``every``, again every ``every`` seconds until interrupted (a window with nothing served
    yet is tried again at the next turn).

    Args:
        settings: the project's settings.
        on_report: called with each report written.
        every: seconds between reports (None: once).
        hours: only what was logged in the last ``hours``.
        live: join only the outcomes of flights departed by the replay's clock.
    """
    while True:
        since = datetime.now(timezone.utc) - timedelta(hours=hours) if hours else None
        known_at = replay_clock(settings) if live else None
        try:
            result = monitor(settings, since=since, known_at=known_at, **report)
        except NoData as exc:
            if every is None:
                raise
            log.info("monitor: %s; next try in %.0f s", exc, every)
            time.sleep(every)
            continue
        on_report(result)
        if every is None:
            return
        time.sleep(every)

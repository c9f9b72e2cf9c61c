"""The build's machinery on data with a gap: a time band holding no event yields no rows (it
raised IndexError, found by the 2x smoke slice of bench-features: January 2013 and January 2014
with nothing between, wider than a 91-day band)."""

from __future__ import annotations

import numpy as np

from pipelines.features.timeline import sparse_points
from skyprophet.core.windows import DAY

EMPTY = np.zeros(0, dtype=np.int64)


def test_a_band_without_events_has_no_points() -> None:
    codes, times = sparse_points(EMPTY, EMPTY, 15, 10 * DAY, 7 * DAY, 120, (0, 91 * DAY))
    assert codes.size == 0 and times.size == 0


def test_points_in_a_band_with_events_are_unchanged_by_the_guard() -> None:
    codes = np.array([1, 1, 2], dtype=np.int64)
    times = np.array([10, 20, 5 * DAY + 7], dtype=np.int64)
    c, t = sparse_points(codes, times, 15, 10 * DAY, 2 * DAY, None, (0, 91 * DAY))
    got = set(zip(c.tolist(), t.tolist(), strict=True))
    # entries at the next grid point, and a heartbeat at each midnight within two days of an event
    assert {(1, 15), (1, 30), (2, 5 * DAY + 15)} <= got
    assert {(1, DAY), (1, 2 * DAY), (2, 6 * DAY), (2, 7 * DAY)} <= got
    assert (1, 3 * DAY) not in got and (2, 8 * DAY) not in got

"""Request-time features: the single definition used by the on-demand view and by the service.

Pure numpy so that the service can call it on the hot path without pandas.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_HOLIDAY_YEARS = range(1990, 2051)


@lru_cache(maxsize=1)
def _holiday_days() -> np.ndarray:
    """US federal holidays (observed dates included) as days since the Unix epoch, sorted."""
    import holidays  # deferred: only needed once per process

    dates = holidays.country_holidays("US", years=_HOLIDAY_YEARS, observed=True).keys()
    days = np.array(sorted(np.datetime64(d, "D").astype("int64") for d in dates), dtype=np.int64)
    return days


def request_features(
    sched_dep_epoch_s: np.ndarray,
    utc_offset_min: np.ndarray,
    prev_dep_ts: np.ndarray,
    as_of_epoch_s: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Calendar features of the scheduled departure, in the origin's local time.

    Args:
        sched_dep_epoch_s: scheduled departure, seconds since the Unix epoch (UTC).
        utc_offset_min: the origin's offset from UTC at that instant, in minutes.
        prev_dep_ts: the aircraft's previous actual departure (seconds since the epoch), NaN if
            unknown; already filtered by the plane view's as-of rule and maximum age.
        as_of_epoch_s: the prediction time T (seconds since the epoch); when given, the lead is
            computed too.

    Returns:
        ``local_hour`` (0-23), ``day_of_week`` (0 = Monday), ``month`` (1-12),
        ``days_to_holiday`` (absolute days to the nearest US federal holiday) and
        ``minutes_since_prev_dep`` (scheduled departure minus previous departure; NaN if unknown);
        with ``as_of_epoch_s`` also ``lead_minutes`` (scheduled departure minus T, in minutes).
    """
    sched = np.asarray(sched_dep_epoch_s, dtype=np.int64)
    local_min = sched // 60 + np.asarray(utc_offset_min, dtype=np.int64)
    local_day = local_min // 1440
    hol = _holiday_days()
    idx = np.clip(np.searchsorted(hol, local_day), 1, len(hol) - 1)
    to_holiday = np.minimum(np.abs(hol[idx] - local_day), np.abs(local_day - hol[idx - 1]))
    months = local_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    prev = np.asarray(prev_dep_ts, dtype=np.float64)
    out = {
        "local_hour": (local_min % 1440) // 60,
        "day_of_week": (local_day + 3) % 7,  # 1970-01-01 was a Thursday
        "month": months,
        "days_to_holiday": to_holiday,
        "minutes_since_prev_dep": (sched - prev) / 60.0,
    }
    if as_of_epoch_s is not None:
        out["lead_minutes"] = (sched - np.asarray(as_of_epoch_s, dtype=np.int64)) / 60.0
    return out

"""Request-time features: the single definition used by the on-demand view and by the service.

Pure numpy so that the service can call it on the hot path without pandas.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_HOLIDAY_YEARS = range(1990, 2051)
# The calendar of a flight whose origin's country is not known (or has none in the holidays
# library): the US federal one, the bundled data's.
DEFAULT_HOLIDAY_COUNTRY = "US"


@lru_cache(maxsize=64)
def _holiday_days(country: str = DEFAULT_HOLIDAY_COUNTRY) -> np.ndarray:
    """A country's public holidays (observed dates included) as days since the Unix epoch, sorted;
    ``DEFAULT_HOLIDAY_COUNTRY``'s for a country the holidays library does not know."""
    import holidays  # deferred: only needed once per process

    try:
        dates = holidays.country_holidays(country, years=_HOLIDAY_YEARS, observed=True).keys()
    except NotImplementedError:
        return _holiday_days(DEFAULT_HOLIDAY_COUNTRY)
    days = np.array(sorted(np.datetime64(d, "D").astype("int64") for d in dates), dtype=np.int64)
    return days if len(days) > 1 else _holiday_days(DEFAULT_HOLIDAY_COUNTRY)


def _nearest(hol: np.ndarray, local_day: np.ndarray) -> np.ndarray:
    idx = np.clip(np.searchsorted(hol, local_day), 1, len(hol) - 1)
    return np.minimum(np.abs(hol[idx] - local_day), np.abs(local_day - hol[idx - 1]))


def _days_to_holiday(local_day: np.ndarray, country: np.ndarray | None) -> np.ndarray:
    """Absolute days from each local day to the nearest holiday of its row's country."""
    if country is None:
        return _nearest(_holiday_days(DEFAULT_HOLIDAY_COUNTRY), local_day)
    codes = [c if isinstance(c, str) and c else DEFAULT_HOLIDAY_COUNTRY for c in np.asarray(country, dtype=object).tolist()]
    distinct = set(codes)
    if len(distinct) == 1:
        return _nearest(_holiday_days(distinct.pop()), local_day)
    by_row = np.array(codes, dtype=object)
    out = np.empty(len(local_day), dtype=np.int64)
    for code in distinct:
        rows = by_row == code
        out[rows] = _nearest(_holiday_days(code), local_day[rows])
    return out


def request_features(
    sched_dep_epoch_s: np.ndarray,
    utc_offset_min: np.ndarray,
    prev_dep_ts: np.ndarray,
    as_of_epoch_s: np.ndarray | None = None,
    country: np.ndarray | None = None,
    year_built: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Calendar features of the scheduled departure, in the origin's local time.

    Args:
        sched_dep_epoch_s: scheduled departure, seconds since the Unix epoch (UTC).
        utc_offset_min: the origin's offset from UTC at that instant, in minutes.
        prev_dep_ts: the aircraft's previous actual departure (seconds since the epoch), NaN if
            unknown; already filtered by the plane view's as-of rule and maximum age.
        as_of_epoch_s: the prediction time T (seconds since the epoch); when given, the lead is
            computed too.
        country: the origin's ISO country code per flight, whose public holidays count ("" or None:
            not known, ``DEFAULT_HOLIDAY_COUNTRY``'s); default: ``DEFAULT_HOLIDAY_COUNTRY`` for all.
        year_built: the aircraft's year of manufacture, NaN if unknown; when given, its age is
            computed too.

    Returns:
        ``local_hour`` (0-23), ``day_of_week`` (0 = Monday), ``month`` (1-12),
        ``days_to_holiday`` (absolute days to the nearest public holiday of the origin's country) and
        ``minutes_since_prev_dep`` (scheduled departure minus previous departure; NaN if unknown);
        with ``as_of_epoch_s`` also ``lead_minutes`` (scheduled departure minus T, in minutes);
        with ``year_built`` also ``plane_age_years`` (the local year of the scheduled departure
        minus the year of manufacture: 0 in the year it was built; NaN if unknown).
    """
    sched = np.asarray(sched_dep_epoch_s, dtype=np.int64)
    local_min = sched // 60 + np.asarray(utc_offset_min, dtype=np.int64)
    local_day = local_min // 1440
    to_holiday = _days_to_holiday(local_day, country)
    local_months = local_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)  # since 1970-01
    months = local_months % 12 + 1
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
    if year_built is not None:
        out["plane_age_years"] = (local_months // 12 + 1970) - np.asarray(year_built, dtype=np.float64)
    return out

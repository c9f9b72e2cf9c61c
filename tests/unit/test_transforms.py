"""Request-time features against an independent calendar computation."""

from __future__ import annotations

import datetime as dt

import holidays
import numpy as np
import pytest

from skyprophet.core.transforms import request_features


@pytest.mark.parametrize(
    ("utc", "offset", "hour", "dow", "month"),
    [
        ("2013-01-01T10:15:00+00:00", -300, 5, 1, 1),
        ("2013-07-04T03:30:00+00:00", -240, 23, 2, 7),  # still July 3rd locally
        ("2013-12-31T23:59:00+00:00", -300, 18, 1, 12),
    ],
)
def test_calendar(utc: str, offset: int, hour: int, dow: int, month: int) -> None:
    t = int(dt.datetime.fromisoformat(utc).timestamp())
    out = request_features(np.array([t]), np.array([offset]), np.array([np.nan]))
    assert (out["local_hour"][0], out["day_of_week"][0], out["month"][0]) == (hour, dow, month)
    assert np.isnan(out["minutes_since_prev_dep"][0])


def test_days_to_holiday_matches_brute_force() -> None:
    us = holidays.country_holidays("US", years=range(2012, 2015))
    rng = np.random.default_rng(0)
    base = int(dt.datetime(2013, 1, 1, tzinfo=dt.timezone.utc).timestamp())
    t = base + rng.integers(0, 365 * 86400, 300)
    offset = np.full(300, -300)
    got = request_features(t, offset, np.full(300, np.nan))["days_to_holiday"]
    for ti, g in zip(t, got, strict=True):
        local = (dt.datetime.fromtimestamp(int(ti), dt.timezone.utc) + dt.timedelta(minutes=-300)).date()
        assert g == min(abs((h - local).days) for h in us)


def test_minutes_since_previous_departure() -> None:
    out = request_features(np.array([10_000]), np.array([0]), np.array([10_000 - 5_400.0]))
    assert out["minutes_since_prev_dep"][0] == 90.0


def test_lead_is_minutes_from_the_prediction_time_to_departure() -> None:
    sched = np.array([10_000 * 60, 20_000 * 60])
    out = request_features(sched, np.array([0, -300]), np.array([np.nan, np.nan]), sched - np.array([120 * 60, 30]))
    assert out["lead_minutes"].tolist() == [120.0, 0.5]
    assert "lead_minutes" not in request_features(sched, np.array([0, 0]), np.array([np.nan, np.nan]))


def test_holidays_are_the_origins_countrys() -> None:
    # 18 September 2017: Fiestas Patrias in Chile; the nearest US federal holiday was Labor Day, 4 September
    noon = int(dt.datetime(2017, 9, 18, 15, 0, tzinfo=dt.timezone.utc).timestamp())
    sched = np.full(4, noon)
    got = request_features(sched, np.full(4, -180), np.full(4, np.nan), country=np.array(["CL", "US", "", None], dtype=object))
    assert got["days_to_holiday"].tolist() == [0, 14, 14, 14]  # not known: the default (US) calendar
    assert request_features(sched[:1], np.array([-180]), np.array([np.nan]))["days_to_holiday"].tolist() == [14]


def test_plane_age_is_the_flights_local_year_minus_the_build_year() -> None:
    # New Year's Eve 23:30 in New York is already 1 January in UTC; Auckland's 1 January is 31 December in UTC
    cases = [("2013-12-31T23:30:00-05:00", 2001.0, 12.0), ("2014-01-01T06:00:00+13:00", 2001.0, 13.0),
             ("1999-06-01T12:00:00+00:00", 1999.0, 0.0), ("2020-03-01T12:00:00-03:00", float("nan"), float("nan"))]
    local = [dt.datetime.fromisoformat(c[0]) for c in cases]
    sched = np.array([int(t.timestamp()) for t in local])
    offset = np.array([int(t.utcoffset().total_seconds() // 60) for t in local])  # type: ignore[union-attr]
    built = np.array([c[1] for c in cases])
    got = request_features(sched, offset, np.full(4, np.nan), year_built=built)["plane_age_years"]
    assert got[:3].tolist() == [t.year - b for t, b in zip(local[:3], built[:3], strict=True)] == [c[2] for c in cases[:3]]
    assert np.isnan(got[3])
    assert "plane_age_years" not in request_features(sched, offset, np.full(4, np.nan))

"""A retraining's rolling windows and what it may see: windows of local days counted back from the
day, and only the labels known before that day's 00:00 UTC."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pipelines.features.training_set import flights_in
from pipelines.model.params import TrainParams
from pipelines.model.retrain import Rolling, label_known_at, labelled_before, retrain_tags, rolling_windows
from skyprophet.core.errors import TrainingSetError
from skyprophet.core.months import Window

SPLIT = "split:\n  train: [2013-01, 2013-09]\n  validation: [2013-10, 2013-10]\n  test: [2013-11, 2013-12]\n"


def _flights(rows: list[tuple[str, float | None, bool]]) -> pd.DataFrame:
    """(scheduled UTC, delay in minutes or None, cancelled) -> canonical-like flights at UTC-5."""
    sched = pd.to_datetime([r[0] for r in rows], utc=True)
    delay = pd.Series([r[1] for r in rows], dtype="float64")
    return pd.DataFrame({
        "sched_dep_utc": sched, "dep_delay_min": delay, "cancelled": [r[2] for r in rows],
        "actual_dep_utc": sched + pd.to_timedelta(delay, unit="min"), "utc_offset_min": -300,
    })


def test_a_label_is_known_at_departure_or_once_the_flight_is_late_whichever_is_first() -> None:
    f = _flights([("2013-11-30 20:00", -3, False), ("2013-11-30 20:00", 10, False), ("2013-11-30 20:00", 200, False),
                  ("2013-11-30 20:00", None, True)])
    got = label_known_at(f, 15).tolist()
    at = pd.Timestamp("2013-11-30 20:00", tz="UTC")
    assert got == [at - pd.Timedelta(minutes=3), at + pd.Timedelta(minutes=10), at + pd.Timedelta(minutes=16), at]


def test_only_flights_labelled_before_the_day_are_seen() -> None:
    # 23:30 UTC with 20 min delay: late at 23:46, known before midnight; 23:50 on time at 23:55: known;
    # 23:50 with 30 min delay: late only at 00:06 the next day: not yet known
    f = _flights([("2013-11-30 23:30", 20, False), ("2013-11-30 23:50", 5, False), ("2013-11-30 23:50", 30, False),
                  ("2013-12-01 01:00", -5, False)])
    kept = labelled_before(f, pd.Timestamp("2013-12-01", tz="UTC"), 15)
    assert kept.index.tolist() == [0, 1]


def test_windows_count_back_from_the_day() -> None:
    got = rolling_windows(date(2013, 12, 1), Rolling(None, 7, 7), date(2013, 1, 1))
    assert [(w.name, w.first, w.last) for w in got] == [
        ("train", "2013-01-01", "2013-11-16"), ("validation", "2013-11-17", "2013-11-23"), ("test", "2013-11-24", "2013-11-30")]
    two = rolling_windows(date(2013, 12, 1), Rolling(2, 14, 7), date(2013, 1, 1))
    assert [(w.first, w.last) for w in two] == [("2013-09-10", "2013-11-09"), ("2013-11-10", "2013-11-23"), ("2013-11-24", "2013-11-30")]


def test_a_window_months_back_ends_on_the_shorter_months_last_day() -> None:
    got = rolling_windows(date(2013, 4, 7), Rolling(1, 7, 5), date(2013, 1, 1))
    assert (got[0].first, got[1].first) == ("2013-02-26", "2013-03-26")  # validation starts 2013-03-26, one month back
    got = rolling_windows(date(2013, 4, 14), Rolling(1, 7, 7), date(2013, 1, 1))
    assert got[1].first == "2013-03-31" and got[0].first == "2013-02-28"  # February 2013 has 28 days


def test_too_little_data_before_the_day_is_named() -> None:
    with pytest.raises(TrainingSetError, match="the data starts on 2013-11-20"):
        rolling_windows(date(2013, 12, 1), Rolling(None, 7, 7), date(2013, 11, 20))


def test_day_windows_choose_flights_by_their_local_day() -> None:
    # 2013-12-01 03:00 UTC is 22:00 on November 30 in New York: the validation window's last day
    f = _flights([("2013-12-01 03:00", 0, False), ("2013-12-01 06:00", 0, False)])
    got = flights_in(f, [Window("validation", "2013-11-24", "2013-11-30"), Window("test", "2013-12-01", "2013-12-07")])
    assert got["split"].tolist() == ["validation", "test"]
    assert got["local_month"].tolist() == ["2013-11", "2013-12"]


@pytest.mark.parametrize(("first", "last", "says"), [("2013-02-30", "2013-03-01", "not a day of the calendar"),
                                                     ("2013-12-02", "2013-12-01", "is after"), ("2013-12-1", "2013-12", "YYYY-MM-DD")])
def test_bad_day_windows_are_refused(first: str, last: str, says: str) -> None:
    with pytest.raises(TrainingSetError, match=says):
        Window("test", first, last)


def test_a_month_end_covers_the_whole_month() -> None:
    assert Window("train", "2013-02", "2013-02").days == ("2013-02-01", "2013-02-31")
    assert Window("train", "2013-01-15", "2013-02").days == ("2013-01-15", "2013-02-31")


def test_the_reason_and_window_are_tags_and_a_bad_reason_is_refused() -> None:
    windows = rolling_windows(date(2013, 12, 1), Rolling(None, 7, 7), date(2013, 1, 1))
    tags = retrain_tags(date(2013, 12, 1), "drift", windows)
    assert tags["retrain_reason"] == "drift" and tags["data_window"] == "2013-01-01..2013-11-30"
    assert tags["test_window"] == "2013-11-24..2013-11-30" and tags["retrained_as_of"] == "2013-12-01"
    with pytest.raises(TrainingSetError, match="one of scheduled, drift, manual"):
        retrain_tags(date(2013, 12, 1), "because", windows)


@pytest.mark.parametrize(("body", "says"), [("window_months: 0", "window_months"), ("test_days: 2.5", "test_days"),
                                            ("validation_days: 0", "validation_days")])
def test_bad_retrain_settings_are_refused(tmp_path: Path, body: str, says: str) -> None:
    f = tmp_path / "params.yaml"
    f.write_text(SPLIT + "retrain:\n  " + body + "\n")
    with pytest.raises(TrainingSetError, match=says):
        TrainParams.load(f)


def test_the_project_retrains_on_everything_with_a_week_each_to_validate_and_test() -> None:
    from skyprophet.core.config import PARAMS_FILE

    rolling = TrainParams.load(PARAMS_FILE).rolling
    assert (rolling.months, rolling.validation_days, rolling.test_days) == (None, 7, 7)


def test_a_staging_service_serves_the_staging_alias_unless_told_otherwise() -> None:
    from serving.config import ServingSettings

    assert ServingSettings(environment="staging", admin_token="t").model_alias == "staging"
    assert ServingSettings(environment="staging", admin_token="t", model_alias="production").model_alias == "production"
    assert ServingSettings(environment="production", admin_token="t").model_alias == "production"


def test_the_staging_smoke_test_scores_the_readmes_request() -> None:
    import re

    from pipelines.model.stage import README_FLIGHT
    from skyprophet.core.config import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text()
    got = re.search(r'"carrier": "(\w+)", "flight_number": (\d+), "origin": "(\w+)", "dest": "(\w+)",\s+'
                    r'"scheduled_departure": "([^"]+)", "tailnum": "(\w+)"', readme)
    assert got is not None
    carrier, number, origin, dest, when, tail = got.groups()
    from datetime import datetime

    at = datetime.fromisoformat(when)
    assert (README_FLIGHT.carrier, README_FLIGHT.flight_number, README_FLIGHT.origin, README_FLIGHT.dest, README_FLIGHT.tailnum) == (
        carrier, number, origin, dest, tail)
    assert README_FLIGHT.sched_dep_epoch_s == int(at.timestamp())
    assert README_FLIGHT.utc_offset_min == at.utcoffset().total_seconds() // 60

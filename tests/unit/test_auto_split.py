"""``split: auto`` in params.yaml: the split taken from the months the data covers whole
(``skyprophet/core/months.py``), so that a user's own flights need no months written by hand."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from pipelines.model.params import TrainParams
from skyprophet.core.config import PARAMS_FILE
from skyprophet.core.errors import TrainingSetError
from skyprophet.core.months import Window, auto_windows, whole_months, windows_from


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_whole_months_are_those_with_every_day() -> None:
    # 15 January to 30 April (January entered part way), no May, all 30 days of June
    days = _days(date(2013, 1, 15), date(2013, 4, 30)) + _days(date(2013, 6, 1), date(2013, 6, 30))
    days += _days(date(2016, 2, 1), date(2016, 2, 28))  # 28 of 29 days: not whole
    days += _days(date(2017, 2, 1), date(2017, 2, 28))  # 28 of 28: whole
    assert whole_months(days) == ["2013-02", "2013-03", "2013-04", "2013-06", "2017-02"]


def test_auto_on_a_year_is_the_split_the_project_chose_by_hand() -> None:
    year = [f"2013-{m:02d}" for m in range(1, 13)]
    by_hand = yaml.safe_load(PARAMS_FILE.read_text())["split"]
    assert auto_windows(year) == windows_from(by_hand)
    assert [str(w) for w in auto_windows(year)] == ["2013-01..2013-09", "2013-10..2013-10", "2013-11..2013-12"]


def test_auto_takes_the_last_two_months_to_test_and_the_one_before_to_validate() -> None:
    months = ["2020-06", "2020-02", "2020-03", "2020-05", "2020-07"]  # unordered, April missing
    assert auto_windows(months) == [Window("train", "2020-02", "2020-03"), Window("validation", "2020-05", "2020-05"),
                                    Window("test", "2020-06", "2020-07")]


def test_too_few_whole_months_name_what_the_data_has() -> None:
    with pytest.raises(TrainingSetError, match=r"at least 4 whole months .* the data has 2013-01\.\.2013-03 \(3\)"):
        auto_windows(["2013-01", "2013-02", "2013-03"])
    with pytest.raises(TrainingSetError, match="the data has none"):
        auto_windows([])
    with pytest.raises(TrainingSetError, match="takes its months from the data"):
        windows_from("auto")
    with pytest.raises(TrainingSetError, match="expected train/validation/test"):
        windows_from("last-year")


def test_params_read_the_data_only_for_an_auto_split(tmp_path: Path) -> None:
    auto = tmp_path / "auto.yaml"
    auto.write_text("split: auto\n")
    assert [str(w) for w in TrainParams.load(auto, lambda: ["2021-01", "2021-02", "2021-03", "2021-04", "2021-05"]).windows] == [
        "2021-01..2021-02", "2021-03..2021-03", "2021-04..2021-05"]

    def unread() -> list[str]:
        raise AssertionError("the data was read for a split written by hand")

    assert TrainParams.load(PARAMS_FILE, unread).windows == windows_from(yaml.safe_load(PARAMS_FILE.read_text())["split"])

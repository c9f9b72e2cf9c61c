"""Named ranges of local scheduled months or days (a split's train, validation and test windows, a
monitoring window, a retraining's weeks): "YYYY-MM" months or "YYYY-MM-DD" days, both ends
included."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from skyprophet.core.errors import TrainingSetError

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_DAY = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


@dataclass(frozen=True)
class Window:
    """A named range of local scheduled months ("YYYY-MM") or days ("YYYY-MM-DD"), both ends
    included; each end may be either (a month end covers the whole month)."""

    name: str
    first: str
    last: str

    def __post_init__(self) -> None:
        # a window named by an option ("--window") is called by that name, any other as "<name> window"
        label = self.name if self.name.startswith("--") else f"{self.name} window"
        for m in (self.first, self.last):
            if not (_MONTH.match(m) or _DAY.match(m)):
                raise TrainingSetError(f"{label}: {m!r} is not a YYYY-MM month or a YYYY-MM-DD day "
                                       f"(e.g. 2013-12, 2013-01..2013-09 or 2013-12-01..2013-12-07)")
            if _DAY.match(m):
                try:
                    date.fromisoformat(m)
                except ValueError:
                    raise TrainingSetError(f"{label}: {m} is not a day of the calendar") from None
        first, last = self.days
        if first > last:
            raise TrainingSetError(f"{label}: {self.first} is after {self.last}")

    @property
    def days(self) -> tuple[str, str]:
        """The first and last local days ("YYYY-MM-DD") the window covers: comparable as strings
        with a flight's local day."""
        first = self.first if len(self.first) > 7 else f"{self.first}-01"
        last = self.last if len(self.last) > 7 else f"{self.last}-31"  # no month has a later day
        return first, last

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"


AUTO = "auto"
# An automatic split: the last two whole months test, the one before validation, the rest train.
AUTO_TEST_MONTHS = 2


def whole_months(days: Iterable[date]) -> list[str]:
    """The months ("YYYY-MM") in which ``days`` (local days with flights) include every day: a
    month the data enters or leaves part way is not whole."""
    seen: dict[tuple[int, int], set[int]] = {}
    for d in days:
        seen.setdefault((d.year, d.month), set()).add(d.day)
    return [f"{y:04d}-{m:02d}" for (y, m), ds in sorted(seen.items()) if len(ds) == calendar.monthrange(y, m)[1]]


def auto_windows(months_with_data: list[str]) -> list[Window]:
    """``[train, validation, test]`` from the whole months the data covers ("YYYY-MM"): the last
    two test, the one before validation, every earlier one train (a gap inside a window stays in
    its range and holds no flights)."""
    months = sorted(set(months_with_data))
    if len(months) < AUTO_TEST_MONTHS + 2:
        have = f"{months[0]}..{months[-1]} ({len(months)})" if months else "none"
        raise TrainingSetError(f"split: auto needs at least {AUTO_TEST_MONTHS + 2} whole months of flights "
                               f"(train, validation, {AUTO_TEST_MONTHS} test); the data has {have}")
    test, validation, train = months[-AUTO_TEST_MONTHS:], months[-AUTO_TEST_MONTHS - 1], months[:-AUTO_TEST_MONTHS - 1]
    return [Window("train", train[0], train[-1]), Window("validation", validation, validation), Window("test", test[0], test[-1])]


def windows_from(split: dict[str, Any] | str, data_months: list[str] | None = None) -> list[Window]:
    """``[train, validation, test]`` windows from params' ``split``: a mapping of month ranges, or
    ``auto`` (``auto_windows`` of ``data_months``, the data's whole months)."""
    if split == AUTO:
        if data_months is None:
            raise TrainingSetError("split: auto takes its months from the data, and none were given")
        return auto_windows(data_months)
    if not isinstance(split, dict):
        raise TrainingSetError(f"split: expected train/validation/test month ranges or 'auto', got {split!r}")
    out = []
    for name in ("train", "validation", "test"):
        if name not in split:
            raise TrainingSetError(f"split: the {name!r} window is missing")
        first, last = (str(x) for x in split[name])
        out.append(Window(name, first, last))
    return out


def parse_window(name: str, text: str) -> Window:
    """A window from ``YYYY-MM..YYYY-MM`` (or one month)."""
    first, _, last = text.partition("..")
    return Window(name, first, last or first)

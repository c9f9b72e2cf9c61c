"""Named ranges of whole months (a split's train, validation and test windows, a monitoring
window): months are local scheduled months, "YYYY-MM", both ends included."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from skyprophet.core.errors import TrainingSetError

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Window:
    """A named range of local scheduled months, both ends included."""

    name: str
    first: str
    last: str

    def __post_init__(self) -> None:
        for m in (self.first, self.last):
            if not _MONTH.match(m):
                raise TrainingSetError(f"{self.name} window: {m!r} is not a YYYY-MM month")
        if self.first > self.last:
            raise TrainingSetError(f"{self.name} window: {self.first} is after {self.last}")

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"


def windows_from(split: dict[str, Any]) -> list[Window]:
    """``[train, validation, test]`` windows from params' ``split`` mapping."""
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

"""What an adapter hands to ingest: one source file's rows as read, the same rows in the contract's
shape, and the reason each unusable row is rejected."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from skyprophet.core.contract import Table, conform

Reasons = Sequence[tuple[str, "pd.Series[bool]"]]


def first_reason(index: pd.Index, reasons: Reasons) -> pd.Series:
    """Per row, the first reason whose condition holds (NA where none does)."""
    out = pd.Series(pd.NA, index=index, dtype="string")
    for text, bad in reasons:
        hit = bad.reindex(index).fillna(False).astype(bool) & out.isna()
        out[hit] = text
    return out


@dataclass
class Converted:
    """One source file: ``raw`` (as read), ``table`` (contract rows, same index) and ``reason``
    (why a row is rejected; NA where it is usable)."""

    source: str
    raw: pd.DataFrame
    table: pd.DataFrame
    reason: pd.Series

    @classmethod
    def of(cls, source: str, raw: pd.DataFrame, table: pd.DataFrame, reasons: Reasons, contract: Table) -> Converted:
        raw = raw.reset_index(drop=True)
        table = table.reset_index(drop=True)
        reason = first_reason(raw.index, [(t, b.reset_index(drop=True)) for t, b in reasons])
        return cls(source, raw, conform(contract, table), reason)

"""Entity keys of one flight, for any instant a request can name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from skyprophet.core.keys import FlightKeys, as_of_day, as_of_day_of


@pytest.mark.parametrize("epoch_s", [0, 1_388_408_400, 1_383_465_599, 1_383_465_600, -86_401])
def test_day_of_an_instant_is_the_columns_day(epoch_s: int) -> None:
    # Independently: pandas' own UTC date of the instant, through the column function.
    ts = pd.Series([pd.Timestamp(epoch_s, unit="s", tz="UTC")])
    assert as_of_day_of(epoch_s) == as_of_day(ts).iloc[0]


@pytest.mark.parametrize(
    ("iso", "lead_minutes"),
    [("0001-01-01T00:30:00+00:00", 120), ("9999-12-31T23:59:00-12:00", 0), ("0001-01-01T00:00:00+14:00", 120)],
)
def test_any_date_time_a_request_can_send_has_entity_rows(iso: str, lead_minutes: int) -> None:
    from datetime import datetime

    sched = int(datetime.fromisoformat(iso).timestamp())
    row = FlightKeys("UA", 1545, "EWR", "IAH", sched, 0).request_row(lead_minutes)
    expected = str(np.datetime64(sched - 60 * lead_minutes, "s").astype("datetime64[D]"))
    assert row["as_of_day"] == expected

"""A training set has exactly one row per entity row."""

from __future__ import annotations

import pandas as pd
import pytest

from skyprophet.core.config import FEATURE_SERVICE
from skyprophet.core.keys import ROW_ID, entity_frame

pytestmark = pytest.mark.integration


def test_one_row_per_entity_row(offline_store, canonical: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    labelled = canonical[~canonical["cancelled"]].sample(60_000, random_state=3)
    rows = entity_frame(labelled, lead_minutes=120)
    svc = offline_store.get_feature_service(FEATURE_SERVICE)
    df = offline_store.get_historical_features(entity_df=rows, features=svc, full_feature_names=True).to_df()
    assert len(df) == len(rows) == 60_000
    assert df[ROW_ID].is_unique and set(df[ROW_ID]) == set(rows[ROW_ID])
    # and the rows carry features: most flights have their carrier's last day of departures
    assert df["airline_stats__deps_1d"].notna().mean() > 0.99

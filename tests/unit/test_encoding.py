"""The service's encoding of feature dicts equals training's encoding of a frame of the same values."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from skyprophet.core.model import ModelSpec, encode_frame, encode_rows

SPEC = ModelSpec(
    feature_service="s", lead_minutes=120, feature_names=["a__x", "a__carrier", "b__y", "b__flag", "b__maker"], threshold=0.5,
    categories={"a__carrier": ["AA", "B6", "UA"], "b__maker": ["BOEING", "EMBRAER"]},
)

numbers = st.one_of(st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32))
codes = st.one_of(st.none(), st.sampled_from(["AA", "B6", "UA", "ZZ", "BOEING", "EMBRAER", ""]))
rows = st.lists(st.fixed_dictionaries({
    "a__x": numbers, "a__carrier": codes, "b__y": numbers, "b__flag": st.one_of(st.none(), st.booleans()), "b__maker": codes,
}), max_size=12)


@settings(max_examples=200, deadline=None)
@given(rows)
def test_online_encoding_equals_training_encoding(values: list[dict[str, object]]) -> None:
    frame = pd.DataFrame(values, columns=SPEC.feature_names, dtype=object)
    for name in SPEC.feature_names:
        if name not in SPEC.categories:
            frame[name] = pd.to_numeric(frame[name].astype("float64"))
    expected = encode_frame(frame, SPEC)
    got = encode_rows(values, SPEC)
    assert got.shape == (len(values), len(SPEC.feature_names))
    np.testing.assert_array_equal(got, expected)


def test_unknown_and_missing_categories_are_nan_and_order_is_the_spec_s() -> None:
    row = {"b__maker": "EMBRAER", "a__carrier": "ZZ", "a__x": 3, "b__flag": True}  # keys in another order, b__y absent
    got = encode_rows([row], SPEC)
    np.testing.assert_array_equal(got, [[3.0, np.nan, np.nan, 1.0, 1.0]])

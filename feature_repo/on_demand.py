"""On-demand view: request-time features, computed by ``skyprophet.core.transforms``.

Feast 0.67 drops field descriptions of on-demand views from the registry (and a declared
description then breaks the feature service's projection), so the as-of rule of each output
is stated in the view's description, one line per feature.
"""

import types
from collections.abc import Callable

import pandas as pd
from feast import FeatureView, Field, OnDemandFeatureView
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64

from feature_repo.data_sources import flight_request

AS_OF_RULES = {
    "local_hour": "local hour of the scheduled departure; from the request only",
    "day_of_week": "local day of week (0 = Monday); from the request only",
    "month": "local month; from the request only",
    "days_to_holiday": "days to the nearest US federal holiday; from the request (calendar is public)",
    "minutes_since_prev_dep": "scheduled departure minus the aircraft's previous departure as of T "
    "(plane_recent's rule and ttl)",
}


def flight_calendar_view(plane_recent: FeatureView) -> OnDemandFeatureView:
    """The request features of a flight, with the aircraft's previous departure from ``plane_recent``."""
    return on_demand_feature_view(
        name="flight_calendar",
        sources=[flight_request, plane_recent[["prev_dep_ts"]]],
        schema=[
            Field(name="local_hour", dtype=Int64),
            Field(name="day_of_week", dtype=Int64),
            Field(name="month", dtype=Int64),
            Field(name="days_to_holiday", dtype=Int64),
            Field(name="minutes_since_prev_dep", dtype=Float64),
        ],
        mode="pandas",
        description="Request-time features. " + "; ".join(f"{k}: {v}" for k, v in AS_OF_RULES.items()),
    )(_fresh(flight_calendar))


def _fresh(fn: Callable[[pd.DataFrame], pd.DataFrame]) -> types.FunctionType:
    """A new function object of the same code: Feast's decorator moves the function it is given
    into ``__main__`` (for dill), after which its source can no longer be found, so each view
    made in a process gets its own."""
    assert isinstance(fn, types.FunctionType)
    out = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    out.__module__, out.__qualname__, out.__doc__ = fn.__module__, fn.__qualname__, fn.__doc__
    out.__annotations__ = dict(fn.__annotations__)
    return out


def flight_calendar(inputs: pd.DataFrame) -> pd.DataFrame:
    # Feast rebuilds the UDF from its source text, without this module's globals: import here.
    import pandas as pd

    from skyprophet.core.transforms import request_features

    prev = pd.to_numeric(inputs["prev_dep_ts"], errors="coerce").astype("float64")
    out = request_features(
        inputs["sched_dep_epoch_s"].astype("int64").to_numpy(),
        inputs["utc_offset_min"].astype("int64").to_numpy(),
        prev.to_numpy(),
    )
    return pd.DataFrame(out, index=inputs.index)

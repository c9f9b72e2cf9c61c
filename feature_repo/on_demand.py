"""On-demand view: request-time features, computed by ``skyprophet.transforms``.

Feast 0.67 drops field descriptions of on-demand views from the registry (and a declared
description then breaks the feature service's projection), so the as-of rule of each output
is stated in the view's description, one line per feature.
"""

import pandas as pd
from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64

from feature_repo.data_sources import flight_request
from feature_repo.feature_views import plane_recent
AS_OF_RULES = {
    "local_hour": "local hour of the scheduled departure; from the request only",
    "day_of_week": "local day of week (0 = Monday); from the request only",
    "month": "local month; from the request only",
    "days_to_holiday": "days to the nearest US federal holiday; from the request (calendar is public)",
    "minutes_since_prev_dep": "scheduled departure minus the aircraft's previous departure as of T "
    "(plane_recent's rule and ttl)",
}


@on_demand_feature_view(
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
)
def flight_calendar(inputs: pd.DataFrame) -> pd.DataFrame:
    # Feast rebuilds the UDF from its source text, without this module's globals: import here.
    import pandas as pd

    from skyprophet.transforms import request_features

    prev = pd.to_numeric(inputs["prev_dep_ts"], errors="coerce").astype("float64")
    out = request_features(
        inputs["sched_dep_epoch_s"].astype("int64").to_numpy(),
        inputs["utc_offset_min"].astype("int64").to_numpy(),
        prev.to_numpy(),
    )
    return pd.DataFrame(out, index=inputs.index)

"""On-demand view: request-time features, computed by ``skyprophet.core.transforms``.

Feast 0.67 drops field descriptions of on-demand views from the registry (and a declared
description then breaks the feature service's projection), so the as-of rule of each output
is stated in the view's description, one line per feature.
"""

import types
from collections.abc import Callable

import pandas as pd
from feast import FeatureView, Field, OnDemandFeatureView, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64

from feature_repo.data_sources import flight_request, prediction_request

AS_OF_RULES = {
    "local_hour": "local hour of the scheduled departure; from the request only",
    "day_of_week": "local day of week (0 = Monday); from the request only",
    "month": "local month; from the request only",
    "days_to_holiday": "days to the nearest public holiday of the origin's country; from the request (calendar is public)",
    "minutes_since_prev_dep": "scheduled departure minus the aircraft's previous departure as of T "
    "(plane_recent's rule and ttl)",
}


TIMING_RULES = {
    **AS_OF_RULES,
    "lead_minutes": "scheduled departure minus the prediction time T, in minutes; from the request only",
}


CONTEXT_RULES = {
    **TIMING_RULES,
    "plane_age_years": "local year of the scheduled departure minus the aircraft's year of manufacture "
    "(plane_static, reference data); from the request and the registry",
}


_TYPES = {"minutes_since_prev_dep": Float64, "lead_minutes": Float64, "plane_age_years": Float64}  # the others are Int64


def _request_view(
    name: str, request: RequestSource, planes: list[FeatureView], rules: dict[str, str], udf: Callable[[pd.DataFrame], pd.DataFrame]
) -> OnDemandFeatureView:
    """An on-demand view of ``rules``' features from ``request`` and the aircraft's views (``planes``:
    ``plane_recent``'s previous departure, and ``plane_static``'s year of manufacture where given)."""
    return on_demand_feature_view(
        name=name,
        sources=[request, planes[0][["prev_dep_ts"]], *(p[["year_built"]] for p in planes[1:])],
        schema=[Field(name=k, dtype=_TYPES.get(k, Int64)) for k in rules],
        mode="pandas",
        description="Request-time features. " + "; ".join(f"{k}: {v}" for k, v in rules.items()),
    )(_fresh(udf))


def flight_timing_view(plane_recent: FeatureView) -> OnDemandFeatureView:
    """``flight_calendar``'s features and the lead (minutes from T to the scheduled departure),
    for models trained at several prediction times per flight."""
    return _request_view("flight_timing", prediction_request, [plane_recent], TIMING_RULES, flight_timing)


def flight_context_view(plane_recent: FeatureView, plane_static: FeatureView) -> OnDemandFeatureView:
    """``flight_timing``'s features and the aircraft's age at the flight's date (its build year alone
    means a different age in each year of a data set spanning several)."""
    return _request_view("flight_context", prediction_request, [plane_recent, plane_static], CONTEXT_RULES, flight_timing)


def flight_calendar_view(plane_recent: FeatureView) -> OnDemandFeatureView:
    """The request features of a flight, with the aircraft's previous departure from ``plane_recent``."""
    return _request_view("flight_calendar", flight_request, [plane_recent], AS_OF_RULES, flight_calendar)


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
        country=inputs["origin_country"].to_numpy() if "origin_country" in inputs else None,
    )
    return pd.DataFrame(out, index=inputs.index)


def flight_timing(inputs: pd.DataFrame) -> pd.DataFrame:
    # Feast rebuilds the UDF from its source text, without this module's globals: import here.
    import pandas as pd

    from skyprophet.core.transforms import request_features

    ints = {k: inputs[k].astype("int64").to_numpy() for k in ("sched_dep_epoch_s", "utc_offset_min", "as_of_epoch_s")}
    prev = pd.to_numeric(inputs["prev_dep_ts"], errors="coerce").astype("float64").to_numpy()
    country = inputs["origin_country"].to_numpy() if "origin_country" in inputs else None
    # flight_context's source adds the build year, and with it the plane's age
    built = pd.to_numeric(inputs["year_built"], errors="coerce").astype("float64").to_numpy() if "year_built" in inputs else None
    features = request_features(ints["sched_dep_epoch_s"], ints["utc_offset_min"], prev, ints["as_of_epoch_s"],
                                country=country, year_built=built)
    return pd.DataFrame(features, index=inputs.index)


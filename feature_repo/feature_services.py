"""Feature services: the versioned list of model inputs, for training and serving alike.

``flight_delay_v1`` is the model's input list. ``flight_delay_v1_online`` is derived from it,
not written again: the same views, with the on-demand view replaced by its source features,
for online reads that compute request features themselves after applying each view's ttl.
"""

from typing import Any

from feast import FeatureService

from feature_repo.feature_views import (
    airline_stats,
    airport_static,
    flight_history,
    origin_ops,
    plane_recent,
    plane_static,
    route_history,
)
from feature_repo.on_demand import flight_calendar

# A join-key map replaces the view's whole key list, so the day bucket is mapped explicitly.
_ORIGIN_NOW = {"airport": "origin", "as_of_day": "as_of_day"}
_ORIGIN = {"airport": "origin"}
_DEST = {"airport": "dest"}

_V1_VIEWS: list[Any] = [
    airline_stats,
    origin_ops.with_join_key_map(_ORIGIN_NOW),
    airport_static.with_name("origin_airport").with_join_key_map(_ORIGIN),
    airport_static.with_name("dest_airport").with_join_key_map(_DEST),
    flight_history,
    route_history,
    plane_static,
    plane_recent[["prev_dep_delay"]],
]

flight_delay_v1 = FeatureService(
    name="flight_delay_v1",
    features=[*_V1_VIEWS, flight_calendar],
    description="Inputs of the first delay model (2 h lead).",
    tags={"version": "1"},
)


def _with_odfv_sources(views: list[Any], odfvs: list[Any]) -> list[Any]:
    """``views`` with every on-demand source feature added to its view's projection."""
    out = list(views)
    for odfv in odfvs:
        for src in odfv.source_feature_view_projections.values():
            for i, v in enumerate(out):
                if v.projection.name_to_use() == src.name_to_use():
                    have = [f.name for f in v.projection.features]
                    extra = [f.name for f in src.features if f.name not in have]
                    out[i] = v[have + extra] if extra else v
                    break
    return out


flight_delay_v1_online = FeatureService(
    name="flight_delay_v1_online",
    features=_with_odfv_sources(_V1_VIEWS, [flight_calendar]),
    description="Derived from flight_delay_v1 for online reads: its views plus the inputs of its on-demand view.",
    tags={"version": "1", "derived_from": "flight_delay_v1"},
)

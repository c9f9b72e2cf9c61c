"""Every Feast object of the repo, for ``feast apply`` and for the project's own commands.

``feast apply`` reads this file only (see ``.feastignore``), so each object is imported once.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from feast import Entity, FeatureService, FeatureView, FileSource, OnDemandFeatureView, RequestSource

from feature_repo import data_sources, entities, feature_services, feature_views, on_demand
from feature_repo.data_sources import (  # noqa: F401  (collected by `feast apply`)
    airline_stats_source,
    airport_static_source,
    carrier_origin_recent_source,
    flight_history_source,
    flight_request,
    origin_ops_source,
    plane_recent_source,
    plane_static_source,
    route_history_source,
    route_static_source,
)
from feature_repo.entities import airline, airport, carrier_origin, day, flight, plane, route  # noqa: F401
from feature_repo.feature_services import (  # noqa: F401
    flight_delay_v1,
    flight_delay_v1_online,
    flight_delay_v2,
    flight_delay_v2_online,
)
from feature_repo.feature_views import (  # noqa: F401
    airline_stats,
    airport_static,
    carrier_origin_recent,
    flight_history,
    origin_ops,
    plane_recent,
    plane_static,
    route_history,
    route_static,
)
from feature_repo.on_demand import flight_calendar  # noqa: F401

_KINDS = (Entity, FileSource, RequestSource, FeatureView, OnDemandFeatureView, FeatureService)


def objects(processed_dir: Path | None = None) -> list[Any]:
    """All entities, sources, views and services; file sources re-pointed to ``processed_dir``.

    When re-pointed, the objects are deep-copied together so the references between them hold.
    """
    found: list[Any] = []
    for module in (entities, data_sources, feature_views, on_demand, feature_services):
        for name in sorted(vars(module)):
            obj = getattr(module, name)
            if isinstance(obj, _KINDS) and not any(obj is seen for seen in found):
                found.append(obj)
    if processed_dir is None:
        return found
    found = copy.deepcopy(found)
    for obj in found:
        if isinstance(obj, FileSource):
            obj.file_options.uri = str(Path(processed_dir) / Path(obj.path).name)
    return found

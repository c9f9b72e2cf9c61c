"""Every Feast object of the repo, made for a data folder and a grid step (no settings read here).

``objects`` is what the project's commands register (``pipelines.features.store.apply``);
``repo.py`` hands the same objects to the stock ``feast`` CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from feast.data_source import DataSource

from feature_repo.data_sources import Engine, flight_request, prediction_request
from feature_repo.entities import ENTITIES
from feature_repo.feature_services import feature_services
from feature_repo.feature_views import feature_views
from feature_repo.on_demand import flight_calendar_view, flight_context_view, flight_timing_view


def objects(processed_dir: Path, grid_minutes: int, engine: Engine = "duckdb") -> list[Any]:
    """Entities, sources, views, the on-demand view and the services over ``processed_dir``, with
    the sources of the offline ``engine`` (the same tables and views for each)."""
    views = feature_views(processed_dir, grid_minutes, engine)
    calendar = flight_calendar_view(views.plane_recent)
    timing = flight_timing_view(views.plane_recent)
    context = flight_context_view(views.plane_recent, views.plane_static)
    sources: list[DataSource] = [v.batch_source for v in views.all() if v.batch_source is not None]
    return [*ENTITIES, *sources, flight_request, prediction_request, *views.all(), calendar, timing, context,
            *feature_services(views, calendar, timing, context, processed_dir.parent / "prediction_log")]

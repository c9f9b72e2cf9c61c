"""The app factory: settings, lifespan (feature store, model, background refresh), routes, errors.

Run with ``uvicorn serving.main:create_app --factory`` (``make serve``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from serving import __version__
from serving.api.routes import admin, board, departures, health, monitor, predict
from serving.config import ServingSettings, get_serving_settings
from serving.inference import FeatureLookup, LiveClock, ModelHolder, sync
from serving.services import Services, Timetable
from serving.metrics import Metrics, MetricsMiddleware
from serving.monitoring import MonitorGauges
from serving.prediction_log import PredictionLogs
from serving.schemas import DEBUG_FIELDS, PredictRequest
from serving.shadow import Shadow
from skyprophet.adapters.departures import Departures, SnapshotDepartures

log = logging.getLogger(__name__)


def redis_client(settings: ServingSettings) -> Any:
    """A Redis (or Redis Cluster) client whose every call gives up after the configured timeout,
    without retries; None for the embedded store."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    timeout = settings.redis_timeout_ms / 1000
    if settings.online_store == "redis_cluster":
        from skyprophet.adapters.redis.cluster import cluster_client

        return cluster_client(settings.redis_cluster_nodes, socket_timeout=timeout, socket_connect_timeout=timeout,
                              retry=Retry(NoBackoff(), 0))
    if settings.online_store != "redis":
        return None
    return redis.Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


async def _refresh_forever(services: Services) -> None:
    while True:
        await asyncio.sleep(services.settings.model_refresh_s)
        try:
            await sync(services.models, services.lookup, services.metrics, services.logs)
            if services.shadow is not None:
                await asyncio.to_thread(services.shadow.sync)
        except Exception:  # keep refreshing whatever happens once
            log.exception("model refresh failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    from skyprophet.adapters.store import open_store

    settings: ServingSettings = app.state.settings
    store = await asyncio.to_thread(lambda: open_store(settings, online=settings.online_store, registry_ttl_s=60))
    # A cluster client reads the topology when made: the service does not start without it.
    client = await asyncio.to_thread(redis_client, settings)
    metrics: Metrics = app.state.metrics
    live = settings.live and client is not None
    lookup = FeatureLookup(store, client)
    timetable: Timetable | None = None
    if live:
        timetable = Departures(client, settings.stream_name)
    elif settings.snapshot:
        timetable = SnapshotDepartures(settings.canonical_path, lookup.held)
    logs = PredictionLogs(store, settings, metrics)
    services = Services(
        settings=settings, metrics=metrics, gauges=MonitorGauges(metrics, settings.reports_dir),
        lookup=lookup, models=ModelHolder(settings), logs=logs,
        clock=LiveClock(client, settings.stream_name, settings.grid_minutes) if live else None,
        departures=timetable, shadow=Shadow(settings, lookup, logs, metrics) if settings.challenger_alias else None,
    )
    app.state.services = services
    await sync(services.models, services.lookup, metrics, services.logs)
    if services.shadow is not None:
        await asyncio.to_thread(services.shadow.sync)
    task = asyncio.create_task(_refresh_forever(services))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if services.shadow is not None:
            await asyncio.to_thread(services.shadow.close)  # what is queued is scored and handed to the log
        await asyncio.to_thread(services.logs.close)  # what is buffered is written
        if client is not None:
            client.close()


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc if p != "body"]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def _json_safe(value: Any) -> Any:
    """``value`` as strict JSON can carry it: an error echoes the input, which may be NaN,
    Infinity or bytes that are not UTF-8 (each of which made the 422 itself fail)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value[:200]).decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    message = "; ".join(f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors[:5])
    return JSONResponse({"message": message, "detail": _json_safe(list(errors))}, status_code=422)


def _document_request_bodies(app: FastAPI, settings: ServingSettings) -> None:
    """Add the schemas of bodies that routes parse themselves (``/predict``) to the OpenAPI document,
    with this server's own limit on the number of flights, and its debug options only where this
    server accepts them (``SKYPROPHET_ALLOW_DEBUG``): what the document advertises, the server takes."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()  # FastAPI keeps it as app.openapi_schema
        request = PredictRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        request["properties"]["flights"]["maxItems"] = settings.max_flights
        if not settings.allow_debug:
            for name in DEBUG_FIELDS:
                request["properties"].pop(name)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(request.pop("$defs", {}))
        components["PredictRequest"] = request
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: ServingSettings | None = None) -> FastAPI:
    """The service, configured by ``settings`` (default: from the environment)."""
    settings = settings or get_serving_settings()
    app = FastAPI(
        title="SkyProphet",
        version=__version__,
        summary="Flight departure delay predictions from a Feast feature store and an MLflow-registered LightGBM model.",
        lifespan=lifespan,
    )
    app.state.settings = settings  # these two from the start (the middleware counts every request);
    app.state.metrics = Metrics()  # the rest is app.state.services, made by the lifespan
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.include_router(health.router)
    app.include_router(predict.router)
    app.include_router(departures.router)
    app.include_router(board.router)
    app.include_router(admin.router)
    app.include_router(monitor.router)
    _document_request_bodies(app, settings)
    return app

"""Service routes: greeting, liveness, readiness, metrics."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from serving.services import Services
from serving.deps import FeaturesDep, HolderDep, MetricsDep
from serving.inference import LiveClock
from serving.metrics import Metrics
from serving.schemas import Readiness
from skyprophet.core.errors import first_line

log = logging.getLogger(__name__)
router = APIRouter(tags=["service"])


@router.get("/")
async def root(request: Request) -> dict[str, Any]:
    """Name, version and links."""
    from serving import __version__

    return {
        "name": "SkyProphet",
        "version": __version__,
        "description": "likelihood that a scheduled flight departs more than 15 minutes late",
        "links": {"predict": "/predict", "departures": "/departures", "board": "/board", "docs": "/docs", "health": "/health",
                  "ready": "/ready", "metrics": "/metrics"},
    }


@router.get("/ping", response_class=PlainTextResponse)
async def ping() -> str:
    """pong (the HTTP floor)."""
    return "pong"


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


def _iso(seconds: int | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def _live_state(clock: LiveClock, max_age_minutes: int, metrics: Metrics, problems: list[str]) -> dict[str, Any]:
    """The clock, the processor's last tick and the lag between them; a problem when stale."""
    now, tick = clock.lag()
    lag = None if now is None or tick is None else (now - tick) / 60
    if now is None:
        problems.append(f"live: no clock at {clock.stream.name}:clock (is a replay running?)")
    elif tick is None:
        problems.append("live: the stream processor has written no tick yet (is `skyprophet live stream` running?)")
    else:
        assert lag is not None
        metrics.live_lag.set(lag * 60)
        if lag > max_age_minutes:
            problems.append(f"live: stale features, the processor's last tick is {lag:.0f} min behind the clock "
                            f"(SKYPROPHET_LIVE_MAX_AGE_MINUTES={max_age_minutes})")
    return {"clock": _iso(now), "last_tick": _iso(tick), "lag_minutes": lag}


@router.get("/ready", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "online store or model unavailable, or live features stale"}})
async def ready(request: Request, holder: HolderDep, lookup: FeaturesDep, metrics: MetricsDep) -> JSONResponse:
    """200 when the online store answers and a model is loaded (and, in live mode, the stream
    processor keeps up with the clock), 503 otherwise (with the reasons)."""
    problems: list[str] = []
    try:
        await asyncio.to_thread(lookup.ping)
    except Exception as exc:  # any failure means not ready
        problems.append(f"online store: {first_line(exc, with_type=True)}")
    clock = request.app.state.services.clock
    live = None
    if clock is not None and not problems:
        try:
            live = await asyncio.to_thread(_live_state, clock, request.app.state.settings.live_max_age_minutes, metrics, problems)
        except Exception as exc:
            problems.append(f"live: {first_line(exc, with_type=True)}")
    model = holder.current
    if model is None:
        problems.append(f"model: {holder.last_error or 'not loaded'}")
    reload = holder.last_reload
    # A failed check of the alias is a warning while a model serves: it keeps serving.
    warnings = [f"model reload {reload.outcome}: {reload.error}"] if reload is not None and not reload.ok and model else []
    body = {
        "status": "ready" if not problems else "unavailable", "problems": problems, "warnings": warnings,
        "model": model.ref() if model else None,
        "reload": None if reload is None else {
            "outcome": reload.outcome, "at": datetime.fromtimestamp(reload.at, timezone.utc).isoformat(),
            "version": reload.version, "error": reload.error,
        },
        "live": live,
        "challenger": None if (shadow := request.app.state.services.shadow) is None or shadow.holder.current is None
        else shadow.holder.current.ref(),
    }
    return JSONResponse(body, status_code=503 if problems else 200)


def _stream_counts(clock: LiveClock, metrics: Metrics) -> None:
    """The processor's counts into their gauge (left as they were while Redis does not answer)."""
    try:
        counts = clock.stream.counts()
    except Exception as exc:  # a scrape never fails for the stream's sake
        log.warning("metrics: stream counts unavailable: %s", first_line(exc, with_type=True))
        return
    for outcome, n in counts.items():
        metrics.stream_events.labels(outcome).set(n)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, m: MetricsDep) -> Response:
    services: Services = request.app.state.services
    await asyncio.to_thread(services.gauges.refresh)
    if services.clock is not None:
        await asyncio.to_thread(_stream_counts, services.clock, m)
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)

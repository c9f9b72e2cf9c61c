"""Service routes: greeting, liveness, readiness, metrics."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from serving.deps import FeaturesDep, HolderDep, MetricsDep
from serving.schemas import Readiness
from skyprophet.core.errors import first_line

router = APIRouter(tags=["service"])


@router.get("/")
async def root(request: Request) -> dict[str, Any]:
    """Name, version and links."""
    from serving import __version__

    return {
        "name": "SkyProphet",
        "version": __version__,
        "description": "likelihood that a scheduled flight departs more than 15 minutes late",
        "links": {"predict": "/predict", "docs": "/docs", "health": "/health", "ready": "/ready", "metrics": "/metrics"},
    }


@router.get("/ping", response_class=PlainTextResponse)
async def ping() -> str:
    """pong (the HTTP floor)."""
    return "pong"


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness, "description": "online store or model unavailable"}})
async def ready(holder: HolderDep, lookup: FeaturesDep) -> JSONResponse:
    """200 when the online store answers and a model is loaded, 503 otherwise (with the reasons)."""
    problems = []
    try:
        await asyncio.to_thread(lookup.ping)
    except Exception as exc:  # any failure means not ready
        problems.append(f"online store: {first_line(exc, with_type=True)}")
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
    }
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics", include_in_schema=False)
async def metrics(m: MetricsDep) -> Response:
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)

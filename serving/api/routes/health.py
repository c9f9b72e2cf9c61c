"""Service routes: greeting, liveness, readiness, metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST

from serving.deps import FeaturesDep, HolderDep, MetricsDep
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


@router.get("/ready", responses={503: {"description": "online store or model unavailable"}})
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
    body = {"status": "ready" if not problems else "unavailable", "problems": problems,
            "model": model.ref() if model else None}
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics", include_in_schema=False)
async def metrics(m: MetricsDep) -> Response:
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)

"""Admin routes (bearer token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from serving.deps import AdminDep, FeaturesDep, HolderDep, MetricsDep
from serving.inference import sync

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep],
                   responses={401: {"description": "no valid admin bearer token"}})


@router.post("/reload")
async def reload(holder: HolderDep, lookup: FeaturesDep, metrics: MetricsDep) -> dict[str, Any]:
    """Check the alias now and swap the model if it moved (a version that cannot serve is refused)."""
    outcome = await sync(holder, lookup, metrics)
    model = holder.current
    return {"changed": outcome.outcome == "loaded", "outcome": outcome.outcome,
            "version": model.version if model else None, "error": outcome.error}

"""Admin routes (bearer token)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from serving.deps import AdminDep, FeaturesDep, HolderDep, MetricsDep
from serving.inference import sync_model

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep])


@router.post("/reload")
async def reload(holder: HolderDep, lookup: FeaturesDep, metrics: MetricsDep) -> dict[str, Any]:
    """Check the alias now and swap the model if it moved."""
    changed = await asyncio.to_thread(sync_model, holder, lookup)
    model = holder.current
    metrics.record_model(model)
    return {"changed": changed, "version": model.version if model else None, "error": holder.last_error}

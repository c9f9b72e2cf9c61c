"""Dependencies of the routes: settings, the current model, the feature lookup, the admin check."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving.config import ServingSettings
from serving.inference import FeatureLookup, ModelHolder
from serving.metrics import Metrics
from skyprophet.adapters.tracking import LoadedModel


async def get_settings(request: Request) -> ServingSettings:
    settings: ServingSettings = request.app.state.settings
    return settings


async def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.models
    return holder


def current_model(holder: ModelHolder) -> LoadedModel:
    """The model to answer with; 503 while none is loaded."""
    model = holder.current
    if model is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"no model loaded: {holder.last_error or 'loading'}")
    return model


async def get_lookup(request: Request) -> FeatureLookup:
    lookup: FeatureLookup = request.app.state.lookup
    return lookup


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


_bearer = HTTPBearer(auto_error=False)


async def require_admin(
    settings: Annotated[ServingSettings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless the request carries the admin bearer token."""
    expected = settings.admin_token.get_secret_value().encode()
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), expected):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid admin bearer token is required",
                            headers={"WWW-Authenticate": "Bearer"})


SettingsDep = Annotated[ServingSettings, Depends(get_settings)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
FeaturesDep = Annotated[FeatureLookup, Depends(get_lookup)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
AdminDep = Depends(require_admin)

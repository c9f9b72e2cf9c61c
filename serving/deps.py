"""Dependencies of the routes: the process's services (settings, the current model, the feature
lookup, the metrics), the admin check."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from serving.config import ServingSettings
from serving.inference import FeatureLookup, ModelHolder
from serving.metrics import Metrics
from serving.services import Services
from skyprophet.adapters.tracking import LoadedModel


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_settings(request: Request) -> ServingSettings:
    settings: ServingSettings = request.app.state.settings
    return settings


async def get_holder(services: Annotated[Services, Depends(get_services)]) -> ModelHolder:
    return services.models


def current_model(holder: ModelHolder) -> LoadedModel:
    """The model to answer with; 503 while none is loaded."""
    model = holder.current
    if model is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"no model loaded: {holder.last_error or 'loading'}")
    return model


async def get_lookup(services: Annotated[Services, Depends(get_services)]) -> FeatureLookup:
    return services.lookup


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


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[ServingSettings, Depends(get_settings)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
FeaturesDep = Annotated[FeatureLookup, Depends(get_lookup)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
AdminDep = Depends(require_admin)

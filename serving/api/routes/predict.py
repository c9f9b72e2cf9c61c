"""POST /predict: delay probabilities for flights given by their keys."""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from serving.config import ServingSettings
from serving.deps import FeaturesDep, ModelDep
from serving.metrics import Metrics
from serving.inference import score
from serving.schemas import PredictRequest, PredictResponse
from skyprophet.keys import flight_id
from skyprophet.model import top_factors

router = APIRouter(tags=["predict"])


def _json_value(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


@router.post("/predict", response_model=PredictResponse, responses={503: {"description": "online store or model unavailable"}})
async def predict(req: PredictRequest, request: Request, model: ModelDep, lookup: FeaturesDep) -> Response:
    """Delay probability (departure > 15 min late) for each flight, at the model's threshold."""
    # Settings and metrics straight from the app state: each extra dependency costs ~40 us here.
    settings: ServingSettings = request.app.state.settings
    metrics: Metrics = request.app.state.metrics
    if len(req.flights) > settings.max_flights:
        raise RequestValidationError([{
            "type": "too_long", "loc": ("body", "flights"),
            "msg": f"at most {settings.max_flights} flights per request (got {len(req.flights)})", "input": None,
        }])
    if (req.debug or req.as_of is not None) and not settings.allow_debug:
        raise RequestValidationError([{
            "type": "forbidden", "loc": ("body", "debug" if req.debug else "as_of"),
            "msg": "debug options are disabled on this server", "input": None,
        }])
    flights = [f.keys() for f in req.flights]
    try:
        scored = score(model, lookup, flights, req.explain, req.as_of)
    except RedisError as exc:
        metrics.lookups.labels("error").inc()
        return JSONResponse({"detail": f"online feature store unavailable: {type(exc).__name__}"}, status_code=503)
    metrics.lookups.labels("ok").inc()
    spec = model.spec
    predictions = []
    for i, (keys, ff) in enumerate(zip(flights, scored.features, strict=True)):
        p = float(scored.probabilities[i])
        item: dict[str, Any] = {
            "flight_id": flight_id(keys.carrier, keys.flight_number),
            "delay_probability": round(p, 6),
            "delayed": p >= spec.threshold,
            "threshold": spec.threshold,
            "missing_features": ff.missing,
            "stale_features": ff.stale,
        }
        if scored.contributions is not None:
            item["top_factors"] = top_factors(spec, ff.values, scored.contributions[i], settings.top_factors)
        if req.debug:
            item["features"] = {k: _json_value(v) for k, v in ff.values.items()}
        metrics.missing.inc(len(ff.missing))
        metrics.stale.inc(len(ff.stale))
        predictions.append(item)
    metrics.flights.inc(len(flights))
    body = {"model": {"name": model.name, "version": model.version, "alias": model.alias}, "predictions": predictions}
    return Response(orjson.dumps(body), media_type="application/json")

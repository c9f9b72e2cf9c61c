"""POST /predict: delay probabilities for flights given by their keys."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from redis.exceptions import RedisError

from serving.config import ServingSettings
from serving.deps import current_model
from serving.inference import FeatureLookup, ModelHolder, score
from serving.metrics import Metrics
from serving.schemas import PredictRequest, PredictResponse
from skyprophet.core.features import nan_to_none
from skyprophet.core.model import top_factors

router = APIRouter(tags=["predict"])


# The body is parsed by the route itself: pydantic-core validates the raw JSON in one pass
# (~3 us for one flight), where FastAPI's body parameter and dependencies cost ~150 us a request.
# The OpenAPI document still describes the body (serving.main adds the schemas).
BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
    }
}


def parse_request(body: bytes) -> PredictRequest:
    """The validated request; a ``RequestValidationError`` (422) naming the fields otherwise."""
    try:
        return PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@router.post(
    "/predict", response_model=PredictResponse, openapi_extra=BODY_DOC,
    responses={503: {"description": "online store or model unavailable"}},
)
async def predict(request: Request) -> Response:
    """Delay probability (departure > 15 min late) for each flight, at the model's threshold."""
    req = parse_request(await request.body())
    state = request.app.state
    settings: ServingSettings = state.settings
    metrics: Metrics = state.metrics
    holder: ModelHolder = state.models
    lookup: FeatureLookup = state.lookup
    model = current_model(holder)
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
            "flight_id": keys.flight_id,
            "delay_probability": round(p, 6),
            "delayed": p >= spec.threshold,
            "threshold": spec.threshold,
            "missing_features": ff.missing,
            "stale_features": ff.stale,
        }
        if scored.contributions is not None:
            item["top_factors"] = top_factors(spec, ff.values, scored.contributions[i], settings.top_factors)
        if req.debug:
            item["features"] = {k: nan_to_none(v) for k, v in ff.values.items()}
        metrics.missing.inc(len(ff.missing))
        metrics.stale.inc(len(ff.stale))
        predictions.append(item)
    metrics.flights.inc(len(flights))
    body = {"model": model.ref(), "predictions": predictions}
    return Response(orjson.dumps(body), media_type="application/json")

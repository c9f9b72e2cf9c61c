"""POST /predict: delay probabilities for flights given by their keys."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from redis.exceptions import RedisError

from serving.config import ServingSettings
from serving.deps import current_model
from serving.inference import FeatureLookup, LiveClock, ModelHolder, score
from serving.metrics import Metrics
from serving.schemas import ErrorResponse, PredictRequest, PredictResponse, Unavailable
from skyprophet.core.features import nan_to_none
from skyprophet.core.keys import FlightKeys
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


class TooLarge(Exception):
    """A request body over ``max_body_bytes`` (answered 413)."""

    def __init__(self, limit: int):
        super().__init__(f"request body over {limit} bytes (SKYPROPHET_MAX_BODY_BYTES)")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read no further than ``limit`` bytes (``TooLarge`` past it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_request(body: bytes) -> PredictRequest:
    """The validated request, strictly (no ``0`` for ``false``, no ``"12"`` for ``12``); a
    ``RequestValidationError`` (422) naming the fields otherwise."""
    try:
        return PredictRequest.model_validate_json(body, strict=True)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def _not_due(keys: FlightKeys, threshold: float, lead_minutes: int, now: datetime, window_minutes: int) -> dict[str, Any]:
    """A flight outside live mode's window: its status and why, no probability."""
    t = keys.sched_dep_epoch_s - 60 * lead_minutes
    off = (t - now.timestamp()) / 60
    when = f"{off:.0f} min after" if off > 0 else f"{-off:.0f} min before"
    return {
        "flight_id": keys.flight_id, "status": "not_due", "delay_probability": None, "delayed": None, "threshold": threshold,
        "coverage": 0.0, "reliable": False, "missing_features": [], "stale_features": [], "feature_age_s": {},
        "reason": (f"its prediction time (scheduled departure - {lead_minutes} min, "
                   f"{datetime.fromtimestamp(t, timezone.utc):%Y-%m-%d %H:%M} UTC) is {when} the clock's now "
                   f"({now:%Y-%m-%d %H:%M} UTC); live mode scores a flight within {window_minutes} min of its prediction time"),
    }


ERRORS = {
    413: {"model": ErrorResponse, "description": "request body over SKYPROPHET_MAX_BODY_BYTES"},
    422: {"model": ErrorResponse, "description": "invalid request: the message names each field and problem"},
    503: {"model": Unavailable, "description": "online store or model unavailable"},
}


@router.post("/predict", response_model=PredictResponse, openapi_extra=BODY_DOC, responses=ERRORS)  # type: ignore[arg-type]
async def predict(request: Request) -> Response:
    """Delay probability (departure > 15 min late) for each flight, at the model's threshold.

    Each flight also carries its input coverage and whether it is reliable; with
    SKYPROPHET_REFUSE_UNRELIABLE an unreliable flight is refused (status and reason, no probability).
    """
    state = request.app.state
    settings: ServingSettings = state.settings
    try:
        req = parse_request(await read_body(request, settings.max_body_bytes))
    except TooLarge as exc:
        return JSONResponse({"message": str(exc), "detail": [{"loc": ["body"], "msg": str(exc), "type": "too_large"}]},
                            status_code=413)
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
    spec = model.spec
    clock: LiveClock | None = getattr(state, "clock", None) if req.as_of is None else None
    try:
        as_of, due = req.as_of, [True] * len(flights)
        if clock is not None:  # live mode: as of the replay's now, for the flights due now
            now_s = clock.now()
            if now_s is None:
                return JSONResponse({"detail": f"live mode: no clock at {clock.stream.name}:clock (is a replay running?)"},
                                    status_code=503)
            as_of = datetime.fromtimestamp(now_s, timezone.utc)
            due = [clock.due(k, spec.lead_minutes, now_s) for k in flights]
        scored = score(model, lookup, [k for k, d in zip(flights, due, strict=True) if d], req.explain, as_of)
    except RedisError as exc:
        metrics.lookups.labels("error").inc()
        return JSONResponse({"detail": f"online feature store unavailable: {type(exc).__name__}"}, status_code=503)
    metrics.lookups.labels("ok").inc()
    n_inputs = len(spec.feature_names)
    predictions = []
    ages: dict[str, int] = {}  # per view, the oldest row served in this request
    i = -1
    for keys, is_due in zip(flights, due, strict=True):
        if not is_due:
            assert as_of is not None
            predictions.append(_not_due(keys, spec.threshold, spec.lead_minutes, as_of, settings.grid_minutes))
            continue
        i += 1
        ff = scored.features[i]
        for view, age in ff.ages.items():
            if age is not None and age > ages.get(view, -1):
                ages[view] = age
        coverage = 1.0 - len(ff.missing) / n_inputs
        reliable = coverage >= settings.min_coverage
        answered = reliable or not settings.refuse_unreliable
        p = float(scored.probabilities[i])
        item: dict[str, Any] = {
            "flight_id": keys.flight_id,
            "status": "ok" if answered else "refused",
            "delay_probability": round(p, 6) if answered else None,
            "delayed": p >= spec.threshold if answered else None,
            "threshold": spec.threshold,
            "coverage": round(coverage, 4),
            "reliable": reliable,
            "missing_features": ff.missing,
            "stale_features": ff.stale,
            "feature_age_s": ff.ages,
        }
        if not answered:
            item["reason"] = (f"input coverage {coverage:.0%} is below {settings.min_coverage:.0%}: "
                              f"{len(ff.missing)} of {n_inputs} inputs missing or stale")
        elif scored.contributions is not None:
            item["top_factors"] = top_factors(spec, ff.values, scored.contributions[i], settings.top_factors)
        if req.debug:
            item["features"] = {k: nan_to_none(v) for k, v in ff.values.items()}
        metrics.missing.inc(len(ff.missing))
        metrics.stale.inc(len(ff.stale))
        if not reliable:
            metrics.unreliable.labels(item["status"]).inc()
        predictions.append(item)
    metrics.flights.inc(len(flights))
    metrics.record_ages(ages)
    body: dict[str, Any] = {"model": model.ref(), "predictions": predictions}
    if clock is not None:
        body["as_of"] = as_of.isoformat() if as_of else None
    return Response(orjson.dumps(body), media_type="application/json")

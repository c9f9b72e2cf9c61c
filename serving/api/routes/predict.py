"""POST /predict: delay probabilities for flights given by their keys."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from serving.services import Services
from serving.api.predictions import ServiceUnavailable, predict_keys
from serving.deps import current_model
from serving.prediction_log import request_id
from serving.schemas import DEBUG_FIELDS, ErrorResponse, PredictRequest, PredictResponse, Unavailable

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
    services: Services = request.app.state.services
    settings = services.settings
    try:
        req = parse_request(await read_body(request, settings.max_body_bytes))
    except TooLarge as exc:
        return JSONResponse({"message": str(exc), "detail": [{"loc": ["body"], "msg": str(exc), "type": "too_large"}]},
                            status_code=413)
    model = current_model(services.models)
    if len(req.flights) > settings.max_flights:
        raise RequestValidationError([{
            "type": "too_long", "loc": ("body", "flights"),
            "msg": f"at most {settings.max_flights} flights per request (got {len(req.flights)})", "input": None,
        }])
    if not settings.allow_debug and (given := [n for n in DEBUG_FIELDS if n in req.model_fields_set]):
        raise RequestValidationError([{
            "type": "forbidden", "loc": ("body", name),
            "msg": "debug options are disabled on this server (and absent from its OpenAPI document)", "input": None,
        } for name in given])
    flights = [f.keys() for f in req.flights]
    rid = request_id(request.headers.get("x-request-id"))
    try:
        predictions, as_of = predict_keys(services, model, flights, req.explain, req.debug, req.as_of, log_as=rid)
    except ServiceUnavailable as exc:
        return JSONResponse({"detail": str(exc)}, status_code=503)
    body: dict[str, Any] = {"model": model.ref(), "predictions": predictions}
    if as_of is not None and req.as_of is None:  # live mode's clock, or a snapshot's instant
        body["as_of"] = as_of.isoformat()
    return Response(orjson.dumps(body), media_type="application/json", headers={"X-Request-ID": rid})

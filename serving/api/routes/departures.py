"""GET /departures: the coming departures of an origin (live mode), each with its prediction."""

from __future__ import annotations

import asyncio

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from serving.services import Services
from serving.api.predictions import ServiceUnavailable, predict_keys
from serving.deps import current_model
from serving.schemas import DeparturesResponse, Unavailable
from skyprophet.core.keys import FlightKeys, flight_id, flight_number
from skyprophet.core.windows import DELAYED_AFTER_MIN

router = APIRouter(tags=["predict"])


def _local(epoch_s: int, offset_min: int) -> str:
    tz = timezone(timedelta(minutes=offset_min))
    return datetime.fromtimestamp(epoch_s, tz).isoformat()


def _outcome(o: dict[str, Any] | None, offset_min: int, delayed_after: float) -> dict[str, Any] | None:
    if o is None:
        return None
    if o.get("cancelled"):
        return {"cancelled": True, "actual_departure": None, "delay_minutes": None, "delayed": None}
    return {"cancelled": False, "actual_departure": _local(int(o["actual"]), offset_min), "delay_minutes": o["delay"],
            "delayed": o["delay"] > delayed_after}


@router.get(
    "/departures",
    response_model=DeparturesResponse,
    responses={409: {"description": "neither live nor snapshot mode"},
               503: {"model": Unavailable, "description": "Redis, the clock or the model unavailable"}},
)
async def departures(
    request: Request,
    origin: Annotated[str, Query(pattern=r"^[A-Z]{3}$", description="IATA airport code, e.g. EWR")],
    hours: Annotated[float, Query(gt=0, le=24, description="flights scheduled in the next this many hours")] = 6,
    past_hours: Annotated[float, Query(ge=0, le=6, description="also the flights of the last this many hours, with outcomes")] = 0,
    explain: Annotated[bool, Query(description="top factors of each scored flight")] = False,
) -> Response:
    """The timetable of ``origin`` by scheduled departure: the live stream's (flights known 24 h
    ahead), or in snapshot mode the schedule as of the instant the online store holds. Each upcoming
    flight with its prediction (as ``POST /predict`` scores it without ``as_of``), each flight with
    its outcome once it has departed or been cancelled."""
    services: Services = request.app.state.services
    board = services.departures
    if board is None:
        return JSONResponse({"detail": "GET /departures needs live mode (SKYPROPHET_LIVE=true: the stream's timetable) or "
                                       "snapshot mode (SKYPROPHET_SNAPSHOT=true: the schedule as of the instant the store holds)"},
                            status_code=409)
    model = current_model(services.models)
    try:
        now_s, listed = await asyncio.to_thread(board.listed_now, origin, int(past_hours * 3600), int(hours * 3600))
        if now_s is None:
            raise ServiceUnavailable(board.no_clock)
        upcoming = [f for f in listed if f["sched"] > now_s and f["outcome"] is None]
        keys = [FlightKeys(f["carrier"], flight_number(f["flight_number"]), f["origin"], f["dest"], int(f["sched"]),
                           int(f["utc_offset_min"]), f.get("tailnum")) for f in upcoming]
        # scored as of the instant listed, whose outcomes are known (none: the flights have not left)
        read: tuple[int, list[dict[str, Any] | None]] = (now_s, [None] * len(keys))
        predictions, _ = predict_keys(services, model, keys, explain, False, None, read) if keys else ([], None)
    except RedisError as exc:
        return JSONResponse({"detail": f"online feature store unavailable: {type(exc).__name__}"}, status_code=503)
    except ServiceUnavailable as exc:
        return JSONResponse({"detail": str(exc)}, status_code=503)
    by_id = {id(f): p for f, p in zip(upcoming, predictions, strict=True)}
    rows = []
    for f in listed:
        off = int(f["utc_offset_min"])
        rows.append({
            "flight_id": flight_id(f["carrier"], flight_number(f["flight_number"])), "carrier": f["carrier"],
            "flight_number": flight_number(f["flight_number"]),
            "origin": f["origin"], "dest": f["dest"], "tailnum": f.get("tailnum"), "scheduled_departure": _local(int(f["sched"]), off),
            "prediction": by_id.get(id(f)), "outcome": _outcome(f["outcome"], off, DELAYED_AFTER_MIN),
        })
    body = {"as_of": datetime.fromtimestamp(now_s, timezone.utc).isoformat(), "origin": origin, "model": model.ref(), "departures": rows}
    return Response(orjson.dumps(body), media_type="application/json")

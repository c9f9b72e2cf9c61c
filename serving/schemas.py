"""Request and response schemas of the prediction API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from skyprophet.core.keys import FlightKeys, FlightNumber


def _whole_float_as_int(value: Any) -> Any:
    """``12.0`` as ``12`` (JSON Schema counts it an integer); anything else is left to strict validation."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")
_AWARE: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def _date_time(value: Any) -> datetime:
    """A date-time from ISO 8601 text with a UTC offset, and nothing else: pydantic, strict or
    not, would read ``"1388408400"`` as seconds since the epoch, which the schema's ``date-time``
    format does not allow."""
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        raise ValueError("should be an ISO 8601 date-time with a UTC offset, e.g. 2013-12-30T08:00:00-05:00")
    try:
        return _AWARE.validate_python(value)
    except ValidationError as exc:
        raise ValueError(exc.errors(include_url=False)[0]["msg"]) from None


DateTime = Annotated[AwareDatetime, PlainValidator(_date_time), WithJsonSchema({"type": "string", "format": "date-time"})]


class FlightQuery(BaseModel):
    """One flight by its keys: the scheduled departure in local time at the origin, with its offset."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"carrier": "UA", "flight_number": 1545, "origin": "EWR", "dest": "IAH",
                      "scheduled_departure": "2013-12-30T08:00:00-05:00", "tailnum": "N14228"}]
    })

    carrier: str = Field(pattern=r"^[A-Z0-9]{2}$", description="IATA airline code, e.g. UA")
    # JSON Schema's integer includes 12.0: a whole float is one.
    flight_number: Annotated[FlightNumber, BeforeValidator(_whole_float_as_int)] = Field(description="e.g. 1545 or \"1545A\"")
    origin: str = Field(pattern=r"^[A-Z]{3}$", description="IATA airport code, e.g. EWR")
    dest: str = Field(pattern=r"^[A-Z]{3}$", description="IATA airport code, e.g. IAH")
    scheduled_departure: DateTime = Field(description="ISO 8601 with a UTC offset, local to the origin")
    tailnum: str | None = Field(default=None, pattern=r"^[A-Z0-9]{2,7}$", description="aircraft registration, e.g. N14228")

    def keys(self) -> FlightKeys:
        """The entity keys and request-time values the feature lookup takes."""
        offset = self.scheduled_departure.utcoffset()
        return FlightKeys(
            carrier=self.carrier, flight_number=str(self.flight_number), origin=self.origin, dest=self.dest,
            sched_dep_epoch_s=int(self.scheduled_departure.timestamp()),
            utc_offset_min=int(offset.total_seconds() // 60) if offset is not None else 0,
            tailnum=self.tailnum,
        )


DEBUG_FIELDS = ("debug", "as_of")  # accepted only where the server allows debug options


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flights: list[FlightQuery] = Field(min_length=1, description="1 to SKYPROPHET_MAX_FLIGHTS flights (1,000 by default)")
    explain: bool = Field(default=False, description="add each flight's top factors (LightGBM pred_contrib); costs ~1-2 ms a flight")
    debug: bool = Field(default=False, description="add the feature values that were scored")
    as_of: DateTime | None = Field(
        default=None,
        description="debug only: read features as of this instant instead of each flight's scheduled departure - lead",
    )


class Factor(BaseModel):
    feature: str
    value: float | str | None
    contribution: float = Field(description="log-odds contribution to the score")


class FlightPrediction(BaseModel):
    flight_id: str
    status: Literal["ok", "refused", "not_due", "departed", "cancelled", "beyond_horizon"] = Field(
        description="refused: the flight's input coverage is below SKYPROPHET_MIN_COVERAGE and the server is set to "
        "refuse unreliable flights (SKYPROPHET_REFUSE_UNRELIABLE); not_due (live mode, a model trained at one lead): the "
        "flight's prediction time is not within one grid step of the clock's now; for a model trained at several leads, "
        "as of the clock (or as_of): departed (it has left, or its scheduled departure is not after now), cancelled, "
        "beyond_horizon (more than the longest lead ahead). No probability then")
    lead_minutes: float | None = Field(
        default=None, description="minutes from the instant the flight was scored as of to its scheduled departure")
    reason: str | None = Field(default=None, description="why the flight was refused or not scored")
    delay_probability: float | None = Field(description="null when refused")
    delayed: bool | None = Field(description="delay_probability >= threshold; null when refused")
    threshold: float
    coverage: float = Field(ge=0, le=1, description="share of the model's inputs that were present (neither missing nor stale)")
    reliable: bool = Field(description="coverage >= SKYPROPHET_MIN_COVERAGE (0.8 by default)")
    missing_features: list[str]
    stale_features: list[str]
    feature_age_s: dict[str, int | None] = Field(
        description="per time-varying feature view: seconds from its stored row's event time to the instant the features "
        "were read (null: no row stored); reference views (airports, planes, routes) have no age")
    top_factors: list[Factor] | None = None
    features: dict[str, Any] | None = None


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str | None


class PredictResponse(BaseModel):
    model: ModelRef
    predictions: list[FlightPrediction]
    as_of: str | None = Field(default=None, description="the instant the features were read as of when the request did not "
                              "name one: live mode's clock, or in snapshot mode the instant the online store holds")


class Outcome(BaseModel):
    cancelled: bool
    actual_departure: str | None = Field(description="local time at the origin, with its offset")
    delay_minutes: float | None
    delayed: bool | None = Field(description="departed more than 15 minutes late")


class Departure(BaseModel):
    flight_id: str
    carrier: str
    flight_number: str = Field(description="as the airline writes it, e.g. 1545 or 1545A")
    origin: str
    dest: str
    tailnum: str | None
    scheduled_departure: str = Field(description="local time at the origin, with its offset")
    prediction: FlightPrediction | None = Field(description="null once the flight has departed, been cancelled or its time passed")
    outcome: Outcome | None = Field(description="null until the flight departs or is cancelled")


class DeparturesResponse(BaseModel):
    as_of: str = Field(description="the clock's now")
    origin: str
    model: ModelRef
    departures: list[Departure]


class ErrorResponse(BaseModel):
    """A request the service cannot take (4xx): ``message`` names the problem, ``detail`` lists each one."""

    message: str
    detail: list[dict[str, Any]]


class Unavailable(BaseModel):
    """A dependency (online store, model) is down (503); retry later."""

    detail: str


class ReloadState(BaseModel):
    outcome: Literal["loaded", "unchanged", "failed", "refused"]
    at: str
    version: str | None
    error: str | None


class LiveState(BaseModel):
    clock: str | None = Field(description="the replay's simulated now")
    last_tick: str | None = Field(description="the last grid point whose rows the stream processor wrote")
    lag_minutes: float | None = Field(description="clock - last tick, simulated minutes; not ready above SKYPROPHET_LIVE_MAX_AGE_MINUTES")


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    problems: list[str]
    warnings: list[str] = Field(description="e.g. a failed or refused model reload while the loaded model keeps serving")
    model: ModelRef | None
    reload: ReloadState | None
    live: LiveState | None = Field(default=None, description="live mode only")
    challenger: ModelRef | None = Field(default=None, description="the model scored in the shadow (the challenger alias), "
                                        "if one is registered")

"""What one server process holds, typed: made once by the lifespan as ``app.state.services`` and
reached by the routes through ``serving.deps.ServicesDep``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from serving.config import ServingSettings
    from serving.inference import FeatureLookup, LiveClock, ModelHolder
    from serving.metrics import Metrics
    from serving.monitoring import MonitorGauges
    from serving.prediction_log import PredictionLogs
    from serving.shadow import Shadow


class Timetable(Protocol):
    """The flights listed by ``GET /departures`` and the board: the live stream's
    (``skyprophet.adapters.departures.Departures``) or snapshot mode's (``SnapshotDepartures``)."""

    no_clock: str  # why there is no "now" when listed_now finds none

    def origins(self) -> list[str]: ...

    def listed_now(self, origin: str, back_s: int, ahead_s: int) -> tuple[int | None, list[dict[str, Any]]]: ...


@dataclass(frozen=True)
class Services:
    settings: ServingSettings
    metrics: Metrics
    gauges: MonitorGauges  # the newest monitoring report's figures, refreshed on a scrape
    lookup: FeatureLookup  # online features
    models: ModelHolder  # the production model, hot-swapped
    logs: PredictionLogs  # the prediction log of each feature service served
    clock: LiveClock | None = None  # live mode: the replay's clock
    departures: Timetable | None = None  # live or snapshot mode: the timetable and outcomes
    shadow: Shadow | None = None  # the challenger alias scored off the request path

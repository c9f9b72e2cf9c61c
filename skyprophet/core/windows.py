"""The windows of the time-varying features: one definition for the batch build and the stream.

Minutes throughout. ``pipelines.features.build`` computes them over the whole history at once;
``pipelines.live.features`` keeps them up to date event by event. A test replays the whole year
through the second and compares every row with the first.
"""

import numpy as np
import numpy.typing as npt

DAY = 1440
DELAYED_AFTER_MIN = 15.0  # a departure is delayed when its delay is above this

AIRLINE_WINDOWS = {"1d": DAY, "7d": 7 * DAY, "3h": 180}
ORIGIN_SCHED_WINDOW = 60
ORIGIN_DEP_WINDOW = 120
BACKLOG_WINDOW = 180
LATE_AFTER_MIN = 15
FLIGHT_WINDOW = 28 * DAY
CARRIER_ORIGIN_WINDOW = 120
PLANE_ACTIVE = 7 * DAY

WEATHER_COLUMNS = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib")
WEATHER_DELAY = 60  # an observation labelled hour H is available at H + 1 h
WEATHER_MAX_AGE = 120  # and stays valid for two hours after that


def delayed(delay_min: npt.ArrayLike, after_min: float = DELAYED_AFTER_MIN) -> npt.NDArray[np.int8]:
    """The label: 1 where the departure delay is above ``after_min`` minutes (params.yaml's
    ``label_delay_minutes`` for the model), else 0 (a missing delay gives 0: callers mask it)."""
    return (np.asarray(delay_min, dtype=np.float64) > after_min).astype(np.int8)

"""The windows of the time-varying features: one definition for the batch build and the stream.

Minutes throughout. ``pipelines.features.build`` computes them over the whole history at once;
``pipelines.live.features`` keeps them up to date event by event. A test replays the whole year
through the second and compares every row with the first.
"""

from typing import Any

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

# The aircraft's inbound leg: which leg comes before a flight is known with the timetable, a day
# ahead; the tail's previous leg counts as inbound when it lands at the flight's origin and was
# scheduled to leave at most a day before the flight.
ROTATION_KNOWN = DAY
INBOUND_MAX_GAP = DAY
INBOUND_COLUMNS = ("inbound_departed", "inbound_dep_delay", "inbound_arrived", "inbound_arr_delay", "inbound_sched_turn",
                   "inbound_slack")

WEATHER_COLUMNS = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib")
WEATHER_DELAY = 60  # an observation labelled hour H is available at H + 1 h
WEATHER_MAX_AGE = 120  # and stays valid for two hours after that


def delayed(delay_min: npt.ArrayLike, after_min: float = DELAYED_AFTER_MIN) -> npt.NDArray[np.int8]:
    """The label: 1 where the departure delay is above ``after_min`` minutes (params.yaml's
    ``label_delay_minutes`` for the model), else 0 (a missing delay gives 0: callers mask it)."""
    return (np.asarray(delay_min, dtype=np.float64) > after_min).astype(np.int8)


def inbound_values(sched_turn: npt.ArrayLike, dep_delay: npt.ArrayLike, arr_delay: npt.ArrayLike) -> tuple[npt.NDArray[Any], ...]:
    """The inbound-leg features (``INBOUND_COLUMNS``) from what is known of the leg: its departure
    delay (NaN while it has not left) and arrival delay (NaN while it has not landed), and the
    scheduled turn (the flight's scheduled departure - the leg's scheduled arrival, minutes). The
    slack is the turn left once the latest known delay is carried: the arrival's, else the
    departure's, else none."""
    turn, dep, arr = (np.asarray(x, dtype=np.float64) for x in (sched_turn, dep_delay, arr_delay))
    departed, arrived = ~np.isnan(dep) | ~np.isnan(arr), ~np.isnan(arr)
    carried = np.where(arrived, arr, np.where(departed, dep, 0.0))
    return departed.astype(np.int64), dep, arrived.astype(np.int64), arr, turn, turn - carried

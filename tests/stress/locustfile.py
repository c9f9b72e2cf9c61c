"""Load test: realistic keyed requests drawn from the real schedule (`make stress-test`).

Each simulated client asks about flights scheduled in the day after the online store's
materialization time (SKYPROPHET_STRESS_FROM, default 2013-12-30 12:00 UTC), mostly one at a
time, sometimes a few together, sometimes with explanations, like a departures board would.
Any non-200 answer is a failure.
"""

from __future__ import annotations

import os
import random

import pandas as pd
from locust import FastHttpUser, between, task

from skyprophet.core.config import get_settings
from skyprophet.core.keys import flight_query

START = pd.Timestamp(os.environ.get("SKYPROPHET_STRESS_FROM", "2013-12-30T12:00:00+00:00"))


def _schedule() -> list[dict[str, object]]:
    flights = pd.read_parquet(get_settings().canonical_path)
    sched = flights["sched_dep_utc"]
    day = flights[(sched >= START + pd.Timedelta(hours=2)) & (sched < START + pd.Timedelta(hours=26))]
    return [flight_query(r) for r in day.itertuples()]


SCHEDULE = _schedule()


class Traveller(FastHttpUser):
    wait_time = between(0.05, 0.5)

    @task(8)
    def one_flight(self) -> None:
        self.client.post("/predict", json={"flights": [random.choice(SCHEDULE)]}, name="/predict 1")

    @task(2)
    def a_few_flights(self) -> None:
        self.client.post("/predict", json={"flights": random.sample(SCHEDULE, 5)}, name="/predict 5")

    @task(1)
    def explained(self) -> None:
        self.client.post("/predict", json={"flights": [random.choice(SCHEDULE)], "explain": True}, name="/predict explain")

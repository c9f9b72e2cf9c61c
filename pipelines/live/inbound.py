"""The stream's side of the ``inbound_leg`` table (``pipelines.features.inbound`` is the batch's):
each aircraft's legs as the timetable announces them, what is known of each, and the flights they
are inbound to, advanced event by event and written at every grid tick.

The same rules as the batch build: a flight's inbound leg is the latest leg of its tail scheduled
before it, landing at its origin, scheduled at most ``INBOUND_MAX_GAP`` before it and alone at its
time; the rotation is known from the flight's ``planned`` event (a day ahead); a row is written at
a tick g <= the flight's scheduled departure when something about its inbound leg became known
since the last tick, and at every UTC midnight in between. Values come from ``inbound_values``.
State is bounded: legs more than two days old are forgotten.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from skyprophet.core.windows import DAY, INBOUND_MAX_GAP, inbound_values

NAN = float("nan")
Leg = tuple[int, str, str, int]  # scheduled minute, identity, destination, scheduled arrival minute (-1: unknown)


class Rotations:
    def __init__(self) -> None:
        self.legs: dict[str, list[Leg]] = {}  # tail -> its announced legs, by scheduled time
        self.known: dict[str, list[float]] = {}  # leg identity -> [departure delay, arrival delay] (NaN until known)
        self.inbound: dict[str, tuple[str, int, float]] = {}  # flight -> (its inbound leg, its scheduled minute, scheduled turn)
        self.next: dict[str, list[str]] = {}  # leg -> the flights it is inbound to
        self.changed: set[str] = set()

    def planned(self, d: dict[str, Any], ident: str) -> None:
        """A flight announced by the timetable: find its inbound leg, then list it among its tail's legs."""
        tail = d.get("tailnum")
        if not tail:
            return
        sched = int(d["sched"]) // 60
        sched_arr = int(d["sched_arr"]) // 60 if d.get("sched_arr") is not None else -1
        legs = self.legs.setdefault(str(tail), [])
        k = bisect.bisect_left(legs, sched, key=lambda leg: leg[0]) - 1  # the latest leg of an earlier time
        if k >= 0 and not (k > 0 and legs[k - 1][0] == legs[k][0]):
            at, leg, dest, leg_arr = legs[k]
            if dest == d["origin"] and sched - at <= INBOUND_MAX_GAP:
                self.inbound[ident] = (leg, sched, float(sched - leg_arr) if leg_arr >= 0 else NAN)
                self.next.setdefault(leg, []).append(ident)
                self.changed.add(ident)
        bisect.insort(legs, (sched, ident, str(d["dest"]), sched_arr), key=lambda leg: leg[0])
        self.known.setdefault(ident, [NAN, NAN])

    def outcome(self, ident: str, which: int, delay: float) -> None:
        """A leg's departure (``which`` 0) or arrival (1) delay became known."""
        known = self.known.get(ident)
        if known is None:
            return
        known[which] = delay
        self.changed.update(self.next.get(ident, ()))

    def rows(self, g: int, midnight: bool, add: Callable[[str, int, tuple[Any, ...]], None]) -> None:
        """The rows of tick g (minutes): the flights whose inbound leg changed, all of them at midnight."""
        keys = set(self.inbound) if midnight else self.changed & self.inbound.keys()
        for f in sorted(keys):
            leg, sched, turn = self.inbound[f]
            if g > sched:
                continue
            dep, arr = self.known[leg]
            departed, dep_delay, arrived, arr_delay, sched_turn, slack = inbound_values(turn, dep, arr)
            add(f, g, (int(departed), float(dep_delay), int(arrived), float(arr_delay), float(sched_turn), float(slack)))

    def advance(self, g: int) -> None:
        """After tick g: forget what no later row can need (at midnights: flights gone, legs two days old)."""
        self.changed.clear()
        if g % DAY:
            return
        for f in [f for f, (_, sched, _) in self.inbound.items() if sched < g]:
            del self.inbound[f]
        horizon = g - 2 * DAY
        for tail in list(self.legs):
            legs = self.legs[tail]
            cut = bisect.bisect_left(legs, horizon, key=lambda leg: leg[0])
            for _, ident, _, _ in legs[:cut]:
                self.known.pop(ident, None)
                self.next.pop(ident, None)
            if cut == len(legs):
                del self.legs[tail]
            elif cut:
                del legs[:cut]

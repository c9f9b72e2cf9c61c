"""Airports: a user's airports file completed from ``airportsdata`` (IATA and ICAO codes, time
zone, coordinates, elevation in feet and country for nearly every airport)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd

from skyprophet.core.contract import AIRPORTS, conform, empty

SAME_DEG = 0.1  # about 10 km: one airport's coordinates in two references
EARTH_RADIUS_MI = 3958.7613  # mean radius (IUGG)
Coordinates = TypeVar("Coordinates", pd.Series, np.ndarray)


@lru_cache(maxsize=2)
def load(code: Literal["IATA", "ICAO"]) -> dict[str, Any]:
    """``airportsdata``'s entries by IATA or ICAO code (loaded once)."""
    import airportsdata  # deferred: its tables take a moment to load

    return dict(airportsdata.load(code))


def great_circle_mi(lat1: Coordinates, lon1: Coordinates, lat2: Coordinates, lon2: Coordinates) -> Coordinates:
    """Haversine distance in statute miles."""
    p1, p2 = np.radians(lat1.astype(float)), np.radians(lat2.astype(float))
    dp, dl = p2 - p1, np.radians(lon2.astype(float) - lon1.astype(float))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MI * np.arcsin(np.sqrt(a))


def _rows(entries: Iterable[dict[str, Any]]) -> pd.DataFrame:
    rows = [{"faa": e["iata"] or e["lid"] or e["icao"], "icao": e["icao"], "name": e["name"], "lat": e["lat"],
             "lon": e["lon"], "alt": e["elevation"], "tzone": e["tz"], "country": e["country"]} for e in entries]
    return conform(AIRPORTS, pd.DataFrame(rows)) if rows else empty(AIRPORTS)


def reference(iata: Iterable[str]) -> pd.DataFrame:
    """The reference rows of the IATA codes ``airportsdata`` knows (the others are left out)."""
    known = load("IATA")
    return _rows(known[c] for c in dict.fromkeys(iata) if isinstance(c, str) and c in known)


def iata_of_icao(icao: Iterable[str]) -> dict[str, str]:
    """ICAO code -> IATA code, for the ICAO codes ``airportsdata`` knows with an IATA code."""
    known = load("ICAO")
    return {c: known[c]["iata"] for c in dict.fromkeys(icao) if isinstance(c, str) and c in known and known[c]["iata"]}


def country_of(iata: Iterable[str]) -> dict[str, str]:
    """IATA code -> ISO country code, for the codes ``airportsdata`` knows."""
    known = load("IATA")
    return {c: known[c]["country"] for c in dict.fromkeys(iata) if isinstance(c, str) and c in known}


def complete(user: pd.DataFrame | None, needed: Iterable[str]) -> pd.DataFrame:
    """``user``'s airports (they win), then the reference's rows of the ``needed`` codes ``user``
    lacks; ICAO code and country filled from the reference where ``user`` has none."""
    needed = list(dict.fromkeys(needed))
    if user is None or user.empty:
        return reference(needed)
    user = user.copy()
    for col in AIRPORTS.names:
        if col not in user.columns:
            user[col] = pd.NA
    ref = reference(list(user["faa"].dropna()) + needed).drop_duplicates("faa").set_index("faa")
    # a code names the same airport only where the coordinates agree (FAA ids of small US fields
    # are IATA codes of airports elsewhere)
    same = ((user["faa"].map(ref["lat"]) - user["lat"]).abs() < SAME_DEG) & ((user["faa"].map(ref["lon"]) - user["lon"]).abs() < SAME_DEG)
    for col in ("icao", "country"):
        user[col] = user[col].fillna(user["faa"].map(ref[col]).where(same))
    missing = ref[~ref.index.isin(set(user["faa"])) & ref.index.isin(set(needed))].reset_index()
    if missing.empty:
        return user
    return pd.concat([user, missing[user.columns.intersection(missing.columns)]], ignore_index=True)

"""A national-shaped data set, generated, in the formats real data comes in (BTS on-time files, IEM
ASOS weather): for measuring scale and testing correctness only, never for claims about model
quality.

Its structure is the one that matters for the work, not for the model: real US airports (their
time zones and coordinates, from ``airportsdata``) with heavy-tailed traffic (at 360 airports the
busiest has about 5 % of the flights); aircraft that fly the same rotation every day, a chain of
legs from their home airport and back, so each departure but the first of the day has an inbound
arrival at its origin; departure delays partly carried over from leg to leg (an aircraft leaves no
sooner than a minimum turn after its inbound arrives), more of them in the evening and in bad
weather; hourly weather at the busier airports only. Deterministic by seed.

A cancelled leg's aircraft is taken to be ferried on time (the chain goes on). Nothing is diverted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.sources.airports import great_circle_mi, load, reference
from pipelines.sources.localtime import local_to_utc, utc_offset_min
from skyprophet.core.contract import FLIGHTS, conform

# The busiest US airports (2019 passengers), busiest first; beyond them others of airportsdata's.
BUSIEST = (
    "ATL LAX ORD DFW DEN JFK SFO SEA LAS MCO EWR CLT PHX IAH MIA BOS MSP FLL DTW PHL LGA BWI SLC DCA SAN IAD TPA "
    "MDW BNA HNL PDX DAL AUS STL HOU SMF MSY RDU SJC SNA OAK MCI RSW SAT CLE IND PIT CVG CMH PBI JAX OGG ANC "
    "BDL ONT BUR ABQ OMA MKE"
).split()
MIN_TURN_MIN = 25  # an aircraft leaves no sooner than this after its inbound arrives
TURNS_MIN = np.array([35, 45, 55, 70, 90])
CRUISE_MPH = 460.0
TAXI_MIN = 25.0
DAY_MIN = 17 * 60  # an aircraft's day: first departure to last arrival at most this


@dataclass(frozen=True)
class Shape:
    """How big: airports, carriers, about how many flights over how many days from ``start``."""

    airports: int = 40
    carriers: int = 8
    flights: int = 50_000
    start: date = date(2019, 1, 1)
    days: int = 14
    seed: int = 7
    weather_share: float = 0.5  # the busiest airports' share that report weather
    cancelled_share: float = 0.015


def traffic_weights(n: int) -> np.ndarray:
    """Heavy-tailed traffic shares of ``n`` airports, busiest first (Zipf-like, 1 / (i + 8)^1.3)."""
    w = (np.arange(n) + 8.0) ** -1.3
    return w / w.sum()


def airports(n: int, seed: int) -> pd.DataFrame:
    """``n`` real US airports in the contract's airports columns, busiest first."""
    ref = load("IATA")
    codes = [c for c in BUSIEST if c in ref][:n]
    if len(codes) < n:
        rest = sorted(c for c, a in ref.items() if a["country"] == "US" and a["icao"].startswith("K") and c not in codes)
        codes += list(np.random.default_rng(seed).choice(rest, n - len(codes), replace=False))
    return reference(codes)


@dataclass
class _Rotations:
    """Each aircraft's daily rotation: legs (origin, dest indexes), scheduled offsets from the
    first departure, block minutes, which legs it flies."""

    home: np.ndarray
    origin: np.ndarray  # [aircraft, leg]
    dest: np.ndarray
    offset_min: np.ndarray
    block_min: np.ndarray
    flying: np.ndarray  # [aircraft, leg]: the leg is flown
    first_local_min: np.ndarray  # first departure, minutes after local midnight at home
    carrier: np.ndarray


def _block_min(ap: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Scheduled gate-to-gate minutes from airport ``a`` to ``b`` (cruise plus taxi, to 5 min)."""
    lat, lon = ap["lat"].to_numpy(), ap["lon"].to_numpy()
    return np.round((great_circle_mi(lat[a], lon[a], lat[b], lon[b]) / CRUISE_MPH * 60 + TAXI_MIN) / 5) * 5


def _rotations(shape: Shape, ap: pd.DataFrame, rng: np.random.Generator) -> _Rotations:
    """A rotation an aircraft: from home, legs to airports drawn by traffic, home again once its
    planned number of legs is flown or another leg and the way home would end past ``DAY_MIN``."""
    w = traffic_weights(len(ap))
    planned = rng.choice([2, 4, 4, 6, 6, 8], size=max(1, round(shape.flights / shape.days / 3.4)))  # 3.4 legs flown a day
    n, width = len(planned), int(planned.max())
    home = rng.choice(len(ap), size=n, p=w)
    origin = np.zeros((n, width), dtype=np.int64)
    dest = np.zeros((n, width), dtype=np.int64)
    offset = np.zeros((n, width))
    block = np.zeros((n, width))
    flying = np.zeros((n, width), dtype=bool)
    here, t, done = home.copy(), np.zeros(n), np.zeros(n, dtype=bool)
    for leg in range(width):
        nxt = rng.choice(len(ap), size=n, p=w)
        same = nxt == here
        while same.any():  # never to where it is
            nxt[same] = rng.choice(len(ap), size=int(same.sum()), p=w)
            same = nxt == here
        late = t + _block_min(ap, here, nxt) + TURNS_MIN.max() + _block_min(ap, nxt, home) > DAY_MIN
        go_home = (leg > 0) & ((leg >= planned - 1) | late)
        nxt = np.where(go_home, home, nxt)
        fly = ~done & (nxt != here)
        origin[:, leg], dest[:, leg], offset[:, leg], flying[:, leg] = here, nxt, t, fly
        block[:, leg] = _block_min(ap, here, nxt)
        t = np.where(fly, t + block[:, leg] + rng.choice(TURNS_MIN, size=n), t)
        here = np.where(fly, nxt, here)
        done |= go_home
    return _Rotations(home, origin, dest, offset, block, flying, 330 + rng.integers(0, 180, size=n) // 5 * 5,
                      rng.choice(shape.carriers, size=n, p=traffic_weights(shape.carriers)))


def _bad_weather(shape: Shape, n_airports: int, rng: np.random.Generator) -> np.ndarray:
    """A latent 0..1 badness per airport and hour (an AR(1) process, mostly fair)."""
    hours = shape.days * 24 + 48
    x = np.zeros((n_airports, hours))
    noise = rng.normal(0, 0.35, size=(n_airports, hours))
    for h in range(1, hours):
        x[:, h] = 0.93 * x[:, h - 1] + noise[:, h]
    return np.clip((x - 1.0) / 2.0, 0, 1)


def flights(shape: Shape) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(flights in UTC with what each source file says, airports, hourly weather)."""
    rng = np.random.default_rng(shape.seed)
    ap = airports(shape.airports, shape.seed)
    rot = _rotations(shape, ap, rng)
    bad = _bad_weather(shape, len(ap), rng)
    start_s = int(pd.Timestamp(shape.start, tz="UTC").timestamp()) - 86_400
    days = pd.date_range(shape.start, periods=shape.days, freq="D")
    n, width = rot.origin.shape
    # each aircraft's first departure of each day: its local clock time at home, to UTC
    local = pd.Series(np.repeat(days.to_numpy(), n) + np.tile(rot.first_local_min, len(days)).astype("timedelta64[m]"))
    tz = pd.Series(np.tile(ap["tzone"].to_numpy()[rot.home], len(days)))
    first = (local_to_utc(local, tz).astype("int64") // 10**6).to_numpy().reshape(len(days), n)  # seconds (us -> s)
    offset = utc_offset_min(pd.Series(pd.Timestamp(shape.start, tz="UTC"), index=ap.index), ap["tzone"]).to_numpy()
    parts = []
    for d in range(len(days)):
        ready = np.full(n, -np.inf)
        for leg in range(width):
            flying = rot.flying[:, leg]
            sched = first[d] + rot.offset_min[:, leg] * 60
            hour = ((sched - start_s) // 3600).astype(np.int64).clip(0, bad.shape[1] - 1)
            weather = bad[rot.origin[:, leg], hour]
            local_hour = ((sched // 60 + offset[rot.origin[:, leg]]) % 1440) // 60  # standard time: near enough here
            evening = (local_hour >= 16) & (local_hour <= 22)
            late = rng.random(n) < 0.10 + 0.08 * evening + 0.5 * weather
            own = np.where(late, rng.exponential(30 + 60 * weather), rng.normal(-3, 4))
            actual = np.maximum(sched + np.round(own) * 60, ready)
            arrive = actual + (rot.block_min[:, leg] + np.round(rng.normal(-3, 6, size=n))) * 60
            cancelled = rng.random(n) < shape.cancelled_share
            parts.append(pd.DataFrame({
                "aircraft": np.arange(n), "leg": leg, "origin_i": rot.origin[:, leg], "dest_i": rot.dest[:, leg],
                "carrier_i": rot.carrier, "sched_s": sched, "actual_s": actual, "block_min": rot.block_min[:, leg],
                "arrive_s": arrive, "cancelled": cancelled,
            })[flying])
            ready = np.where(cancelled, sched + rot.block_min[:, leg] * 60, arrive) + MIN_TURN_MIN * 60
    out = pd.concat(parts, ignore_index=True)
    return _labelled(out, ap, shape), ap, _weather_table(shape, ap, bad, start_s)


def _carrier_codes(n: int) -> list[str]:
    real = ["WN", "DL", "AA", "UA", "OO", "YX", "B6", "MQ", "OH", "AS", "9E", "YV", "NK", "EV", "F9", "G4", "HA"]
    return (real + [f"Q{i}" for i in range(max(0, n - len(real)))])[:n]


def _labelled(legs: pd.DataFrame, ap: pd.DataFrame, shape: Shape) -> pd.DataFrame:
    codes = np.array(_carrier_codes(shape.carriers))
    utc = lambda s: pd.to_datetime(s.astype("int64"), unit="s", utc=True)  # noqa: E731
    cancelled = legs["cancelled"].to_numpy()
    delay = ((legs["actual_s"] - legs["sched_s"]) // 60).where(~cancelled)
    sched_arr = legs["sched_s"] + legs["block_min"] * 60
    lat, lon = ap["lat"].to_numpy(), ap["lon"].to_numpy()
    o, d = legs["origin_i"].to_numpy(), legs["dest_i"].to_numpy()
    return conform(FLIGHTS, pd.DataFrame({
        "carrier": codes[legs["carrier_i"].to_numpy()],
        "flight_number": ((legs["aircraft"] * 8 + legs["leg"]) % 9999 + 1).astype(str),
        "tailnum": "N" + (legs["aircraft"] + 100).astype(str) + "SY",
        "origin": ap["faa"].to_numpy()[o], "dest": ap["faa"].to_numpy()[d],
        "sched_dep_utc": utc(legs["sched_s"]), "dep_delay_min": delay.astype("float64"), "cancelled": cancelled,
        "distance": np.round(great_circle_mi(lat[o], lon[o], lat[d], lon[d])),
        "sched_arr_utc": utc(sched_arr),
        "arr_delay_min": ((legs["arrive_s"] - sched_arr) // 60).where(~cancelled).astype("float64"),
        "diverted": False,
    })).sort_values(["sched_dep_utc", "carrier", "origin"], kind="stable").reset_index(drop=True)


def _weather_table(shape: Shape, ap: pd.DataFrame, bad: np.ndarray, start_s: int) -> pd.DataFrame:
    """Hourly observations (the contract's weather columns) at the busiest ``weather_share`` of airports."""
    rng = np.random.default_rng(shape.seed + 1)
    k = max(1, round(len(ap) * shape.weather_share))
    hours = np.arange(24, 24 + shape.days * 24)
    rows = []
    for i in range(k):
        b = bad[i, hours]
        temp = np.round(50 + 20 * np.sin(hours / 24 * 2 * np.pi) + rng.normal(0, 3, len(hours)), 1)
        rows.append(pd.DataFrame({
            "origin": ap["faa"].iloc[i],
            "time_hour": pd.to_datetime((start_s + hours * 3600).astype("int64"), unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "temp": temp, "dewp": np.round(temp - 5 - 10 * (1 - b), 1), "humid": np.round(60 + 35 * b, 2),
            "wind_dir": (rng.integers(0, 36, len(hours)) * 10).astype("float64"),
            "wind_speed": np.round(5 + 25 * b + rng.normal(0, 2, len(hours)).clip(-4, 4), 1),
            "wind_gust": np.where(b > 0.5, np.round(30 + 20 * b, 1), np.nan),
            "precip": np.round(0.3 * b * (b > 0.3), 2), "pressure": np.round(1015 - 20 * b, 1),
            "visib": np.round(10 - 9 * b, 2),
        }))
    return pd.concat(rows, ignore_index=True)


def _local(utc: pd.Series, tz: pd.Series) -> pd.Series:
    """UTC instants on their row's local wall clock (naive)."""
    return utc.dt.tz_localize(None) + pd.to_timedelta(utc_offset_min(utc.fillna(pd.Timestamp(0, tz="UTC")), tz), unit="min")


def bts_input(flights: pd.DataFrame, ap: pd.DataFrame) -> pd.DataFrame:
    """Generated flights as the BTS writer takes them (``export.bts_frame``): local dates and
    ``hhmm`` times at each end, delays in minutes, blank times for a cancelled flight."""
    tz = ap.set_index("faa")["tzone"]
    o_tz, d_tz = flights["origin"].map(tz), flights["dest"].map(tz)
    dep = _local(flights["sched_dep_utc"], o_tz)
    actual = _local(flights["sched_dep_utc"] + pd.to_timedelta(flights["dep_delay_min"].fillna(0), unit="min"), o_tz)
    arr = _local(flights["sched_arr_utc"], d_tz)
    arrived = _local(flights["sched_arr_utc"] + pd.to_timedelta(flights["arr_delay_min"].fillna(0), unit="min"), d_tz)
    hhmm = lambda t: t.dt.hour * 100 + t.dt.minute  # noqa: E731
    flown = ~flights["cancelled"]
    return pd.DataFrame({
        "year": dep.dt.year, "month": dep.dt.month, "day": dep.dt.day, "carrier": flights["carrier"],
        "flight": flights["flight_number"], "tailnum": flights["tailnum"], "origin": flights["origin"], "dest": flights["dest"],
        "sched_dep_time": hhmm(dep), "dep_time": hhmm(actual).where(flown), "dep_delay": flights["dep_delay_min"],
        "sched_arr_time": hhmm(arr), "arr_time": hhmm(arrived).where(flown), "arr_delay": flights["arr_delay_min"],
        "distance": flights["distance"],
    })


def write(shape: Shape, out_dir: Path, style: str = "transtats") -> pd.DataFrame:
    """The generated data set as BTS files (one a month), IEM ASOS weather, airports, airlines and
    a sources file naming them, in ``out_dir``; returns the flights as generated (UTC)."""
    from pipelines.sources.export import iem_asos_frame, write_bts

    table, ap, weather = flights(shape)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_bts(bts_input(table, ap), out_dir / "bts", style, zipped=style == "monthly")
    iem_asos_frame(weather).to_csv(out_dir / "asos.csv", index=False)
    ap.to_csv(out_dir / "airports.csv", index=False)
    codes = _carrier_codes(shape.carriers)
    pd.DataFrame({"carrier": codes, "name": [f"Generated carrier {c}" for c in codes]}).to_csv(out_dir / "airlines.csv", index=False)
    (out_dir / "sources.yaml").write_text(
        f"# generated by `skyprophet data synth` ({shape.airports} airports, {len(table)} flights, seed {shape.seed}):\n"
        "# for measuring scale and testing correctness only, never for claims about model quality\n"
        f"flights:\n  format: bts\n  paths: [bts/*.{'zip' if style == 'monthly' else 'csv'}]\n"
        "weather:\n  format: iem-asos\n  paths: [asos.csv]\nairports: airports.csv\nairlines: airlines.csv\n")
    return table

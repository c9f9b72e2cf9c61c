"""Online equals offline at T for every feature of the current service (flight_delay_v3: v2's, a superset
of flight_delay_v1, and the lead), on SQLite, Redis and a Redis Cluster; and of flight_delay_v4 (the
plane's age from the request and the registry) on SQLite and Redis."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from typing import Literal

import pandas as pd
import pytest
import redis

from pipelines.features.store import apply, materialize
from skyprophet.core.config import FEATURE_SERVICE, Settings
from skyprophet.core.keys import entity_frame
from skyprophet.adapters.online import FlightKeys, OnlineFeatures
from skyprophet.adapters.store import open_store
from skyprophet.adapters.redis import cluster_client
from tests.conftest import historical, normalized as _norm, redis_db_url

pytestmark = pytest.mark.integration
# a grid point, an off-grid instant on a DST change day, and 45 min after the dense rows end
AS_OF = [
    datetime(2013, 7, 15, 18, 0, tzinfo=timezone.utc),
    datetime(2013, 11, 3, 6, 7, tzinfo=timezone.utc),
    datetime(2014, 1, 2, 6, 15, tzinfo=timezone.utc),
]


def _rows(canonical: pd.DataFrame, t: datetime) -> pd.DataFrame:
    """≥ 200 key combinations: flights leaving around T + 2 h, random ones, and unknown keys."""
    ts = pd.Timestamp(t)
    near = canonical[(canonical["sched_dep_utc"] - ts).abs() <= pd.Timedelta(hours=4)]
    pick = pd.concat([near.head(150), canonical.sample(200, random_state=int(ts.timestamp()) % 1000)])
    unknown = pick.head(5).assign(
        carrier="ZZ", flight_number="9999", tailnum="", flight_row_id=lambda d: d["flight_row_id"] + 10_000_000
    )
    pick = pd.concat([pick, unknown]).drop_duplicates("flight_row_id")
    rows = entity_frame(pick, as_of=ts)
    return rows.reset_index(drop=True)


def _check_parity(settings: Settings, online: Literal["sqlite", "redis", "redis_cluster"], tmp: Path,
                  canonical: pd.DataFrame, services: tuple[str, ...] = (FEATURE_SERVICE,), as_of: list[datetime] = AS_OF) -> int:
    store = open_store(settings, online=online, data_dir=tmp)
    apply(store, settings)
    readers = [(s, OnlineFeatures(store, service_name=s)) for s in services]
    if online == "redis":  # the service's direct pipelined reader must agree too
        client = redis.Redis.from_url(settings.redis_url)
        readers += [(s, OnlineFeatures(store, service_name=s, redis_client=client)) for s in services]
    if online == "redis_cluster":  # the direct reader, by node
        readers += [(s, OnlineFeatures(store, service_name=s, redis_client=cluster_client(settings.redis_cluster_nodes)))
                    for s in services]
    stale_seen = 0
    for t in as_of:
        # static views are loaded whatever the start: their single rows predate any window
        materialize(store, t, start=t - timedelta(days=2), views=None, chunk=timedelta(days=1), show_progress=False)
        rows = _rows(canonical, t)
        assert len(rows) >= 200
        offline = {s: historical(store, rows, s) for s in services}
        if "flight_delay_v4" in offline:  # the age, computed here from the local date and v3's build year
            local_year = pd.to_datetime(rows["sched_dep_epoch_s"] + rows["utc_offset_min"] * 60, unit="s").dt.year
            age = local_year - offline[FEATURE_SERVICE]["plane_static__year_built"]
            got = offline["flight_delay_v4"]["flight_context__plane_age_years"]
            assert age.notna().sum() > 100 and got.isna().equals(age.isna())
            assert (got[age.notna()] == age[age.notna()]).all()
        keys = [
            FlightKeys(r.carrier, int(r.flight_id[len(r.carrier):]), r.origin, r.dest,
                       int(r.sched_dep_epoch_s), int(r.utc_offset_min), r.tailnum or None)
            for r in rows.itertuples()
        ]
        for service, reader in readers:
            off = offline[service]
            got = reader.read(keys, as_of=[t] * len(keys))
            # One flight at a time takes the direct reader's small-read path: same values.
            for i in range(0, len(keys), 40):
                (single,) = reader.read([keys[i]], as_of=[t])
                assert single.values == got[i].values and single.stale == got[i].stale
            for i, ff in enumerate(got):
                stale_seen += len(ff.stale)
                for name in reader.feature_names:
                    a, b = _norm(off.at[i, name]), _norm(ff.values[name])
                    how = "direct" if reader._redis else "feast"
                    assert a == b, f"{online} {service} {how} T={t} row {i} {name}: offline {a!r} online {b!r}"
    return stale_seen


def test_parity_sqlite(settings: Settings, tmp_path: Path, canonical: pd.DataFrame) -> None:
    assert _check_parity(settings, "sqlite", tmp_path, canonical, (FEATURE_SERVICE, "flight_delay_v4")) > 0


def test_parity_redis_cluster(settings: Settings, tmp_path: Path, canonical: pd.DataFrame, redis_cluster: str) -> None:
    s = settings.model_copy(update={"redis_cluster_nodes": redis_cluster})
    assert _check_parity(s, "redis_cluster", tmp_path, canonical) > 0
    # the rows are spread over the three masters
    client = cluster_client(redis_cluster)
    sizes = [client.get_redis_connection(n).dbsize() for n in client.get_primaries()]
    assert len(sizes) == 3 and min(sizes) > 0, sizes


def test_parity_redis(settings: Settings, tmp_path: Path, canonical: pd.DataFrame, redis_url: str) -> None:
    test_url = redis_db_url(redis_url, "parity")
    redis.Redis.from_url(test_url).flushdb()
    s = settings.model_copy(update={"redis_url": test_url})
    assert _check_parity(s, "redis", tmp_path, canonical, (FEATURE_SERVICE, "flight_delay_v4")) > 0
    assert redis.Redis.from_url(test_url).dbsize() > 0

"""The online store on a three-master Redis Cluster: the same values as on one Redis (through Feast
and through the service's reader), and /predict answering right while slots move between masters."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pandas as pd
import pytest
import redis

from serving.config import ServingSettings
from skyprophet.adapters.online import FlightKeys, OnlineFeatures
from skyprophet.adapters.redis import cluster_client, key_of
from skyprophet.core.keys import flight_query
from tests.api.conftest import MATERIALIZED, Server, start_server
from tests.conftest import normalized

pytestmark = [pytest.mark.api, pytest.mark.integration]


@pytest.fixture(scope="module")
def cluster_settings(api_settings: ServingSettings, redis_cluster: str) -> ServingSettings:
    """The API tests' settings (registry, MLflow store, models) with the cluster as online store."""
    return api_settings.model_copy(update={"online_store": "redis_cluster", "redis_cluster_nodes": redis_cluster})


@pytest.fixture(scope="module")
def loaded_cluster(cluster_settings: ServingSettings, small_models, loaded_redis: str) -> str:  # type: ignore[no-untyped-def]
    """The cluster holding what ``loaded_redis`` holds: the same two days, materialized the same way."""
    from pipelines.features.store import materialize
    from skyprophet.adapters.store import open_store

    client = cluster_client(cluster_settings.redis_cluster_nodes)
    client.flushall(target_nodes=client.PRIMARIES)
    store = open_store(cluster_settings, online="redis_cluster")
    materialize(store, MATERIALIZED, start=MATERIALIZED - timedelta(days=2), chunk=timedelta(days=1), show_progress=False)
    return cluster_settings.redis_cluster_nodes


@pytest.fixture(scope="module")
def around(canonical: pd.DataFrame) -> pd.DataFrame:
    """Every flight scheduled from 12 h before to 30 h after the materialization time (≥ 1,000)."""
    lo = pd.Timestamp(MATERIALIZED)
    keep = (canonical["sched_dep_utc"] > lo - pd.Timedelta(hours=12)) & (canonical["sched_dep_utc"] <= lo + pd.Timedelta(hours=30))
    return canonical[keep].reset_index(drop=True)


def _keys(flights: pd.DataFrame) -> list[FlightKeys]:
    return [FlightKeys(r.carrier, str(r.flight_number), r.origin, r.dest, int(r.sched_dep_utc.timestamp()),
                       int(r.utc_offset_min), r.tailnum if isinstance(r.tailnum, str) else None)
            for r in flights.itertuples()]


def test_cluster_values_equal_single_redis(cluster_settings: ServingSettings, api_settings: ServingSettings,
                                           loaded_cluster: str, around: pd.DataFrame) -> None:
    from skyprophet.adapters.store import open_store

    assert len(around) >= 1000
    keys = _keys(around)
    as_of = [MATERIALIZED] * len(keys)
    single = open_store(api_settings, online="redis")
    cluster = open_store(cluster_settings, online="redis_cluster")
    readers = {
        "single, Feast": OnlineFeatures(single),
        "single, direct": OnlineFeatures(single, redis_client=redis.Redis.from_url(api_settings.redis_url)),
        "cluster, Feast": OnlineFeatures(cluster),
        "cluster, direct": OnlineFeatures(cluster, redis_client=cluster_client(loaded_cluster)),
    }
    got = {name: reader.read(keys, as_of) for name, reader in readers.items()}
    reference = got.pop("single, Feast")
    present = sum(v is not None for ff in reference for v in ff.values.values())
    assert present > 0.5 * len(keys) * len(reference[0].values), "too few values to compare"
    for name, features in got.items():
        for i, (a, b) in enumerate(zip(reference, features, strict=True)):
            assert {k: normalized(v) for k, v in a.values.items()} == {k: normalized(v) for k, v in b.values.items()}, \
                f"{name}: flight {i} {keys[i]}"
            assert a.stamps == b.stamps and a.stale == b.stale, f"{name}: flight {i}"
    # the flights' keys are spread over the three masters, so the direct reader talked to each
    wire = readers["cluster, direct"]._redis._wire  # type: ignore[union-attr]
    assert len(wire._wires) == 3


def _move_slot(client: Any, slot: int, source: Any, target: Any, pause_s: float) -> int:
    """Move one slot with its keys from ``source`` to ``target`` as ``redis-cli --cluster reshard``
    does (IMPORTING, MIGRATING, MIGRATE in batches, SETSLOT NODE), pausing half-way so that readers
    meet the slot mid-migration (ASK). Returns the number of keys moved."""
    src, dst = client.get_redis_connection(source), client.get_redis_connection(target)
    src_id, dst_id = src.execute_command("CLUSTER MYID").decode(), dst.execute_command("CLUSTER MYID").decode()
    dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
    src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
    moved, first = 0, True
    while True:
        keys = src.execute_command("CLUSTER GETKEYSINSLOT", slot, 1 if first else 100)
        if not keys:
            break
        src.execute_command("MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys)
        moved += len(keys)
        if first:
            time.sleep(pause_s)  # one key moved, the rest not: the slot answers ASK for it
            first = False
    for node in client.get_primaries():
        client.get_redis_connection(node).execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
    return moved


@pytest.fixture()
def cluster_api(cluster_settings: ServingSettings, loaded_cluster: str) -> Iterator[Server]:
    server = start_server(cluster_settings)
    yield server
    server.stop()


def test_resharding_under_load(cluster_api: Server, api: Server, around: pd.DataFrame, loaded_cluster: str) -> None:
    """Slots holding the load's keys move between masters while /predict is called at a steady
    rate: no request fails and every answer equals the single Redis service's."""
    lo = pd.Timestamp(MATERIALIZED)
    ahead = around[(around["sched_dep_utc"] > lo + pd.Timedelta(minutes=30)) & (around["sched_dep_utc"] <= lo + pd.Timedelta(hours=20))]
    flights = ahead.sample(40, random_state=7).reset_index(drop=True)  # scored at lead 30 min to 20 h
    bodies = [{"flights": [flight_query(r)], "as_of": MATERIALIZED.isoformat()} for r in flights.itertuples()]

    def answer(url: str, body: dict[str, Any]) -> Any:
        r = httpx.post(f"{url}/predict", json=body, timeout=10)
        assert r.status_code == 200, r.text
        p = r.json()["predictions"][0]
        return p["status"], p.get("delay_probability"), p.get("delayed")

    expected = [answer(api.url, b) for b in bodies]  # the single Redis service
    assert [answer(cluster_api.url, b) for b in bodies] == expected
    assert sum(e[1] is not None for e in expected) >= 30, expected

    # the slots of the keys these flights are read with
    app: Any = cluster_api.server.config.app  # type: ignore[attr-defined]
    reader = app.state.services.lookup._readers[next(iter(app.state.services.lookup._readers))]
    wire = reader._redis._wire
    commands = [c for k in _keys(flights) for c in reader._redis._flight_commands((k, "2013-12-30"))]
    client = cluster_client(loaded_cluster)
    slots = sorted({client.keyslot(key_of(c)) for c in commands})

    results: list[tuple[int, Any]] = []
    errors: list[str] = []
    stop = threading.Event()

    def load(offset: int) -> None:
        with httpx.Client(base_url=cluster_api.url, timeout=10) as http:
            i = offset
            while not stop.is_set():
                body = bodies[i % len(bodies)]
                try:
                    r = http.post("/predict", json=body)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        p = r.json()["predictions"][0]
                        results.append((i % len(bodies), (p["status"], p.get("delay_probability"), p.get("delayed"))))
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                i += 1
                time.sleep(0.01)  # steady: about 100 requests/s per generator at most

    generators = [threading.Thread(target=load, args=(k * 7,)) for k in range(2)]
    for g in generators:
        g.start()
    try:
        time.sleep(0.5)
        keys_moved = 0
        primaries = client.get_primaries()
        for slot in slots[:12]:
            source = client.nodes_manager.get_node_from_slot(slot)
            target = next(n for n in primaries if n.name != source.name)
            keys_moved += _move_slot(client, slot, source, target, pause_s=0.2)
            client.nodes_manager.initialize()
        time.sleep(0.5)
    finally:
        stop.set()
        for g in generators:
            g.join(timeout=30)
    assert keys_moved > 12
    assert not errors, errors[:5]
    assert len(results) > 100
    wrong = [(i, got) for i, got in results if got != expected[i]]
    assert not wrong, wrong[:5]
    # the reader did meet the moving slots: mid-migration (ASK) and after (MOVED)
    assert wire.redirects["ASK"] > 0 and wire.redirects["MOVED"] > 0, wire.redirects

"""Online feature reads with the same maximum-age rule as offline retrieval.

Feast ignores a view's ttl online, while its offline join keeps a value only when
``T - ttl <= event_ts <= T``. This module reads the feature service's views online, applies
exactly that rule for the prediction time T of each flight, and computes the request-time
features with the on-demand view's own function after the rule, so that a stale input is null
in both paths.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import hiredis
import numpy as np
from redis import exceptions as redis_errors

from skyprophet.core.config import FEATURE_SERVICE
from skyprophet.core.features import ONLINE_SUFFIX, SEP, FlightFeatures, ViewRows, projection_names, model_feature_names
from skyprophet.core.keys import FlightKeys, as_of_day_of
from skyprophet.core.transforms import request_features

if TYPE_CHECKING:
    import redis
    from feast import FeatureService, FeatureStore


CACHE_ENTRIES = 200_000  # per reader, for serialized entity keys and for decoded values


def _memo(cache: dict[Any, Any], key: Any, make: Callable[[Any], Any], keep: Callable[[Any], bool] | None = None) -> Any:
    """``cache[key]``, computed by ``make(key)`` on a miss and kept unless ``keep`` says no;
    the cache is emptied when full."""
    found = cache.get(key)
    if found is None:
        found = make(key)
        if keep is None or keep(found):
            if len(cache) >= CACHE_ENTRIES:
                cache.clear()
            cache[key] = found
    return found


def cluster_client(nodes: str, **kwargs: Any) -> Any:
    """A redis-py ``RedisCluster`` on ``host:port,...`` (``redis_cluster_nodes``); ``kwargs`` go to it."""
    from redis.cluster import ClusterNode, RedisCluster

    startup = [ClusterNode(host, int(port)) for host, _, port in (n.rpartition(":") for n in nodes.split(","))]
    return RedisCluster(startup_nodes=startup, **kwargs)


def _is_cluster(client: Any) -> bool:
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


def _immutable(v: Any) -> bool:
    """Safe to hand the same object to every caller."""
    return isinstance(v, (int, float, str, bool))


def _decode_value(raw: bytes) -> Any:
    """A stored ValueProto as Feast's ``get_online_features`` returns it."""
    from feast.protos.feast.types.Value_pb2 import Value
    from feast.type_map import feast_value_type_to_python_type

    v = Value()
    v.ParseFromString(raw)
    return feast_value_type_to_python_type(v)


def _decode_seconds(raw: bytes) -> int:
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    ts.ParseFromString(raw)
    return int(ts.seconds)


def _resp_bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


class _Wire:
    """Pipelined commands on one connection of their own, replies parsed by hiredis in C.

    redis-py spends ~10 us of Python on each pipelined command and reply; a request's read is a
    handful to hundreds of HMGETs, so this packs them into one buffer, sends it with the
    connection's own (timeout-bounded) send and parses every reply with a ``hiredis.Reader``.
    The connection (handshake, auth, TLS, database, timeouts) is redis-py's; any error drops it
    and the next call reconnects. Errors are redis-py's ``ConnectionError`` / ``TimeoutError``.
    """

    def __init__(self, client: redis.Redis):
        pool = client.connection_pool
        self._conn = pool.connection_class(**pool.connection_kwargs)
        self._lock = threading.Lock()  # the service reads on its event loop; warm-up on a thread

    def run(self, commands: list[bytes]) -> list[Any]:
        """The replies to RESP-encoded ``commands``, in order (an error reply raises)."""
        return self.roundtrip(b"".join(commands), len(commands))

    def roundtrip(self, payload: bytes, replies: int) -> list[Any]:
        with self._lock:
            self.send(payload)
            out = self.receive(replies)
        for reply in out:
            if isinstance(reply, Exception):
                raise redis_errors.ResponseError(str(reply))
        return out

    def send(self, payload: bytes) -> None:
        """Send without reading (the caller holds the lock and calls ``receive`` next)."""
        conn = self._conn
        try:
            sock = conn._sock
            if sock is None:
                conn.send_packed_command([payload], check_health=False)  # connects (handshake, auth, db)
                return
            sock.sendall(payload)
        except socket.timeout as exc:
            conn.disconnect()
            raise redis_errors.TimeoutError(f"Timeout writing to Redis: {exc}") from exc
        except OSError as exc:
            conn.disconnect()
            raise redis_errors.ConnectionError(f"Error writing to Redis: {exc}") from exc
        except BaseException:
            conn.disconnect()
            raise

    def receive(self, replies: int) -> list[Any]:
        """The next ``replies`` replies; an error reply is returned as an exception object."""
        conn = self._conn
        try:
            sock = conn._sock
            if sock is None:
                raise redis_errors.ConnectionError("not connected to Redis")
            reader = hiredis.Reader()
            out: list[Any] = []
            while len(out) < replies:
                reply = reader.gets()
                if reply is False:
                    try:
                        data = sock.recv(65536)
                    except socket.timeout as exc:
                        raise redis_errors.TimeoutError(f"Timeout reading from Redis: {exc}") from exc
                    except OSError as exc:
                        raise redis_errors.ConnectionError(f"Error reading from Redis: {exc}") from exc
                    if not data:
                        raise redis_errors.ConnectionError("Redis closed the connection")
                    reader.feed(data)
                    continue
                out.append(reply)
            return out
        except BaseException:
            conn.disconnect()  # a half-read reply must never reach the next request
            raise


def key_of(command: bytes) -> bytes:
    """The key of a RESP-encoded command (its second argument)."""
    at = command.index(b"\r\n", command.index(b"\r\n", command.index(b"\r\n") + 2) + 2) + 2  # after *N, $len, name
    end = command.index(b"\r\n", at)
    size = int(command[at + 1 : end])
    return command[end + 2 : end + 2 + size]


class _ClusterWire:
    """Pipelined commands on a Redis Cluster: each command goes to the master holding its key's
    slot; the commands of one call are grouped by node, sent to every node before any reply is
    read (one pipeline per node, the nodes working in parallel), and redirections are followed.

    The slot map is the cluster's (``CLUSTER SLOTS``), read at start and again after a ``MOVED``
    (a slot range has moved for good). An ``ASK`` (a slot being migrated, this key already on the
    target) resends the command to the target after ``ASKING``, leaving the map as it is;
    ``TRYAGAIN`` and ``CLUSTERDOWN`` are retried a few times. Connections are redis-py's per
    node, with the cluster client's timeouts; each node has a ``_Wire`` of its own.
    """

    MAX_ROUNDS = 8

    def __init__(self, client: Any):
        self._client = client  # redis.cluster.RedisCluster
        self._wires: dict[tuple[str, int], _Wire] = {}
        self._slots: list[tuple[str, int]] = []
        self._slot_of: dict[bytes, int] = {}  # command -> its key's slot
        self._lock = threading.Lock()
        self.redirects = {"MOVED": 0, "ASK": 0, "TRYAGAIN": 0}  # followed so far (a resharding leaves a trace)
        self._load_slots()

    def _load_slots(self) -> None:
        table: list[tuple[str, int] | None] = [None] * 16384
        for (first, last), where in self._client.cluster_slots().items():
            host, port = where["primary"]
            table[first : last + 1] = [(str(host), int(port))] * (last - first + 1)
        if any(t is None for t in table):
            raise redis_errors.ClusterDownError("some hash slots are not served by any node")
        self._slots = table  # type: ignore[assignment]

    def _wire(self, node: tuple[str, int]) -> _Wire:
        wire = self._wires.get(node)
        if wire is None:
            from redis.cluster import ClusterNode

            found = self._client.get_node(*node) or ClusterNode(*node)
            conn = found.redis_connection or self._client.get_redis_connection(found)
            if conn is None:  # a node the client has not met: same settings as the others
                import redis as redis_module

                any_node = self._client.get_nodes()[0]
                kwargs = dict(any_node.redis_connection.connection_pool.connection_kwargs)
                kwargs.update(host=node[0], port=node[1])
                conn = redis_module.Redis(connection_pool=redis_module.ConnectionPool(**kwargs))
            wire = self._wires[node] = _Wire(conn)
        return wire

    def _slot(self, command: bytes) -> int:
        """The hash slot of a command's key, memoised by the command (the reader's commands are
        memoised objects themselves, so this is one dictionary lookup)."""
        slot = self._slot_of.get(command)
        if slot is None:
            from redis.crc import key_slot

            if len(self._slot_of) >= CACHE_ENTRIES:
                self._slot_of.clear()
            slot = self._slot_of[command] = key_slot(key_of(command))
        return slot

    def run(self, commands: list[bytes]) -> list[Any]:
        """The replies to RESP-encoded ``commands``, in order, wherever their keys live."""
        out: list[Any] = [None] * len(commands)
        pending = [(i, self._slots[self._slot(c)], False) for i, c in enumerate(commands)]
        with self._lock:
            for _ in range(self.MAX_ROUNDS):
                groups: dict[tuple[str, int], list[tuple[int, bool]]] = {}
                for i, node, asking in pending:
                    groups.setdefault(node, []).append((i, asking))
                sent: list[tuple[_Wire, list[tuple[int, bool]]]] = []
                try:
                    for node, items in groups.items():  # every node's pipeline out before any reply is read
                        wire = self._wire(node)
                        sent.append((wire, items))
                        wire.send(b"".join((b"*1\r\n$6\r\nASKING\r\n" if asking else b"") + commands[i]
                                           for i, asking in items))
                    pending, moved, retry = self._collect(sent, commands, out)
                except BaseException:
                    for wire, _ in sent:  # replies left unread must never reach the next call
                        wire._conn.disconnect()
                    raise
                if not pending:
                    return out
                if moved:
                    self._load_slots()
                if retry:
                    time.sleep(0.01)
        raise redis_errors.ClusterError(f"{len(pending)} commands still redirected after {self.MAX_ROUNDS} rounds")

    def _collect(
        self, sent: list[tuple[_Wire, list[tuple[int, bool]]]], commands: list[bytes], out: list[Any]
    ) -> tuple[list[tuple[int, tuple[str, int], bool]], bool, bool]:
        """Read every node's replies into ``out``; returns the redirected commands (index, node,
        asking) and whether a MOVED or a retry was seen."""
        pending: list[tuple[int, tuple[str, int], bool]] = []
        moved = retry = False
        for wire, items in sent:
            replies = iter(wire.receive(len(items) + sum(asking for _, asking in items)))
            for i, asking in items:
                if asking:
                    next(replies)  # ASKING's +OK
                reply = next(replies)
                if not isinstance(reply, Exception):
                    out[i] = reply
                    continue
                kind, _, rest = str(reply).partition(" ")
                if kind in ("MOVED", "ASK"):
                    host, _, port = rest.split(" ")[1].rpartition(":")
                    target = (host or wire._conn.host, int(port))
                    pending.append((i, target, kind == "ASK"))
                    moved |= kind == "MOVED"
                    self.redirects[kind] += 1
                elif kind in ("TRYAGAIN", "CLUSTERDOWN"):
                    pending.append((i, self._slots[self._slot(commands[i])], False))
                    retry = True
                    self.redirects["TRYAGAIN"] += 1
                else:
                    raise redis_errors.ResponseError(str(reply))
        return pending, moved, retry


class _ViewPlan(NamedTuple):
    """How one projection is read: built once per reader."""

    join_keys: list[tuple[str, str]]  # (stored key, entity-row column), sorted as Feast stores them
    names: list[str]  # full feature names
    fields: list[bytes]  # HMGET fields: the features' hashes, then the view's timestamp
    head: bytes  # RESP header of an HMGET of this many fields
    packed: bytes  # the fields, RESP-encoded: an HMGET is head + key + packed


class RedisReader:
    """Reads Feast's Redis layout directly: every view of every flight in one round trip.

    Keys and fields are built with Feast's own functions (entity-key serialization, field
    hashes) and values decoded with its own type map, so the values are those of
    ``FeatureStore.get_online_features``, without its per-call planning. A read is one HMGET
    per distinct entity key, pipelined on one connection; on a Redis Cluster (a ``RedisCluster``
    client) the HMGETs are grouped by the node holding each key and pipelined per node
    (``_ClusterWire``).
    """

    def __init__(self, store: FeatureStore, service: FeatureService, client: redis.Redis):
        from feast.infra.online_stores.helpers import _mmh3

        self.client = client
        self.project = store.config.project.encode("utf-8")
        self.key_version = store.config.entity_key_serialization_version
        self._views: list[_ViewPlan] = []
        for p in service.feature_view_projections:
            fv = store.get_feature_view(p.name)
            keys = sorted((k, p.join_key_map.get(k, k)) for k in fv.join_keys)
            fields = [_mmh3(f"{fv.name}:{f.name}") for f in p.features] + [f"_ts:{fv.name}".encode()]
            head = b"*%d\r\n$5\r\nHMGET\r\n" % (len(fields) + 2)
            self._views.append(_ViewPlan(keys, projection_names(p), fields, head, b"".join(_resp_bulk(f) for f in fields)))
        self._keys: dict[tuple[int, tuple[str, ...]], bytes] = {}
        self._commands: dict[tuple[FlightKeys, str], tuple[bytes, ...]] = {}
        self._wire = _ClusterWire(client) if _is_cluster(client) else _Wire(client)
        self._values: dict[bytes, Any] = {}
        self._stamps: dict[bytes, int] = {}
        self._replies: dict[tuple[bytes | None, ...], tuple[list[Any], int]] = {}

    def _key(self, view: int, keys: list[tuple[str, str]], row: dict[str, Any]) -> bytes:
        values = tuple(str(row[c]) for _, c in keys)
        return _memo(self._keys, (view, values), lambda _: self._serialize([k for k, _ in keys], values))

    def _serialize(self, join_keys: list[str], values: tuple[str, ...]) -> bytes:
        from feast.infra.key_encoding_utils import serialize_entity_key
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        ek = EntityKey(join_keys=join_keys, entity_values=[Value(string_val=v) for v in values])
        return serialize_entity_key(ek, entity_key_serialization_version=self.key_version) + self.project

    def _flight_commands(self, flight_day: tuple[FlightKeys, str]) -> tuple[bytes, ...]:
        """One HMGET per view for a flight read at a day (the time-varying views' key)."""
        row = flight_day[0].entity_row_of_day(flight_day[1])
        return tuple(head + _resp_bulk(self._key(v, keys, row)) + packed
                     for v, (keys, _, _, head, packed) in enumerate(self._views))

    def _value(self, raw: bytes | None) -> Any:
        """Feast's decoding of a stored value, memoised by its bytes (values repeat a lot)."""
        return None if not raw else _memo(self._values, raw, _decode_value, keep=_immutable)

    def _seconds(self, raw: bytes | None) -> int:
        """Seconds of a stored event timestamp (0 when absent), memoised by its bytes."""
        return 0 if not raw else _memo(self._stamps, raw, _decode_seconds)

    def _decode(self, reply: tuple[bytes | None, ...]) -> tuple[list[Any], int]:
        """A view's HMGET reply: its values and event time, memoised by the reply's bytes (a row
        stays the same until the view is written again); never mutated by readers."""
        values = [self._value(raw) for raw in reply[:-1]]
        return values, self._seconds(reply[-1])

    def _decoded(self, reply: list[bytes | None]) -> tuple[list[Any], int]:
        return _memo(self._replies, tuple(reply), self._decode, keep=lambda d: all(v is None or _immutable(v) for v in d[0]))

    def fetch_flights(
        self, flights: Sequence[FlightKeys], days: Sequence[str], prelude: Sequence[bytes] = ()
    ) -> tuple[list[Any], list[ViewRows]]:
        """The views of each flight read at its day, after the RESP-encoded ``prelude`` commands
        in the same round trip; returns the prelude's replies and the views' rows.

        One HMGET per distinct (view, entity key): flights of a batch share carriers, airports, days.
        """
        commands: list[bytes] = list(prelude)
        seen: dict[bytes, int] = {}  # command -> its reply's position
        where: list[list[int]] = [[] for _ in self._views]  # per view: each flight's reply position
        memo, make = self._commands, self._flight_commands
        for flight_day in zip(flights, days, strict=True):
            for view_where, command in zip(where, _memo(memo, flight_day, make), strict=True):
                at = seen.get(command)
                if at is None:
                    at = seen[command] = len(commands)
                    commands.append(command)
                view_where.append(at)
        replies = self._wire.run(commands) if commands else []
        decoded: list[Any] = list(replies[: len(prelude)]) + [self._decoded(r) for r in replies[len(prelude):]]
        out = []
        for (_, names, _, _, _), view_where in zip(self._views, where, strict=True):
            rows = [decoded[at] for at in view_where]
            out.append(ViewRows(names, [r[0] for r in rows], [r[1] for r in rows]))
        return decoded[: len(prelude)], out


def command(*args: str | bytes | int) -> bytes:
    """One Redis command, RESP-encoded (for ``fetch_flights``'s prelude)."""
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(_resp_bulk(p) for p in parts)


def _day_of(t_s: Sequence[int]) -> list[str]:
    """``as_of_day_of`` for each instant, computed once per distinct UTC day."""
    days: dict[int, str] = {}
    out = []
    for t in t_s:
        d = days.get(t // 86_400)
        if d is None:
            d = days[t // 86_400] = as_of_day_of(t)
        out.append(d)
    return out


class OnlineFeatures:
    """Reads a feature service online as of each flight's prediction time.

    Reads go through Feast's ``get_online_features`` unless a Redis client is given, in which
    case a ``RedisReader`` reads the same keys in one round trip.
    """

    def __init__(
        self,
        store: FeatureStore,
        service_name: str = FEATURE_SERVICE,
        lead_minutes: int = 120,
        redis_client: redis.Redis | None = None,
    ):
        self.store = store
        self.service = store.get_feature_service(service_name)
        self.lead_s = lead_minutes * 60
        self.feature_names = model_feature_names(self.service)
        odfv_names = {o.name for o in store.list_on_demand_feature_views()}
        odfv = [p for p in self.service.feature_view_projections if p.name in odfv_names]
        if len(odfv) > 1:
            raise ValueError("one on-demand view (request features) is supported")
        # Registered by feature_repo, derived from the service: its views + on-demand inputs.
        self._inputs = store.get_feature_service(f"{service_name}{ONLINE_SUFFIX}")
        # per input view, in the service's order: its features' full names and its maximum age
        # in seconds (None: no limit)
        self._view_names = [projection_names(p) for p in self._inputs.feature_view_projections]
        self.views = [p.name_to_use() for p in self._inputs.feature_view_projections]
        self._ttl_s: list[float | None] = []
        for p in self._inputs.feature_view_projections:
            ttl = store.get_feature_view(p.name).ttl
            self._ttl_s.append(ttl.total_seconds() if ttl else None)
        names = [n for view in self._view_names for n in view]
        # A flight's values are assembled as one list: the input views' features in order, then
        # the request features; ``_pick`` takes the model's inputs from it, in their order.
        self._request: list[tuple[str, str]] = []  # (full name, key of request_features' output)
        self._prev_dep: int | None = None  # the plane view's prev_dep_ts, the request features' input
        if odfv:
            prev_dep = next((n for n in names if n.endswith(f"{SEP}prev_dep_ts")), None)
            if prev_dep is None:
                raise ValueError("the request features need the plane view's prev_dep_ts")
            self._prev_dep = names.index(prev_dep)
            self._request = [(n, n.split(SEP, 1)[1]) for n in projection_names(odfv[0])]
        position = {n: i for i, n in enumerate(names + [n for n, _ in self._request])}
        self._pick = [position[n] for n in self.feature_names]
        self._model_names = set(self.feature_names)
        self._nones = [[None] * len(v) for v in self._view_names]
        self._redis = RedisReader(store, self._inputs, redis_client) if redis_client else None

    def _feast_fetch(self, rows: list[dict[str, Any]]) -> list[ViewRows]:
        resp = self.store.get_online_features(
            features=self._inputs, entity_rows=rows, full_feature_names=True
        ).to_dict(include_event_timestamps=True)
        out = []
        for names in self._view_names:
            # A view's features are written together, so they share one event timestamp.
            out.append(ViewRows(names, [list(v) for v in zip(*(resp[n] for n in names), strict=True)],
                                [int(s) for s in resp[names[0] + "__ts"]]))
        return out

    def _views_at(self, flights: Sequence[FlightKeys], t_s: list[int]) -> list[ViewRows]:
        days = _day_of(t_s)
        if self._redis is not None:
            return self._redis.fetch_flights(flights, days)[1]
        return self._feast_fetch([f.entity_row_of_day(d) for f, d in zip(flights, days, strict=True)])

    def read(self, flights: Sequence[FlightKeys], as_of: Sequence[datetime] | None = None) -> list[FlightFeatures]:
        """Online values for ``flights`` as of ``as_of`` (default: scheduled departure - lead)."""
        if as_of is None:
            t_s = [f.sched_dep_epoch_s - self.lead_s for f in flights]
        else:
            t_s = [int(t.timestamp()) for t in as_of]
        return self.assemble(flights, t_s, self._views_at(flights, t_s))

    def read_now(
        self, flights: Sequence[FlightKeys], guess_s: int, prelude: Sequence[bytes], now_of: Callable[[list[Any]], int | None]
    ) -> tuple[list[Any], int | None, list[FlightFeatures]]:
        """Every flight as of an instant that a read itself reveals (a live clock), in one round
        trip: the ``prelude`` commands and the views at ``guess_s``'s day go together, and
        ``now_of`` takes the instant from the prelude's replies. The stored rows do not depend on
        the instant, only their key's day does: when the instant falls on another day than the
        guess, the views are read again at its day. Returns the prelude's replies, the instant
        (None: no features read) and the features as of it.
        """
        if self._redis is None:
            raise ValueError("reading as of a live instant needs the direct Redis reader")
        replies, views = self._redis.fetch_flights(flights, [as_of_day_of(guess_s)] * len(flights), prelude)
        now_s = now_of(replies)
        if now_s is None:
            return replies, None, []
        t_s = [now_s] * len(flights)
        if now_s // 86_400 != guess_s // 86_400:  # another UTC day: other keys
            views = self._views_at(flights, t_s)
        return replies, now_s, self.assemble(flights, t_s, views)

    def assemble(self, flights: Sequence[FlightKeys], t_s: Sequence[int], views: list[ViewRows]) -> list[FlightFeatures]:
        """Each flight's values as of its instant: the maximum-age rule on the stored rows, then the
        request features, in the model's order."""
        out = []
        flat: list[list[Any]] = []
        meta = list(zip(self.views, views, self._ttl_s, self._nones, strict=True))
        model_names = self._model_names
        for i, t in enumerate(t_s):
            chunks = []
            stale: list[str] = []
            ages: dict[str, int | None] = {}
            stamps: dict[str, int] = {}
            for label, view, ttl_s, nones in meta:
                vals, ts = view.values[i], view.stamps[i]
                stamps[label] = ts
                if ttl_s is not None:  # reference data (no ttl) has no age that matters
                    ages[label] = t - ts if ts else None
                if ts <= t and (ttl_s is None or ts >= t - ttl_s):
                    chunks.append(vals)
                else:  # older than the maximum age (or later than T): null, and stale where a value was
                    chunks.append(nones)
                    stale.extend(n for n, v in zip(view.names, vals, strict=True) if v is not None and n in model_names)
            flat.append(list(chain.from_iterable(chunks)))
            out.append(FlightFeatures(values={}, stale=stale, ages=ages, stamps=stamps))
        if self._request:
            self._request_features(flights, t_s, flat)
        names, pick = self.feature_names, itemgetter(*self._pick)
        for ff, row in zip(out, flat, strict=True):
            values = pick(row) if len(names) > 1 else [row[self._pick[0]]]
            ff.values = dict(zip(names, values, strict=True))
            ff.missing = [n for n, v in zip(names, values, strict=True) if v is None]
        return out

    def _request_features(self, flights: Sequence[FlightKeys], t_s: Sequence[int], flat: list[list[Any]]) -> None:
        assert self._prev_dep is not None
        prev = [row[self._prev_dep] for row in flat]
        feats = request_features(
            np.array([f.sched_dep_epoch_s for f in flights], dtype=np.int64),
            np.array([f.utc_offset_min for f in flights], dtype=np.int64),
            np.array([np.nan if v is None else float(v) for v in prev]),
            np.array(t_s, dtype=np.int64),  # the lead, for services whose on-demand view has it
        )
        columns = [[None if v != v else v for v in feats[key].tolist()] for _, key in self._request]  # NaN: unknown
        for i, row in enumerate(flat):
            row.extend(col[i] for col in columns)

"""Feast's Redis key layout read directly: every view of every flight in one round trip, values
decoded as Feast decodes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from skyprophet.adapters.redis._cache import memo
from skyprophet.adapters.redis.cluster import ClusterWire, is_cluster
from skyprophet.adapters.redis.wire import Wire, resp_bulk
from skyprophet.core.features import ViewRows, projection_names
from skyprophet.core.keys import FlightKeys

if TYPE_CHECKING:
    import redis
    from feast import FeatureService, FeatureStore


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
    (``ClusterWire``).
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
            self._views.append(_ViewPlan(keys, projection_names(p), fields, head, b"".join(resp_bulk(f) for f in fields)))
        self._keys: dict[tuple[int, tuple[str, ...]], bytes] = {}
        self._commands: dict[tuple[FlightKeys, str], tuple[bytes, ...]] = {}
        self._wire = ClusterWire(client) if is_cluster(client) else Wire(client)
        self._values: dict[bytes, Any] = {}
        self._stamps: dict[bytes, int] = {}
        self._replies: dict[tuple[bytes | None, ...], tuple[list[Any], int]] = {}

    def _key(self, view: int, keys: list[tuple[str, str]], row: dict[str, Any]) -> bytes:
        values = tuple(str(row[c]) for _, c in keys)
        return memo(self._keys, (view, values), lambda _: self._serialize([k for k, _ in keys], values))

    def _serialize(self, join_keys: list[str], values: tuple[str, ...]) -> bytes:
        from feast.infra.key_encoding_utils import serialize_entity_key
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        ek = EntityKey(join_keys=join_keys, entity_values=[Value(string_val=v) for v in values])
        return serialize_entity_key(ek, entity_key_serialization_version=self.key_version) + self.project

    def _flight_commands(self, flight_day: tuple[FlightKeys, str]) -> tuple[bytes, ...]:
        """One HMGET per view for a flight read at a day (the time-varying views' key)."""
        row = flight_day[0].entity_row_of_day(flight_day[1])
        return tuple(head + resp_bulk(self._key(v, keys, row)) + packed
                     for v, (keys, _, _, head, packed) in enumerate(self._views))

    def _value(self, raw: bytes | None) -> Any:
        """Feast's decoding of a stored value, memoised by its bytes (values repeat a lot)."""
        return None if not raw else memo(self._values, raw, _decode_value, keep=_immutable)

    def _seconds(self, raw: bytes | None) -> int:
        """Seconds of a stored event timestamp (0 when absent), memoised by its bytes."""
        return 0 if not raw else memo(self._stamps, raw, _decode_seconds)

    def _decode(self, reply: tuple[bytes | None, ...]) -> tuple[list[Any], int]:
        """A view's HMGET reply: its values and event time, memoised by the reply's bytes (a row
        stays the same until the view is written again); never mutated by readers."""
        values = [self._value(raw) for raw in reply[:-1]]
        return values, self._seconds(reply[-1])

    def _decoded(self, reply: list[bytes | None]) -> tuple[list[Any], int]:
        return memo(self._replies, tuple(reply), self._decode, keep=lambda d: all(v is None or _immutable(v) for v in d[0]))

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
        table, make = self._commands, self._flight_commands
        for flight_day in zip(flights, days, strict=True):
            for view_where, command in zip(where, memo(table, flight_day, make), strict=True):
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

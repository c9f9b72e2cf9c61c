"""A Redis Cluster: the client from the settings' node list, and pipelined commands routed to the
master of each key's slot."""

from __future__ import annotations

import threading
import time
from typing import Any

from redis import exceptions as redis_errors

from skyprophet.adapters.redis._cache import CACHE_ENTRIES
from skyprophet.adapters.redis.wire import Wire, key_of


def cluster_client(nodes: str, **kwargs: Any) -> Any:
    """A redis-py ``RedisCluster`` on ``host:port,...`` (``redis_cluster_nodes``); ``kwargs`` go to it."""
    from redis.cluster import ClusterNode, RedisCluster

    startup = [ClusterNode(host, int(port)) for host, _, port in (n.rpartition(":") for n in nodes.split(","))]
    return RedisCluster(startup_nodes=startup, **kwargs)


def is_cluster(client: Any) -> bool:
    from redis.cluster import RedisCluster

    return isinstance(client, RedisCluster)


class ClusterWire:
    """Pipelined commands on a Redis Cluster: each command goes to the master holding its key's
    slot; the commands of one call are grouped by node, sent to every node before any reply is
    read (one pipeline per node, the nodes working in parallel), and redirections are followed.

    The slot map is the cluster's (``CLUSTER SLOTS``), read at start and again after a ``MOVED``
    (a slot range has moved for good). An ``ASK`` (a slot being migrated, this key already on the
    target) resends the command to the target after ``ASKING``, leaving the map as it is;
    ``TRYAGAIN`` and ``CLUSTERDOWN`` are retried a few times. Connections are redis-py's per
    node, with the cluster client's timeouts; each node has a ``Wire`` of its own.
    """

    MAX_ROUNDS = 8

    def __init__(self, client: Any):
        self._client = client  # redis.cluster.RedisCluster
        self._wires: dict[tuple[str, int], Wire] = {}
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

    def _wire(self, node: tuple[str, int]) -> Wire:
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
            wire = self._wires[node] = Wire(conn)
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
                sent: list[tuple[Wire, list[tuple[int, bool]]]] = []
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
        self, sent: list[tuple[Wire, list[tuple[int, bool]]]], commands: list[bytes], out: list[Any]
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

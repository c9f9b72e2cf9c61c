"""The Redis wire protocol: RESP-encoded commands, and a pipelined round trip on one connection with
replies parsed by hiredis."""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING, Any

import hiredis
from redis import exceptions as redis_errors

if TYPE_CHECKING:
    import redis


def resp_bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


def command(*args: str | bytes | int) -> bytes:
    """One Redis command, RESP-encoded (for ``fetch_flights``'s prelude)."""
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(resp_bulk(p) for p in parts)


def key_of(command: bytes) -> bytes:
    """The key of a RESP-encoded command (its second argument)."""
    at = command.index(b"\r\n", command.index(b"\r\n", command.index(b"\r\n") + 2) + 2) + 2  # after *N, $len, name
    end = command.index(b"\r\n", at)
    size = int(command[at + 1 : end])
    return command[end + 2 : end + 2 + size]


class Wire:
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

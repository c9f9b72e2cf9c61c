"""Faults under load, against the production server (``skyprophet serve``, 2 workers, Redis).

A load generator keeps a steady rate of ``POST /predict`` while Redis is stopped and restarted,
while the server is sent SIGTERM, or (on an in-process server) while the MLflow tracking server
is down during a hot reload (its port closed, then open again).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.api.conftest import free_port, start_server, wait_ready
from tests.api.test_predict import GOOD
from tests.conftest import redis_server

pytestmark = [pytest.mark.api, pytest.mark.integration]

RATE_PER_CLIENT = 25  # requests/s of each client thread: 4 clients, 100 requests/s in all


@dataclass
class Call:
    start: float
    end: float
    status: int | None  # None: no HTTP answer (the error says why)
    error: str | None = None


class Load:
    """``clients`` threads, each sending one request every ``1 / rate`` s on its own keep-alive connection."""

    def __init__(self, url: str, body: dict[str, Any], clients: int = 4, rate: float = RATE_PER_CLIENT):
        self.url, self.body, self.period = url, body, 1.0 / rate
        self.calls: list[Call] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            next_at = time.monotonic()
            while not self._stop.is_set():
                t0 = time.monotonic()
                try:
                    r = client.post(f"{self.url}/predict", json=self.body)
                    self.calls.append(Call(t0, time.monotonic(), r.status_code))
                except httpx.HTTPError as exc:
                    self.calls.append(Call(t0, time.monotonic(), None, repr(exc)))
                next_at += self.period
                time.sleep(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)


def _copy_redis(source_url: str, port: int) -> int:
    """Every key of the API tests' Redis database into database 0 at ``port``; returns the count."""
    src = redis.Redis.from_url(source_url)
    dst = redis.Redis(port=port)
    n = 0
    batch: list[bytes] = []
    for key in src.scan_iter(count=2000):
        batch.append(key)
        if len(batch) == 2000:
            n += _move(src, dst, batch)
            batch = []
    return n + (_move(src, dst, batch) if batch else 0)


def _move(src: redis.Redis, dst: redis.Redis, keys: list[bytes]) -> int:
    read = src.pipeline(transaction=False)
    for k in keys:
        read.dump(k)
    write = dst.pipeline(transaction=False)
    for k, v in zip(keys, read.execute(), strict=True):
        if v is not None:
            write.restore(k, 0, v, replace=True)
    write.execute()
    return len(keys)


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    redis_port: int
    redis_dir: Path
    redis: subprocess.Popen[bytes]


def _serve(api_settings, redis_port: int, api_port: int, metrics_dir: Path) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    """``skyprophet serve`` (the production command: 2 workers, uvloop, httptools) on ``api_port``."""
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("skyprophet")), "serve", "--host", "127.0.0.1", "--port", str(api_port),
         "--workers", "2", "--online", "redis"],
        env={**os.environ, "SKYPROPHET_DATA_DIR": str(api_settings.data_dir), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
             "SKYPROPHET_MLFLOW_TRACKING_URI": api_settings.mlflow_tracking_uri,
             "SKYPROPHET_MLFLOW_ARTIFACT_ROOT": str(api_settings.mlflow_artifact_root),
             "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )


@pytest.fixture()
def served(api_settings, loaded_redis: str, tmp_path: Path) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    """The production command on a free port, with a Redis of its own holding the API tests' features.

    One per test: shared, the SIGTERM test once met a 503 from a server that had just been
    through the Redis outage.
    """
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    port = free_port()
    store = redis_server(port, redis_dir)
    assert _copy_redis(loaded_redis, port) > 1000
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    api_port = free_port()
    proc = _serve(api_settings, port, api_port, metrics_dir)
    url = f"http://127.0.0.1:{api_port}"
    wait_ready(url, proc)
    served = Served(url, proc, port, redis_dir, store)
    try:
        yield served
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        served.redis.kill()
        served.redis.wait()


def test_redis_stopped_under_load_gives_fast_503s_and_recovers(served: Served, api_settings) -> None:  # type: ignore[no-untyped-def]
    # The service's own bound on a Redis call (250 ms), plus slack for a shared 2-core machine
    # that runs the load generator, the server and the test at once: a hang would take seconds.
    bound = api_settings.redis_timeout_ms / 1000 + 0.5
    # What the restarted server loads: the same features (saved now: SAVE blocks Redis while it writes).
    redis.Redis(port=served.redis_port).save()
    with Load(served.url, {"flights": [GOOD]}) as load:
        time.sleep(2.0)
        # A call in flight when the server dies is answered 503 at once: "before" ends at the kill,
        # not once the process has been reaped.
        killed = time.monotonic()
        served.redis.kill()
        served.redis.wait()
        down = time.monotonic()
        time.sleep(5.0)
        restart = time.monotonic()
        served.redis = redis_server(served.redis_port, served.redis_dir)  # returns once it answers PING
        up = time.monotonic()
        time.sleep(3.0)
    calls = load.calls
    assert len(calls) > 500, len(calls)
    assert not [c for c in calls if c.status is None], [c.error for c in calls if c.status is None][:3]
    assert not [c for c in calls if c.status == 500]
    before = [c for c in calls if c.end < killed]
    during = [c for c in calls if c.start > down + 0.05 and c.end < restart]
    after = [c for c in calls if c.start > up + 1.0]
    assert before and during and after
    assert {c.status for c in before} == {200}
    assert {c.status for c in during} == {503}
    slowest = max(c.end - c.start for c in during)
    assert slowest <= bound, f"a 503 took {slowest * 1000:.0f} ms (bound {bound * 1000:.0f} ms)"
    assert {c.status for c in after} == {200}


def test_sigterm_under_load_completes_accepted_requests(served: Served) -> None:
    # Back to back (no pause between requests) and heavy enough that both workers are busy when
    # the signal comes.
    body = {"flights": [GOOD] * 100}
    with Load(served.url, body, rate=1000) as load:
        time.sleep(2.0)
        slowest = max(c.end - c.start for c in load.calls)
        term = time.monotonic()
        os.kill(served.proc.pid, signal.SIGTERM)
        assert served.proc.wait(timeout=60) == 0
        stopped = time.monotonic()
        time.sleep(0.5)
    # Accepted: sent well before the signal (longer ago than any request had taken, so a worker
    # had read it). Each got its full answer: no reset, no error.
    margin = max(0.2, 2 * slowest)
    accepted = [c for c in load.calls if c.start < term - margin]
    assert len(accepted) > 20
    assert all(c.status == 200 for c in accepted), [c.error or c.status for c in accepted if c.status != 200][:3]
    # Work in progress at the signal was finished and answered, not cut off.
    finished = [c for c in load.calls if c.start < term < c.end and c.status == 200]
    assert finished, [(c.error or c.status) for c in load.calls if c.end > term][:5]
    # Afterwards nothing listens: refused connections, not resets of accepted requests.
    late = [c for c in load.calls if c.start > stopped]
    assert late and all(c.status is None and "ConnectError" in (c.error or "") for c in late), [c.error for c in late][:3]


def _mlflow_server(port: int, backend_uri: str, artifacts: Path) -> subprocess.Popen[bytes]:
    """An MLflow tracking server over the API tests' own store, up once its store answers: /health
    answers before the first store request has opened the database, which on a busy machine can
    take longer than the service's registry timeout."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "server", "--backend-store-uri", backend_uri,
         "--default-artifact-root", artifacts.as_uri(), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no job runner: no jobs here
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search",
                         params={"max_results": 1}, timeout=30).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else "mlflow server exited"
        assert time.monotonic() < deadline, "the MLflow server did not start"
        time.sleep(0.3)


class Gate:
    """A TCP forwarder on ``port`` in front of a server on ``target``. Closed, the port refuses
    connections and the open ones are cut, as a stopped server's would be; open again, it forwards
    (a server that is down and comes back, without paying for a second start of MLflow's)."""

    def __init__(self, port: int, target: int):
        self.port, self.target = port, target
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.open()

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the port again at once
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        conns, self._conns = self._conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _state(url: str) -> tuple[int, str | None, dict[str, Any]]:
    """Status and serving version of one /predict, and /ready's body."""
    r = httpx.post(f"{url}/predict", json={"flights": [GOOD]}, timeout=30)
    version = r.json()["model"]["version"] if r.status_code == 200 else None
    return r.status_code, version, httpx.get(f"{url}/ready", timeout=10).json()


def _metrics_showing(url: str, line: str, seconds: float, why: str) -> str:
    """/metrics once it shows ``line``; the reload gauge is set on the event loop after the reload's
    thread, which /ready already reflects, so a scrape a moment later sees it."""
    deadline = time.monotonic() + seconds
    while line not in (metrics := httpx.get(f"{url}/metrics", timeout=10).text):
        assert time.monotonic() < deadline, why
        time.sleep(0.1)
    return metrics


def test_mlflow_down_during_hot_reload_keeps_serving_and_recovers(api_settings, small_models, loaded_redis) -> None:  # type: ignore[no-untyped-def]
    from skyprophet.adapters.tracking import PRODUCTION, connect

    v1, v2 = small_models
    port, mlflow_port = free_port(), free_port()
    tracking = _mlflow_server(mlflow_port, api_settings.mlflow_tracking_uri, api_settings.mlflow_artifact_root)
    gate = Gate(port, mlflow_port)  # the service talks to MLflow through it
    server = start_server(api_settings.model_copy(update={"mlflow_tracking_uri": f"http://127.0.0.1:{port}",
                                                           "model_refresh_s": 0.5}))
    local = connect(api_settings)  # the same store, read directly: the alias moves while the server is down
    try:
        deadline = time.monotonic() + 60
        while (state := _state(server.url))[:2] != (200, v1):  # loaded at start-up or by the next refresh
            assert time.monotonic() < deadline, f"the service never loaded version {v1}: {state}"
            time.sleep(0.3)
        assert state[2]["reload"]["outcome"] in ("loaded", "unchanged")

        gate.close()  # MLflow down: its port refuses connections
        local.set_registered_model_alias(api_settings.model_name, PRODUCTION, v2)
        with Load(server.url, {"flights": [GOOD]}, clients=2) as load:
            time.sleep(3.0)  # six refreshes against a registry that does not answer
        assert load.calls and {(c.status) for c in load.calls} == {200}
        status, version, ready = _state(server.url)
        assert (status, version) == (200, v1)  # the loaded model keeps serving
        assert ready["reload"]["outcome"] == "failed" and "model registry" in ready["reload"]["error"]
        assert any(w.startswith("model reload failed") for w in ready["warnings"]), ready
        metrics = _metrics_showing(server.url, "skyprophet_model_reload_failing 1.0", 5,
                                   "the reload gauge never said failing while MLflow was down")
        assert 'skyprophet_model_reloads_total{outcome="failed"}' in metrics

        gate.open()  # MLflow back
        deadline = time.monotonic() + 60
        while _state(server.url)[1] != v2:  # the next reload after MLflow returns takes the moved alias
            assert time.monotonic() < deadline, "the service never reloaded after MLflow came back"
            time.sleep(0.3)
        status, version, ready = _state(server.url)
        assert (status, version) == (200, v2) and ready["warnings"] == [] and ready["reload"]["error"] is None
        _metrics_showing(server.url, "skyprophet_model_reload_failing 0.0", 5, "the reload gauge still says failing after the reload")
    finally:
        local.set_registered_model_alias(api_settings.model_name, PRODUCTION, v1)
        server.stop()
        gate.close()
        _stop(tracking)

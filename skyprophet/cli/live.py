"""``skyprophet live run``: live operation on Redis: the whole stack, the replay, the stream processor, recovery."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from skyprophet.cli._common import Online, aware, group, log, settings, setup_logging
from skyprophet.core.errors import InvalidInput

app = group("Live operation on Redis: the replay clock, the stream processor, the whole stack, recovery.")
Speed = Annotated[str, typer.Option(help="simulated seconds per wall second, or 'max'")]


def _speed(text: str) -> float | None:
    """``--speed``: simulated seconds per wall second (positive), or None for 'max'."""
    if text == "max":
        return None
    try:
        pace = float(text)
    except ValueError:
        raise InvalidInput(f"--speed: a number or 'max', got {text!r}") from None
    if not pace > 0:
        raise InvalidInput("--speed must be positive")
    return pace


@app.command("run")
def run(
    start: Annotated[str | None, typer.Option("--from", envvar="SKYPROPHET_LIVE_FROM", help="the replay's start, ISO "
                                              "date-time with offset (default: the first day of the data's last month, "
                                              "00:00 UTC)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="last instant replayed (default: --from + 31 days)")] = None,
    speed: Speed = "600",
    port: Annotated[int, typer.Option(help="the API's TCP port")] = 8000,
    monitor_every: Annotated[float | None, typer.Option(min=1, help="also write the monitoring report of the served "
                                                        "traffic (the prediction log, outcomes as the clock passes) every "
                                                        "this many wall seconds, as reports/monitor/live (/monitor)")] = None,
    loop_every: Annotated[float | None, typer.Option(min=1, envvar="SKYPROPHET_LIVE_LOOP_EVERY", help="also turn the closed "
                                                     "loop (`model loop` by the replay's clock) every this many wall seconds")] = None,
    loop_metrics_port: Annotated[int | None, typer.Option(help="the loop's counters at http://0.0.0.0:PORT/metrics")] = None,
) -> None:
    """Live operation in one command, on Redis (started locally when none answers): the online store
    loaded up to --from, then the stream processor, the replay and the API in live mode (Ctrl-C stops
    all of them). The cut-off tables and their registry live in <data-dir>/live-run, so the main tables
    stay whole; received events go to <data-dir>/live, which the next `features build` merges."""
    from pipelines.live.operate import run_stack

    begin = None if not start else aware(start, "--from")  # an empty SKYPROPHET_LIVE_FROM: the default
    end = None if to is None else aware(to, "--to")
    _speed(speed)  # refused here rather than by the replay once everything else has started
    setup_logging()
    run_stack(settings(), begin, end, speed, port, monitor_every, on_ready=typer.echo, loop_every=loop_every,
              loop_metrics_port=loop_metrics_port)


@app.command()
def replay(
    start: Annotated[str, typer.Option("--from", help="replay events after this ISO date-time (with offset)")],
    to: Annotated[str | None, typer.Option("--to", help="last instant replayed (default: --from + 31 days)")] = None,
    speed: Speed = "600",
) -> None:
    """Publish the year's events in availability order to the Redis Stream, with the simulated clock."""
    from pipelines.live.replay import replay as run_replay

    begin = aware(start, "--from")
    end = begin + timedelta(days=31) if to is None else aware(to, "--to")
    pace = _speed(speed)
    setup_logging(heavy=False)
    log.info("published %d entries", run_replay(settings(), begin, end, pace).published)


@app.command()
def stream(
    start: Annotated[str | None, typer.Option("--from", help="the instant the online store holds (needed without a checkpoint)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="stop after ticking this ISO date-time (default: run until stopped)")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="start over: delete the stream and its <name>:* keys")] = False,
    online: Annotated[Online, typer.Option(help="online store to keep fresh")] = "redis",
) -> None:
    """Run the stream processor: events -> window state -> rows in the online store at every grid tick
    (SIGTERM or Ctrl-C stops it after the batch in hand)."""
    import signal

    from pipelines.live.processor import process
    from skyprophet.adapters.progress import peak_rss_mb

    begin = None if start is None else aware(start, "--from")
    end = None if until is None else aware(until, "--to")
    setup_logging(heavy=False)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    proc = process(settings(), online=online, start=begin, until=end, reset=reset, stop=lambda: bool(stopping))
    c = proc.counts
    log.info("ticks %d, events %d, duplicates %d, late %d, rejected %d (failed %d, dead-lettered %d), rows written %d, "
             "peak RSS %.0f MB", proc.ticks, c["applied"], c["duplicates"], c["late"], c["rejected"], c["failed"],
             c["dead_lettered"], proc.rows_written, peak_rss_mb())


@app.command()
def recover(
    at: Annotated[
        str | None, typer.Option(help="rebuild up to this ISO date-time (default: the checkpoint, else the last grid point the log covers)")
    ] = None,
    online: Annotated[Online, typer.Option(help="online store to rebuild")] = "redis",
) -> None:
    """Rebuild a lost online store (an emptied or replaced Redis) from the raw data plus the live event
    log: features built up to the recovery point, registered, the last day materialized, and the
    stream reset with a checkpoint there, so that `skyprophet live stream` resumes and the producer
    replays from that point."""
    from pipelines.live.operate import recover as run_recover

    point = None if at is None else aware(at, "--at")
    setup_logging()
    done = run_recover(settings(), point, online)
    typer.echo(f"online store rebuilt at {done.isoformat()}; resume with `skyprophet live stream` and replay from there: "
               f"`skyprophet live replay --from {done.isoformat()}`")

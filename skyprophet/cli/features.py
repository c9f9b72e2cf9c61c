"""``skyprophet features``: the feature tables and the Feast feature store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from skyprophet.cli._common import OnlineOption, aware, group, log, settings, setup_logging, shown

app = group("Feature tables and the Feast feature store.")


@app.command("build")
def build(
    until: Annotated[str | None, typer.Option(help="use only events at or before this ISO date-time (with offset)")] = None,
    grid_minutes: Annotated[int | None, typer.Option(min=1, help="grid step of the rolling tables (default: settings)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="project data folder holding raw/")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="where the tables go (default: <data-dir>/processed)")] = None,
    live: Annotated[bool, typer.Option("--live/--no-live", help="merge the events the stream processor logged (<data-dir>/live)")] = True,
) -> None:
    """Build the time-stamped feature tables from data/raw (and the live event log) into data/processed."""
    from pipelines.features.build import build as run
    from skyprophet.adapters.progress import console_steps

    cutoff = None if until is None else aware(until, "--until")
    setup_logging(heavy=False)
    with console_steps() as steps:
        run(settings(data_dir), out_dir, cutoff, grid_minutes, steps=steps, live=live)


@app.command("apply")
def apply(online: OnlineOption = None) -> None:
    """Register the feature repo in the Feast registry (like `feast apply`, with stale objects removed)."""
    from pipelines.features.store import apply_repo

    setup_logging()
    log.info("applied %d objects", len(apply_repo(settings(), online)))


@app.command("materialize")
def materialize(
    end: Annotated[str, typer.Option(help="load values up to this ISO date-time (with offset)")],
    start: Annotated[str | None, typer.Option(help="from this instant instead of where the last run ended")] = None,
    full: Annotated[bool, typer.Option("--full", help="from each source's first row, not incrementally")] = False,
    online: OnlineOption = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="clear the views first: needed for an --end before what the store holds")] = False,
) -> None:
    """Load the online store up to --end in bounded chunks (like `feast materialize-incremental`).
    An --end before what the store already holds is refused unless --replace."""
    from pipelines.features.store import load_online

    end_at = aware(end, "--end")
    start_at = None if start is None else aware(start, "--start")
    setup_logging()
    log.info("materialized %s", load_online(settings(), end_at, start=start_at, incremental=not full, online=online, replace=replace))


@app.command("training-set")
def training_set(
    out_dir: Annotated[Path, typer.Option(help="folder of the parquet dataset (part-00000.parquet, ...)")],
    lead_minutes: Annotated[int | None, typer.Option(min=0, help="minutes before scheduled departure (default: settings)")] = None,
    feature_service: Annotated[str | None, typer.Option(help="feature service (default: the current one)")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1_000, help="flights per Feast call (and per file)")] = 100_000,
) -> None:
    """Every labelled flight's point-in-time training row, streamed to a parquet dataset in chunks
    (memory bounded by a chunk), through the configured offline store (DuckDB or Spark)."""
    from pipelines.features.training_set import write_training_set
    from skyprophet.adapters.progress import console_steps
    from skyprophet.core.config import FEATURE_SERVICE

    setup_logging()
    s = settings()
    with console_steps() as steps, steps.step("training set: point-in-time retrieval (flights)") as advance:
        lead = s.lead_minutes if lead_minutes is None else lead_minutes
        rows = write_training_set(s, out_dir, feature_service or FEATURE_SERVICE, lead, chunk_rows, advance)
    log.info("wrote %d rows to %s (offline store: %s)", rows, out_dir, s.offline_store)


@app.command("demo")
def demo(
    after: Annotated[str | None, typer.Option(help="the sample: the first flight scheduled at or after this "
                                                   "(default: 20:00 UTC on the data's last day)")] = None,
    online: OnlineOption = None,
) -> None:
    """Materialize up to a real flight's prediction time and print its online features."""
    from rich.console import Console
    from rich.table import Table

    from pipelines.features.store import demo_flight

    after_at = None if after is None else aware(after, "--after")
    setup_logging()
    got = demo_flight(settings(), after_at, online)
    keys = got.keys
    sched = datetime.fromtimestamp(keys.sched_dep_epoch_s, tz=got.as_of.tzinfo)
    table = Table(title=f"{keys.flight_id} {keys.origin}->{keys.dest} "
                  f"scheduled {sched:%Y-%m-%d %H:%M} UTC, features as of {got.as_of:%H:%M} UTC")
    table.add_column("feature")
    table.add_column("value", justify="right")
    for name, value in got.features.values.items():
        table.add_row(name, shown(value))
    console = Console()
    console.print(table)
    console.print(f"missing: {len(got.features.missing)}, stale: {got.features.stale or 'none'}")

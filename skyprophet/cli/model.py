"""``skyprophet model``: train, evaluate, promote, score in batch, predict one flight."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from skyprophet.cli._common import calendar_date, group, log, serving_settings, settings, setup_logging, shown
from skyprophet.core.errors import InvalidInput

app = group("Models: train on point-in-time features, evaluate, promote behind a gate, score.")
Months = Annotated[str | None, typer.Option(metavar="YYYY-MM[-DD][..YYYY-MM[-DD]]", help="months or local days")]


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
    train_window: Annotated[str | None, typer.Option("--train", metavar="YYYY-MM[-DD][..YYYY-MM[-DD]]", help="train window")] = None,
    validation: Months = None,
    test: Months = None,
    num_threads: Annotated[int | None, typer.Option(min=1, help="LightGBM threads (default: params)")] = None,
    no_register: Annotated[bool, typer.Option("--no-register", help="log the runs, register nothing")] = False,
    shuffle_labels: Annotated[bool, typer.Option("--shuffle-labels", help="sanity check: permute the train/validation labels")] = False,
    skip_if_production: Annotated[bool, typer.Option("--skip-if-production", help="do nothing when a production model exists")] = False,
) -> None:
    """Train LightGBM and the baseline on point-in-time features; log both to MLflow; register the model."""
    from pipelines.model.params import load_params
    from pipelines.model.promote import production_version
    from pipelines.model.train import train as run, write_summary
    from skyprophet.adapters.progress import console_steps

    setup_logging()
    s = settings()
    params = load_params(s, params_file)
    if feature_service:
        params.feature_service = feature_service
    if lead_minutes is not None:
        params.lead_minutes, params.leads_minutes = lead_minutes, [lead_minutes]
    if leads is not None:
        params.leads_minutes = _leads(leads, params.lead_minutes)
    params.windows = _override(params.windows, {"train": train_window, "validation": validation, "test": test})
    if skip_if_production and production_version(s):
        log.info("%s@production exists; not training", s.model_name)
        return
    with console_steps() as steps:
        result = run(s, params, num_threads=num_threads, shuffle_labels=shuffle_labels, register=not no_register, steps=steps)
    log.info("wrote %s", write_summary(s, result))


@app.command()
def retrain(
    as_of: Annotated[str, typer.Option("--as-of", metavar="YYYY-MM-DD", help="retrain on the labels known before this day (UTC)")],
    reason: Annotated[Literal["scheduled", "drift", "manual"], typer.Option(help="why: an MLflow tag of the version")] = "manual",
    params_file: Annotated[Path | None, typer.Option("--params", help="parameters file (default: params.yaml)")] = None,
    num_threads: Annotated[int | None, typer.Option(min=1, help="LightGBM threads (default: params)")] = None,
    no_register: Annotated[bool, typer.Option("--no-register", help="log the runs, register nothing")] = False,
) -> None:
    """Retrain on the rolling window as of a day (params.yaml's retrain: the newest labelled days as
    test and validation, the months before them as train); register it as the candidate, tagged
    with its reason and data window."""
    from pipelines.model.params import load_params
    from pipelines.model.retrain import retrain as run
    from pipelines.model.train import write_summary
    from skyprophet.adapters.progress import console_steps

    setup_logging()
    s = settings()
    day = calendar_date(as_of, "--as-of")
    params = load_params(s, params_file)
    with console_steps() as steps:
        result = run(s, params, day, reason, num_threads=num_threads, register=not no_register, steps=steps)
    log.info("wrote %s", write_summary(s, result))


@app.command()
def evaluate(
    version: Annotated[str | None, typer.Option(help="registered version (default: the candidate alias)")] = None,
    test: Months = None,
    validation: Months = None,
) -> None:
    """Compare a version with the baseline and production; write reports/model/metrics.json."""
    from pipelines.model.evaluate import evaluate as run
    from pipelines.model.params import load_params

    setup_logging()
    s = settings()
    windows = None  # the model's own
    if test or validation:
        base = load_params(s).windows_named("validation", "test")
        windows = _override(base, {"validation": validation, "test": test})
    typer.echo(run(s, version, windows).table)
    log.info("wrote %s", Path(s.reports_dir) / "model" / "metrics.json")


@app.command()
def promote(
    version: Annotated[str | None, typer.Option(help="version to promote (default: the newest)")] = None,
    force: Annotated[bool, typer.Option("--force", help="promote even if the gate refuses")] = False,
    skip_if_production: Annotated[bool, typer.Option("--skip-if-production", help="do nothing when a production model exists")] = False,
    from_shadow: Annotated[bool, typer.Option("--from-shadow", help="promote the challenger if the served flights both "
                                              "models scored say it is better (a paired interval)")] = False,
) -> None:
    """Move the production alias to a version if it is at least as good on the test split (or, with
    --from-shadow, to the challenger if it beat production on the traffic it shadowed)."""
    from pipelines.model.promote import production_version, promote as run

    setup_logging()
    s = settings()
    if from_shadow:
        if version or force or skip_if_production:
            raise InvalidInput("--from-shadow promotes the challenger alias: no --version, --force or --skip-if-production")
        from pipelines.monitoring.shadow import promote_from_shadow

        log.info("promoted from the shadow: %s", promote_from_shadow(s).summary())
        return
    if skip_if_production and production_version(s):
        log.info("%s@production exists; nothing to promote", s.model_name)
        return
    log.info("%s", run(s, version, force).message)


@app.command()
def stage(
    version: Annotated[str | None, typer.Option(help="the version to stage (default: the candidate)")] = None,
) -> None:
    """Smoke-test a version as a service would take it (artifact, feature service, online rows, the
    README's request scored) and move the staging alias to it; a staging service swaps to it."""
    from pipelines.model.stage import stage as run

    setup_logging()
    s = settings()
    version, result = run(s, version)
    log.info("%s@staging -> version %s (README's flight %s: %.4f)", s.model_name, version, result["flight"],
             result["delay_probability"])


@app.command()
def challenge(
    version: Annotated[str | None, typer.Option(help="the version to score in the shadow (default: the candidate)")] = None,
) -> None:
    """Point the challenger alias at a version: every service scores it beside production, off the
    request path, from its next alias check."""
    from pipelines.model.promote import challenge as run

    setup_logging()
    s = settings()
    log.info("%s@challenger -> version %s", s.model_name, run(s, version))


@app.command()
def shadow(
    hours: Annotated[float | None, typer.Option(min=0.01, help="only what was logged in the last HOURS")] = None,
) -> None:
    """The challenger beside production on the served flights both scored, once their outcomes are
    known: ROC AUC, Brier, log loss, the paired interval of each difference, and whether it would
    be promoted (reports/monitor/shadow/shadow.json and shadow.html)."""
    from datetime import datetime, timedelta, timezone

    from pipelines.monitoring.shadow import evidence, write

    setup_logging()
    s = settings()
    since = datetime.now(timezone.utc) - timedelta(hours=hours) if hours else None
    found = evidence(s, since=since)
    typer.echo(f"{found.summary()}; {'would be promoted' if found.better else 'would not be promoted'}")
    log.info("wrote %s", write(s, found))


@app.command()
def loop(
    every: Annotated[float, typer.Option(min=1, help="seconds between turns")] = 300.0,
    clock: Annotated[Literal["wall", "replay"], typer.Option(envvar="SKYPROPHET_LOOP_CLOCK", help="the loop's now: the wall "
                                                             "clock, or the replay's (live operation, Redis)")] = "wall",
    metrics_port: Annotated[int | None, typer.Option(help="serve the loop's counters at http://0.0.0.0:PORT/metrics")] = None,
    turns: Annotated[int | None, typer.Option(min=1, help="stop after this many turns (default: until interrupted)")] = None,
    num_threads: Annotated[int | None, typer.Option(min=1, help="LightGBM threads of a retraining (default: params)")] = None,
) -> None:
    """The closed loop, unattended (APScheduler): each turn promotes or retires the challenger once
    the shadow has spoken, or retrains when the schedule or a retraining alert says so, stages the
    new version and puts it in the shadow (reports/loop/turns.jsonl, MLflow tags loop_<step>)."""
    from pipelines.monitoring.loop import run, wall_clock
    from pipelines.monitoring.schedule import replay_clock

    setup_logging()
    s = settings()
    run(s, every, wall_clock if clock == "wall" else lambda: replay_clock(s), metrics_port, num_threads, turns)


@app.command()
def score(
    day: Annotated[str | None, typer.Option(
        "--date", metavar="YYYY-MM-DD", help="local scheduled date (default: the data's last day)")] = None,
    alias: Annotated[str, typer.Option(help="registry alias to score with")] = "production",
    out: Annotated[Path | None, typer.Option(help="parquet file (default: reports/scores/<date>.parquet)")] = None,
) -> None:
    """Score every flight scheduled on a local day into parquet (offline point-in-time features)."""
    from pipelines.features.store import last_local_day
    from pipelines.model.score import score_day

    s = settings()
    when = last_local_day(s.canonical_path) if day is None else calendar_date(day, "--date")
    setup_logging()
    score_day(s, when, alias, out)


@app.command()
def predict(
    carrier: Annotated[str, typer.Option(help="airline code, e.g. UA")],
    flight_number: Annotated[str, typer.Option(help="as the airline writes it, e.g. 1545 or 1545A")],
    origin: Annotated[str, typer.Option(help="origin airport, e.g. EWR")],
    dest: Annotated[str, typer.Option(help="destination airport, e.g. IAH")],
    scheduled_departure: Annotated[str, typer.Option(help="local ISO 8601 with offset, e.g. 2013-12-30T08:00-05:00")],
    tailnum: Annotated[str | None, typer.Option(help="aircraft registration, e.g. N14228")] = None,
    alias: Annotated[str, typer.Option(help="registry alias of the model")] = "production",
    source: Annotated[
        Literal["offline", "online"],
        typer.Option("--store", help="offline: point-in-time features as of T (any flight of the data); online: the online "
                     "store, as the API"),
    ] = "offline",
    top: Annotated[int, typer.Option(min=1, help="how many reasons to print")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Score one flight with the production model and print the probability, decision and top reasons."""
    from pipelines.model.score import score_flight

    query = _flight_query({"carrier": carrier, "flight_number": flight_number, "origin": origin, "dest": dest,
                           "scheduled_departure": scheduled_departure, "tailnum": tailnum})
    setup_logging()
    result = score_flight(settings(), query.keys(), alias=alias, source=source, top=top)
    _print_prediction(result, query, as_json)


def _flight_query(values: dict[str, Any]) -> Any:
    """The flight by the API's own rules for each field; every field that breaks one is named as
    its option, with what was expected and what was given."""
    from pydantic import ValidationError

    from serving.schemas import FlightQuery

    try:
        return FlightQuery.model_validate(values)
    except ValidationError as exc:
        problems = []
        for e in exc.errors(include_url=False):
            field = str(e["loc"][0])
            option = "--" + field.replace("_", "-")
            if e["type"] == "string_pattern_mismatch":
                problems.append(f"{option}: expected an {FlightQuery.model_fields[field].description} (got {e['input']!r})")
            else:
                msg = e["msg"].removeprefix("Value error, ")
                problems.append(f"{option}: {msg}" if repr(e["input"]) in msg else f"{option}: {msg} (got {e['input']!r})")
        raise InvalidInput("; ".join(problems)) from None


def _as_api_response(result: Any, factors: list[dict[str, Any]]) -> Any:
    """The flight in the API's response shape (``/predict``'s ``PredictResponse``): the same fields,
    with coverage judged against the service's SKYPROPHET_MIN_COVERAGE and ``as_of`` the instant
    the features were read as of."""
    from serving.schemas import PredictResponse
    from skyprophet.core.features import input_coverage

    spec = result.model.spec
    coverage = input_coverage(result.missing, len(spec.feature_names))
    return PredictResponse.model_validate({
        "model": result.model.ref(),
        "as_of": result.as_of.isoformat(),
        "predictions": [{
            "flight_id": result.flight_id, "status": "ok", "lead_minutes": float(spec.lead_minutes), "reason": None,
            "delay_probability": round(result.probability, 6), "delayed": result.delayed, "threshold": spec.threshold,
            "coverage": round(coverage, 4), "reliable": coverage >= serving_settings().min_coverage,
            "missing_features": result.missing, "stale_features": result.stale, "feature_age_s": result.ages,
            "top_factors": factors,
        }],
    })


def _print_prediction(result: Any, query: Any, as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from skyprophet.core.features import nan_to_none

    factors = [{**f, "value": nan_to_none(f["value"])} for f in result.top_factors]
    if as_json:
        typer.echo(_as_api_response(result, factors).model_dump_json(indent=2))
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
        table.add_row(f["feature"], shown(f["value"], "missing"), f"{f['contribution']:+.3f}")
    console.print(table)
    if result.missing or result.stale:
        console.print(f"missing: {', '.join(result.missing) or 'none'}; stale: {', '.join(result.stale) or 'none'}")

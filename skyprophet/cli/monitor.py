"""``skyprophet monitor``: the monitoring report of a window against the training reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from skyprophet.cli._common import settings, setup_logging
from skyprophet.core.errors import InvalidInput


def monitor(
    window: Annotated[str | None, typer.Option(metavar="YYYY-MM[..YYYY-MM]", help="months scored in batch (offline "
                                               "retrieval, as training reads), e.g. 2013-12; 'last': the data's last month")] = None,
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
    from pipelines.monitoring.schedule import watch
    from skyprophet.core.months import parse_window

    if (window is not None) + (log_dir is not None) + served != 1:
        raise InvalidInput("give one window: --window YYYY-MM[..YYYY-MM], --log FOLDER or --served")
    if window is not None and (hours is not None or every is not None or live):
        raise InvalidInput("--hours, --every and --live go with a log (--log or --served)")
    s = settings()
    if window == "last":
        from pipelines.features.store import last_local_day

        window = last_local_day(s.canonical_path).strftime("%Y-%m")
    months = parse_window("--window", window) if window else None
    ref = parse_window("--reference", reference) if reference else None
    setup_logging()
    watch(s, _summary, every=every, hours=hours, live=live, window=months, log_dir=log_dir, served=served, reference=ref, name=name)


def _summary(result: Any) -> None:
    r = result.report
    perf = r.performance
    moved = [(k, v) for k, v in r.psi.items() if k not in r.calendar_inputs][:3]
    typer.echo(f"adversarial AUC {r.adversarial_auc:.3f}; largest PSI (calendar apart): "
               + ", ".join(f"{k} {v:.3f}" for k, v in moved)
               + (f"; ROC AUC {perf.roc_auc:.4f}, Brier {perf.brier:.4f}" if perf else "; no outcomes yet")
               + f"; {len(r.alerts)} alert(s) against the training months"
               + (f", {len(r.recent.alerts)} retraining alert(s) against {r.recent.reference}" if r.recent else ""))
    typer.echo(f"wrote {result.folder / 'report.html'}")

"""The closed loop, one turn at a time: retraining, staging, the shadow and promotion, unattended.

Each turn (``turn``) reads the registry and does one thing, by the loop's clock (``now``: the
replay's clock in live operation, so that a replayed month runs the loop as the month would have):

1. a challenger in the shadow (``challenger`` names a version other than production): compare the
   two on the served flights whose outcome is known by ``now`` (``pipelines.monitoring.shadow``);
   *promote* when the paired interval says the challenger is better over enough flights (the
   services hot-swap), *retire* it (*refuse*) once it has had ``loop_shadow_days`` in the shadow
   without being better (or at once when its artifact does not load), else *wait* for more outcomes;
2. otherwise *retrain* when one is due: ``loop_retrain_days`` after the last retraining's day
   (scheduled), or when the newest ``loop_report`` monitoring report, written since the last
   retraining, holds a retraining alert (drift). The feature tables are built again from the raw
   data and the event log up to ``now`` (``features build``), the model retrained as of ``now``'s
   day (``model retrain``), smoke-tested into ``staging`` (``model stage``) and put in the shadow
   as ``challenger`` (``model challenge``): one turn takes a retraining that far;
3. else *idle*.

Every step is logged, counted (``skyprophet_loop_steps_total{step}``, served by the scheduler's
``/metrics``), appended to ``reports/loop/turns.jsonl`` and written on the version it concerns as an MLflow tag (``loop_<step>``:
the loop's clock and the outcome), beside the tags each step writes itself (the retraining's reason
and windows, ``staging_smoke``, ``shadow_evidence``, ``promotion``).

``run`` turns it every so many seconds with APScheduler (one turn at a time: a turn still running
when the next is due is not started twice, and missed turns are run once, not in a burst).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from pipelines.monitoring.shadow import evidence, promote_from_shadow
from skyprophet.adapters.tracking import CHALLENGER, PRODUCTION, alias_version, connect, version_spec
from skyprophet.core.errors import NoData, PromotionRefused, SkyProphetError
from skyprophet.core.monitoring import RecentPart

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from skyprophet.core.config import Settings

log = logging.getLogger(__name__)


@dataclass
class Turn:
    """What one turn did."""

    at: str  # the loop's clock (ISO)
    step: str  # promote | refuse | wait | retrain | stage | stage_refused | challenge | idle | fail
    outcome: str  # what came of it, in a few words
    version: str | None = None
    reason: str | None = None  # a retraining's: scheduled | drift


def last_retraining(client: MlflowClient, name: str) -> tuple[date | None, float | None]:
    """The newest retraining's day (its ``retrained_as_of`` tag) and when it was registered (epoch s)."""
    newest: tuple[date | None, float | None] = (None, None)
    for v in client.search_model_versions(f"name = '{name}'"):
        day = (v.tags or {}).get("retrained_as_of")
        if day and (newest[0] is None or date.fromisoformat(day) > newest[0]):
            newest = (date.fromisoformat(day), v.creation_timestamp / 1000)
    return newest


def due(settings: Settings, client: MlflowClient, now: datetime) -> str | None:
    """Why a retraining is due now (``scheduled`` or ``drift``), or None."""
    day, registered = last_retraining(client, settings.model_name)
    if day is None or (now.date() - day).days >= settings.loop_retrain_days:
        return "scheduled"
    path = settings.reports_dir / "monitor" / settings.loop_report / "report.json"
    if not path.is_file() or (registered is not None and path.stat().st_mtime <= registered):
        return None  # no report written since the last retraining
    try:
        recent = json.loads(path.read_text()).get("recent")
        part = None if recent is None else RecentPart.model_validate(recent)
    except ValueError:  # a report being written, or not a report: the next turn reads it again
        return None
    return "drift" if part is not None and part.retrain else None


def _tag(client: MlflowClient, name: str, turn: Turn) -> None:
    if turn.version is not None:
        client.set_model_version_tag(name, turn.version, f"loop_{turn.step}", json.dumps({"at": turn.at, "outcome": turn.outcome}))


def _shadow(settings: Settings, client: MlflowClient, now: datetime, challenger: str) -> Turn:
    """The challenger in the shadow: promote it, retire it, or wait."""
    name, at = settings.model_name, now.isoformat()
    try:
        version_spec(client, name, challenger)
    except Exception as exc:  # noqa: BLE001 (MLflow raises its own for a missing or unreadable artifact)
        client.delete_registered_model_alias(name, CHALLENGER)  # the services refuse it too; nothing to wait for
        return Turn(at, "refuse", f"its artifact does not load ({str(exc)[:200]}): retired", challenger)
    try:
        found = evidence(settings, known_at=now, client=client)
    except NoData as exc:
        return Turn(at, "wait", str(exc), challenger)
    since = json.loads(client.get_model_version(name, challenger).tags.get("loop_challenge", "{}")).get("at")
    shadowed_enough = since is not None and now - datetime.fromisoformat(since) >= timedelta(days=settings.loop_shadow_days)
    if not found.better and not shadowed_enough:
        return Turn(at, "wait", f"not better yet: {found.summary()}", challenger)
    try:
        promote_from_shadow(settings, client=client, found=found)  # records the evidence either way
    except PromotionRefused as exc:
        client.delete_registered_model_alias(name, CHALLENGER)
        return Turn(at, "refuse", str(exc), challenger)
    client.delete_registered_model_alias(name, CHALLENGER)
    return Turn(at, "promote", found.summary(), challenger)


def _retrain(settings: Settings, client: MlflowClient, now: datetime, reason: str, num_threads: int | None) -> list[Turn]:
    """Build the feature tables from the raw data and the event log up to ``now``, retrain as of
    ``now``'s day, stage the new version, put it in the shadow."""
    from pipelines.features import build as build_features
    from pipelines.features.store import apply_repo
    from pipelines.model.params import load_params
    from pipelines.model.promote import challenge
    from pipelines.model.retrain import retrain
    from pipelines.model.stage import stage

    at = now.isoformat()
    build_features.build(settings, until=now)
    apply_repo(settings)
    result = retrain(settings, load_params(settings), now.date(), reason, num_threads=num_threads, client=client)
    version = str(result.version)
    turns = [Turn(at, "retrain", f"version {version}, test ROC AUC {result.metrics['test']['roc_auc']:.4f}", version, reason)]
    try:
        stage(settings, version, client=client)
    except PromotionRefused as exc:
        return [*turns, Turn(at, "stage_refused", str(exc), version)]
    turns.append(Turn(at, "stage", "smoke test passed: staging", version))
    challenge(settings, version, client=client)
    return [*turns, Turn(at, "challenge", "challenger: scored in the shadow from each service's next alias check", version)]


def turn(settings: Settings, now: datetime, client: MlflowClient | None = None, num_threads: int | None = None,
         count: Callable[[Turn], None] | None = None) -> list[Turn]:
    """One turn of the loop at ``now`` (see the module); every step it took, each logged, counted
    with ``count`` and tagged on its version. A step that fails is a ``fail`` turn, never an exception."""
    client = client or connect(settings)
    name = settings.model_name
    try:
        production, challenger = (alias_version(client, name, a) for a in (PRODUCTION, CHALLENGER))
        if challenger is not None and challenger != production:
            turns = [_shadow(settings, client, now, challenger)]
        elif (reason := due(settings, client, now)) is not None:
            turns = _retrain(settings, client, now, reason, num_threads)
        else:
            turns = [Turn(now.isoformat(), "idle", "nothing due")]
    except Exception as exc:  # noqa: BLE001 (whatever failed, the scheduler keeps turning; the next turn tries again)
        log.warning("loop %s: a step failed", now.isoformat(), exc_info=not isinstance(exc, SkyProphetError))
        turns = [Turn(now.isoformat(), "fail", f"{type(exc).__name__}: {str(exc)[:500]}")]
    for t in turns:
        log.info("loop %s: %s %s%s", t.at, t.step, f"v{t.version} " if t.version else "", t.outcome)
        _tag(client, name, t)
        if count is not None:
            count(t)
    return turns


def run(settings: Settings, every: float, clock: Callable[[], datetime], metrics_port: int | None = None,
        num_threads: int | None = None, turns: int | None = None) -> None:
    """Turn the loop every ``every`` seconds (APScheduler) until interrupted, or ``turns`` times;
    each turn appended to ``reports/loop/turns.jsonl``; its counts on ``/metrics`` at ``metrics_port``."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from prometheus_client import Counter, start_http_server

    counter = Counter("skyprophet_loop_steps", "steps the closed loop took (promote, refuse, wait, retrain, stage, "
                      "stage_refused, challenge, idle, fail)", ["step"])
    if metrics_port is not None:
        start_http_server(metrics_port)
    journal = settings.reports_dir / "loop" / "turns.jsonl"
    journal.parent.mkdir(parents=True, exist_ok=True)
    done: list[int] = []

    def count(t: Turn) -> None:
        counter.labels(t.step).inc()
        with journal.open("a") as f:
            f.write(json.dumps(asdict(t)) + "\n")

    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per turn is ours; its own two are noise
    scheduler = BlockingScheduler(timezone=timezone.utc)

    def job() -> None:
        try:
            now = clock()
        except SkyProphetError as exc:  # no replay clock yet: the next turn looks again
            log.info("loop: %s", exc)
            return
        turn(settings, now, num_threads=num_threads, count=count)
        done.append(1)
        if turns is not None and len(done) >= turns:
            scheduler.shutdown(wait=False)

    scheduler.add_job(job, "interval", seconds=every, next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)

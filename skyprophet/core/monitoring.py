"""The monitoring report's contract: one typed model, written by ``pipelines.monitoring`` as
``report.json`` and read back by the service (its gauges on ``/metrics``, the ``/monitor`` pages).

Every figure has one name and one type here; a report that does not parse is refused whole,
never read key by key. A NaN (a statistic with no rows behind it) is written as JSON's ``NaN``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from skyprophet.core.config import Settings


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")


class ModelRef(_Part):
    """The model scored and described."""

    name: str
    version: str
    feature_service: str


class ReferenceRows(_Part):
    """The training months the window is compared with, and the rows sampled from them."""

    months: str
    rows: int


class BatchWindow(_Part):
    """A past period scored in batch (offline retrieval, as training reads)."""

    source: Literal["batch"] = "batch"
    months: str
    rows: int
    labelled: int  # rows whose outcome is known


class LogWindow(_Part):
    """Served traffic: the prediction log logged in [since, until)."""

    source: Literal["prediction_log"] = "prediction_log"
    log: str
    since: str | None
    until: str | None
    models: list[str]  # "name vN" of every model that answered in the window
    outcomes_known_at: str | None  # outcomes joined only for flights departed by then (None: all)
    outside_data: int  # rows read as of an instant the data does not cover (left out)
    rows: int
    labelled: int


class Ranked(_Part):
    input: str
    gain_share: float


class ComparedRows(_Part):
    reference: int
    window: int


class AdversarialPart(_Part):
    """The validator telling reference rows from window rows: its out-of-fold ROC AUC and the inputs
    it leans on (calendar inputs left out: they separate any two periods by construction)."""

    auc: float
    ranking: list[Ranked]
    excluded: list[str]
    rows: ComparedRows


class InputDriftPart(_Part):
    """One input's drift: PSI and its band, a two-sample test, missing shares, unseen categories."""

    kind: Literal["numeric", "categorical"]
    psi: float
    band: Literal["stable", "watch", "act"]
    test: str  # ks | chi2
    p_value: float
    new_categories: list[str]
    missing_reference: float
    missing_window: float


class PredictionDrift(InputDriftPart):
    reference_mean: float
    window_mean: float


class CalibrationPoint(_Part):
    predicted: float
    observed: float


class GroupScores(_Part):
    rows: int
    roc_auc: float
    pr_auc: float
    brier: float


class Performance(_Part):
    """Quality on the labelled rows, overall and by carrier, origin and lead (minutes)."""

    rows: int
    delayed_share: float
    roc_auc: float
    pr_auc: float
    brier: float
    precision: float
    recall: float
    f1: float
    threshold: float
    calibration: list[CalibrationPoint]
    by_carrier: dict[str, GroupScores]
    by_origin: dict[str, GroupScores]
    by_lead: dict[str, GroupScores]


class Skew(_Part):
    """Logged online values against offline retrieval at the same instant: the share equal."""

    rows: int
    match_rate: dict[str, float]  # per input
    by_view: dict[str, float]  # the lowest input's rate, per feature view


class Freshness(_Part):
    """One view's rows at serve time: their age and the shares present, stale and not found."""

    age_p50_s: float
    age_p95_s: float
    present: float
    stale: float
    not_found: float


class Thresholds(_Part):
    """The alert thresholds of a report (``SKYPROPHET_MONITOR_*`` settings)."""

    psi: float
    adversarial_auc: float
    skew_match_min: float
    brier: float

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(psi=settings.monitor_psi_alert, adversarial_auc=settings.monitor_adversarial_auc_alert,
                   skew_match_min=settings.monitor_skew_match_min, brier=settings.monitor_brier_alert)


class Alert(_Part):
    check: Literal["psi", "adversarial_auc", "prediction_psi", "skew", "brier", "log_loss_rise", "calibration_gap"]
    input: str | None
    value: float
    threshold: float


class RecentPart(_Part):
    """The window against the weeks just before it (``pipelines.monitoring.alerts``): checks a
    season cannot trip on its own, with thresholds calibrated on the backtest; what fires here is
    what starts a retraining (``retrain``)."""

    reference: str  # the local days compared with ("YYYY-MM-DD..YYYY-MM-DD")
    rows: int
    checks: dict[str, float | None]  # None: not computable yet (no outcome known)
    thresholds: dict[str, float | None]  # None: the check never alerts
    alerts: list[Alert] = []

    @property
    def retrain(self) -> bool:
        return bool(self.alerts)


class ShadowPart(_Part):
    """Served traffic with a challenger in the shadow (``pipelines.monitoring.shadow``): production
    and the challenger on the same flights once their outcomes are known."""

    production: str  # versions
    challenger: str
    pairs: int  # flights scored by both
    labelled: int
    flights: int  # distinct labelled flights (the bootstrap's units)
    metric: str  # the one a promotion from the shadow reads
    level: float
    min_flights: int
    comparison: dict[str, dict[str, float | bool]]  # per metric: a (production), b (challenger), difference, low, high, b_better, b_worse
    better: bool  # what a promotion from the shadow would decide now


class MonitorReport(_Part):
    """One window against the training reference: drift, the adversarial validator, performance
    once outcomes are in, and (served traffic) training-serving skew and freshness."""

    name: str
    created_at: str
    model: ModelRef
    reference: ReferenceRows
    window: Annotated[BatchWindow | LogWindow, Field(discriminator="source")]
    adversarial_auc: float
    psi: dict[str, float]  # per input, largest first
    skew_match_rate: dict[str, float] | None
    performance: Performance | None  # None before any outcome is known
    adversarial: AdversarialPart
    calendar_inputs: list[str]
    drift: dict[str, InputDriftPart]
    prediction_drift: PredictionDrift
    skew: Skew | None  # served traffic only
    freshness: dict[str, Freshness] | None  # served traffic only
    thresholds: Thresholds
    alerts: list[Alert] = []
    recent: RecentPart | None = None  # None: no data in the weeks before the window
    shadow: ShadowPart | None = None  # served traffic with a challenger scored beside production, once outcomes are known
    seconds: float = 0.0

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    def alerts_past(self, limits: Thresholds, *, watched: list[str], probability: str) -> list[Alert]:
        """What is past its threshold: the PSI of a ``watched`` input (calendar inputs are reported,
        never alerted on), the adversarial validator's AUC, the PSI of the predictions (named
        ``probability``), an input's skew match rate, the Brier score."""
        out = [Alert(check="psi", input=name, value=self.psi[name], threshold=limits.psi)
               for name in watched if self.psi.get(name, 0.0) > limits.psi]
        if self.adversarial_auc > limits.adversarial_auc:
            top = self.adversarial.ranking[0].input if self.adversarial.ranking else None
            out.append(Alert(check="adversarial_auc", input=top, value=self.adversarial_auc, threshold=limits.adversarial_auc))
        if self.prediction_drift.psi > limits.psi:
            out.append(Alert(check="prediction_psi", input=probability, value=self.prediction_drift.psi, threshold=limits.psi))
        for name, rate in (self.skew_match_rate or {}).items():
            if rate < limits.skew_match_min:
                out.append(Alert(check="skew", input=name, value=rate, threshold=limits.skew_match_min))
        if self.performance and self.performance.brier > limits.brier:
            out.append(Alert(check="brier", input=None, value=self.performance.brier, threshold=limits.brier))
        return out

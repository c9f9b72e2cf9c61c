"""Typed settings shared by the pipelines, the feature store wrapper and the service.

Only entry points read them (the CLI, the app factory, Feast's repo loader ``feature_repo/repo.py``,
the benchmarks' ``main``): everything below takes a ``Settings`` as an argument.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # skyprophet/core/config.py -> the checkout
FEATURE_REPO_DIR = PROJECT_ROOT / "feature_repo"


PARAMS_FILE = PROJECT_ROOT / "params.yaml"
# The canonical flight table that ingest writes under ``<data_dir>/raw`` (the canonical flight table of docs/design.md).
CANONICAL_FLIGHTS = "canonical_flights.parquet"
# The feature service of the current model (params.yaml's ``feature_service``; a test holds them equal).
FEATURE_SERVICE = "flight_delay_v3"


def _param(data: dict[str, Any], name: str, default: Any) -> Any:
    """A top-level value of the settings' parameters file (read when settings are made, not at import)."""
    import yaml

    path = Path(data["params_path"])
    if not path.exists():
        return default
    return (yaml.safe_load(path.read_text()) or {}).get(name, default)


class Settings(BaseSettings):
    """Settings read from the environment (prefix ``SKYPROPHET_``) and ``.env``."""

    model_config = SettingsConfigDict(
        env_prefix="SKYPROPHET_", env_file=".env", extra="ignore", use_attribute_docstrings=True
    )

    data_dir: Path = PROJECT_ROOT / "data"
    """raw, processed and rejected tables, registry, SQLite online store"""
    sources_file: Path = PROJECT_ROOT / "sources.yaml"  # each table's format and files (pipelines.sources.spec)
    """the sources file: each table's format and files (see Bring your own flights)"""
    reports_dir: Path = PROJECT_ROOT / "reports"
    """metrics, plots, scores, benchmark reports"""
    # Online store: embedded SQLite, one Redis (REDIS_URL) or a Redis Cluster (redis_cluster_nodes).
    online_store: Literal["sqlite", "redis", "redis_cluster"] = "sqlite"
    """`sqlite`, `redis` or `redis_cluster` (see Scale out)"""
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias="REDIS_URL",
    )
    """Redis for the online store, the live stream and the Redis tests"""
    # The cluster's nodes, host:port comma-separated (any of them will do; the rest are discovered).
    redis_cluster_nodes: str = Field(default="127.0.0.1:7100,127.0.0.1:7101,127.0.0.1:7102",
                                     pattern=r"^[^,:\s]+:\d+(,[^,:\s]+:\d+)*$")
    """`host:port` of the cluster's nodes (any will do; the rest are discovered)"""
    # Offline store: DuckDB in process, or Spark (the master URL and any spark.* settings; Java 17).
    offline_store: Literal["duckdb", "spark"] = "duckdb"
    """`duckdb` or `spark` (Feast's Spark offline store; needs Java 17)"""
    spark_master: str = "local[2]"
    """Spark master URL (`spark://host:7077`, `yarn`, `k8s://...`)"""
    spark_conf: dict[str, str] = Field(default_factory=dict)  # SKYPROPHET_SPARK_CONF='{"spark.driver.memory": "4g"}'
    """further Spark settings as JSON, e.g. `{"spark.driver.memory": "8g"}`"""
    # Materialization engine: Feast's local engine (reads through the offline store, writes from this
    # process) or Feast's Spark compute engine (reads, keeps the latest row per key and writes the online
    # store from Spark's Python workers; needs offline_store=spark).
    batch_engine: Literal["local", "spark"] = "local"
    """materialization: `local` (Feast's local engine) or `spark` (Feast's Spark compute engine;
    needs `SKYPROPHET_OFFLINE_STORE=spark`)"""
    params_path: Path = PARAMS_FILE
    """the parameters file: training, and the lead and grid defaults above"""
    # Defaults from the parameters file (one place for the pipeline's parameters; DVC tracks them there).
    lead_minutes: int = Field(default_factory=lambda data: int(_param(data, "lead_minutes", 120)), ge=0)
    """prediction lead of the demo (training and the model use `params.yaml`)"""
    grid_minutes: int = Field(default_factory=lambda data: int(_param(data, "grid_minutes", 15)), gt=0)
    """grid step of the rolling tables and of the views' ttl"""
    materialize_chunk_days: int = Field(default=30, gt=0)
    """materialization chunk"""
    online_write_batch_size: int = Field(default=5_000, gt=0)
    """rows per online-store write"""
    duckdb_memory_limit: str = Field(default="700MB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB)$")
    """memory of Feast's DuckDB engine for offline retrieval (it spills to `data/.duckdb_tmp` past it)"""
    mlflow_tracking_uri: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}",
        validation_alias=AliasChoices("SKYPROPHET_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"),
    )
    """MLflow tracking and registry store"""
    mlflow_artifact_root: Path = PROJECT_ROOT / "mlartifacts"
    """artifact root of the experiment when it is created"""
    mlflow_timeout_s: float = Field(default=5.0, gt=0)
    """how long an HTTP tracking store may take to answer"""
    experiment_name: str = "flight-delay"
    """the MLflow experiment runs are logged to"""
    # Live operation: the event stream (Redis Streams, on REDIS_URL), its retention in entries,
    # and the feature age above which /ready reports the live features stale.
    stream_name: str = "skyprophet:events"
    """the event stream (`<name>:clock`, `<name>:checkpoint` beside it)"""
    stream_retention: int = Field(default=1_000_000, gt=0)
    """entries the stream keeps (`XADD MAXLEN ~`)"""
    stream_batch: int = Field(default=2_000, gt=0)  # entries per read (one durable append, one acknowledgement)
    """entries per read of the processor: one durable append and one acknowledgement"""
    # An entry delivered this many times without being acknowledged (its processor died each time)
    # is dead-lettered on its next delivery, so no entry can hold a processor in a crash loop.
    stream_max_deliveries: int = Field(default=3, gt=0)
    """an entry delivered this many times without an acknowledgement (its processors died holding
    it) is dead-lettered on its next delivery"""
    live_max_age_minutes: int = Field(default=30, gt=0)
    """`/ready` is 503 when the processor's last tick trails the clock by more"""
    model_name: str = "flight-delay"
    """the MLflow registered model"""
    # Monitoring (``skyprophet monitor``): a report raises an alert past any of these.
    monitor_psi_alert: float = Field(default=0.25, gt=0)  # an input's PSI ("act" band)
    """`skyprophet monitor`: an input's PSI above this is an alert (calendar inputs never are)"""
    monitor_adversarial_auc_alert: float = Field(default=0.6, ge=0.5, le=1)  # the validator tells the periods apart
    """the adversarial validator's ROC AUC above this is an alert"""
    monitor_skew_match_min: float = Field(default=0.99, ge=0, le=1)  # an input's share of online values equal to offline
    """an input whose online values equal offline retrieval less often is an alert"""
    monitor_brier_alert: float = Field(default=0.16, gt=0, le=1)  # the window's Brier score once labels are in
    """the window's Brier score above this is an alert (half again October's 0.106)"""
    monitor_sample_flights: int = Field(default=20_000, gt=0)  # flights sampled per side of a batch report
    """flights sampled for the reference (and for a batch window)"""
    # The recent checks (``pipelines.monitoring.alerts``): the window against the weeks before it;
    # what fires starts a retraining. Thresholds calibrated by ``make bench-backtest``.
    monitor_recent_weeks: int = Field(default=4, gt=0)
    """the recent checks compare the window with this many weeks before it"""
    monitor_log_loss_rise_alert: float | None = Field(default=-0.0298)
    """the window's log loss minus the recent weeks' above this is a retraining alert (empty: never; the backtest's
    calibration: it fires unless the model did clearly better on the window)"""
    monitor_calibration_gap_alert: float | None = Field(default=0.0636, ge=0)
    """the window's mean probability this far from its delayed share is a retraining alert (empty: never)"""
    monitor_recent_prediction_psi_alert: float | None = Field(default=None, gt=0)
    """the predictions' PSI against the recent weeks above this is a retraining alert (empty: never; the backtest
    found it adds false alarms only)"""
    # Promotion from the shadow (``skyprophet model promote --from-shadow``).
    shadow_metric: Literal["log_loss", "brier", "roc_auc"] = "log_loss"
    """the metric whose paired interval must say the challenger is better for a promotion from the shadow"""
    shadow_level: float = Field(default=0.95, gt=0.5, lt=1)
    """the level of that interval"""
    shadow_min_flights: int = Field(default=500, ge=1)
    """labelled flights both models scored, at least, before the shadow can promote"""
    # The closed loop (``skyprophet model loop``): retraining, staging, the shadow and promotion, unattended.
    loop_retrain_days: int = Field(default=7, ge=1)
    """`skyprophet model loop`: days (by the loop's clock) after the last retraining before a scheduled one"""
    loop_shadow_days: float = Field(default=7.0, gt=0)
    """days a challenger stays in the shadow, at most, without being better before the loop retires it"""
    loop_report: str = "live"
    """the monitoring report (its folder under reports/monitor/) whose retraining alerts start a retraining"""

    @field_validator("monitor_log_loss_rise_alert", "monitor_calibration_gap_alert", "monitor_recent_prediction_psi_alert",
                     mode="before")
    @classmethod
    def _empty_is_never(cls, value: object) -> object:
        """An empty setting (``SKYPROPHET_MONITOR_CALIBRATION_GAP_ALERT=``) turns the check's alert off."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _spark_engine_needs_spark(self) -> Settings:
        if self.batch_engine == "spark" and self.offline_store != "spark":
            raise ValueError("batch_engine=spark reads through Spark: set offline_store=spark too")
        return self

    @property
    def materialize_chunk(self) -> timedelta:
        """The time span of one materialization call (bounds its memory)."""
        return timedelta(days=self.materialize_chunk_days)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def canonical_path(self) -> Path:
        return self.raw_dir / CANONICAL_FLIGHTS

    @property
    def processed_dir(self) -> Path:
        return self.data_dir / "processed"

    @property
    def live_dir(self) -> Path:
        """The durable log of received events (daily partitions) and rejected entries."""
        return self.data_dir / "live"

    @property
    def rejects_dir(self) -> Path:
        return self.data_dir / "rejects"

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.db"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "online.db"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, created on first use."""
    return Settings()

"""Service settings: the shared settings plus what only the server needs."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from skyprophet.core.config import Settings

PLACEHOLDER_TOKEN = "changethis"


class ServingSettings(Settings):
    """Read from ``SKYPROPHET_*`` variables and ``.env``, like the pipelines' settings."""

    environment: Literal["local", "staging", "production"] = "local"
    """`local`, `staging` or `production`; outside `local` the admin token must be set"""
    admin_token: SecretStr = SecretStr(PLACEHOLDER_TOKEN)
    """bearer token of `POST /admin/reload`"""
    model_alias: str = "production"
    """the registry alias the service serves (`staging` by default when the environment is `staging`)"""
    challenger_alias: str = "challenger"
    """the registry alias scored in the shadow beside the served one, off the request path (empty: none)"""
    shadow_max_pending: int = Field(default=2000, ge=1)
    """requests waiting for the challenger before a request's flights are not shadowed (and counted)"""
    shadow_batch_s: float = Field(default=0.5, gt=0)
    """how often the challenger scores the flights queued since (one read and one prediction a batch)"""
    model_refresh_s: float = Field(default=30.0, gt=0)
    """how often the service checks the alias"""
    max_flights: int = Field(default=1000, ge=1)
    """flights per `/predict` request"""
    redis_timeout_ms: int = Field(default=250, gt=0)
    """Redis connect and read timeout of the service (no retries)"""
    top_factors: int = Field(default=5, ge=1)
    """factors per explained flight"""
    allow_debug: bool = True  # "debug" and "as_of" in requests; make serve turns it off
    """accept `debug` (feature values in the answer) and `as_of` in requests"""
    max_body_bytes: int = Field(default=1_048_576, gt=0)  # a larger /predict body is refused (413)
    """largest `/predict` body; a larger one gets a 413"""
    # A flight whose share of present inputs is below this is flagged unreliable (and refused with
    # refuse_unreliable) rather than answered as confidently as any other.
    min_coverage: float = Field(default=0.8, ge=0, le=1)
    """share of present inputs below which a flight is `"reliable": false`"""
    refuse_unreliable: bool = False
    """`true`: answer an unreliable flight with `"status": "refused"` and its reason, not a probability"""
    # Live operation: /predict without as_of reads the replay's clock (``<stream_name>:clock``)
    # and scores the flights whose prediction time is within one grid step of it.
    live: bool = False
    """the service reads the replay's clock for requests without `as_of` (needs the Redis online store)"""
    snapshot: bool = False
    """without a clock or `as_of`, read every flight as of the instant the online store was loaded up to
    (`data/online-held.json`) instead of its own prediction time: a store loaded once (`make run`)
    answers the flights due then, and says why it cannot score the others"""
    # The departures board (/board, live mode): its refresh period and the UIs it links to.
    board_refresh_ms: int = Field(default=2000, ge=200)
    """how often `/board` refreshes"""
    feast_ui_url: str = "http://127.0.0.1:8888"
    """the Feast UI `/board` links to"""
    mlflow_ui_url: str = "http://127.0.0.1:5000"
    """the MLflow UI `/board` links to"""
    # The prediction log (Feast's feature log of the model's service): on by default; a request
    # never waits for it; past this many flights waiting to be written, a request's are dropped.
    prediction_log: bool = True
    """log every flight `/predict` scores (`data/prediction_log/<service>/`)"""
    prediction_log_max_flights: int = Field(default=50_000, ge=1)
    """flights waiting to be logged before a request's are dropped (and counted)"""
    prediction_log_flush_s: float = Field(default=1.0, gt=0)
    """how often the log's writer appends a file"""

    @model_validator(mode="after")
    def _no_placeholder_secret(self) -> ServingSettings:
        if self.environment != "local" and self.admin_token.get_secret_value() == PLACEHOLDER_TOKEN:
            raise ValueError(f"SKYPROPHET_ADMIN_TOKEN must be set (not {PLACEHOLDER_TOKEN!r}) outside local development")
        if self.environment == "staging" and "model_alias" not in self.model_fields_set:
            self.model_alias = "staging"  # a staging service serves what was staged
        if self.live and self.online_store != "redis":
            raise ValueError("SKYPROPHET_LIVE needs SKYPROPHET_ONLINE_STORE=redis (the stream keeps Redis fresh)")
        return self


@lru_cache
def get_serving_settings() -> ServingSettings:
    """The process-wide service settings, created on first use."""
    return ServingSettings()

"""The MLflow tracking store and model registry: connecting with bounded waits, loading by alias.

Used by the pipelines and by the service. ``connect`` checks the store answers before any work
starts, so that an unreachable store is one clear error instead of minutes of retries.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from skyprophet.core.errors import ModelNotFound, TrackingUnavailable, first_line
from skyprophet.core.model import ModelSpec

if TYPE_CHECKING:
    import lightgbm as lgb
    from mlflow import MlflowClient

    from skyprophet.core.config import Settings

PRODUCTION = "production"
CANDIDATE = "candidate"
CHALLENGER = "challenger"  # the version the services score in the shadow
ROOT_ATTRIBUTE = "skyprophet_artifact_root"


def redact(uri: str) -> str:
    """``uri`` without a password, for messages."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", uri)


def _check_local(uri: str) -> None:
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":
        path = Path(uri.removeprefix("sqlite:///"))
        if not path.parent.is_dir():
            raise TrackingUnavailable(f"MLflow tracking store unreachable at {uri}: folder {path.parent} does not exist")


def connect(settings: Settings) -> MlflowClient:
    """A client for ``settings.mlflow_tracking_uri``, checked to answer within the timeout.

    Raises:
        TrackingUnavailable: the store does not answer or cannot be opened.
    """
    # Bounded waits for HTTP stores; an operator's own values win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(1, settings.mlflow_timeout_s))))
    import mlflow
    from mlflow import MlflowClient

    uri = settings.mlflow_tracking_uri
    _check_local(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    setattr(client, ROOT_ATTRIBUTE, settings.mlflow_artifact_root)  # where this checkout keeps its artifacts
    try:
        client.search_experiments(max_results=1)
    except Exception as exc:  # any failure here means the store is not usable
        raise TrackingUnavailable(f"MLflow tracking store unreachable at {redact(uri)}: {first_line(exc)[:200]}") from exc
    return client


def experiment_id(client: MlflowClient, settings: Settings) -> str:
    """The project's experiment, created on first use.

    A local store (SQLite) keeps artifacts under ``settings.mlflow_artifact_root``; a tracking
    server keeps them where it is configured to (its proxied artifact store), so that every
    client and the service read the same artifacts.
    """
    exp = client.get_experiment_by_name(settings.experiment_name)
    if exp is not None:
        return str(exp.experiment_id)
    if urlparse(settings.mlflow_tracking_uri).scheme in ("http", "https"):
        return str(client.create_experiment(settings.experiment_name))
    settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
    return str(client.create_experiment(settings.experiment_name, artifact_location=settings.mlflow_artifact_root.as_uri()))


# What the registry answers when the model or the alias is not there (any other error is its failure).
_ABSENT = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None when the model or the alias does not exist.

    Raises:
        MlflowException: the registry failed to answer (unreachable, broken): not the same as absent.
    """
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in _ABSENT:
            return None
        raise


def latest_version(client: MlflowClient, name: str) -> str | None:
    """The newest registered version of ``name``, or None."""
    versions = client.search_model_versions(f"name = '{name}'")
    return str(max(int(v.version) for v in versions)) if versions else None


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version, ready to score."""

    name: str
    version: str
    alias: str | None
    run_id: str | None
    booster: lgb.Booster
    spec: ModelSpec

    def ref(self) -> dict[str, str | None]:
        """Which model answered: ``{name, version, alias}`` (the API's ``model`` object)."""
        return {"name": self.name, "version": self.version, "alias": self.alias}


def load_version(client: MlflowClient, name: str, version: str, alias: str | None = None) -> LoadedModel:
    """Version ``version`` of ``name``: its booster and its stored spec."""
    import mlflow.lightgbm

    uri, run_id, spec = _located_spec(client, name, version)
    return LoadedModel(name, str(version), alias, run_id, mlflow.lightgbm.load_model(uri), spec)


def version_spec(client: MlflowClient, name: str, version: str) -> ModelSpec:
    """Version ``version``'s stored spec alone (its inputs, feature service, leads), from the
    model's metadata without loading its booster."""
    return _located_spec(client, name, version)[2]


def _located_spec(client: MlflowClient, name: str, version: str) -> tuple[str, str | None, ModelSpec]:
    from mlflow.models import get_model_info

    mv = client.get_model_version(name, version)
    uri = model_location(client, mv) or f"models:/{name}/{version}"
    info = get_model_info(uri)
    if not info.metadata or "skyprophet" not in info.metadata:
        raise ModelNotFound(f"{name} version {version} has no SkyProphet spec in its metadata")
    return uri, mv.run_id, ModelSpec.from_dict(info.metadata["skyprophet"])


def model_location(client: MlflowClient, mv: Any) -> str | None:
    """The local folder of a version's files, in this checkout when the tracking store was written by
    another one (copied, moved or renamed: MLflow records artifact locations as absolute paths).

    A local store records the experiment's artifact root and, under it, each logged model's
    folder; when that root is not this checkout's (``settings.mlflow_artifact_root``) and the same
    folder exists under this checkout's root, that one is read. None: MLflow's own resolution
    (a tracking server, or a version without a logged model).
    """
    root = getattr(client, ROOT_ATTRIBUTE, None)
    source = str(getattr(mv, "source", "") or "")
    model_id = getattr(mv, "model_id", None) or (source.removeprefix("models:/") if source.startswith("models:/m-") else None)
    if root is None or not model_id:
        return None
    model = client.get_logged_model(model_id)
    recorded = urlparse(model.artifact_location)
    if recorded.scheme != "file":
        return None
    experiment_root = urlparse(client.get_experiment(model.experiment_id).artifact_location)
    if experiment_root.scheme != "file":
        return None
    try:
        inside = Path(unquote(recorded.path)).relative_to(Path(unquote(experiment_root.path)))
    except ValueError:  # kept elsewhere than under its experiment's root: as recorded
        return None
    here = Path(root).resolve() / inside
    return str(here) if here.is_dir() else None


def load_by_alias(client: MlflowClient, name: str, alias: str = PRODUCTION) -> LoadedModel:
    """The version ``name@alias`` points at (what the service loads).

    Raises:
        ModelNotFound: no such model or alias.
    """
    version = alias_version(client, name, alias)
    if version is None:
        raise ModelNotFound(f"no model version is registered as {name}@{alias}")
    return load_version(client, name, version, alias)

"""The model holder tells a registry that went away mid-load from a version that cannot serve."""

from __future__ import annotations

from typing import Any

import pytest
import requests

import serving.inference as inference
from serving.config import ServingSettings


def _registry_down() -> Exception:
    """What MLflow's REST client raises when the server stops answering: its own error, raised
    while handling requests' connection error."""
    try:
        raise requests.exceptions.ConnectionError("HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded")
    except requests.exceptions.ConnectionError as exc:
        try:
            raise RuntimeError(f"API request to http://127.0.0.1:1/api/2.0/mlflow/registered-models/get failed with exception {exc}")
        except RuntimeError as wrapped:
            return wrapped


def test_a_registry_down_mid_load_is_retried_a_broken_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    outcomes: list[Any] = [_registry_down(), "model-2", ValueError("booster does not load")]

    def load_version(client: Any, name: str, version: str, alias: str | None = None) -> Any:
        calls.append(version)
        got = outcomes.pop(0)
        if isinstance(got, Exception):
            raise got
        return type("Model", (), {"version": version})()

    aliases = iter(["2", "2", "3", "3"])
    monkeypatch.setattr(inference, "connect", lambda settings: object())
    monkeypatch.setattr(inference, "alias_version", lambda client, name, alias: next(aliases))
    monkeypatch.setattr(inference, "load_version", load_version)
    holder = inference.ModelHolder(ServingSettings())

    first = holder.refresh()
    assert (first.outcome, first.error is not None and first.error.startswith("model registry")) == ("failed", True)
    assert holder.refresh().outcome == "loaded" and holder.current.version == "2"  # tried again, not refused
    assert holder.refresh().outcome == "refused"  # version 3's artifact is broken: refused ...
    assert holder.refresh().outcome == "refused" and calls == ["2", "2", "3"]  # ... and not loaded again
    assert holder.current.version == "2"


def test_unreachable_is_not_any_error() -> None:
    assert inference._unreachable(_registry_down())
    assert inference._unreachable(TimeoutError("timed out"))
    assert not inference._unreachable(ValueError("no SkyProphet spec in its metadata"))

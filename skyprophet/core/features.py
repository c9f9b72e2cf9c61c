"""Feature naming and the values read for a flight: one definition for training and serving.

A model input is named ``<view or alias>__<feature>`` (Feast's ``full_feature_names``), in the
order of its feature service. Feast objects are only read here (duck-typed), never imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feast import FeatureService
    from feast.feature_view_projection import FeatureViewProjection

SEP = "__"
# The derived service each feature service has for online reads (feature_repo.feature_services).
ONLINE_SUFFIX = "_online"


@dataclass
class ViewRows:
    """One view's stored values for a list of entity rows."""

    names: list[str]  # full feature names
    values: list[list[Any]]  # per row, in ``names`` order; None where nothing is stored
    stamps: list[int]  # per row: the stored event timestamp (seconds since the epoch), 0 if none


@dataclass
class FlightFeatures:
    """Feature values of one flight, by full feature name, with what was missing or stale."""

    values: dict[str, Any]
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    # per time-varying view read: seconds from its stored row's event time to the instant read (None: no row)
    ages: dict[str, int | None] = field(default_factory=dict)
    # per view read: its stored row's event time (seconds since the epoch; 0: no row)
    stamps: dict[str, int] = field(default_factory=dict)


def projection_names(p: FeatureViewProjection) -> list[str]:
    """Full names of a projection's features: ``<view or alias>__<feature>``, in order."""
    return [f"{p.name_to_use()}{SEP}{f.name}" for f in p.features]


def model_feature_names(service: FeatureService) -> list[str]:
    """The model's inputs: every feature of the service, by full name, in order."""
    return [n for p in service.feature_view_projections for n in projection_names(p)]


def nan_to_none(value: Any) -> Any:
    """A feature value as JSON and the API show it: numpy scalars unwrapped, NaN (unknown) as None."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and value != value else value


def input_coverage(missing: list[str], n_inputs: int) -> float:
    """The share of a model's ``n_inputs`` that were present: neither missing nor stale (a stale
    value is read as missing)."""
    return 1.0 - len(missing) / n_inputs

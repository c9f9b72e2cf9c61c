"""The parameters that decide a model (``params.yaml``, DVC-tracked) and the month windows of a split.

Shared by training, evaluation and promotion, so that each reads the file one way. Splits are
ranges of local scheduled months ("YYYY-MM", inclusive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from skyprophet.core.config import FEATURE_SERVICE, Settings
from skyprophet.core.errors import TrainingSetError
from skyprophet.core.months import AUTO, Window, whole_months, windows_from


@dataclass(frozen=True)
class Rolling:
    """The rolling window of a retraining (params.yaml ``retrain``)."""

    months: int | None = None  # train on this many months before validation; None: everything
    validation_days: int = 7
    test_days: int = 7

    def __post_init__(self) -> None:
        if self.months is not None and (type(self.months) is not int or self.months < 1):
            raise TrainingSetError(f"retrain.window_months must be a whole number of months from 1, or null for everything; "
                                   f"got {self.months!r}")
        for name, days in (("validation_days", self.validation_days), ("test_days", self.test_days)):
            if type(days) is not int or days < 1:
                raise TrainingSetError(f"retrain.{name} must be a whole number of days from 1, got {days!r}")


@dataclass
class TrainParams:
    """Everything that decides a model, from params.yaml (and command-line overrides)."""

    windows: list[Window]
    lead_minutes: int = 120
    # every prediction time a labelled flight contributes (T = scheduled - lead); [lead_minutes] by default
    leads_minutes: list[int] = field(default_factory=list)
    label_delay_minutes: float = 15
    feature_service: str = FEATURE_SERVICE
    lightgbm: dict[str, Any] = field(default_factory=dict)
    num_boost_round: int = 3000
    early_stopping_rounds: int = 100
    monotone_increasing: list[str] = field(default_factory=list)
    # a training row's weight by its lead (minutes); a lead not named weighs 1
    lead_weights: dict[int, float] = field(default_factory=dict)
    # each training-window flight's rows at this many of the leads, drawn per flight (None: every lead)
    leads_per_flight: int | None = None
    # the inputs written to parquet split by split as they are retrieved, and read by LightGBM a batch
    # at a time, instead of held as one frame (for sets larger than memory: a national year)
    spool: bool = False
    # the windows of a retraining as of a day (``pipelines.model.retrain``)
    rolling: Rolling = field(default_factory=Rolling)

    @classmethod
    def load(cls, path: Path, data_months: Callable[[], list[str]] | None = None) -> TrainParams:
        """The parameters in ``path``; ``data_months`` gives the data's whole months when the
        split is ``auto`` (called only then)."""
        if not path.exists():
            raise TrainingSetError(f"parameters file {path} does not exist")
        p = yaml.safe_load(path.read_text()) or {}
        training = p.get("training", {})
        lead = int(p.get("lead_minutes", 120))
        leads = [int(x) for x in p.get("leads_minutes", [lead])]
        if not leads or min(leads) <= 0 or len(set(leads)) != len(leads):
            raise TrainingSetError(f"leads_minutes must be distinct positive minutes, got {leads}")
        if lead not in leads:
            raise TrainingSetError(f"lead_minutes ({lead}) must be one of leads_minutes {leads}")
        weights = {int(k): float(v) for k, v in (training.get("lead_weights") or {}).items()}
        stray = sorted(set(weights) - set(leads))
        if stray:
            raise TrainingSetError(f"training.lead_weights names leads that are not in leads_minutes: {stray}")
        bad = {k: v for k, v in weights.items() if not (0 < v < float("inf"))}
        if bad:
            raise TrainingSetError(f"training.lead_weights must be positive and finite, got {bad}")
        per_flight = training.get("leads_per_flight")
        if per_flight is not None and not (type(per_flight) is int and 1 <= per_flight <= len(leads)):
            raise TrainingSetError(f"training.leads_per_flight must be a whole number from 1 to {len(leads)} "
                                   f"(the number of leads), or null for every lead; got {per_flight!r}")
        spool = training.get("spool", False)
        if type(spool) is not bool:
            raise TrainingSetError(f"training.spool must be true or false, got {spool!r}")
        split = p.get("split", {})
        retrain = p.get("retrain") or {}
        rolling = Rolling(retrain.get("window_months"), retrain.get("validation_days", 7), retrain.get("test_days", 7))
        return cls(
            windows=windows_from(split, data_months() if split == AUTO and data_months else None),
            lead_minutes=lead,
            leads_minutes=sorted(leads, reverse=True),
            label_delay_minutes=float(p.get("label_delay_minutes", 15)),
            feature_service=str(p.get("feature_service", FEATURE_SERVICE)),
            lightgbm=dict(p.get("lightgbm", {})),
            num_boost_round=int(training.get("num_boost_round", 3000)),
            early_stopping_rounds=int(training.get("early_stopping_rounds", 100)),
            monotone_increasing=list(training.get("monotone_increasing", [])),
            lead_weights=weights,
            leads_per_flight=per_flight,
            spool=spool,
            rolling=rolling,
        )

    @property
    def leads(self) -> list[int]:
        """The prediction leads of the training set, longest first."""
        return self.leads_minutes or [self.lead_minutes]

    def row_weights(self, leads: np.ndarray) -> np.ndarray | None:
        """Each row's weight from its lead (None when every lead weighs 1, LightGBM's default)."""
        if all(v == 1.0 for v in self.lead_weights.values()):
            return None
        w = np.ones(len(leads), dtype=float)
        for lead, weight in self.lead_weights.items():
            w[leads == lead] = weight
        return w

    def window(self, name: str) -> Window:
        return next(w for w in self.windows if w.name == name)

    def flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lead_minutes": self.lead_minutes,
            "leads_minutes": ",".join(str(x) for x in self.leads),
            "label_delay_minutes": self.label_delay_minutes,
            "feature_service": self.feature_service,
            "num_boost_round": self.num_boost_round,
            "early_stopping_rounds": self.early_stopping_rounds,
            "monotone_increasing": ",".join(self.monotone_increasing),
            "lead_weights": ",".join(f"{k}:{v:g}" for k, v in sorted(self.lead_weights.items())) or "none",
            "leads_per_flight": self.leads_per_flight or "all",
            "spool": self.spool,
            "retrain_window_months": self.rolling.months or "all",
            "retrain_validation_days": self.rolling.validation_days,
            "retrain_test_days": self.rolling.test_days,
        }
        out.update({f"split_{w.name}": str(w) for w in self.windows})
        out.update({f"lgb_{k}": v for k, v in self.lightgbm.items()})
        return out

    def windows_named(self, *names: str) -> list[Window]:
        """The windows called ``names``, in the parameters' order (e.g. the evaluation's validation and test)."""
        return [w for w in self.windows if w.name in names]


def sampled_leaf(min_data_in_leaf: int, leads_per_flight: int, n_leads: int) -> int:
    """``min_data_in_leaf`` for a set drawn at ``leads_per_flight`` of ``n_leads`` leads a flight:
    scaled by their ratio, so that a leaf holds about as many flights as with every lead (the rule
    ``make october-leads``' sampling family chose the draw with)."""
    return max(1, min_data_in_leaf * leads_per_flight // n_leads)


def load_params(settings: Settings, path: Path | None = None) -> TrainParams:
    """``TrainParams.load`` of ``path`` (default: ``settings.params_path``), an ``auto`` split
    taken from the whole months of the settings' canonical flights."""
    from pipelines.features.training_set import local_departure
    from skyprophet.adapters.parquet import read_canonical

    def months() -> list[str]:
        return whole_months(local_departure(read_canonical(settings.canonical_path)).dt.date.unique())

    return TrainParams.load(path or settings.params_path, months)

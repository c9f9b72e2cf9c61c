"""The challenger beside production on served traffic, once outcomes are known, and the promotion
it may earn.

The service logs each flight ``/predict`` answers (``prediction_status`` "ok", the production
version) and the challenger's score of the same flight in the same request ("shadow", the
challenger's version). Pairing the two by request and flight gives both models' probabilities for
exactly the flights production answered; joining the outcomes gives the labelled pairs. Both models
are then compared with ``pipelines.model.compare.paired`` (ROC AUC, Brier, log loss and a paired
bootstrap interval of the difference, a flight's rows drawn together).

``promote_from_shadow`` moves ``production`` to the challenger only when, over at least
``shadow_min_flights`` labelled flights, the interval of the chosen metric (``shadow_metric``, at
``shadow_level``) lies entirely on the challenger's better side; the evidence is recorded on the
challenger's version either way (``shadow_evidence``), and the service hot-swaps as for any promotion.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.features.training_set import LABEL
from pipelines.model.compare import paired
from pipelines.model.params import load_params
from pipelines.monitoring.stats import log_destination, read_log, with_outcomes
from skyprophet.adapters.event_log import known_data
from skyprophet.adapters.tracking import CHALLENGER, PRODUCTION, alias_version, connect, version_spec
from skyprophet.core.errors import ModelNotFound, NoData, PromotionRefused

if TYPE_CHECKING:
    from feast import FeatureStore
    from mlflow import MlflowClient

    from skyprophet.core.config import Settings

log = logging.getLogger(__name__)

PAIR_KEYS = ["__request_id", "carrier", "flight_number", "origin", "scheduled_departure"]


@dataclass
class ShadowEvidence:
    """Production and challenger on the same served flights."""

    production: str  # versions
    challenger: str
    pairs: int  # flights scored by both (a flight scored in several requests counts each time)
    labelled: int  # of which the outcome is known
    flights: int  # distinct labelled flights (the bootstrap's units)
    metric: str
    level: float
    min_flights: int
    comparison: dict[str, dict[str, Any]]  # per metric: a, b (challenger), difference, interval, b_better, b_worse
    better: bool  # the interval of ``metric`` says the challenger is better, over enough flights
    since: str | None = None
    until: str | None = None
    # per model: a reliability curve (ten bins of predicted probability: mean predicted, observed rate, flights)
    calibration: dict[str, list[dict[str, float]]] | None = None

    def summary(self) -> str:
        c = self.comparison[self.metric]
        return (f"{self.metric} challenger v{self.challenger} {c['b']:.4f} vs production v{self.production} {c['a']:.4f}, "
                f"difference {c['difference']:+.4f} [{c['low']:+.4f}, {c['high']:+.4f}] at {self.level:.0%} over "
                f"{self.flights} labelled flights")


def paired_rows(log_dirs: list[Path], canonical: pd.DataFrame, label_delay_minutes: float, production: str, challenger: str,
                since: datetime | None = None, until: datetime | None = None, known_at: datetime | None = None) -> pd.DataFrame:
    """The flights production answered (``ok``, its version) and the challenger scored in the same
    request (``shadow``, its version), with both probabilities and the outcome (``label``, NaN while
    unknown), from the logs in ``log_dirs``."""
    frames = [read_log(d, since, until) for d in dict.fromkeys(log_dirs) if any(d.glob("*.parquet"))]
    if not frames:
        raise NoData(f"no prediction log in {', '.join(str(d) for d in log_dirs)}")
    return pairs_of(pd.concat(frames, ignore_index=True), canonical, label_delay_minutes, production, challenger, known_at)


def pairs_of(logged: pd.DataFrame, canonical: pd.DataFrame, label_delay_minutes: float, production: str, challenger: str,
             known_at: datetime | None = None) -> pd.DataFrame:
    """``paired_rows`` of log rows already read."""
    cols = [*PAIR_KEYS, "delay_probability"]
    version = logged["model_version"].astype(str)
    served = logged[(logged["prediction_status"] == "ok") & (version == production)][cols]
    shadow = logged[(logged["prediction_status"] == "shadow") & (version == challenger)][cols]
    pairs = served.merge(shadow, on=PAIR_KEYS, suffixes=("_production", "_challenger"))
    if pairs.empty:
        raise NoData(f"the prediction log holds no flight answered by version {production} and shadowed by version {challenger}")
    return with_outcomes(pairs, canonical, label_delay_minutes, pd.Timestamp(known_at) if known_at else None)


def evidence(settings: Settings, since: datetime | None = None, until: datetime | None = None, known_at: datetime | None = None,
             client: MlflowClient | None = None, store: FeatureStore | None = None) -> ShadowEvidence:
    """Production and the challenger (their aliases now) on the served flights both scored.

    Raises:
        ModelNotFound: an alias points at nothing.
        NoData: no paired flight in the log, or none labelled.
    """
    from skyprophet.adapters.store import open_store

    client = client or connect(settings)
    name = settings.model_name
    versions = {a: alias_version(client, name, a) for a in (PRODUCTION, CHALLENGER)}
    missing = [a for a, v in versions.items() if v is None]
    if missing:
        raise ModelNotFound(f"no version of {name} has the alias {' or '.join(missing)}")
    prod, chal = str(versions[PRODUCTION]), str(versions[CHALLENGER])
    store = store or open_store(settings, online="sqlite")
    dirs = [log_destination(store, version_spec(client, name, v).feature_service) for v in (prod, chal)]
    canonical, _ = known_data(settings.raw_dir, settings.live_dir)
    rows = paired_rows(dirs, canonical, load_params(settings).label_delay_minutes, prod, chal, since, until, known_at)
    return compare(rows, prod, chal, settings.shadow_metric, settings.shadow_level, settings.shadow_min_flights, since, until)


def compare(rows: pd.DataFrame, production: str, challenger: str, metric: str, level: float, min_flights: int,
            since: datetime | None = None, until: datetime | None = None) -> ShadowEvidence:
    """Both models on the paired rows whose outcome is known (``paired_rows``): each metric with the
    paired interval of its difference, a flight's rows drawn together, and whether ``metric`` says the
    challenger is better over at least ``min_flights`` flights.

    Raises:
        NoData: no labelled flight yet, or only flights of one class (delayed or on time).
    """
    labelled = rows[rows[LABEL].notna()]
    if labelled.empty:
        raise NoData(f"none of the {len(rows)} flights both models scored has a known outcome yet")
    if labelled[LABEL].nunique() < 2:  # ROC AUC and the comparison need delayed and on-time flights alike
        raise NoData(f"the {len(labelled)} labelled flights both models scored were all "
                     f"{'delayed' if labelled[LABEL].iloc[0] else 'on time'}: too few to compare yet")
    groups = labelled["carrier"] + labelled["flight_number"].astype(str) + labelled["scheduled_departure"].astype(str)
    comparison = paired(labelled[LABEL].to_numpy(), labelled["delay_probability_production"].to_numpy(),
                        labelled["delay_probability_challenger"].to_numpy(), groups.to_numpy(), level=level, seed=7)
    flights = int(groups.nunique())
    better = comparison[metric]["b_better"] and flights >= min_flights
    curves = {role: _reliability(labelled[LABEL].to_numpy(), labelled[f"delay_probability_{role}"].to_numpy())
              for role in ("production", "challenger")}
    return ShadowEvidence(production, challenger, len(rows), len(labelled), flights, metric, level, min_flights, comparison,
                          bool(better), since.isoformat() if since else None, until.isoformat() if until else None, curves)


def logged_pair(logged: pd.DataFrame) -> tuple[str, str] | None:
    """The production version that answered most of a log's flights and the newest challenger it
    scored beside them in the shadow, or None when the log holds no shadow score."""
    ok, shadow = (logged[logged["prediction_status"] == k]["model_version"].astype(str) for k in ("ok", "shadow"))
    if ok.empty or shadow.empty:
        return None
    return str(ok.value_counts().index[0]), max(shadow.unique(), key=lambda v: (int(v) if v.isdigit() else -1, v))


def _reliability(y: Any, p: Any, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted probability beside the observed delayed share, per tenth of the probability range."""
    import numpy as np

    edges = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
    return [{"predicted": float(np.mean(p[edges == b])), "observed": float(np.mean(y[edges == b])), "flights": int((edges == b).sum())}
            for b in range(bins) if (edges == b).any()]


def write(settings: Settings, found: ShadowEvidence) -> Path:
    """``reports/monitor/shadow/shadow.json`` and ``shadow.html`` (the page with its plots): the newest comparison."""
    from pipelines.monitoring.shadow_page import render

    path = settings.reports_dir / "monitor" / "shadow" / "shadow.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(found), indent=2) + "\n")
    path.with_suffix(".html").write_text(render(asdict(found)), encoding="utf-8")
    return path


def promote_from_shadow(settings: Settings, client: MlflowClient | None = None, found: ShadowEvidence | None = None,
                        **window: Any) -> ShadowEvidence:
    """Move ``production`` to the challenger when ``evidence`` (``found``, or computed over
    ``window``) says it is better; record the evidence on the challenger's version either way.

    Raises:
        PromotionRefused: not better by the interval, or too few labelled flights (production is unchanged).
    """
    client = client or connect(settings)
    found = found or evidence(settings, client=client, **window)
    name = settings.model_name
    kept = {k: v for k, v in asdict(found).items() if k != "calibration"}  # a tag holds at most 5,000 characters
    client.set_model_version_tag(name, found.challenger, "shadow_evidence", json.dumps(kept))
    write(settings, found)
    if not found.better:
        why = "too few labelled flights" if found.flights < found.min_flights else "not better by the interval"
        raise PromotionRefused(f"challenger version {found.challenger} not promoted ({why}): {found.summary()}; "
                               f"{PRODUCTION} is unchanged")
    client.set_registered_model_alias(name, PRODUCTION, found.challenger)
    client.set_model_version_tag(name, found.challenger, "promotion", f"from the shadow: {found.summary()}")
    log.info("%s@%s: version %s -> %s from the shadow (%s)", name, PRODUCTION, found.production, found.challenger, found.summary())
    return found

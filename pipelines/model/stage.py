"""The staging stage: a candidate becomes ``staging`` only once it has been seen to serve.

``stage`` smoke-tests a registered version the way a service would take it: its artifact loads,
its feature service is registered and holds every input it needs, the online store holds rows of
that service (at least one input of the README's flight is found), and it scores the README's
request to a probability. Only then does the ``staging`` alias move to it (a service started with
``SKYPROPHET_ENVIRONMENT=staging`` serves that alias and swaps to it); the smoke test's result is
recorded on the version (``staging_smoke``). From staging a version goes to the shadow
(``skyprophet model challenge``) and, with evidence, to production.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from skyprophet.adapters.tracking import CANDIDATE, alias_version, connect, load_version
from skyprophet.core.errors import ModelNotFound, PromotionRefused
from skyprophet.core.keys import FlightKeys

if TYPE_CHECKING:
    from feast import FeatureStore
    from mlflow import MlflowClient

    from skyprophet.core.config import Settings

STAGING = "staging"
# The README's request: Delta 1597, LaGuardia to Atlanta, 2013-12-31 15:00 New York time.
README_FLIGHT = FlightKeys("DL", "1597", "LGA", "ATL", int(datetime(2013, 12, 31, 20, 0, tzinfo=timezone.utc).timestamp()), -300,
                           "N905DE")


def smoke(settings: Settings, version: str, client: MlflowClient, store: FeatureStore,
          flight: FlightKeys = README_FLIGHT) -> dict[str, Any]:
    """The checks a version must pass to be staged; what it scored.

    Raises:
        PromotionRefused: naming the check that failed.
    """
    from skyprophet.adapters.online import OnlineFeatures
    from skyprophet.core.model import encode_rows, probabilities

    name = settings.model_name
    try:
        model = load_version(client, name, version, STAGING)
    except Exception as exc:
        raise PromotionRefused(f"{name} version {version} cannot be staged: its artifact does not load ({exc})") from exc
    spec = model.spec
    try:
        reader = OnlineFeatures(store, spec.feature_service, spec.lead_minutes)
    except Exception as exc:
        raise PromotionRefused(f"{name} version {version} cannot be staged: feature service {spec.feature_service!r} "
                               f"is not registered ({exc})") from exc
    lacking = [n for n in spec.feature_names if n not in reader.feature_names]
    if lacking:
        raise PromotionRefused(f"{name} version {version} cannot be staged: {spec.feature_service!r} lacks {lacking[:5]}")
    features = reader.read([flight])[0]
    if len(features.missing) == len(spec.feature_names):
        raise PromotionRefused(f"{name} version {version} cannot be staged: the online store holds nothing of "
                               f"{spec.feature_service!r} (materialize it first)")
    p = float(probabilities(model.booster, encode_rows([features.values], spec), spec, num_threads=1)[0])
    if not (math.isfinite(p) and 0 <= p <= 1):
        raise PromotionRefused(f"{name} version {version} cannot be staged: it scored {p} for the README's flight")
    return {"flight": flight.flight_id, "delay_probability": round(p, 6), "inputs_missing": len(features.missing),
            "inputs": len(spec.feature_names), "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def stage(settings: Settings, version: str | None = None, client: MlflowClient | None = None,
          store: FeatureStore | None = None) -> tuple[str, dict[str, Any]]:
    """Smoke-test ``version`` (default: the candidate) and move ``staging`` to it; returns the
    version and the smoke test's result (also its ``staging_smoke`` tag).

    Raises:
        ModelNotFound: no such version, or no candidate.
        PromotionRefused: a check failed (``staging`` is unchanged).
    """
    from skyprophet.adapters.store import open_store

    from pipelines.model.rescoring import resolve_version

    client = client or connect(settings)
    name = settings.model_name
    chosen = version or alias_version(client, name, CANDIDATE)
    if chosen is None:
        raise ModelNotFound(f"no version of {name} is the {CANDIDATE}: train one, or name it with --version")
    chosen = resolve_version(client, name, str(chosen))
    store = store or open_store(settings, online=settings.online_store)
    result = smoke(settings, str(chosen), client, store)
    client.set_model_version_tag(name, str(chosen), "staging_smoke", json.dumps(result))
    client.set_registered_model_alias(name, STAGING, str(chosen))
    return str(chosen), result

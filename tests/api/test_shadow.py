"""The challenger in the shadow: a service with a ``challenger`` alias answers every request exactly
as the same service without one (flight for flight), while the challenger's scores of the same
flights reach the prediction log (``prediction_status`` "shadow"), equal to the registered
challenger's own scoring of the served inputs; a challenger whose artifact is broken is refused,
and no request is lost or changed."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import pandas as pd
import pytest

from serving.config import ServingSettings
from skyprophet.core.keys import flight_query
from tests.api.conftest import MATERIALIZED, Server, start_server
from tests.browser import chromium_or_skip, headless_page

pytestmark = [pytest.mark.api, pytest.mark.integration]


@pytest.fixture(scope="module")
def registry_copy(api_settings: ServingSettings, small_models: list[str], tmp_path_factory: pytest.TempPathFactory) -> ServingSettings:
    """The API tests' registry copied (the same artifacts), so that its aliases move here only."""
    folder = tmp_path_factory.mktemp("shadow-mlflow")
    source = Path(api_settings.mlflow_tracking_uri.removeprefix("sqlite:///"))
    shutil.copy(source, folder / "mlflow.db")
    return api_settings.model_copy(update={"mlflow_tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"})


@pytest.fixture(scope="module")
def shadowed(registry_copy: ServingSettings, small_models: list[str], loaded_redis: str) -> Iterator[Server]:
    """The API with version 2 as the challenger beside version 1 in production."""
    from skyprophet.adapters.tracking import connect

    connect(registry_copy).set_registered_model_alias(registry_copy.model_name, "challenger", small_models[1])
    server = start_server(registry_copy)
    yield server
    server.stop()


def _flights(canonical: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    t = canonical["sched_dep_utc"] - pd.Timedelta(hours=2)
    lo = pd.Timestamp(MATERIALIZED)
    return [flight_query(r) for r in canonical[(t >= lo) & (t < lo + pd.Timedelta(minutes=40))].head(n).itertuples()]


def _logged(server: Server, rid: str, status: str, n: int) -> pd.DataFrame:
    """The request's logged rows of one status, once ``n`` are written (the log writes off the request path)."""
    services = server.server.config.app.state.services  # type: ignore[attr-defined]
    service = services.lookup.store.get_feature_service(services.models.current.spec.feature_service)
    dest = Path(service.logging_config.destination.path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if services.shadow is not None:
            services.shadow.drain()
        services.logs.flush()
        if any(dest.glob("*.parquet")):
            got = duckdb.sql(f"select * from read_parquet('{dest}/*.parquet', union_by_name = true) "
                             f"where __request_id = '{rid}' and prediction_status = '{status}'").df()
            if len(got) >= n:
                return got
        time.sleep(0.2)
    raise AssertionError(f"{n} {status} rows of {rid} were not logged")


def test_the_answers_are_the_production_models_and_the_challenger_is_logged_beside(
        api: Server, shadowed: Server, registry_copy: ServingSettings, small_models: list[str], canonical: pd.DataFrame) -> None:
    from skyprophet.adapters.tracking import connect, load_version
    from skyprophet.core.model import encode_rows, probabilities

    ready = httpx.get(f"{shadowed.url}/ready", timeout=10).json()
    assert ready["model"]["version"] == small_models[0] and ready["challenger"]["version"] == small_models[1]
    flights = _flights(canonical, 15)
    body = {"flights": flights, "as_of": MATERIALIZED.isoformat(), "debug": True}
    without = httpx.post(f"{api.url}/predict", json=body, timeout=30).json()
    got = httpx.post(f"{shadowed.url}/predict", json=body, headers={"X-Request-ID": "shadow-1"}, timeout=30).json()
    assert got["predictions"] == without["predictions"] and got["model"] == without["model"]  # flight for flight
    plain = httpx.get(f"{api.url}/metrics", timeout=10).text  # no challenger alias in its registry: absent, not a failure
    assert 'skyprophet_challenger_reloads_total{outcome="absent"}' in plain

    shadow = _logged(shadowed, "shadow-1", "shadow", len(flights)).sort_values(["carrier", "flight_number"])
    assert set(shadow["model_version"]) == {small_models[1]} and len(shadow) == len(flights)
    served = _logged(shadowed, "shadow-1", "ok", len(flights)).sort_values(["carrier", "flight_number"])
    assert list(shadow["flight_number"]) == list(served["flight_number"])
    assert set(served["model_version"]) == {small_models[0]}
    # The registered challenger, loaded here, scoring the inputs the service answered with.
    challenger = load_version(connect(registry_copy), registry_copy.model_name, small_models[1])
    by_number = {p["flight_id"]: p["features"] for p in got["predictions"]}
    ids = [f"{f['carrier']}{f['flight_number']}" for f in flights]
    expected = probabilities(challenger.booster, encode_rows([by_number[i] for i in ids], challenger.spec), challenger.spec)
    logged = dict(zip(shadow["carrier"] + shadow["flight_number"].astype(str), shadow["delay_probability"], strict=True))
    np.testing.assert_allclose([logged[i] for i in ids], expected, rtol=1e-9)
    assert not np.allclose(expected, [p["delay_probability"] for p in got["predictions"]], atol=1e-3)  # another model indeed


def test_a_broken_challenger_is_refused_and_no_request_is_lost(
        api: Server, shadowed: Server, registry_copy: ServingSettings, small_models: list[str], canonical: pd.DataFrame) -> None:
    from skyprophet.adapters.tracking import connect

    client = connect(registry_copy)
    broken = client.create_model_version(registry_copy.model_name, source=str(registry_copy.data_dir / "no-such-model"))
    client.set_registered_model_alias(registry_copy.model_name, "challenger", broken.version)
    deadline = time.monotonic() + 30
    while httpx.get(f"{shadowed.url}/ready", timeout=10).json()["challenger"] is not None and time.monotonic() < deadline:
        time.sleep(0.3)  # the refresh (every second) refuses it and drops the old challenger
    assert httpx.get(f"{shadowed.url}/ready", timeout=10).json()["challenger"] is None
    metrics = httpx.get(f"{shadowed.url}/metrics", timeout=10).text
    assert 'skyprophet_challenger_reloads_total{outcome="refused"}' in metrics
    body = {"flights": _flights(canonical, 5), "as_of": MATERIALIZED.isoformat()}
    want = httpx.post(f"{api.url}/predict", json=body, timeout=30).json()["predictions"]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: httpx.post(f"{shadowed.url}/predict", json=body, timeout=30), range(40)))
    assert [a.status_code for a in answers] == [200] * 40
    assert all(a.json()["predictions"] == want for a in answers)


@pytest.fixture(scope="module")
def constant_version(registry_copy: ServingSettings, train_params: Any, small_models: list[str]) -> str:
    """A version that learnt nothing (worse by construction): permuted labels and no split allowed, so
    every flight gets the same probability (ROC AUC 0.5); registered in the copy only."""
    from dataclasses import replace

    from pipelines.model.train import train
    from skyprophet.adapters.store import open_store
    from skyprophet.core.months import Window
    from tests.conftest import THREADS

    windows = [Window("train", "2013-09", "2013-09"), Window("validation", "2013-10", "2013-10"), Window("test", "2013-11", "2013-12")]
    params = replace(train_params, windows=windows, num_boost_round=2, leads_minutes=[1440, 120, 30],
                     lightgbm={**train_params.lightgbm, "min_data_in_leaf": 10**9})
    store = open_store(registry_copy, online="redis")
    version = train(registry_copy, params, num_threads=THREADS, shuffle_labels=True, store=store).version
    assert version is not None
    return version


def _aliases(server: Server, production: str, challenger: str) -> None:
    """Wait until the service serves ``production`` and shadows ``challenger`` (it checks every second)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready = httpx.get(f"{server.url}/ready", timeout=10).json()
        if ready["model"]["version"] == production and (ready["challenger"] or {}).get("version") == challenger:
            return
        time.sleep(0.3)
    raise AssertionError(f"the service did not move to production {production}, challenger {challenger}")


def _traffic(server: Server, canonical: pd.DataFrame, tag: str, n: int = 800) -> None:
    """``n`` flights of the day after the store's instant, 100 a request, all logged and shadowed."""
    after = canonical[(canonical["sched_dep_utc"] > pd.Timestamp(MATERIALIZED)) & ~canonical["cancelled"]].head(n)
    flights = [flight_query(r) for r in after.itertuples()]
    for i in range(0, len(flights), 100):
        rid = f"{tag}-{i}"
        got = httpx.post(f"{server.url}/predict", json={"flights": flights[i:i + 100], "as_of": MATERIALIZED.isoformat()},
                         headers={"X-Request-ID": rid}, timeout=60)
        assert got.status_code == 200
        _logged(server, rid, "shadow", len(flights[i:i + 100]))


def test_the_shadow_refuses_a_worse_challenger_and_promotes_a_better_one(
        shadowed: Server, registry_copy: ServingSettings, small_models: list[str], constant_version: str,
        canonical: pd.DataFrame) -> None:
    import json

    from pipelines.model.promote import challenge
    from pipelines.monitoring.shadow import promote_from_shadow
    from skyprophet.adapters.tracking import connect
    from skyprophet.core.errors import PromotionRefused

    # ROC AUC: a constant model's log loss may be near a weak model's; its ranking cannot be
    s = registry_copy.model_copy(update={"shadow_min_flights": 600, "shadow_metric": "roc_auc"})
    client, name, real = connect(s), s.model_name, small_models[0]
    assert challenge(s, constant_version) == constant_version  # worse by construction
    _aliases(shadowed, real, constant_version)
    _traffic(shadowed, canonical, "worse")
    with pytest.raises(PromotionRefused, match="not better by the interval"):
        promote_from_shadow(s)
    assert client.get_model_version_by_alias(name, "production").version == int(real)
    kept = json.loads(client.get_model_version(name, constant_version).tags["shadow_evidence"])
    assert kept["comparison"]["roc_auc"]["b"] == 0.5 and kept["comparison"]["roc_auc"]["b_worse"]
    assert kept["production"] == real and kept["flights"] >= 600

    client.set_registered_model_alias(name, "production", constant_version)  # now the real model challenges it
    client.set_registered_model_alias(name, "challenger", real)
    _aliases(shadowed, constant_version, real)
    _traffic(shadowed, canonical, "better")
    found = promote_from_shadow(s)
    assert found.better and found.production == constant_version and found.challenger == real
    assert str(client.get_model_version_by_alias(name, "production").version) == real
    assert "from the shadow" in client.get_model_version(name, real).tags["promotion"]
    page = s.reports_dir / "monitor" / "shadow" / "shadow.html"
    with headless_page(chromium_or_skip()) as (browser, errors):
        browser.goto(page.as_uri())
        assert browser.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 500)") == [True]
        text = browser.inner_text("body")
        assert f"Challenger v{real} beside production v{constant_version}" in text and "it would be promoted" in text
        assert "ROC AUC" in browser.inner_text("table") and errors == []
    _aliases(shadowed, real, real)  # hot-swapped: the promoted version serves (and is still the challenger alias)


def test_a_version_is_staged_only_once_it_serves_and_a_staging_service_serves_it(
        registry_copy: ServingSettings, small_models: list[str], loaded_redis: str) -> None:
    from pipelines.model.stage import stage
    from skyprophet.adapters.tracking import connect
    from skyprophet.core.errors import PromotionRefused

    client, name = connect(registry_copy), registry_copy.model_name
    broken = client.create_model_version(name, source=str(registry_copy.data_dir / "no-such-model"))
    with pytest.raises(PromotionRefused, match="its artifact does not load"):
        stage(registry_copy, str(broken.version))
    with pytest.raises(Exception, match="alias staging not found"):
        client.get_model_version_by_alias(name, "staging")  # nothing was staged

    version, result = stage(registry_copy, small_models[1])
    assert version == small_models[1] and 0 < result["delay_probability"] < 1 and result["inputs_missing"] < result["inputs"]
    assert str(client.get_model_version_by_alias(name, "staging").version) == small_models[1]
    assert "staging_smoke" in client.get_model_version(name, small_models[1]).tags
    staging = start_server(registry_copy.model_copy(update={"environment": "staging", "model_alias": "staging"}))
    try:
        assert httpx.get(f"{staging.url}/ready", timeout=10).json()["model"] == {"name": name, "version": small_models[1],
                                                                                   "alias": "staging"}
    finally:
        staging.stop()

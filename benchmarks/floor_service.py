"""The floor of a keyed prediction on this machine (not part of the product).

The serving issue's sanity-check prototype, rebuilt on the same stack: FastAPI + uvicorn, a
pydantic-validated one-flight body, one pipelined Redis read of the flight's entity keys (redis-py,
the values left undecoded) and a one-row ``Booster.predict`` of the production model on a
row of NaNs. No ttl rule, no request features, no metrics, no missing or stale lists. What it
costs above ``GET /ping`` on its own server is the least any keyed prediction costs here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
from fastapi import FastAPI

from serving.schemas import PredictRequest
from skyprophet.core.config import get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    import redis

    from skyprophet.adapters.online import OnlineFeatures
    from skyprophet.adapters.redis.reader import RedisReader
    from skyprophet.adapters.store import open_store
    from skyprophet.adapters.tracking import alias_version, connect, load_version

    settings = get_settings()
    client = connect(settings)
    version = alias_version(client, settings.model_name, "production")
    if version is None:
        raise RuntimeError(f"no {settings.model_name}@production")
    model = load_version(client, settings.model_name, version, "production")
    store = open_store(settings, online="redis")
    redis_client = redis.Redis.from_url(settings.redis_url)
    online = OnlineFeatures(store, model.spec.feature_service, model.spec.lead_minutes)
    app.state.reader = RedisReader(store, online._inputs, redis_client)  # for its key building only
    app.state.redis = redis_client
    app.state.booster = model.booster
    app.state.width = len(model.spec.feature_names)
    app.state.lead_s = model.spec.lead_minutes * 60
    yield
    redis_client.close()


def create_app() -> FastAPI:
    app = FastAPI(lifespan=lifespan)

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    @app.post("/predict")
    async def predict(req: PredictRequest) -> dict[str, Any]:
        reader = app.state.reader
        keys = req.flights[0].keys()
        row = keys.entity_row(keys.sched_dep_epoch_s - app.state.lead_s)
        pipe = app.state.redis.pipeline(transaction=False)
        for view, plan in enumerate(reader._views):
            pipe.hmget(reader._key(view, plan.join_keys, row), plan.fields)
        pipe.execute()
        p = app.state.booster.predict(np.full((1, app.state.width), np.nan), num_threads=1)
        return {"delay_probability": float(p[0])}

    return app

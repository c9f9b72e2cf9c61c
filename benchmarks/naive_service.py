"""The naive prediction service the benchmark compares against (not part of the product).

What a first version usually looks like: ``FeatureStore.get_online_features(...).to_df()`` for
the flight, then the MLflow pyfunc model on a DataFrame. Same store, features and model as the
real service; no ttl rule, no explanations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pandas as pd
from fastapi import FastAPI

from serving.schemas import PredictRequest
from skyprophet.core.config import get_settings
from skyprophet.core.model import ModelSpec, encode_frame


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    import mlflow
    from mlflow.models import get_model_info

    from skyprophet.adapters.store import open_store
    from skyprophet.adapters.tracking import connect

    settings = get_settings()
    connect(settings)
    uri = f"models:/{settings.model_name}@production"
    app.state.store = open_store(settings, online=settings.online_store)
    app.state.model = mlflow.pyfunc.load_model(uri)
    metadata = get_model_info(uri).metadata
    if not metadata or "skyprophet" not in metadata:
        raise RuntimeError(f"{uri} carries no skyprophet metadata; was it registered by pipelines.model.train?")
    app.state.spec = ModelSpec.from_dict(metadata["skyprophet"])
    app.state.service = app.state.store.get_feature_service(app.state.spec.feature_service)
    yield


def create_app() -> FastAPI:
    app = FastAPI(lifespan=lifespan)

    @app.post("/predict")
    def predict(req: PredictRequest) -> dict[str, Any]:
        spec: ModelSpec = app.state.spec
        rows = [f.keys().request_row(spec.lead_minutes) for f in req.flights]
        df = app.state.store.get_online_features(features=app.state.service, entity_rows=rows, full_feature_names=True).to_df()
        x = pd.DataFrame(encode_frame(df, spec), columns=spec.feature_names)
        p = app.state.model.predict(x)
        return {"predictions": [{"delay_probability": float(v), "delayed": bool(v >= spec.threshold)} for v in p],
                "at": datetime.now().isoformat()}

    return app

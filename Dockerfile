# syntax=docker/dockerfile:1
# SkyProphet image: the API (default command), the pipeline job and the MLflow server of
# docker-compose.yml. Two stages: uv builds the locked environment, the runtime copies it.

FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first (cached while only the code changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra postgres --no-install-project
COPY skyprophet ./skyprophet
COPY pipelines ./pipelines
COPY serving ./serving
COPY feature_repo ./feature_repo
COPY params.yaml sources.yaml ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --extra postgres

FROM python:3.11-slim AS runtime
# libgomp1: LightGBM's OpenMP runtime. curl is not needed: healthchecks use Python.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin skyprophet \
    && mkdir -p /app/data /mlartifacts && chown skyprophet:skyprophet /app/data /mlartifacts
COPY --from=build --chown=skyprophet:skyprophet /app /app
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SKYPROPHET_DATA_DIR=/app/data \
    SKYPROPHET_REPORTS_DIR=/app/data/reports
USER skyprophet
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2)"]
CMD ["skyprophet", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

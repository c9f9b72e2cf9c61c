"""``skyprophet bench``: the benchmarks (they ship with the source checkout)."""

from __future__ import annotations

import typer

from skyprophet.cli._common import group
from skyprophet.core.errors import InvalidInput

app = group("Benchmarks: print figures beside their baselines, write reports/bench/*.json.")
# Every argument goes to the benchmark, --help too: it prints the benchmark's own options.
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def _bench(module: str, ctx: typer.Context) -> None:
    import importlib

    try:
        bench = importlib.import_module(f"benchmarks.{module}")
    except ModuleNotFoundError:
        raise InvalidInput("the benchmarks ship with the source checkout, not with the installed package") from None
    bench.main(ctx.args)


@app.command("features", context_settings=PASS_THROUGH)
def features(ctx: typer.Context) -> None:
    """Feature build at 1x/4x/16x data, materialization memory by window, retrieval (arguments pass through; --help lists them)."""
    _bench("bench_features", ctx)


@app.command("train", context_settings=PASS_THROUGH)
def train(ctx: typer.Context) -> None:
    """Training-set build, LightGBM fit by threads, whole training run (arguments pass through; --help lists them)."""
    _bench("bench_train", ctx)


@app.command("serving", context_settings=PASS_THROUGH)
def serving(ctx: typer.Context) -> None:
    """The API against a naive service and `feast serve` under wrk (needs wrk; arguments pass through; --help lists them)."""
    _bench("bench_serving", ctx)

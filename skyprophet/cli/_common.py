"""What every command group shares: logging set-up, option parsing, the settings of the run."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from skyprophet.core.errors import InvalidInput

log = logging.getLogger("skyprophet")
Online = Literal["sqlite", "redis", "redis_cluster"]
OnlineOption = Annotated[Online | None, typer.Option(help="online store (default: SKYPROPHET_ONLINE_STORE)")]
HELP = {"help_option_names": ["-h", "--help"]}


def group(help: str) -> typer.Typer:
    """A command group: its help when called without a command. Help is click's plain layout, as
    Feast's and MLflow's: an on/off flag shows as ``--force`` or ``--live / --no-live``, never with a value."""
    return typer.Typer(help=help, no_args_is_help=True, context_settings=HELP, rich_markup_mode=None)


def setup_logging(heavy: bool = True) -> None:
    """Logging for a command (``heavy``: one that will use Feast or MLflow)."""
    from skyprophet.adapters.logs import setup

    setup(heavy)


def aware(text: str, option: str) -> datetime:
    """An ISO 8601 date-time that must carry its UTC offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{option}: not an ISO 8601 date-time: {text!r}") from None
    if value.tzinfo is None:
        raise InvalidInput(f"{option}: needs a UTC offset, e.g. 2013-12-30T08:00-05:00 (got {text!r})")
    return value


def calendar_date(text: str, option: str) -> date:
    """A YYYY-MM-DD date that exists."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise InvalidInput(f"{option}: expected a YYYY-MM-DD date, e.g. 2013-12-30 (got {text!r})")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{option}: {text} is not a day of the calendar ({exc})") from None


def settings(data_dir: Path | None = None) -> Any:
    """The settings of this run (environment, ``.env``), with the data folder given on the command line."""
    from skyprophet.core.config import get_settings

    s = get_settings()
    return s if data_dir is None else s.model_copy(update={"data_dir": data_dir})


def serving_settings() -> Any:
    """The service's settings (environment, ``.env``): what a command shows as the API would."""
    from serving.config import get_serving_settings

    return get_serving_settings()


def shown(value: Any, absent: str = "null") -> str:
    """A feature value in a table: floats to 4 significant digits, ``absent`` for none."""
    return absent if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)

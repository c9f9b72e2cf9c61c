"""Logging for the command line: INFO lines without decoration, third-party chatter silenced."""

from __future__ import annotations

import logging
import warnings

NOISY = ("feast", "mlflow", "alembic", "urllib3", "httpx")
LEVELS = ("debug", "info", "warning", "error")
_level = logging.INFO  # the command line's --log-level (-v: debug, -q: warning)


def set_level(name: str) -> None:
    """The level every later ``setup`` uses (one of ``LEVELS``)."""
    global _level
    _level = getattr(logging, name.upper())
    logging.getLogger().setLevel(_level)


def setup(heavy: bool = True) -> None:
    """Lines without decoration at the chosen level (INFO by default); third-party chatter and
    deprecation notices silenced (shown at DEBUG).

    MLflow and Feast set their own logger levels and warning filters when imported, so with
    ``heavy`` (a command that will use them) they are imported first.
    """
    if heavy:
        import feast  # noqa: F401
        import mlflow  # noqa: F401
    logging.basicConfig(level=_level, format="%(message)s")
    logging.getLogger().setLevel(_level)
    if _level > logging.DEBUG:
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="On demand feature view is an experimental feature")
    for name in NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, _level) if _level > logging.DEBUG else logging.DEBUG)

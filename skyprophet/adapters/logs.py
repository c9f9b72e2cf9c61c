"""Logging for the command line: INFO lines without decoration, third-party chatter silenced."""

from __future__ import annotations

import logging
import warnings

NOISY = ("feast", "mlflow", "alembic", "urllib3", "httpx")


def setup(heavy: bool = True) -> None:
    """INFO lines without decoration; third-party chatter and deprecation notices silenced.

    MLflow and Feast set their own logger levels and warning filters when imported, so with
    ``heavy`` (a command that will use them) they are imported first.
    """
    if heavy:
        import feast  # noqa: F401
        import mlflow  # noqa: F401
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="On demand feature view is an experimental feature")
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)

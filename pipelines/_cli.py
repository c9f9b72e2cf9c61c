"""Console set-up shared by the pipeline commands: plain log lines, library noise off."""

from __future__ import annotations

import logging
import warnings

NOISY = ("feast", "mlflow", "alembic", "urllib3", "httpx")


def setup_logging() -> None:
    """INFO lines without decoration; third-party chatter and deprecation notices silenced.

    MLflow sets its own logger level and Feast its own warning filters when imported, so both
    are imported first.
    """
    import feast  # noqa: F401
    import mlflow  # noqa: F401

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
